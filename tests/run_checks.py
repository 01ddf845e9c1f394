"""Checks on whole training runs shared by the image and video training tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import torch

from vivid.nets.weights_file import load_model
from vivid.training.checkpoints import list_checkpoints


def logged_losses(out: Path) -> dict[int, float]:
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return {r["iteration"]: r["loss"] for r in records if "loss" in r}


def check_resume_after_kill_9(command: Callable[[Path], list[str]], folder: Path,
                              iterations: int) -> None:
    """Run ``command(out)`` whole, and again killed with SIGKILL after two checkpoints and
    resumed: the losses after the resume point and the final weights must be identical."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(command(folder / "full"), check=True, env=env)
    process = subprocess.Popen(command(folder / "cut"), env=env)
    deadline = time.time() + 120
    while len(list_checkpoints(folder / "cut" / "checkpoints")) < 2 and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    resumed_from = int(list_checkpoints(folder / "cut" / "checkpoints")[-1].stem[5:])
    assert resumed_from < iterations
    subprocess.run([*command(folder / "cut"), "--resume"], check=True, env=env)
    full, cut = logged_losses(folder / "full"), logged_losses(folder / "cut")
    assert sorted(cut) == list(range(1, iterations + 1))
    assert all(cut[i] == full[i] for i in range(resumed_from + 1, iterations + 1))
    a = load_model(folder / "full" / "generator.safetensors")[0].state_dict()
    b = load_model(folder / "cut" / "generator.safetensors")[0].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
