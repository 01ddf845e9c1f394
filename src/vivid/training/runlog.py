"""Where a training run's numbers go: ``log.jsonl`` always, TensorBoard when installed.

``log.jsonl`` holds one JSON object per logged iteration and per validation (the model card's
curves are drawn from it). TensorBoard (``pip install -e ".[train]"``) gets the same scalars
plus a few validation images (SR next to HR).
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from pathlib import Path
from typing import Any

import torch

from vivid.atomic import write_text

log = logging.getLogger(__name__)


class RunLog:
    """Appends records to ``OUT/log.jsonl`` and mirrors them to TensorBoard if available."""

    def __init__(self, out_dir: Path, tensorboard: bool = True) -> None:
        self.path = out_dir / "log.jsonl"
        self.writer = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                log.warning('TensorBoard is not installed (pip install -e ".[train]"); '
                            "numbers still go to %s", self.path)
            else:
                self.writer = SummaryWriter(str(out_dir / "tensorboard"))

    def record(self, numbers: dict[str, Any]) -> None:
        iteration = int(numbers["iteration"])
        with open(self.path, "a") as file:
            file.write(json.dumps({**numbers, "time": time.time()}) + "\n")
        if self.writer is not None:
            for key, value in numbers.items():
                if key != "iteration" and isinstance(value, float | int):
                    group = "val" if key.startswith("val_") else "train"
                    self.writer.add_scalar(f"{group}/{key}", value, iteration)

    def images(self, iteration: int, samples: list[tuple[str, torch.Tensor, torch.Tensor]]
               ) -> None:
        """SR | HR side by side for each (name, SR, HR)."""
        if self.writer is None:
            return
        for name, sr_image, hr_image in samples:
            pair = torch.cat([sr_image[0].clamp(0, 1), hr_image[0]], dim=-1)
            self.writer.add_image(f"val/{name}", pair, iteration)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def read_records(path: Path) -> list[dict[str, Any]]:
    """The records of a ``log.jsonl``; a last line torn by a kill mid-write is dropped."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "iteration" in record:
            records.append(record)
    return records


def truncate(path: Path, iteration: int) -> None:
    """Drop the records after ``iteration`` (they are redone when a run resumes)."""
    kept = [r for r in read_records(path) if r["iteration"] <= iteration]
    write_text(path, "".join(json.dumps(r) + "\n" for r in kept))


def training_hours(records: list[dict[str, Any]], gap_s: float = 600) -> float:
    """Wall time between consecutive records, leaving out gaps over ``gap_s`` (a stopped run
    and its resume, e.g. between sessions)."""
    times = [r["time"] for r in records if "time" in r]
    return sum(b - a for a, b in itertools.pairwise(times) if 0 < b - a < gap_s) / 3600
