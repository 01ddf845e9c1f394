"""``vivid eval``: the SR benchmark protocol on HR image folders.

For every HR image: crop top-left to a multiple of the scale, make the LR image with the
chosen degradation (MATLAB bicubic by default), upscale it with each model, round to 8 bits
and score it against the HR image: PSNR and SSIM on the Y channel (``y_channel=False``:
over R, G and B) with ``scale`` pixels shaved off each border, and NIQE of the output's Y
channel with the same shave (images with fewer than two of NIQE's 96x96 blocks get no NIQE;
dataset means skip them).
Greyscale images are treated as RGB with three equal channels. A model trained on LR of the
other grid (bd vs the bicubic kinds) has its output moved onto the evaluated grid first
(``evaluation.grid``; ``regrid`` in the report lists the shifts).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from vivid.atomic import write_text
from vivid.degrade import make_pair
from vivid.errors import VividError
from vivid.evaluation.grid import regrid, regrid_shift
from vivid.evaluation.niqe import applicable, niqe
from vivid.images.imagefile import read_image
from vivid.images.listing import list_images
from vivid.images.pixels import quantize_8bit
from vivid.inference.upscaler import Upscaler
from vivid.metrics import psnr, ssim, to_y

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sample:
    name: str
    lr_image: torch.Tensor
    hr_image: torch.Tensor


def load_dataset(folder: Path, scale: int, degradation: str) -> list[Sample]:
    """LR/HR samples of a folder; unreadable or too-small files are skipped with a warning."""
    samples, skipped = [], []
    for path in list_images(folder):
        try:
            hr_image = read_image(path).rgb
        except VividError as error:
            skipped.append(str(error))
            continue
        try:
            lr_image, hr_image = make_pair(hr_image, scale, degradation)
        except VividError as error:
            skipped.append(f"{path}: {error}")
            continue
        samples.append(Sample(path.name, lr_image, hr_image))
    for reason in skipped:
        log.warning("skipped %s", reason)
    if not samples:
        raise VividError(f"{folder}: no usable images")
    return samples


def score(sr_image: torch.Tensor, hr_image: torch.Tensor, scale: int,
          niqe_model: Path | None, y_channel: bool = True) -> dict[str, float | None]:
    """PSNR, SSIM (Y, or RGB) and (with a model) NIQE; NIQE is None where the image is too
    small."""
    numbers: dict[str, float | None] = {
        "psnr": psnr(sr_image, hr_image, shave=scale, y_channel=y_channel).item(),
        "ssim": ssim(sr_image, hr_image, shave=scale, y_channel=y_channel).item()}
    if niqe_model is not None:
        numbers["niqe"] = niqe_score(sr_image, scale, niqe_model)
    return numbers


def niqe_score(sr_image: torch.Tensor, scale: int, niqe_model: Path) -> float | None:
    """NIQE of the Y channel with ``scale`` pixels shaved; None where the image is too small."""
    y = to_y(sr_image)[0, 0, scale:-scale, scale:-scale].numpy()
    return niqe(y, niqe_model) if applicable(*y.shape) else None


def find_niqe_model(given: Path | None) -> Path | None:
    """``given``, else the NIQE model in the shared data ($VIVID_DATA or ../shared/data) if
    it is there, else None."""
    if given is not None:
        return given
    data = Path(os.environ.get("VIVID_DATA", "../shared/data"))
    default = data / "NIQE" / "niqe_pris_params.npz"
    return default if default.is_file() else None


def _mean(images: dict[str, dict[str, float | None]]) -> dict[str, float | None]:
    """Mean of each number over the images that have it (None if none has)."""
    means: dict[str, float | None] = {}
    for key in next(iter(images.values())):
        values = [v[key] for v in images.values() if v[key] is not None]
        means[key] = sum(values) / len(values) if values else None
    return means


OnImage = Callable[[str, str, Sample, torch.Tensor], None]


def evaluate(models: list[str], datasets: list[Path], scale: int = 4,
             degradation: str = "bicubic", niqe_model: Path | None = None,
             device: str = "auto", on_image: OnImage | None = None,
             progress: bool = True, y_channel: bool = True,
             precision: str = "fp32") -> dict[str, Any]:
    """Scores of every model on every dataset, in the ``--json`` layout.

    ``precision`` defaults to fp32 so that the numbers do not depend on the CPU's features.
    """
    # The reference numbers come from the torch path: another engine's rounding would make
    # them depend on which one `auto` measured fastest on this machine.
    upscalers = [Upscaler.from_pretrained(m, device=device, scale=scale, precision=precision,
                                          runtime="torch")
                 for m in models]
    for model, upscaler in zip(models, upscalers, strict=True):
        if upscaler.scale != scale:
            raise VividError(f"{model}: is a x{upscaler.scale} model, --scale is {scale}")
    shifts = {model: regrid_shift(upscaler.metadata, scale, degradation)
              for model, upscaler in zip(models, upscalers, strict=True)}
    results: dict[str, Any] = {}
    for folder in datasets:
        samples = load_dataset(folder, scale, degradation)
        table = results.setdefault(folder.name, {})
        for model, upscaler in zip(models, upscalers, strict=True):
            images = {}
            for sample in tqdm(samples, desc=f"{folder.name} / {model}", disable=not progress,
                               leave=False):
                sr_image = regrid([quantize_8bit(upscaler(sample.lr_image))], shifts[model])[0]
                images[sample.name] = score(sr_image, sample.hr_image, scale, niqe_model,
                                            y_channel)
                if on_image is not None:
                    on_image(folder.name, model, sample, sr_image)
            table[model] = {**_mean(images), "images": images}
    return {"scale": scale, "degradation": degradation,
            "channel": "y" if y_channel else "rgb",
            "regrid": {model: shift for model, shift in shifts.items() if shift},
            "results": results}


def format_table(report: dict[str, Any]) -> str:
    """Dataset x model table of mean PSNR / SSIM (/ NIQE)."""
    results = report["results"]
    models = list(next(iter(results.values())).keys())
    width = max(14, *(len(m) + 2 for m in models))
    with_niqe = "niqe" in next(iter(next(iter(results.values())).values()))
    unit = "PSNR / SSIM / NIQE" if with_niqe else "PSNR / SSIM"
    lines = [f"{'dataset':<10}" + "".join(f"{m:>{width + 10}}" for m in models),
             f"{'':<10}" + "".join(f"{unit:>{width + 10}}" for _ in models)]
    for dataset, table in results.items():
        cells = []
        for model in models:
            entry = table[model]
            cell = f"{entry['psnr']:.2f} / {entry['ssim']:.4f}"
            if with_niqe:
                cell += " / n/a" if entry["niqe"] is None else f" / {entry['niqe']:.3f}"
            cells.append(f"{cell:>{width + 10}}")
        lines.append(f"{dataset:<10}" + "".join(cells))
    return "\n".join(lines)


def write_json(report: dict[str, Any], path: Path) -> None:
    write_text(path, json.dumps(report, indent=2))
