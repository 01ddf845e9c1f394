"""The discriminators: SRGAN's (Ledig et al., Fig. 4) for the image GAN stage and TecoGAN's
spatio-temporal one (Chu et al. 2020) for stage video-gan."""

from __future__ import annotations

import torch
from torch import nn


class Discriminator(nn.Module):
    """The SRGAN discriminator; returns one logit per image (no sigmoid).

    3x3 conv(64) + LeakyReLU(0.2), seven conv-BN-LeakyReLU blocks (channels 64,128,128,256,
    256,512,512; strides 2,1,2,1,2,1,2), dense(1024), LeakyReLU, dense(1). The paper's 96x96
    crops give 6x6 feature maps before the dense layers. For other crop sizes the features are
    average-pooled to 6x6 (``nn.AdaptiveAvgPool2d``), which is the identity at 96x96, so the
    paper's network is unchanged there and any crop of at least 16x16 pixels works.
    ``in_channels`` is 3 for images.

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
        # The dense layers stay fp32 under autocast: casting the 18.9M-weight matrix to bf16 on
        # every call costs more than the matrix product itself.
        return _score(self, (image, *more_images))


class SpatioTemporalDiscriminator(nn.Module):
    """TecoGAN's spatio-temporal discriminator; returns one logit per input (no sigmoid).

    Input: 27 channels per sample (``vivid.training.video_gan_steps.discriminator_input``: a
    frame triplet, the triplet warped onto its centre frame, the upsampled LR triplet). 3x3
    conv(64) + LeakyReLU(0.2), four 4x4 stride-2 conv-BN-LeakyReLU blocks (64, 64, 128, 256
    channels; no conv bias before BatchNorm), then one dense layer to the logit: TecoGAN's
    layout, 0.8M weights at 128x128 crops. Why not SRGAN's discriminator with 27 input
    channels (what stage video-gan used first): its 1024-wide dense layer over 512 x 8 x 8
    features at these crops is 33.6M weights, so one checkpoint with D's Adam moments was
    ~400 MB, too big to keep a run's resume point in the repository (the only place that
    survives between sessions here), and its dense layer dominated the step's time. Features
    are average-pooled to ``pooled_size`` (the identity for 128x128 crops) so that any crop
    of at least 32 pixels works (16 with more than one triplet per batch: BatchNorm in
    training needs more than one value per channel). ``discriminator(real, fake)`` scores
    each batch on its own (BatchNorm statistics per batch) and returns the logits
    concatenated.
    """

    def __init__(self, in_channels: int = 27, channels: int = 64, pooled_size: int = 8) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, channels, 3, padding=1), nn.LeakyReLU(0.2, inplace=True)]
        width_in = channels
        for width in (channels, channels, channels * 2, channels * 4):
            layers += [
                nn.Conv2d(width_in, width, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            width_in = width
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(pooled_size)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(width_in * pooled_size * pooled_size, 1))

    def forward(self, image: torch.Tensor, *more_images: torch.Tensor) -> torch.Tensor:
        return _score(self, (image, *more_images))

    def score_and_layers(self, image: torch.Tensor
                         ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``forward(image)`` and the output of each stride-2 block (after its LeakyReLU):
        what a feature-matching loss compares (TecoGAN's D layer losses)."""
        layers, features = [], image
        for index, layer in enumerate(self.features):
            features = layer(features)
            if index >= 2 and (index - 1) % 3 == 0:  # each block's LeakyReLU
                layers.append(features)
        return _classify(self, [features]), layers


def _score(discriminator: Discriminator | SpatioTemporalDiscriminator,
           batches: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Conv features of each batch on its own, then the dense layers once, in fp32."""
    return _classify(discriminator, [discriminator.features(batch) for batch in batches])


def _classify(discriminator: Discriminator | SpatioTemporalDiscriminator,
              features: list[torch.Tensor]) -> torch.Tensor:
    """The logits of conv features (one tensor per batch): pooled, then the dense layers
    once on their concatenation, in fp32."""
    pooled = [discriminator.pool(batch).float() for batch in features]
    with torch.autocast(features[0].device.type, enabled=False):
        return discriminator.classifier(torch.cat(pooled)).squeeze(1)
