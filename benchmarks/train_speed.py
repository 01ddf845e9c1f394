"""Seconds per training iteration of both stages, paper-size model (batch 16, 96x96 HR
crops): plain fp32 eager (contiguous tensors, foreach Adam) vs vivid's defaults (bf16
autocast on CPUs with native bf16, channels_last, the sub-pixel tail, fused Adam), measured
in one run.
Usage: python benchmarks/train_speed.py [--iterations N]
Writes benchmarks/results/train_speed.json.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from common import save
from vivid.config import load_config
from vivid.distributed import World
from vivid.runner import prepare
from vivid.train import STEPS

REPO = Path(__file__).resolve().parents[1]
VGG = REPO.parent / "shared" / "data" / "VGG19" / "vgg19_conv1_1-conv3_4_keras_imagenet_rgb.pth"


def seconds_per_iteration(stage: str, defaults: bool, iterations: int) -> float:
    """Median seconds per step; ``defaults`` False: fp32, contiguous, plain Adam."""
    overrides = [f"run.stage='{stage}'", "loss.content_layer='relu3_3'",
                 f"loss.vgg_weights='{VGG}'"]
    if not defaults:
        overrides += ["run.precision='fp32'", "run.channels_last=false", "optim.fused=false",
                      "run.subpixel_tail=false"]
    config = load_config(None, overrides)
    nets, optimizers, amp = prepare(config, World(0, 1, torch.device("cpu")))
    memory = torch.channels_last if config.run.channels_last else torch.contiguous_format
    lr_batch = torch.rand(16, 3, 24, 24).contiguous(memory_format=memory)
    hr_batch = torch.rand(16, 3, 96, 96).contiguous(memory_format=memory)
    times = []
    for _ in range(iterations + 2):  # two warm-up iterations
        start = time.perf_counter()
        STEPS[stage](nets, lr_batch, hr_batch, optimizers, config, amp)
        times.append(time.perf_counter() - start)
    return sorted(times[2:])[len(times[2:]) // 2]  # median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=6)
    args = parser.parse_args()
    numbers = {}
    for stage in ("srresnet", "srgan"):
        eager = seconds_per_iteration(stage, False, args.iterations)
        default = seconds_per_iteration(stage, True, args.iterations)
        numbers[stage] = {"fp32_eager_s": eager, "vivid_default_s": default,
                          "ratio": default / eager}
        print(f"{stage:9s} fp32 eager {eager:.3f} s/it | vivid default {default:.3f} s/it | "
              f"ratio {default / eager:.2f}")
    print(f"-> {save('train_speed', numbers)}")


if __name__ == "__main__":
    main()
