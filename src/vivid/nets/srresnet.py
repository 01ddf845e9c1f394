"""The SRGAN networks (Ledig et al., CVPR 2017): SRResNet generator and the discriminator.

Plain ``nn.Module`` subclasses, no registry. ``fold_batchnorm`` turns a generator into its
inference form (every BatchNorm merged into the preceding convolution).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


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


def prelu(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """PReLU with per-channel ``weight``; when autograd records, as ``relu(x) - w * relu(-x)``.

    The same values as ``F.prelu``. With autograd, forward plus backward runs ~3x faster on
    the CPU than the fused kernel (torch 2.13, bf16 or fp32); without it the fused kernel is
    faster and needs no temporaries, so inference (and ONNX export) uses it.
    """
    if not (torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad)):
        return F.prelu(x, weight.to(x.dtype))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return F.relu(x) - weight.to(x.dtype).reshape(shape) * F.relu(-x)


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
        features = prelu(head_output, self.head_act.weight)
        features = features + self.body_bn(self.body_conv(self.body(features)))
        if not self.subpixel_tail:
            return self.tail(self.upsample(features))
        *first, last = self.upsample
        for block in first:
            features = block(features)
        return subpixel_tail(last, self.tail, features)


def _tail_taps(factor: int, radius: int) -> tuple[torch.Tensor, int]:
    """Index of the kernel tap behind each (output phase, input phase, block offset), or -1.

    On the grid ``factor`` times coarser, output phase p reads input phase q at block offset b
    through the tap ``(b - low) * factor + q - p`` of the fine kernel (``b`` counts from 0,
    ``low`` blocks reach back).
    """
    low = -(-radius // factor)  # ceil(radius / factor) blocks reach back
    high = (factor - 1 + radius) // factor
    phase = torch.arange(factor)
    offsets = torch.arange(-low, high + 1)
    taps = offsets[None, None, :] * factor + phase[None, :, None] - phase[:, None, None]
    taps = torch.where(taps.abs() <= radius, taps + radius, torch.full_like(taps, -1))
    return taps, low


def subpixel_tail_weight(weight: torch.Tensor, factor: int) -> tuple[torch.Tensor, int]:
    """The conv weight (and padding) equal to ``weight`` applied before ``PixelShuffle(factor)``.

    ``conv(pixel_shuffle(x), weight) == pixel_shuffle(conv(x, big, padding=...), factor)``
    where ``big`` has ``factor**2`` times the output and input channels and a kernel of
    ``ceil(r / factor) + floor((factor - 1 + r) / factor) + 1`` taps for a kernel radius ``r``
    (5 for the 9x9 tail and factor 2); built by indexing, so gradients reach ``weight``.
    """
    out_channels, in_channels, size, _ = weight.shape
    taps, low = _tail_taps(factor, size // 2)  # [p, q, b], -1 = no tap
    padded = F.pad(weight, (0, 1, 0, 1))  # index -1 reads the zero row / column
    rows = taps[:, None, :, None, :, None]  # (py, 1, qy, 1, by, 1)
    columns = taps[None, :, None, :, None, :]  # (1, px, 1, qx, 1, bx)
    big = padded[:, :, rows, columns]  # (o, c, py, px, qy, qx, by, bx)
    big = big.permute(0, 2, 3, 1, 4, 5, 6, 7)  # (o, py, px, c, qy, qx, by, bx)
    blocks = taps.shape[-1]
    return big.reshape(out_channels * factor**2, in_channels * factor**2, blocks, blocks), low


def subpixel_tail(last: UpsampleBlock, tail: nn.Conv2d, features: torch.Tensor) -> torch.Tensor:
    """``tail(last(features))`` computed on the coarse grid, before the last PixelShuffle.

    A 9x9 conv to 3 channels at full resolution keeps a CPU's vector units nearly idle (few
    output channels); the equivalent conv on the grid before the last shuffle has ``factor**2``
    times the channels and runs about 3x faster for the whole tail, forward and backward,
    although it does ~1.2x the multiply-adds (zero taps, for factor 2). PReLU commutes with
    the shuffle when its weights are repeated per phase.
    """
    factor = last.shuffle.upscale_factor
    coarse = last.conv(features)
    coarse = prelu(coarse, last.act.weight.repeat_interleave(factor * factor))
    weight, padding = subpixel_tail_weight(tail.weight, factor)
    bias = tail.bias.repeat_interleave(factor * factor) if tail.bias is not None else None
    weight = weight.to(memory_format=torch.channels_last) if coarse.is_contiguous(
        memory_format=torch.channels_last) else weight
    return F.pixel_shuffle(F.conv2d(coarse, weight, bias, padding=padding), factor)


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


class Discriminator(nn.Module):
    """The SRGAN discriminator; returns one logit per image (no sigmoid).

    3x3 conv(64) + LeakyReLU(0.2), seven conv-BN-LeakyReLU blocks (channels 64,128,128,256,
    256,512,512; strides 2,1,2,1,2,1,2), dense(1024), LeakyReLU, dense(1). The paper's 96x96
    crops give 6x6 feature maps before the dense layers. For other crop sizes the features are
    average-pooled to 6x6 (``nn.AdaptiveAvgPool2d``), which is the identity at 96x96, so the
    paper's network is unchanged there and any crop of at least 16x16 pixels works.
    ``in_channels`` (3) is 27 for the video GAN's spatio-temporal input (``vivid.training.
    video_gan_steps``).

    ``discriminator(real, fake)`` scores several batches in one call: the conv part runs on
    each batch alone (BatchNorm statistics per batch, as separate calls), the dense layers once
    on the concatenation (the same numbers, but one 18.9M-entry weight gradient instead of one
    per batch plus their sum); the logits come back concatenated in argument order.
    """

    def __init__(self, channels: int = 64, pooled_size: int = 6, in_channels: int = 3) -> None:
        super().__init__()
        widths = [channels, channels * 2, channels * 2, channels * 4]
        widths += [channels * 4, channels * 8, channels * 8]
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, channels, 3, padding=1), nn.LeakyReLU(0.2, inplace=True)]
        in_channels = channels
        for index, width in enumerate(widths):
            stride = 2 if index % 2 == 0 else 1
            layers += [
                nn.Conv2d(in_channels, width, 3, stride=stride, padding=1),
                nn.BatchNorm2d(width),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            in_channels = width
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(pooled_size)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(in_channels * pooled_size * pooled_size, 1024),
            nn.LeakyReLU(0.2),
            nn.Linear(1024, 1),
        )

    def forward(self, image: torch.Tensor, *more_images: torch.Tensor) -> torch.Tensor:
        features = [self.pool(self.features(batch)).float() for batch in (image, *more_images)]
        # The dense layers stay fp32 under autocast: casting the 18.9M-weight matrix to bf16 on
        # every call costs more than the matrix product itself.
        with torch.autocast(image.device.type, enabled=False):
            return self.classifier(torch.cat(features)).squeeze(1)


def _fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A conv equal to ``bn(conv(x))`` with BN in eval mode (running statistics)."""
    folded = copy.deepcopy(conv)
    std = torch.sqrt(bn.running_var + bn.eps)
    gamma = bn.weight if bn.weight is not None else torch.ones_like(std)
    beta = bn.bias if bn.bias is not None else torch.zeros_like(std)
    factor = (gamma / std).detach()
    bias = conv.bias.detach() if conv.bias is not None else torch.zeros_like(std)
    with torch.no_grad():
        folded.weight.mul_(factor.reshape(-1, 1, 1, 1))
        folded.bias = nn.Parameter((bias - bn.running_mean) * factor + beta.detach())
    return folded


