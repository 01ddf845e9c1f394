"""The light generator for real time (``live-x4``): every convolution at LR resolution, and a
learned residual on top of vivid's bicubic upsampling.

conv3x3 3 -> C + PReLU; ``blocks`` residual blocks (conv3x3 - PReLU - conv3x3 plus the block
input, no BatchNorm: ``srresnet.ResidualBlock``); conv3x3 C -> 3 s^2; added, still on the LR
grid, to the bicubic upsampling packed the same way; one PixelShuffle(s). The last conv starts
at zero, so an untrained network *is* the bicubic upsampling and training only learns what to
add to it. ``reparam=True`` (training only) makes the head's and the blocks' kernels sums of
linear branches (``vivid.nets.reparam``), ``reparam_tail=True`` the tail's too (starting at
zero); saved weights hold the folded plain kernels.

The bicubic part is MATLAB's ``imresize(x, s, 'bicubic')`` for an integer ``s`` (the
package's ``bicubic``, ``vivid.degrade.imresize``: Keys' cubic with a = -0.5, symmetric
borders) written as a fixed 5x5 convolution per channel to the s^2 output phases after a
symmetric 2-pixel padding: Pad, Slice, Concat, Conv and DepthToSpace in ONNX, any input size.

Multiply-adds per LR pixel: ``27 C + 18 B C^2 + 27 s^2 C + 75 s^2`` (head, blocks, tail, the
bicubic convolution; PReLUs and sums not counted): 34,320 at the default x4, 1 block, 32
channels (52,752 with 2 blocks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vivid.degrade import cubic
from vivid.nets.reparam import reparameterize
from vivid.nets.srresnet import ResidualBlock
from vivid.nets.subpixel import prelu

INTERPOLATION_RADIUS = 2  # LR pixels the bicubic upsampling reads on each side (5 taps)


@dataclass(frozen=True)
class LightConfig:
    """Shape of a light generator: upscaling factor, residual blocks and feature channels."""

    scale: int = 4
    blocks: int = 1
    channels: int = 32

    def __post_init__(self) -> None:
        if self.scale not in (2, 3, 4, 8):
            raise ValueError(f"scale must be 2, 3, 4 or 8, got {self.scale}")
        if self.blocks < 0 or self.channels < 1:
            raise ValueError(f"blocks must be >= 0 and channels >= 1, got {self}")


def multiply_adds(config: LightConfig) -> int:
    """Multiply-adds per LR pixel (see the module docstring)."""
    c, s2 = config.channels, config.scale**2
    return 27 * c + 18 * config.blocks * c * c + 27 * s2 * c + 75 * s2


def receptive_radius(config: LightConfig) -> int:
    """Farthest distance (LR pixels) from which an input pixel can change an output pixel:
    one per 3x3 conv (head, two per block, tail), at least the interpolation's 2. A tile with
    this much context on each side gives exactly the untiled output."""
    return max(2 + 2 * config.blocks, INTERPOLATION_RADIUS)


def bicubic_phases(scale: int) -> torch.Tensor:
    """(scale^2, 1, 5, 5) float32: the weights of MATLAB's bicubic x ``scale`` for output
    phase (py, px) (channel ``py * scale + px``) over the 5x5 LR neighbourhood of the pixel.

    Output pixel ``scale * i + p`` sits at LR coordinate ``i + (p + 0.5) / scale - 0.5``
    (MATLAB's placement); its weights are Keys' cubic (a = -0.5) of the distances."""
    phase = (torch.arange(scale, dtype=torch.float64) + 0.5) / scale - 0.5
    offsets = torch.arange(-INTERPOLATION_RADIUS, INTERPOLATION_RADIUS + 1, dtype=torch.float64)
    taps = cubic(offsets[None, :] - phase[:, None])  # (phase, offset)
    taps = taps / taps.sum(1, keepdim=True)
    grid = taps[:, None, :, None] * taps[None, :, None, :]  # (py, px, ky, kx)
    return grid.reshape(scale * scale, 1, *grid.shape[-2:]).float()


def symmetric_pad(image: torch.Tensor) -> torch.Tensor:
    """``image`` (N x C x H x W, any size) padded by 2 on each side as MATLAB mirrors
    (``x1 x0 | x0 x1 ... x_{n-1} | x_{n-1} x_{n-2}``; a 1-pixel side repeats its pixel).

    Built from a replicated 1-pixel padding and slices of it, so that it traces to ONNX for
    any size."""
    edged = F.pad(image, (1, 1, 1, 1), mode="replicate")
    edged = torch.cat((edged[..., 2:3], edged, edged[..., -3:-2]), -1)
    return torch.cat((edged[..., 2:3, :], edged, edged[..., -3:-2, :]), -2)


class LightGenerator(nn.Module):
    """The light generator; see the module docstring. Input and output are RGB in [0, 1]
    (N x 3 x h x w -> N x 3 x sh x sw); the output is not clamped (training needs the
    gradient). The bicubic weights are a fixed buffer, not saved with the weights."""

    def __init__(self, config: LightConfig | None = None, reparam: bool = False,
                 reparam_tail: bool = False) -> None:
        super().__init__()
        self.config = config or LightConfig()
        channels, scale = self.config.channels, self.config.scale
        self.head = nn.Conv2d(3, channels, 3, padding=1)
        self.head_act = nn.PReLU(channels)
        self.body = nn.Sequential(
            *(ResidualBlock(channels, batchnorm=False) for _ in range(self.config.blocks)))
        self.tail = nn.Conv2d(channels, 3 * scale * scale, 3, padding=1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)
        self.register_buffer("interpolation", bicubic_phases(scale).repeat(3, 1, 1, 1),
                             persistent=False)
        if reparam:
            for conv in (self.head, *(c for b in self.body for c in (b.conv1, b.conv2))):
                reparameterize(conv)
        if reparam_tail:
            reparameterize(self.tail, zero_start=True)

    @property
    def scale(self) -> int:
        return self.config.scale

    def upsample_phases(self, lr_image: torch.Tensor) -> torch.Tensor:
        """MATLAB's bicubic upsampling of ``lr_image``, packed as the tail's output is
        (N x 3 s^2 x h x w; ``pixel_shuffle`` makes it the image)."""
        weight = self.interpolation.to(lr_image.dtype)
        return F.conv2d(symmetric_pad(lr_image), weight, groups=3)

    def forward(self, lr_image: torch.Tensor) -> torch.Tensor:
        features = prelu(self.head(lr_image), self.head_act.weight)
        residual = self.tail(self.body(features))
        return F.pixel_shuffle(residual + self.upsample_phases(lr_image), self.scale)


def shape_from_tensors(head: torch.Tensor, tail: torch.Tensor, blocks: int) -> LightConfig:
    """The config of a light generator whose head and tail conv weights have these shapes."""
    scale = math.isqrt(tail.shape[0] // 3)
    return LightConfig(scale=scale, blocks=blocks, channels=head.shape[0])
