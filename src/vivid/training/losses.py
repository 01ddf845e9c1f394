"""Losses of the training stages: pixel loss, VGG content loss, adversarial BCE, D feature
matching."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def pixel_loss(sr_image: torch.Tensor, hr_image: torch.Tensor, kind: str) -> torch.Tensor:
    """``mse`` (the paper's SRResNet loss) or ``l1``."""
    if kind == "mse":
        return F.mse_loss(sr_image.float(), hr_image)
    if kind == "l1":
        return F.l1_loss(sr_image.float(), hr_image)
    raise ValueError(f"unknown pixel loss {kind!r} (mse or l1)")


def content_loss(vgg: nn.Module, sr_image: torch.Tensor, hr_image: torch.Tensor,
                 scale: float) -> torch.Tensor:
    """MSE between VGG feature maps of SR and HR, features multiplied by ``scale`` (1/12.75)."""
    with torch.no_grad():
        hr_features = vgg(hr_image).float() * scale
    return F.mse_loss(vgg(sr_image).float() * scale, hr_features)


def generator_adversarial_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(G(x)) (the paper's non-saturating form), as BCE on the logit."""
    return F.binary_cross_entropy_with_logits(fake_logits.float(),
                                              torch.ones_like(fake_logits, dtype=torch.float))


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """BCE with real images labelled 1 and generated images 0."""
    real = F.binary_cross_entropy_with_logits(real_logits.float(),
                                              torch.ones_like(real_logits, dtype=torch.float))
    fake = F.binary_cross_entropy_with_logits(fake_logits.float(),
                                              torch.zeros_like(fake_logits, dtype=torch.float))
    return real + fake


def feature_matching_loss(fake_layers: list[torch.Tensor], real_layers: list[torch.Tensor]
                          ) -> torch.Tensor:
    """Mean over D's layers of the mean absolute difference between the generated and the
    real samples' features (the real ones as constants)."""
    terms = [F.l1_loss(fake.float(), real.detach().float())
             for fake, real in zip(fake_layers, real_layers, strict=True)]
    return torch.stack(terms).mean()
