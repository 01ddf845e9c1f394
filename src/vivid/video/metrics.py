"""Temporal metrics of video super-resolution.

tOF (TecoGAN, Chu et al. 2020, as its released ``metrics.py`` computes it): for consecutive
frames, Farneback optical flow (OpenCV; pyr_scale 0.5, 3 levels, window 15, 3 iterations,
poly_n 5, poly_sigma 1.2) on the OpenCV greyscale of the 8-bit output and of the ground
truth; the per-pixel Euclidean norm of their difference, averaged over the central crop that
TecoGAN uses (sides a multiple of 32 with at least 8 pixels removed at each border), then
over frame pairs. The first and last 2 frames of a sequence are skipped, as TecoGAN does.
Lower is better: the output moves like the ground truth.

Warping error: the output frame t against output frame t-1 warped by the *ground-truth* flow
(Farneback, t -> t-1), mean absolute difference in grey levels over the pixels where the
ground-truth flow passes a forward-backward check (< 1 pixel), same crop and frames. Lower
means less flicker along the true motion.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

from vivid.motion import flow, grey
from vivid.video.temporal import consistent, offsets_warp

SKIPPED = 2  # frames skipped at each end of a sequence, as TecoGAN
PROTOCOLS = ("vivid", "tecogan")  # how eval-video takes PSNR / SSIM (vivid.video.evaluate)


def central_crop(height: int, width: int) -> tuple[slice, slice]:
    """TecoGAN's ``crop_8x8``: multiples of 32, at least 8 pixels off every border."""
    def side(length: int) -> tuple[int, int]:
        cropped = length // 32 * 32
        while cropped > length - 16:
            cropped -= 32
        return (length - cropped) // 2, cropped

    (top, h), (left, w) = side(height), side(width)
    return slice(top, top + h), slice(left, left + w)


def _pairs(frames: list[torch.Tensor]) -> list[tuple[np.ndarray, np.ndarray]]:
    greys = [grey(f) for f in frames[SKIPPED:len(frames) - SKIPPED]]
    return list(itertools.pairwise(greys))


def tof(output: list[torch.Tensor], truth: list[torch.Tensor]) -> float:
    """Mean tOF over a sequence (see the module docstring)."""
    values = []
    for (out_a, out_b), (gt_a, gt_b) in zip(_pairs(output), _pairs(truth), strict=True):
        rows, columns = central_crop(*gt_a.shape)
        difference = flow(gt_a, gt_b)[rows, columns] - flow(out_a, out_b)[rows, columns]
        values.append(float(np.sqrt((difference**2).sum(axis=-1)).mean()))
    return float(np.mean(values))


def warping_error(output: list[torch.Tensor], truth: list[torch.Tensor]) -> float:
    """Mean warping error over a sequence (see the module docstring)."""
    values = []
    for (out_a, out_b), (gt_a, gt_b) in zip(_pairs(output), _pairs(truth), strict=True):
        backward, forward = flow(gt_b, gt_a), flow(gt_a, gt_b)
        valid = consistent(backward, forward, 1.0)
        warped = offsets_warp(torch.from_numpy(out_a).float()[None, None], backward)[0, 0].numpy()
        error = np.abs(warped - out_b.astype(np.float32))
        rows, columns = central_crop(*gt_a.shape)
        mask = valid[rows, columns]
        values.append(float(error[rows, columns][mask].mean()) if mask.any() else 0.0)
    return float(np.mean(values))
