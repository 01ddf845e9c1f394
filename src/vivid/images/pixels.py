"""8-bit levels, written once: tensors in [0, 1] rounded to the 256 levels of an 8-bit image."""

from __future__ import annotations

import torch


def to_uint8(image: torch.Tensor) -> torch.Tensor:
    """[0, 1] float -> uint8 (rounded to nearest, clamped)."""
    return (image * 255).round().clamp(0, 255).to(torch.uint8)


def quantize_8bit(image: torch.Tensor) -> torch.Tensor:
    """Round a [0, 1] image to the nearest of the 256 levels of an 8-bit image (clamped)."""
    return (image * 255).round().clamp(0, 255) / 255
