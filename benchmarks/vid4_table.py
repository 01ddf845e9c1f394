"""The video results table: ``vivid eval-video`` on Vid4 (city, walk in ../shared/data) with
TecoGAN's degradation (Gaussian blur sigma 1.5, every 4th pixel), per sequence and mean:
PSNR/SSIM (Y), tOF and warping error for bicubic, each model frame by frame and with
``--temporal flow``, beside TecoGAN's published Vid4 numbers (all four sequences; ours has
two, so compare trends, not digits).
Usage: python benchmarks/vid4_table.py [--model M ...]   (default: the bundled models)
Writes benchmarks/results/vid4_table.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common import save
from vivid.checkpoint import bundled_models
from vivid.evaluate_video import evaluate_video

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TECOGAN_VID4 = {"psnr": 25.57, "tof": 0.189}  # Chu et al. 2020, Vid4 (its 4 sequences)


def markdown(report: dict) -> str:
    lines = ["| method | sequence | PSNR | SSIM | tOF | warping error |", "|---" * 6 + "|"]
    for label, table in report["results"].items():
        for sequence, n in table.items():
            lines.append(f"| {label} | {sequence} | {n['psnr']:.2f} | {n['ssim']:.4f} | "
                         f"{n['tof']:.3f} | {n['warping_error']:.3f} |")
    lines.append(f"| TecoGAN (paper, 4 sequences) | mean | {TECOGAN_VID4['psnr']:.2f} | - | "
                 f"{TECOGAN_VID4['tof']:.3f} | - |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", action="append", default=None)
    args = parser.parse_args()
    models = args.model or bundled_models()
    if not models:
        raise SystemExit("no model given and none bundled")
    report = evaluate_video(models, DATA / "Vid4" / "GT", ["flow"], 4, "bd")
    table = markdown(report)
    print(table)
    command = ("vivid eval-video --dataset ../shared/data/Vid4/GT --temporal flow "
               + " ".join(f"--model {m}" for m in models))
    print(f"-> {save('vid4_table', {'command': command, 'markdown': table, **report})}")


if __name__ == "__main__":
    main()
