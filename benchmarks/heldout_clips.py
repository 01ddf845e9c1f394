"""Models on the held-out validation clips under each degradation, scored as training does.

The clips (default aspen_ntia and baseball_toflow, the ``data.validation_videos`` of the video
and live recipes) are never trained on and Vid4 is never used, so this is where recipes are
compared and bicubic's baseline is read. Each model runs through
``vivid.training.video_steps.validate_video`` (the code training validates with: every frame,
Y-PSNR and SSIM, shave 4, fp32), on LR made by each ``--degradation`` from the 8-bit truth. A
model is scored on its own grid: a bd-trained model given bicubic LR is not moved onto that
grid (``vivid eval-video`` does that for a fair test score). ``bicubic`` is MATLAB bicubic
upsampling: a fresh light network, whose residual starts at zero.
Usage: python benchmarks/heldout_clips.py --model bicubic --model live-x4 [--model PATH]
[--degradation bd --degradation bicubic] [--save-as NAME]
Writes benchmarks/results/NAME.json (default heldout_clips) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import shlex
import sys

import torch

from common import DATA, save
from vivid.nets.light import LightConfig, LightGenerator
from vivid.nets.weights_file import load_generator
from vivid.training.steps import StepContext
from vivid.training.video_data import load_validation_clips
from vivid.training.video_steps import validate_video

CLIPS = ["aspen_ntia", "baseball_toflow"]


def generator_for(name: str) -> torch.nn.Module:
    """The network a ``--model`` names; ``bicubic`` is a fresh light network (exactly MATLAB
    bicubic upsampling)."""
    return LightGenerator(LightConfig(scale=4)) if name == "bicubic" else load_generator(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", action="append", required=True,
                        help="bicubic, a bundled model or a weights file (repeat)")
    parser.add_argument("--degradation", action="append", choices=("bd", "bicubic"),
                        help="LR made by (repeat; default bd and bicubic)")
    parser.add_argument("--clip", action="append", help=f"clip folder (default {CLIPS})")
    parser.add_argument("--save-as", default="heldout_clips")
    args = parser.parse_args()
    torch.manual_seed(0)
    amp = StepContext.create(torch.device("cpu"), torch.float32)
    kinds, clips = args.degradation or ["bd", "bicubic"], args.clip or CLIPS
    results: dict[str, dict[str, dict[str, float]]] = {}
    for kind in kinds:
        sequences = load_validation_clips(DATA / "VideoClips", clips, 4, kind)
        for name in args.model:
            scores, _ = validate_video(generator_for(name), sequences, 4, amp)
            results.setdefault(name, {})[kind] = {"psnr": round(scores["val_psnr"], 3),
                                                  "ssim": round(scores["val_ssim"], 4)}
            print(name, kind, results[name][kind], flush=True)
    print("| model | " + " | ".join(f"{k} LR PSNR / SSIM" for k in kinds) + " |")
    print("|---|" + "---|" * len(kinds))
    for name, row in results.items():
        print(f"| {name} | " + " | ".join(f"{row[k]['psnr']:.2f} / {row[k]['ssim']:.4f}"
                                         for k in kinds) + " |")
    command = shlex.join(["python", "benchmarks/heldout_clips.py", *sys.argv[1:]])
    print("->", save(args.save_as, {"command": command, "clips": clips, "results": results}))


if __name__ == "__main__":
    main()
