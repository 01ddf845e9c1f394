"""The SRGAN discriminator (Ledig et al., Fig. 4); the video stage builds it with 27 input
channels (TecoGAN's spatio-temporal D)."""

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
