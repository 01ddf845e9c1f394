"""Scoring a model on the grid of the evaluated LR (``vivid eval`` and ``vivid eval-video``).

A learned model trained on LR of one grid and scored on LR of the other (BD keeps every
``scale``-th pixel from the first; bicubic LR is centred (scale - 1) / 2 HR pixels off that,
``degrade.grid_offset``) puts all its output that far off the truth. Before scoring, its
output is moved onto the evaluated grid: resampled (bicubic) by the difference of the two
offsets, the same for every image or frame. bicubic, which has no training grid, and a model
trained on both grids (``mixed``, which places its output itself) are scored as they are.
"""

from __future__ import annotations

from typing import Any

import torch

from vivid.degrade import MIXED, grid_offset
from vivid.images.pixels import quantize_8bit
from vivid.nets.warping import warp
from vivid.nets.weights_file import trained_degradation


def regrid_shift(metadata: dict[str, Any], scale: int, degradation: str) -> float:
    """HR pixels to move the output of a model with this weights ``metadata`` by for LR made
    by ``degradation`` (0: none)."""
    trained = trained_degradation(metadata)
    if trained is None or trained == MIXED:
        return 0.0
    return grid_offset(trained, scale) - grid_offset(degradation, scale)


def regrid(frames: list[torch.Tensor], shift: float) -> list[torch.Tensor]:
    """Every frame sampled at (x + shift, y + shift): bicubic, borders replicated, 8-bit."""
    if not shift:
        return frames
    flow = torch.full((1, 2, *frames[0].shape[-2:]), shift)
    return [quantize_8bit(warp(f, flow, "bicubic").clamp(0, 1)) for f in frames]
