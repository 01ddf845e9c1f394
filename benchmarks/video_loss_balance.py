"""How big the video-gan loss terms are, to choose their weights (configs/vivid-video-gan-x4.toml).

For a video generator (``--generator``: video-x4 weights or a training checkpoint) on 7-frame
128x128 crops of the held-out validation clips (aspen_ntia, baseball_toflow; never Vid4), BD
LR: each term's value and the norm of its gradient with respect to the generated frames —
L1 pixel loss, VGG19 relu3_3 content loss with the image GAN stage's scale, and the
adversarial loss of a fresh spatio-temporal discriminator x 1e-3 (a fixed probe weight:
the term scales linearly with the recipe's ``adversarial_weight``). The
stage's weights should give the content and adversarial gradients the same order as the
pixel one, as the image stage does.
Usage: python benchmarks/video_loss_balance.py --generator src/vivid/weights/video-x4.safetensors
Writes benchmarks/results/video_loss_balance.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from common import loss_and_gradient_norm, save
from vivid.nets.discriminator import SpatioTemporalDiscriminator
from vivid.nets.weights_file import load_vgg
from vivid.training.config import load_config
from vivid.training.losses import content_loss, generator_adversarial_loss, pixel_loss
from vivid.training.steps import build_video_generator
from vivid.training.video_data import load_validation_clips
from vivid.training.video_gan_steps import (
    centre_flows,
    discriminator_input,
    triplet_starts,
    triplets,
)

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "vivid-video-gan-x4.toml"
PROBE_WEIGHT = 1e-3  # the adversarial row's weight, whatever the recipe's


def sequences(frames: int = 7, crop: int = 128) -> tuple[torch.Tensor, torch.Tensor]:
    """N x T x 3 x h x w LR and N x T x 3 x H x W HR: two crops of each validation clip."""
    config = load_config(CONFIG)
    clips = load_validation_clips(REPO / config.data.validation, config.data.validation_videos,
                                  4, "bd")
    lr_seqs, hr_seqs = [], []
    for _, lr, hr in clips:
        for top, left in ((16, 16), (48, 96)):
            lr_seqs.append(lr[:frames, :, top:top + crop // 4, left:left + crop // 4])
            hr_seqs.append(hr[:frames, :, 4 * top:4 * top + crop, 4 * left:4 * left + crop])
    return torch.stack(lr_seqs), torch.stack(hr_seqs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--generator", required=True)
    args = parser.parse_args()
    torch.manual_seed(0)
    config = load_config(CONFIG, [f"run.init='{args.generator}'"])
    generator = build_video_generator(config).eval()
    lr, hr = sequences()
    with torch.no_grad():
        sr = generator(lr)[0]
    vgg = load_vgg(REPO / config.loss.vgg_weights, "relu3_3", "caffe")
    starts, weights = triplet_starts(lr.shape[1]), config.loss
    lr_triplets = triplets(lr, starts)
    flows = centre_flows(generator.estimate_motion, lr_triplets, 4)
    discriminator = SpatioTemporalDiscriminator()
    rows = {
        "pixel_l1": loss_and_gradient_norm(lambda s: pixel_loss(s, hr, "l1"), sr),
        "content_relu3_3": loss_and_gradient_norm(lambda s: content_loss(
            vgg, s.flatten(0, 1), hr.flatten(0, 1), weights.content_scale), sr),
        f"{PROBE_WEIGHT:g}_x_adversarial": loss_and_gradient_norm(
            lambda s: PROBE_WEIGHT * generator_adversarial_loss(discriminator(
                discriminator_input(triplets(s, starts), lr_triplets, flows))), sr),
    }
    for name, (value, norm) in rows.items():
        print(f"{name:28s} loss {value:12.6g}   gradient norm {norm:10.4g}")
    numbers = {name: {"loss": v, "gradient_norm": n} for name, (v, n) in rows.items()}
    print(f"-> {save('video_loss_balance', {'generator': args.generator, **numbers})}")


if __name__ == "__main__":
    main()
