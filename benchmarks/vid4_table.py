"""The video results table: ``vivid eval-video`` on Vid4 (city, walk in ../shared/data) with
TecoGAN's degradation (Gaussian blur sigma 1.5, every 4th pixel), per sequence and mean:
PSNR/SSIM (Y, ``--protocol``: TecoGAN's by default, so they compare with its tables), tOF,
warping error and NIQE for bicubic, each model frame by frame and with ``--temporal flow``,
each video model (``video-x4``) through its recurrence, beside the published per-sequence
numbers of FRVSR, TecoGAN, RRN and TGA on the same two sequences (bd; for bicubic LR only
4-sequence means are published, which run ~2 dB below city + walk). The same again with
MATLAB-bicubic LR, the degradation vivid's image models were trained on: bd samples every
4th pixel from the first, 1.5 HR pixels off the bicubic grid, so a model trained on one grid
puts its sharp output off the other's.
Usage: python benchmarks/vid4_table.py [--model M ...] [--save-as NAME] [--protocol P]
[--degradation bd|bicubic ...] [--preroll N]
(default: the bundled models, ~35 min on 2 cores; ``--model video-x4 --save-as vid4_video``
adds one model's rows, bicubic's beside them, in a few minutes). Writes
benchmarks/results/NAME.json (default vid4_table) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common import save
from vivid.cli.video import frame_count
from vivid.evaluation.evaluate import find_niqe_model
from vivid.inference.recurrent import PREROLL
from vivid.nets.weights_file import bundled_models
from vivid.video.evaluate import evaluate_video
from vivid.video.metrics import PROTOCOLS

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
# Published Vid4 numbers (../shared/reference/video-sr-facts.md): per sequence under bd
# (name, {sequence: (PSNR, tOF or None)}); 4-sequence means under bicubic LR.
PUBLISHED = {
    "bd": [("FRVSR (400k iterations)", {"city": (27.92, 0.299), "walk": (29.70, 0.260)}),
           ("TecoGAN", {"city": (27.44, 0.269), "walk": (28.60, 0.254)}),
           ("RRN-10L", {"city": (28.51, None), "walk": (30.75, None)}),
           ("TGA", {"city": (28.50, None), "walk": (30.95, None)})],
    "bicubic": [("FRVSR (TecoGAN-PyTorch), 4 sequences", {"mean": (26.31, 0.186)}),
                ("TecoGAN (TecoGAN-PyTorch), 4 sequences", {"mean": (24.93, 0.201)})],
}


def markdown(report: dict) -> str:
    lines = ["| method | sequence | PSNR | SSIM | tOF | warping error | NIQE |",
             "|---" * 7 + "|"]
    for label, table in report["results"].items():
        for sequence, n in table.items():
            lines.append(f"| {label} | {sequence} | {n['psnr']:.2f} | {n['ssim']:.4f} | "
                         f"{n['tof']:.3f} | {n['warping_error']:.3f} | {n['niqe']:.2f} |")
    for name, sequences in PUBLISHED[report["degradation"]]:
        for sequence, (psnr, tof) in sequences.items():
            shown = "-" if tof is None else f"{tof:.3f}"
            lines.append(f"| {name} (published) | {sequence} | {psnr:.2f} | - | {shown} | - "
                         "| - |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", action="append", default=None)
    parser.add_argument("--save-as", default="vid4_table", help="results/NAME.json")
    parser.add_argument("--protocol", choices=PROTOCOLS, default="tecogan")
    parser.add_argument("--degradation", action="append", choices=("bd", "bicubic"),
                        help="LR made by (repeatable; default: bd, then bicubic)")
    parser.add_argument("--preroll", type=frame_count, default=PREROLL,
                        help=f"video models' pre-roll (frames; default {PREROLL}, as files)")
    args = parser.parse_args()
    models = args.model or bundled_models()
    if not models:
        raise SystemExit("no model given and none bundled")
    numbers = {}
    for degradation in args.degradation or ["bd", "bicubic"]:
        report = evaluate_video(models, DATA / "Vid4" / "GT", ["flow"], 4, degradation,
                                niqe_model=find_niqe_model(None), protocol=args.protocol,
                                preroll=args.preroll)
        command = (f"vivid eval-video --dataset ../shared/data/Vid4/GT --temporal flow "
                   f"--degradation {degradation} --protocol {args.protocol} "
                   f"--preroll {args.preroll} "
                   + " ".join(f"--model {m}" for m in models))
        table = markdown(report)
        print(f"{command}\n\n{table}\n")
        numbers[degradation] = {"command": command, "markdown": table, **report}
        print(f"-> {save(args.save_as, numbers)}")  # after each degradation (a long run)


if __name__ == "__main__":
    main()
