"""The README's results table: one ``vivid eval`` command on Set5, Set14 and BSD100 (x4,
MATLAB bicubic LR, Y channel, shave 4, NIQE, fp32) for the given models, printed and run as
is, then laid out next to the SRGAN paper's Table 2.
Usage: python benchmarks/eval_table.py [--model M ...]   (default: bicubic + bundled models)
Run from the repository root with ../shared/data beside it. Writes
benchmarks/results/eval_table.json (the command, its report) and prints a Markdown table.
"""

from __future__ import annotations

import argparse

from common import default_models, save, score_cell, vivid_eval

DATASETS = ("Set5", "Set14", "BSD100")
PAPER = {  # Ledig et al. 2017, Table 2: PSNR / SSIM
    "bicubic": ((28.43, 0.8211), (25.99, 0.7486), (25.94, 0.6935)),
    "SRResNet": ((32.05, 0.9019), (28.49, 0.8184), (27.58, 0.7620)),
    "SRGAN": ((29.40, 0.8472), (26.02, 0.7397), (25.16, 0.6688)),
}


def markdown(report: dict) -> str:
    models = list(report["results"][DATASETS[0]])
    header = "| model | " + " | ".join(f"{d} PSNR / SSIM / NIQE" for d in DATASETS) + " |"
    lines = [header, "|---" * (len(DATASETS) + 1) + "|"]
    for model in models:
        cells = [score_cell(report["results"][dataset][model]) for dataset in DATASETS]
        lines.append(f"| vivid `{model}` | " + " | ".join(cells) + " |")
    for name, values in PAPER.items():
        cells = [f"{psnr:.2f} / {ssim:.4f} / -" for psnr, ssim in values]
        lines.append(f"| paper {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", action="append", default=None)
    args = parser.parse_args()
    models = args.model or default_models()
    command, report = vivid_eval(models, [f"../shared/data/{d}" for d in DATASETS])
    table = markdown(report)
    print(f"{command}\n\n{table}")
    print(f"-> {save('eval_table', {'command': command, 'markdown': table, **report})}")


if __name__ == "__main__":
    main()
