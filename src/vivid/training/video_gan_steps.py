"""Stage ``video-gan``: TecoGAN's spatio-temporal adversarial training of the video generator.

The discriminator (TecoGAN's spatio-temporal discriminator,
``vivid.nets.discriminator.SpatioTemporalDiscriminator``) judges triplets of consecutive
frames. For each triplet (t-1, t, t+1) of the forward half of a ping-pong run it sees, stacked
as channels:

- the three frames (real HR or generated), 9 channels;
- the same three with frames t-1 and t+1 warped onto frame t by the motion the generator
  estimates between the LR frames (its flow network or OpenCV; no gradient), 9 channels:
  motion that does not fit the content shows as a mismatch here;
- the three LR frames upsampled bicubically, 9 channels: the condition, so that D judges
  "a plausible HR video for this LR video", not any sharp video.

Real and generated triplets use the same flows. The generator's loss is the video stage's
(``pixel_weight`` x pixel + warping + ping-pong + temporal, see ``video_steps``) plus the VGG
content loss (the image GAN stage's layer and scale), ``adversarial_weight`` x the
non-saturating adversarial loss and ``feature_matching_weight`` x D's feature matching (its
block outputs on generated against real triplets, ``losses.feature_matching_loss``; off at
0); D is trained with the same BCE as the image stage. With
``data.context``, motion is estimated on the whole crop and D and the content loss see it
without the context.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vivid.nets.warping import warp
from vivid.training import distributed
from vivid.training.config import TrainConfig
from vivid.training.losses import (
    content_loss,
    discriminator_loss,
    feature_matching_loss,
    generator_adversarial_loss,
)
from vivid.training.steps import Nets, Optimizers, StepContext, apply_gradients
from vivid.training.video_data import inner
from vivid.training.video_steps import sequence_losses, weighted_sum


def triplet_starts(frames: int) -> list[int]:
    """First frame of each non-overlapping triplet of a ``frames``-long sequence."""
    return list(range(0, frames - 2, 3))


def triplets(frames: torch.Tensor, starts: list[int]) -> torch.Tensor:
    """N x T x C x H x W -> (N * len(starts)) x 3 x C x H x W."""
    return torch.stack([frames[:, s:s + 3] for s in starts], 1).flatten(0, 1)


@torch.no_grad()
def centre_flows(network: nn.Module, lr_triplets: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """HR flows from the centre frame to its previous and to its next frame: the generator's
    motion estimate, on its HR grid."""
    centre = lr_triplets[:, 1]
    to_previous = network.estimate_motion(centre, lr_triplets[:, 0]).float()
    to_next = network.estimate_motion(centre, lr_triplets[:, 2]).float()
    return network.upscale_flow(to_previous), network.upscale_flow(to_next)


def discriminator_input(hr_triplets: torch.Tensor, lr_triplets: torch.Tensor,
                        flows: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """M x 27 x H x W: the frames, the frames warped onto the centre, the upsampled LR."""
    previous, centre, following = hr_triplets.unbind(1)
    warped = torch.cat((warp(previous, flows[0]).to(centre.dtype), centre,
                        warp(following, flows[1]).to(centre.dtype)), 1)
    size = hr_triplets.shape[-2:]
    upsampled = F.interpolate(lr_triplets.flatten(1, 2), size=size, mode="bicubic",
                              align_corners=False)
    return torch.cat((hr_triplets.flatten(1, 2), warped, upsampled.to(centre.dtype)), 1)


def video_gan_step(nets: Nets, lr_batch: torch.Tensor, hr_batch: torch.Tensor,
                   optimizers: Optimizers, config: TrainConfig, amp: StepContext
                   ) -> dict[str, float]:
    """D on real/generated triplets, then G on the video losses + content + adversarial (+
    D feature matching when ``loss.feature_matching_weight`` > 0)."""
    assert nets.discriminator is not None and nets.vgg is not None
    assert optimizers.discriminator is not None
    frames, context = lr_batch.shape[1], config.data.context
    losses = sequence_losses(nets, lr_batch, hr_batch, config, amp)
    forward = losses.sr_frames[:, :frames]
    starts = triplet_starts(frames)
    lr_triplets = triplets(lr_batch, starts)
    with amp.autocast():  # D and the content loss see the crop without its context
        flows = centre_flows(distributed.unwrap(nets.generator), lr_triplets)
        real = inner(discriminator_input(triplets(hr_batch, starts), lr_triplets, flows),
                     context)
        fake = inner(discriminator_input(triplets(forward, starts), lr_triplets, flows),
                     context)
        real_logits, fake_logits = nets.discriminator(real, fake.detach()).chunk(2)
    d_loss = discriminator_loss(real_logits, fake_logits)
    apply_gradients(optimizers.discriminator, d_loss, nets.discriminator,
                    config.optim.grad_clip, amp.scaler_d)
    nets.discriminator.requires_grad_(False)
    with amp.autocast():
        content = content_loss(nets.vgg, inner(forward, context).flatten(0, 1),
                               inner(hr_batch, context).flatten(0, 1), config.loss.content_scale)
        adversarial, matching = generator_d_terms(nets.discriminator, real, fake, config)
    nets.discriminator.requires_grad_(True)
    g_loss = (weighted_sum(losses.terms, config) + content
              + config.loss.adversarial_weight * adversarial)
    if matching is not None:
        g_loss = g_loss + config.loss.feature_matching_weight * matching
    apply_gradients(optimizers.generator, g_loss, nets.generator, config.optim.grad_clip,
                    amp.scaler)
    return {"loss": g_loss.item(), **losses.numbers(), "loss_content": content.item(),
            "loss_adversarial": adversarial.item(), "loss_d": d_loss.item(),
            **({} if matching is None else {"loss_matching": matching.item()}),
            "d_real": torch.sigmoid(real_logits.float()).mean().item(),
            "d_fake": torch.sigmoid(fake_logits.float()).mean().item()}


def generator_d_terms(discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor,
                      config: TrainConfig) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The generator's adversarial loss on ``fake`` and, when ``feature_matching_weight`` is
    on, D's feature matching of ``fake`` against ``real`` (else None)."""
    if config.loss.feature_matching_weight == 0:
        return generator_adversarial_loss(discriminator(fake)), None
    # D is frozen here (no gradient to synchronise), so its DDP wrapper can be bypassed; in
    # training mode the real pass updates D's BatchNorm running statistics once more (they
    # are used only in eval mode, which training never runs D in)
    network = distributed.unwrap(discriminator)
    with torch.no_grad():
        real_layers = network.score_and_layers(real)[1]
    fake_logits, fake_layers = network.score_and_layers(fake)
    return (generator_adversarial_loss(fake_logits),
            feature_matching_loss(fake_layers, real_layers))
