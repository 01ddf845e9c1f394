"""``vivid eval-video``: video SR on sequences of ground-truth frames (e.g. Vid4).

The dataset folder holds one folder of frames per sequence. Each frame is cropped to a
multiple of the scale and degraded (``bd`` by default: Gaussian sigma 1.5, every 4th pixel,
as TecoGAN); every method upscales the sequence in order: ``bicubic``, each image model frame
by frame and with every requested temporal mode (``MODEL+flow``), each video model
(``video-x4``) through its recurrence; the progress bar counts frames over all of them. Per
sequence and on average:
PSNR / SSIM, tOF and warping error (see ``video.metrics``), and with a NIQE model the mean
NIQE of the frames (as ``vivid eval``). PSNR / SSIM per ``protocol``:

- ``vivid``: Y channel rounded like MATLAB, shave = scale, mean over every frame (as ``vivid
  eval`` for images);
- ``tecogan``: as TecoGAN's ``metrics.py``, so numbers compare with its tables: frames 2 to
  N-3 (the first and last two skipped, as for tOF), the central crop of ``crop_8x8`` (sides a
  multiple of 32, at least 8 pixels off each border), Y not rounded. SSIM keeps vivid's
  Gaussian window.

A learned model trained on LR of the other grid (bd vs bicubic, 1.5 HR px apart at x4) has
its output frames moved onto the evaluated grid before scoring (``evaluation.grid``; its
recurrence runs as usual); the report lists the shift per method (``regrid``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from vivid.degrade import make_pair
from vivid.errors import VividError
from vivid.evaluation.evaluate import niqe_score
from vivid.evaluation.grid import regrid, regrid_shift
from vivid.images.imagefile import read_image
from vivid.images.pixels import quantize_8bit
from vivid.inference.loader import load_upscaler
from vivid.inference.recurrent import PREROLL, VideoUpscaler
from vivid.inference.upscaler import Upscaler
from vivid.metrics import mean_psnr_ssim, psnr, ssim
from vivid.video.codec import frame_files
from vivid.video.metrics import PROTOCOLS, SKIPPED, central_crop, tof, warping_error
from vivid.video.temporal import FrameFn, flush, make_filter, make_frame_fn

BATCH = 4


def load_sequence(folder: Path, scale: int, degradation: str
                  ) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    pairs = [make_pair(read_image(path).rgb, scale, degradation) for path in frame_files(folder)]
    if len(pairs) < 6:
        raise VividError(f"{folder}: needs at least 6 frames for the temporal metrics")
    return [p[0] for p in pairs], [p[1] for p in pairs]


def run_method(upscaler: Upscaler | VideoUpscaler, temporal: str,
               lr_frames: list[torch.Tensor], on_frames: Callable[[int], object] | None = None,
               preroll: int = PREROLL) -> list[torch.Tensor]:
    """Every frame upscaled in order: a video model's recurrence (with ``preroll``, as
    ``vivid upscale``), or an image model frame by frame through the temporal filter;
    ``on_frames(n)`` after each batch of ``n`` outputs."""
    if isinstance(upscaler, VideoUpscaler):
        frame_fn: FrameFn = upscaler.stream(preroll)
    else:
        frame_fn = make_frame_fn(upscaler, make_filter(temporal, upscaler.scale))
    return collect_outputs(frame_fn, lr_frames, BATCH, on_frames)


def collect_outputs(frame_fn: FrameFn, lr_frames: list[torch.Tensor], batch: int = BATCH,
                    on_frames: Callable[[int], object] | None = None) -> list[torch.Tensor]:
    """``frame_fn`` called on ``batch`` frames at a time, then flushed (a pre-roll's last
    outputs): every output frame in order, rounded to 8 bits, one 1xCxHxW tensor each;
    ``on_frames(n)`` after each batch of ``n`` outputs."""
    outputs: list[torch.Tensor] = []

    def keep(sr_batch: torch.Tensor | None) -> None:
        if sr_batch is not None:
            outputs.extend(quantize_8bit(sr_batch[i:i + 1]) for i in range(sr_batch.shape[0]))
            if on_frames is not None:
                on_frames(sr_batch.shape[0])

    for start in range(0, len(lr_frames), batch):
        keep(frame_fn(torch.cat(lr_frames[start:start + batch])))
    keep(flush(frame_fn))
    return outputs


def protocol_psnr_ssim(outputs: list[torch.Tensor], truth: list[torch.Tensor], scale: int,
                       protocol: str = "vivid") -> dict[str, float]:
    """Mean PSNR / SSIM over the frames as ``protocol`` takes them (module docstring)."""
    if protocol == "vivid":
        return mean_psnr_ssim(zip(outputs, truth, strict=True), shave=scale)
    if protocol != "tecogan":
        raise VividError(f"protocol {protocol!r}: choose one of {', '.join(PROTOCOLS)}")
    rows, cols = central_crop(*truth[0].shape[-2:])
    pairs = [(o[..., rows, cols], t[..., rows, cols])
             for o, t in zip(outputs[SKIPPED:-SKIPPED], truth[SKIPPED:-SKIPPED], strict=True)]
    psnrs = [float(psnr(o, t, shave=0, rounded_y=False)) for o, t in pairs]
    ssims = [float(ssim(o, t, shave=0, rounded_y=False)) for o, t in pairs]
    return {"psnr": sum(psnrs) / len(psnrs), "ssim": sum(ssims) / len(ssims)}


def score_sequence(outputs: list[torch.Tensor], truth: list[torch.Tensor], scale: int,
                   niqe_model: Path | None = None, protocol: str = "vivid"
                   ) -> dict[str, float]:
    """PSNR/SSIM (per ``protocol``), tOF, warping error and, with a model, mean NIQE."""
    numbers = {**protocol_psnr_ssim(outputs, truth, scale, protocol),
               "tof": tof(outputs, truth), "warping_error": warping_error(outputs, truth)}
    if niqe_model is not None:
        numbers["niqe"] = mean_niqe(outputs, scale, niqe_model)
    return numbers


def mean_niqe(frames: list[torch.Tensor], scale: int, niqe_model: Path) -> float:
    """Mean NIQE over the frames NIQE applies to (``niqe_score``); NaN if none."""
    values = [v for v in (niqe_score(f, scale, niqe_model) for f in frames) if v is not None]
    return sum(values) / len(values) if values else float("nan")


def methods(models: list[str], temporal_modes: list[str], video_models: set[str] = frozenset()
            ) -> list[tuple[str, str, str]]:
    """(label, model, temporal mode) of every evaluated method; video models (recurrent)
    run as they are, image models frame by frame and with each temporal mode."""
    listed = [("bicubic", "bicubic", "none")]
    extra = [m for m in temporal_modes if m != "none"]
    for model in models:
        modes = ["none"] if model in video_models else ["none", *extra]
        listed += [(model if mode == "none" else f"{model}+{mode}", model, mode)
                   for mode in modes]
    return listed


def evaluate_video(models: list[str], dataset: Path, temporal_modes: list[str],
                   scale: int = 4, degradation: str = "bd", device: str = "auto",
                   progress: bool = True, precision: str = "fp32",
                   niqe_model: Path | None = None, protocol: str = "vivid",
                   preroll: int = PREROLL) -> dict[str, Any]:
    sequences = sorted(p for p in dataset.iterdir() if p.is_dir())
    if not sequences:
        raise VividError(f"{dataset}: no sequence folders")
    upscalers = {m: load_upscaler(m, device=device, scale=scale, precision=precision,
                                  runtime="torch")  # as vivid eval: engine-independent
                 for m in {"bicubic", *models}}
    video_models = {m for m, u in upscalers.items() if isinstance(u, VideoUpscaler)}
    listed = methods(models, temporal_modes, video_models)
    total = len(listed) * sum(len(frame_files(folder)) for folder in sequences)
    results: dict[str, dict[str, dict[str, float]]] = {}
    shifts = {label: regrid_shift(upscalers[model].metadata, upscalers[model].scale, degradation)
              for label, model, _ in listed}
    with tqdm(total=total, unit="frame", disable=not progress, dynamic_ncols=True) as bar:
        for folder in sequences:
            lr_frames, hr_frames = load_sequence(folder, scale, degradation)
            for label, model, mode in listed:
                bar.set_description(f"{folder.name}: {label}")
                outputs = regrid(run_method(upscalers[model], mode, lr_frames, bar.update,
                                            preroll), shifts[label])
                results.setdefault(label, {})[folder.name] = score_sequence(
                    outputs, hr_frames, scale, niqe_model, protocol)
    for table in results.values():
        keys = next(iter(table.values())).keys()
        table["mean"] = {k: sum(v[k] for v in table.values()) / len(table) for k in keys}
    return {"scale": scale, "degradation": degradation, "protocol": protocol,
            "preroll": preroll if video_models else None,
            "regrid": {label: shift for label, shift in shifts.items() if shift},
            "results": results}


def format_video_table(report: dict[str, Any]) -> str:
    lines = [f"{'method':<28}{'sequence':<10}{'PSNR':>8}{'SSIM':>8}{'tOF':>8}{'warp err':>10}"
             f"{'NIQE':>8}"]
    for label, table in report["results"].items():
        for sequence, n in table.items():
            niqe = f"{n['niqe']:8.3f}" if "niqe" in n else f"{'-':>8}"
            lines.append(f"{label:<28}{sequence:<10}{n['psnr']:8.2f}{n['ssim']:8.4f}"
                         f"{n['tof']:8.3f}{n['warping_error']:10.3f}{niqe}")
    return "\n".join(lines)
