"""Models on the held-out validation clips under each degradation, scored as training does.

The clips (default aspen_ntia and baseball_toflow, the ``data.validation_videos`` of the video
and live recipes) are never trained on and Vid4 is never used, so this is where recipes are
compared and bicubic's baseline is read. Each model runs as training validates
(``validate_video``, fp32) on LR made by each ``--degradation`` from the 8-bit truth; its
output, rounded to 8 bits, is scored on every frame (Y-PSNR and SSIM, shave 4). A model
trained on the other grid (bd vs the bicubic kinds, 1.5 HR px apart) has its output moved
onto the evaluated grid first, as ``vivid eval-video`` does (``regrid`` in the JSON).
``bicubic`` is MATLAB bicubic upsampling: a fresh light network, whose residual starts at 0.
``--niqe`` adds NIQE (the mean over every output frame, Y, shave 4, as ``vivid eval-video``):
how a GAN's detail is judged where Vid4 may not be used. Image models run frame by frame.
Usage: python benchmarks/heldout_clips.py --model bicubic --model live-x4 [--model PATH]
[--degradation bd --degradation bicubic] [--tof] [--niqe] [--save-as NAME]
Writes benchmarks/results/NAME.json (default heldout_clips) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import torch

from common import DATA, RESULTS, save
from vivid.evaluation.evaluate import find_niqe_model
from vivid.evaluation.grid import regrid, regrid_shift
from vivid.images.pixels import quantize_8bit
from vivid.nets.light import LightConfig, LightGenerator
from vivid.nets.weights_file import load_model
from vivid.training.steps import StepContext
from vivid.training.video_data import ValidationClip, load_validation_clips
from vivid.training.video_steps import validate_video
from vivid.video.evaluate import mean_niqe
from vivid.video.metrics import tof

CLIPS = ["aspen_ntia", "baseball_toflow"]


def generator_for(name: str) -> tuple[torch.nn.Module, dict]:
    """The network a ``--model`` names and its weights' metadata; ``bicubic`` is a fresh
    light network (exactly MATLAB bicubic), with no training grid."""
    if name == "bicubic":
        return LightGenerator(LightConfig(scale=4)).eval(), {}
    generator, metadata = load_model(name)
    return generator.eval(), metadata


@torch.no_grad()
def score(generator: torch.nn.Module, clips: list[ValidationClip], shift: float,
          with_tof: bool = False, niqe_model: Path | None = None) -> dict[str, float]:
    """Training's validation (fp32) with the output rounded to 8 bits and moved by ``shift``
    HR px: mean Y-PSNR / SSIM over every frame; ``with_tof``: also tOF (as ``vivid
    eval-video``), the mean over the clips; ``niqe_model``: also the mean NIQE over every
    frame (NaN where every frame is too small for it)."""
    outputs: list[list[torch.Tensor]] = []

    def finish(frames: list[torch.Tensor]) -> list[torch.Tensor]:
        outputs.append(regrid([quantize_8bit(f) for f in frames], shift))
        return outputs[-1]

    scale = generator.config.scale
    amp = StepContext.create(torch.device("cpu"), torch.float32)
    numbers, _ = validate_video(generator, clips, scale, amp, keep=0, finish=finish)
    scores = {"psnr": numbers["val_psnr"], "ssim": numbers["val_ssim"]}
    if with_tof:
        scores["tof"] = sum(tof(frames, list(clip.hr.split(1)))
                            for frames, clip in zip(outputs, clips, strict=True)) / len(clips)
    if niqe_model is not None:
        every_frame = [frame for frames in outputs for frame in frames]
        scores["niqe"] = mean_niqe(every_frame, scale, niqe_model)
    return scores


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", action="append", required=True,
                        help="bicubic, a bundled model or a weights file (repeat)")
    parser.add_argument("--degradation", action="append", choices=("bd", "bicubic"),
                        help="LR made by (repeat; default bd and bicubic)")
    parser.add_argument("--clip", action="append", help=f"clip folder (default {CLIPS})")
    parser.add_argument("--tof", action="store_true", help="also tOF (slower)")
    parser.add_argument("--niqe", action="store_true", help="also NIQE (slower)")
    parser.add_argument("--save-as", default="heldout_clips")
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder of the JSON")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    kinds, clips = args.degradation or ["bd", "bicubic"], args.clip or CLIPS
    niqe_model = find_niqe_model(None) if args.niqe else None
    if args.niqe and niqe_model is None:
        raise SystemExit("--niqe: no NIQE parameters in the shared data (NIQE/)")
    results: dict[str, dict[str, dict[str, float]]] = {}
    for kind in kinds:
        sequences = load_validation_clips(DATA / "VideoClips", clips, 4, kind)
        for name in args.model:
            generator, metadata = generator_for(name)
            shift = regrid_shift(metadata, generator.config.scale, kind)
            scores = score(generator, sequences, shift, args.tof, niqe_model)
            results.setdefault(name, {})[kind] = {
                **{k: round(v, 4) for k, v in scores.items()}, "regrid": shift}
            print(name, kind, results[name][kind], flush=True)
    metrics = ["psnr", "ssim", *(["tof"] if args.tof else []), *(["niqe"] if args.niqe else [])]
    print("| model | " + " | ".join(f"{k} LR {' / '.join(m.upper() for m in metrics)}"
                                   for k in kinds) + " |")
    print("|---|" + "---|" * len(kinds))
    for name, row in results.items():
        print(f"| {name} | " + " | ".join(" / ".join(f"{row[k][m]:.4g}" for m in metrics)
                                         for k in kinds) + " |")
    given = sys.argv[1:] if argv is None else argv
    command = shlex.join(["python", "benchmarks/heldout_clips.py", *given])
    print("->", save(args.save_as, {"command": command, "clips": clips, "results": results},
                      args.results))


if __name__ == "__main__":
    main()
