"""Warping and the placement of LR pixels on the HR grid for the networks and what trains and
scores them (the recurrent generator, the temporal losses, evaluation's regrid, the
``--temporal flow`` filter and the warping-error metric of ``vivid.video``).

Flows are N x 2 x H x W in pixels (x then y): where each pixel of the current frame was in
the image warped. Two placements of LR pixel i on the HR grid: the BD grid (HR pixel
``scale * i``, where BD keeps its pixel) and PyTorch's ``align_corners=False`` (HR
``scale * i + (scale - 1) / 2``, where MATLAB bicubic LR centres it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def warp(image: torch.Tensor, flow: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    """``image`` sampled at ``x + flow(x)`` (``mode`` bilinear or bicubic, borders
    replicated), in fp32.

    ``flow`` is N x 2 x H x W in pixels of ``image`` (x then y): where each pixel of the
    current frame was in ``image``.
    """
    height, width = image.shape[-2:]
    ys = torch.arange(height, device=image.device, dtype=torch.float32)
    xs = torch.arange(width, device=image.device, dtype=torch.float32)
    x = xs.view(1, 1, width) + flow[:, 0].float()
    y = ys.view(1, height, 1) + flow[:, 1].float()
    grid = torch.stack((2 * x / max(width - 1, 1) - 1, 2 * y / max(height - 1, 1) - 1), dim=-1)
    return F.grid_sample(image.float(), grid, mode=mode, padding_mode="border",
                         align_corners=True)


def bd_upsample(image: torch.Tensor, scale: int) -> torch.Tensor:
    """Bilinear x ``scale`` on the BD grid: LR pixel i lands on HR pixel ``scale * i`` (BD
    keeps every ``scale``-th pixel from the first); the last ``scale - 1`` rows and columns
    repeat the edge."""
    height, width = image.shape[-2:]
    padded = F.pad(image, (0, 1, 0, 1), mode="replicate")
    up = F.interpolate(padded, size=(scale * height + 1, scale * width + 1), mode="bilinear",
                       align_corners=True)
    return up[..., :scale * height, :scale * width]


def upsample(image: torch.Tensor, scale: int, bd_grid: bool) -> torch.Tensor:
    """Bilinear x ``scale`` on the BD grid (``bd_upsample``) or with PyTorch's
    ``align_corners=False`` placement (LR pixel i at HR ``scale * i + (scale - 1) / 2``)."""
    if bd_grid:
        return bd_upsample(image, scale)
    return F.interpolate(image, scale_factor=scale, mode="bilinear", align_corners=False)


def upscale_flow(flow: torch.Tensor, scale: int, bd_grid: bool = False) -> torch.Tensor:
    """LR flow to the HR grid: ``upsample`` and the vectors times ``scale``."""
    return upsample(flow.float(), scale, bd_grid) * scale


def out_of_frame(flow: torch.Tensor) -> torch.Tensor:
    """N x 1 x H x W: 1 where ``flow`` points outside the frame (no previous content)."""
    height, width = flow.shape[-2:]
    x = torch.arange(width, device=flow.device).view(1, width) + flow[:, 0]
    y = torch.arange(height, device=flow.device).view(height, 1) + flow[:, 1]
    outside = (x < -0.5) | (x > width - 0.5) | (y < -0.5) | (y > height - 0.5)
    return outside.float()[:, None]
