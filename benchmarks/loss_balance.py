"""How big the stage-2 loss terms are, to choose ``loss.content_scale`` for the Caffe-style
VGG19 weights. The paper rescales VGG features by 1/12.75 "to obtain VGG losses of a scale
that is comparable to the MSE loss", so that the 1e-3 adversarial term matters. With weights
that take 0-255 input the features are ~255x larger than for [0, 1] input, so the loss is
~255^2 times larger. This prints, for a stage-1 generator on 15 crops of held-out BSD200
validation images (never test sets): the pixel MSE, the content loss at relu2_2 and relu3_3
with 1/12.75 and with 1/(12.75 * 255), and the gradient norms w.r.t. the SR image of each
term and of 1e-3 x the adversarial loss (fresh discriminator).
Usage: python benchmarks/loss_balance.py --generator runs/srresnet-x4/checkpoints/iter-N.pt
Writes benchmarks/results/loss_balance.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from common import loss_and_gradient_norm, save
from vivid.degrade import make_pair
from vivid.images import imagefile
from vivid.nets.discriminator import Discriminator
from vivid.nets.weights_file import load_generator, load_vgg
from vivid.training.config import TrainConfig, load_config
from vivid.training.losses import content_loss, generator_adversarial_loss, pixel_loss

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "vivid-srgan-vgg33.toml"


def crops(config: TrainConfig, per_image: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """96x96 HR crops (and their LR) of the first 5 held-out validation images."""
    lr_crops, hr_crops = [], []
    for name in config.data.validation_images[:5]:
        image = imagefile.read_image((REPO / config.data.validation) / name).rgb
        for _ in range(per_image):
            top = int(torch.randint(0, image.shape[2] - 96, ()))
            left = int(torch.randint(0, image.shape[3] - 96, ()))
            lr, hr = make_pair(image[:, :, top : top + 96, left : left + 96], 4)
            lr_crops.append(lr)
            hr_crops.append(hr)
    return torch.cat(lr_crops), torch.cat(hr_crops)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--generator", required=True)
    args = parser.parse_args()
    torch.manual_seed(0)
    config = load_config(CONFIG, [])
    lr, hr = crops(config)
    with torch.no_grad():
        sr = load_generator(args.generator).eval()(lr)
    rows = {"pixel_mse": loss_and_gradient_norm(lambda s: pixel_loss(s, hr, "mse"), sr)}
    for layer in ("relu2_2", "relu3_3"):
        vgg = load_vgg(REPO / config.loss.vgg_weights, layer, "caffe")
        for label, scale in (("1/12.75", 1 / 12.75), ("1/(12.75*255)", 1 / (12.75 * 255))):
            rows[f"content_{layer}_{label}"] = loss_and_gradient_norm(
                lambda s, vgg=vgg, scale=scale: content_loss(vgg, s, hr, scale), sr)
    discriminator = Discriminator()
    rows["1e-3_x_adversarial"] = loss_and_gradient_norm(
        lambda s: 1e-3 * generator_adversarial_loss(discriminator(s)), sr)
    for name, (value, norm) in rows.items():
        print(f"{name:32s} loss {value:12.6g}   gradient norm {norm:10.4g}")
    numbers = {name: {"loss": v, "gradient_norm": n} for name, (v, n) in rows.items()}
    print(f"-> {save('loss_balance', {'generator': args.generator, **numbers})}")


if __name__ == "__main__":
    main()
