"""The SRGAN generator (Ledig et al., CVPR 2017): SRResNet, its config and receptive field.

Plain ``nn.Module`` subclasses, no registry. The discriminator, VGG features and the
inference form (``fold_batchnorm``) have modules of their own in ``vivid.nets``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from vivid.nets.subpixel import prelu, subpixel_tail


@dataclass(frozen=True)
class GeneratorConfig:
    """Shape of an SRResNet: upscaling factor, residual blocks and feature channels."""

    scale: int = 4
    blocks: int = 16
    channels: int = 64

    def __post_init__(self) -> None:
        if self.scale not in (2, 3, 4, 8):
            raise ValueError(f"scale must be 2, 3, 4 or 8, got {self.scale}")
        if self.blocks < 0 or self.channels < 1:
            raise ValueError(f"blocks must be >= 0 and channels >= 1, got {self}")

    @property
    def shuffle_factors(self) -> list[int]:
        """PixelShuffle factor of each upsampling block (x3: one block of 3, else blocks of 2)."""
        return [3] if self.scale == 3 else [2] * int(math.log2(self.scale))


def _norm(channels: int, batchnorm: bool) -> nn.Module:
    return nn.BatchNorm2d(channels) if batchnorm else nn.Identity()


class ResidualBlock(nn.Module):
    """conv3x3 - BN - PReLU - conv3x3 - BN, plus the block input (element-wise sum).

    ``batchnorm=False`` leaves the BNs out (identities): the recurrent video generator's form.
    """

    def __init__(self, channels: int, batchnorm: bool = True) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn1 = _norm(channels, batchnorm)
        self.act = nn.PReLU(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn2 = _norm(channels, batchnorm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.bn2(self.conv2(prelu(self.bn1(self.conv1(x)), self.act.weight)))


class UpsampleBlock(nn.Module):
    """Sub-pixel convolution: conv3x3 to channels * factor^2, PixelShuffle(factor), PReLU."""

    def __init__(self, channels: int, factor: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels * factor * factor, 3, padding=1)
        self.shuffle = nn.PixelShuffle(factor)
        self.act = nn.PReLU(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return prelu(self.shuffle(self.conv(x)), self.act.weight)


class Generator(nn.Module):
    """SRResNet, the generator of SRGAN, exactly as in Fig. 4 of the paper.

    9x9 conv + PReLU; ``blocks`` residual blocks; 3x3 conv + BN summed with the pre-residual
    features; one sub-pixel block per factor 2 (or one factor-3 block for x3); 9x9 conv to RGB.
    Input and output are RGB in [0, 1]; the output is not clamped (training needs the gradient).
    With the default config (x4, 16 blocks, 64 channels) it has 1,550,659 parameters.

    ``subpixel_tail`` (off by default; vivid's training and inference turn it on) computes the
    same function faster: see ``subpixel_tail``. It changes no parameter, only float rounding.
    ``batchnorm=False`` builds the same network without BatchNorm (as ``fold_batchnorm``
    leaves it); the video generator (``vivid.nets.frvsr``) uses that form.
    """

    def __init__(self, config: GeneratorConfig | None = None, subpixel_tail: bool = False,
                 batchnorm: bool = True) -> None:
        super().__init__()
        self.config = config or GeneratorConfig()
        self.subpixel_tail = subpixel_tail
        channels = self.config.channels
        self.head = nn.Conv2d(3, channels, 9, padding=4)
        self.head_act = nn.PReLU(channels)
        self.body = nn.Sequential(
            *(ResidualBlock(channels, batchnorm) for _ in range(self.config.blocks)))
        self.body_conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.body_bn = _norm(channels, batchnorm)
        self.upsample = nn.Sequential(
            *(UpsampleBlock(channels, f) for f in self.config.shuffle_factors)
        )
        self.tail = nn.Conv2d(channels, 3, 9, padding=4)

    def forward(self, lr_image: torch.Tensor) -> torch.Tensor:
        return self.reconstruct(self.head(lr_image))

    def reconstruct(self, head_output: torch.Tensor) -> torch.Tensor:
        """Everything after the head conv: its PReLU, the residual body and the upsampling."""
        return self.upscale(self.body_features(head_output))

    def body_features(self, head_output: torch.Tensor) -> torch.Tensor:
        """The head conv's output through its PReLU and the residual body (with the skip):
        the LR features the upsampling starts from."""
        features = prelu(head_output, self.head_act.weight)
        return features + self.body_bn(self.body_conv(self.body(features)))

    def upscale(self, features: torch.Tensor) -> torch.Tensor:
        """``body_features`` to the output image: the sub-pixel blocks and the last conv."""
        if not self.subpixel_tail:
            return self.tail(self.upsample(features))
        *first, last = self.upsample
        for block in first:
            features = block(features)
        return subpixel_tail(last, self.tail, features)


def receptive_radius(config: GeneratorConfig) -> int:
    """Farthest distance (in LR pixels) from which an input pixel can change an output pixel.

    Measured from the LR pixel under the output pixel; a tile needs this much context on each
    side for its output to equal the untiled one exactly.
    """
    radius = 4.0 + 2 * config.blocks + 1  # head 9x9, two 3x3 per block, body conv
    resolution = 1
    for factor in config.shuffle_factors:
        radius += 1 / resolution  # the 3x3 conv before each PixelShuffle
        resolution *= factor
    radius += 4 / resolution  # 9x9 tail at full resolution
    return math.ceil(radius)