def fold_batchnorm(generator: Generator) -> Generator:
    """An eval-mode copy of ``generator`` with each BatchNorm merged into the conv before it."""
    folded = copy.deepcopy(generator).eval()
    if isinstance(folded.body_bn, nn.Identity):  # built without BatchNorm
        return folded
    for block in folded.body:
        block.conv1 = _fold_conv_bn(block.conv1, block.bn1)
        block.conv2 = _fold_conv_bn(block.conv2, block.bn2)
        block.bn1, block.bn2 = nn.Identity(), nn.Identity()
    folded.body_conv = _fold_conv_bn(folded.body_conv, folded.body_bn)
    folded.body_bn = nn.Identity()
    return folded


VGG19_LAYERS = (
    "conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1",
    "conv2_1", "relu2_1", "conv2_2", "relu2_2", "pool2",
    "conv3_1", "relu3_1", "conv3_2", "relu3_2", "conv3_3", "relu3_3", "conv3_4", "relu3_4",
    "pool3",
    "conv4_1", "relu4_1", "conv4_2", "relu4_2", "conv4_3", "relu4_3", "conv4_4", "relu4_4",
    "pool4",
    "conv5_1", "relu5_1", "conv5_2", "relu5_2", "conv5_3", "relu5_3", "conv5_4", "relu5_4",
)  # index i is module i of torchvision's vgg19().features
CAFFE_MEAN = (123.68, 116.779, 103.939)  # RGB, on 0-255 input
TORCHVISION_MEAN, TORCHVISION_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class VGGFeatures(nn.Module):
    """VGG19 truncated after a named layer (e.g. ``relu3_3``), frozen, input RGB in [0, 1].

    ``normalisation`` says what input the weights were trained on: ``caffe`` (0-255 minus the
    ImageNet mean, the Keras/Caffe weights) or ``torchvision`` ([0, 1], mean/std).
    """

    def __init__(self, layer: str, normalisation: str = "caffe") -> None:
        super().__init__()
        if layer not in VGG19_LAYERS:
            raise ValueError(f"unknown VGG19 layer {layer!r}")
        if normalisation not in ("caffe", "torchvision"):
            raise ValueError(f"normalisation must be caffe or torchvision, got {normalisation!r}")
        self.layer, self.normalisation = layer, normalisation
        modules: list[nn.Module] = []
        channels = 3
        for name in VGG19_LAYERS[: VGG19_LAYERS.index(layer) + 1]:
            if name.startswith("conv"):
                width = 64 * 2 ** min(int(name[4]) - 1, 3)
                modules.append(nn.Conv2d(channels, width, 3, padding=1))
                channels = width
            elif name.startswith("relu"):
                modules.append(nn.ReLU(inplace=True))
            else:
                modules.append(nn.MaxPool2d(2, 2))
        self.features = nn.Sequential(*modules)
        scale = (255.0, 255.0, 255.0) if normalisation == "caffe" else tuple(
            1 / s for s in TORCHVISION_STD)
        mean = CAFFE_MEAN if normalisation == "caffe" else tuple(
            m / s for m, s in zip(TORCHVISION_MEAN, TORCHVISION_STD, strict=True))
        self.register_buffer("scale", torch.tensor(scale).reshape(1, 3, 1, 1))
        self.register_buffer("shift", torch.tensor(mean).reshape(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.features(image * self.scale - self.shift)
