"""Can carried history help on the training distribution? The precondition of a video model.

On sequences drawn exactly as stage ``video`` draws them (``VideoCrops`` of a config: its real
clips and synthetic pans, its crop, context, frames and degradation), for every frame t > 0:

PSNRs are of the squared error pooled over all those frames (Y channel, 8-bit levels), on the
crop the losses see:

- ``warped GT``: the ground-truth frame t-1 carried onto frame t by the motion a model would
  use (``carry``'s warp: flow upsampled on the model's grid, bicubic), PSNR against frame t on
  the crop the losses see. Motions: each OpenCV flow, estimated on the LR crop with its
  context (as the generator sees it in training) and on the bare crop (``no context``);
- ``warped GT, in frame``: the same where the motion stays inside the frame;
- ``single frame``: a single-frame model's output for frame t (``--model``, first-frame path).

If ``warped GT`` does not beat ``single frame``, even a perfect previous output is worth less
than what the model makes from the current frame alone, and no recipe will teach it to use its
history: fix the data or the motion first.
Usage: python benchmarks/video_precondition.py [--config configs/vivid-video-x4.toml]
       [--model video-x4] [--sequences 16] [--save-as video_precondition]
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

import torch

from common import save
from vivid.metrics import to_y
from vivid.motion import METHODS, frame_flow
from vivid.nets.frvsr import RecurrentGenerator
from vivid.nets.warping import out_of_frame, upscale_flow, warp
from vivid.nets.weights_file import load_model
from vivid.training.config import load_config
from vivid.training.datasets import training_data
from vivid.training.video_data import VideoCrops, clip_sample, inner, synthetic_sample

Sample = tuple[torch.Tensor, torch.Tensor]  # T x 3 x h x w LR, T x 3 x H x W HR, uint8


def draw(crops: VideoCrops, synthetic: bool, count: int, seed: int) -> list[Sample]:
    """``count`` sequences of one kind, drawn as training draws them."""
    generator = torch.Generator().manual_seed(seed)
    samples = []
    for _ in range(count):
        if synthetic:
            samples.append(synthetic_sample(crops.stills, crops.frames, crops.crop, crops.scale,
                                            crops.degradation, generator, crops.context))
        else:
            clip = crops.clips[int(torch.randint(len(crops.clips), (1,), generator=generator))]
            samples.append(clip_sample(clip, crops.frames, crops.crop, crops.scale,
                                       crops.degradation, generator, crops.context))
    return samples


class PooledPsnr:
    """PSNR (dB, Y channel, 8-bit levels) of the squared error pooled over every frame added
    under a name (an exact warp of a whole-pixel pan has no error: a mean of per-frame PSNRs
    would be infinite)."""

    def __init__(self) -> None:
        self.sums: dict[str, list[float]] = {}

    def add(self, name: str, output: torch.Tensor, truth: torch.Tensor,
            mask: torch.Tensor | None = None) -> None:
        error = (to_y(output) - to_y(truth)) ** 2
        weight = torch.ones_like(error) if mask is None else mask.double()
        pooled = self.sums.setdefault(name, [0.0, 0.0])
        pooled[0] += float((error * weight).sum())
        pooled[1] += float(weight.sum())

    def result(self) -> dict[str, float]:
        return {name: 10 * math.log10(255**2 / max(total / max(count, 1), 1e-10))
                for name, (total, count) in self.sums.items()}


def measure(samples: list[Sample], context: int, scale: int,
            single_frame: Callable[[torch.Tensor], torch.Tensor]) -> dict[str, float]:
    """PSNRs (dB) of the warped previous truth per motion and of the single-frame output, and
    the mean motion (LR pixels), over every frame t > 0 of ``samples``."""
    scores, motion = PooledPsnr(), {method: [] for method in METHODS}
    lr_context = context // scale
    for lr_u8, hr_u8 in samples:
        lr, hr = lr_u8.float() / 255, hr_u8.float() / 255
        truth = inner(hr[1:], context)
        scores.add("single frame", inner(single_frame(lr[1:]).clamp(0, 1), context), truth)
        bare = inner(lr, lr_context)
        for method in METHODS:
            flow = upscale_flow(frame_flow(lr[1:], lr[:-1], method), scale, bd_grid=True)
            warped = inner(warp(hr[:-1], flow, "bicubic").clamp(0, 1), context)
            scores.add(f"{method}: warped GT", warped, truth)
            scores.add(f"{method}: warped GT, in frame", warped, truth,
                       1 - inner(out_of_frame(flow), context))
            motion[method].append(float(inner(flow, context).norm(dim=1).mean()) / scale)
            flow = upscale_flow(frame_flow(bare[1:], bare[:-1], method), scale, bd_grid=True)
            warped = warp(inner(hr[:-1], context), flow, "bicubic").clamp(0, 1)
            scores.add(f"{method}: warped GT, no context", warped, truth)
    means = {f"{m}: mean |flow| (LR px)": sum(v) / len(v) for m, v in motion.items()}
    return {**scores.result(), **means}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default="configs/vivid-video-x4.toml")
    parser.add_argument("--model", default="video-x4", help="the single-frame reference")
    parser.add_argument("--sequences", type=int, default=16, help="per kind")
    parser.add_argument("--save-as", default="video_precondition", help="results/NAME.json")
    args = parser.parse_args()
    torch.manual_seed(0)
    config = load_config(args.config, ["data.synthetic=0.5"])  # both kinds loaded
    crops = training_data(config)
    assert isinstance(crops, VideoCrops)
    network = load_model(args.model)[0]

    @torch.no_grad()
    def single_frame(lr: torch.Tensor) -> torch.Tensor:
        if isinstance(network, RecurrentGenerator):
            return network.output_and_features(lr, None)[0]
        return network(lr)

    results = {}
    for kind, synthetic in (("synthetic", True), ("real clips", False)):
        samples = draw(crops, synthetic, args.sequences, seed=7)
        results[kind] = measure(samples, crops.context, crops.scale, single_frame)
        print(kind, results[kind], flush=True)
    keys = list(results["synthetic"])
    rows = ["| | " + " | ".join(results) + " |", "|---|" + "---|" * len(results)]
    rows += [f"| {key} | " + " | ".join(f"{results[k][key]:.2f}" for k in results) + " |"
             for key in keys]
    table = "\n".join(rows)
    print(table)
    command = (f"python benchmarks/video_precondition.py --config {args.config} --model "
               f"{args.model} --sequences {args.sequences} --save-as {args.save_as}")
    print(f"-> {save(args.save_as, {'command': command, 'markdown': table, 'results': results})}")


if __name__ == "__main__":
    main()
