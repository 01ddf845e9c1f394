"""Scene cuts: where a recurrent video model must forget the previous frame.

A frame-recurrent generator warps its previous output into the current frame; across a cut
that would smear the old scene into the new one. A cut is declared between two consecutive LR
frames when both of these change a lot:

- the picture: mean absolute difference of 32 x 32 greyscale thumbnails (area averages) above
  ``THUMBNAIL_LIMIT``;
- the colours: half the L1 distance between the frames' 32-bin colour histograms (mean over
  R, G, B; 0 = same distribution, 1 = disjoint) above ``HISTOGRAM_LIMIT``.

A pan or a zoom moves the picture but keeps its colours, and a lighting change shifts the
colours but keeps the picture, so neither alone resets the model. The limits were set on the
training and validation clips (../shared/data/VideoClips; never Vid4, a test set):
benchmarks/scene_cuts.py scores their consecutive frames (no cut) against pairs of frames of
different clips (a cut) and lists what the rule gets wrong.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

THUMBNAIL = 32
BINS = 32
THUMBNAIL_LIMIT = 0.1
HISTOGRAM_LIMIT = 0.3


def _grey_thumbnail(frame: torch.Tensor) -> torch.Tensor:
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=frame.dtype).reshape(1, 3, 1, 1)
    grey = (frame.float() * weights).sum(1, keepdim=True)
    return F.adaptive_avg_pool2d(grey, (THUMBNAIL, THUMBNAIL))


def _histograms(frame: torch.Tensor) -> torch.Tensor:
    """C x BINS: each channel's share of the pixels per level bin (one bincount)."""
    levels = (frame.float().clamp(0, 1) * (BINS - 1)).round().long().flatten(-2)[0]  # C x P
    channels = levels.shape[0]
    offsets = torch.arange(channels).unsqueeze(1) * BINS
    counts = torch.bincount((levels + offsets).flatten(), minlength=channels * BINS)
    return counts.reshape(channels, BINS).float() / levels.shape[-1]


def change_scores(previous: torch.Tensor, current: torch.Tensor) -> tuple[float, float]:
    """(thumbnail difference, histogram distance) of two 1 x 3 x h x w frames in [0, 1]."""
    thumbnail = (_grey_thumbnail(previous) - _grey_thumbnail(current)).abs().mean()
    histogram = (_histograms(previous) - _histograms(current)).abs().sum(1).mean() / 2
    return float(thumbnail), float(histogram)


def is_scene_cut(previous: torch.Tensor, current: torch.Tensor) -> bool:
    """Whether ``current`` starts a new scene after ``previous`` (see the module docstring)."""
    if previous.shape != current.shape:
        return True
    thumbnail, histogram = change_scores(previous.cpu(), current.cpu())
    return thumbnail > THUMBNAIL_LIMIT and histogram > HISTOGRAM_LIMIT
