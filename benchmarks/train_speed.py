"""Seconds per training iteration of both stages, paper-size model (batch 16, 96x96 HR
crops): plain fp32 eager (contiguous tensors, foreach Adam) vs vivid's defaults (bf16
autocast on CPUs with native bf16, channels_last, the sub-pixel tail, fused Adam), measured
in one run with the steps of the two alternating.
Usage: python benchmarks/train_speed.py [--iterations N]
Writes benchmarks/results/train_speed.json.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import torch

from common import save
from vivid.training.build import prepare
from vivid.training.config import load_config
from vivid.training.distributed import World
from vivid.training.steps import STEPS

REPO = Path(__file__).resolve().parents[1]
VGG = REPO.parent / "shared" / "data" / "VGG19" / "vgg19_conv1_1-conv3_4_keras_imagenet_rgb.pth"


def make_step(stage: str, defaults: bool) -> Callable[[], None]:
    """One training step of ``stage``; ``defaults`` False: fp32, contiguous, plain Adam,
    the plain tail conv."""
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
    return lambda: STEPS[stage](nets, lr_batch, hr_batch, optimizers, config, amp)


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def interleaved(stage: str, iterations: int) -> tuple[float, float]:
    """Median seconds per step of fp32 eager and of the defaults, timed alternately (so a
    change in machine load hits both alike), after two warm-up steps each."""
    steps = (make_step(stage, False), make_step(stage, True))
    times: tuple[list[float], list[float]] = ([], [])
    for index in range(iterations + 2):
        for step, record in zip(steps, times, strict=True):
            start = time.perf_counter()
            step()
            if index >= 2:
                record.append(time.perf_counter() - start)
    return median(times[0]), median(times[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=10)
    args = parser.parse_args()
    numbers = {}
    for stage in ("srresnet", "srgan"):
        eager, default = interleaved(stage, args.iterations)
        numbers[stage] = {"fp32_eager_s": eager, "vivid_default_s": default,
                          "ratio": default / eager}
        print(f"{stage:9s} fp32 eager {eager:.3f} s/it | vivid default {default:.3f} s/it | "
              f"ratio {default / eager:.2f}")
    print(f"-> {save('train_speed', numbers)}")


if __name__ == "__main__":
    main()
