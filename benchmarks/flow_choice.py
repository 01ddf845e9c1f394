"""Which motion estimate for the video generator? End-point error against the true motion, and
how well the previous ground-truth frame warped with it predicts the current one.

1. End-point error. Pairs: the validation pairs of stage ``video-flow``
(configs/vivid-video-flow.toml: the 10 held-out BSD200 images moved by a random affine motion,
half with a moving patch, BD-degraded, 48x48 LR; 4 x 8 pairs, fixed seed). Estimates: zero
motion, OpenCV Farneback on the LR greys (``vivid.motion``, as ``motion = "farneback"``), and
the flow network of each weights file given (e.g. the first ``video-x4``, whose flow was
trained only through the warping loss, and the stage-1 run
``runs/video-flow/generator.safetensors``).
2. Warp PSNR: on the sequences of ``benchmarks/video_diagnose.py`` (the held-out clips of
``video-x4`` and slow sub-pixel pans over held-out BSD200 images; never Vid4), for every frame
t > 0 the ground-truth HR frame t-1 warped with the LR motion (upsampled x4) against HR frame
t: Y-PSNR, 16 pixels shaved. This is what the recurrence can gain from its previous output at
best: where it is below the PSNR of the SR output itself (video_diagnose), the warped previous
output is worth less than a new frame.
Usage: python benchmarks/flow_choice.py [WEIGHTS ...]
Writes benchmarks/results/flow_choice.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from temporal_validation import write_pans
from video_diagnose import sequences

from common import save
from vivid.metrics import psnr
from vivid.motion import frame_flow
from vivid.nets.frvsr import RecurrentGenerator, upscale_flow, warp
from vivid.nets.weights_file import load_model
from vivid.training.config import load_config
from vivid.training.datasets import load_validation
from vivid.training.flow_steps import end_point_error

REPO = Path(__file__).resolve().parents[1]
Estimate = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (current, previous) -> flow


def warp_psnr(estimate: Estimate, listed: list) -> dict[str, float]:
    """Mean warp PSNR (see the docstring) per group: validation clips, pans."""
    groups: dict[str, list[float]] = {}
    for name, lr_frames, hr_frames in listed:
        values = []
        for t in range(1, len(lr_frames)):
            motion = upscale_flow(estimate(lr_frames[t], lr_frames[t - 1]), 4)
            warped = warp(hr_frames[t - 1], motion).clamp(0, 1)
            values.append(float(psnr(warped, hr_frames[t], shave=16)))
        group = "pans" if name.startswith("pan-") else "validation clips"
        groups.setdefault(group, []).append(float(np.mean(values)))
    return {group: float(np.mean(v)) for group, v in groups.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("weights", nargs="*", help="video weights files or bundled names")
    args = parser.parse_args()
    pairs = load_validation(load_config(REPO / "configs" / "vivid-video-flow.toml"))
    estimators = {"zero motion": lambda c, p: torch.zeros(c.shape[0], 2, *c.shape[-2:]),
                  "OpenCV Farneback": frame_flow}
    for name in args.weights:
        network, _ = load_model(name)
        if not isinstance(network, RecurrentGenerator):
            parser.error(f"{name}: not a video model")
        estimators[f"flow network of {name}"] = network.flow
    rows = ["| motion estimate | end-point error (LR pixels) | warp PSNR, validation clips "
            "| warp PSNR, pans |", "|---|---|---|---|"]
    results, warps = {}, {}
    with torch.no_grad(), tempfile.TemporaryDirectory() as folder:
        listed = sequences(write_pans(Path(folder)))
        for label, estimate in estimators.items():
            errors = [end_point_error(estimate(lr[:, 0], lr[:, 1]), truth).item()
                      for lr, truth in pairs]
            results[label], warps[label] = float(np.mean(errors)), warp_psnr(estimate, listed)
            rows.append(f"| {label} | {results[label]:.3f} | "
                        f"{warps[label]['validation clips']:.2f} | {warps[label]['pans']:.2f} |")
    table = "\n".join(rows)
    print(table)
    command = " ".join(["python benchmarks/flow_choice.py", *args.weights])
    record = {"command": command, "markdown": table, "epe": results, "warp_psnr": warps}
    print(f"-> {save('flow_choice', record)}")


if __name__ == "__main__":
    main()
