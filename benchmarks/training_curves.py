"""Training curves of a run folder for the model card: training loss (mean per 1000
iterations) and held-out validation PSNR against iteration, plus the training wall time
(gaps of over 10 minutes between log records, i.e. time between sessions, left out).
Usage: python benchmarks/training_curves.py runs/srresnet-x4 [-o docs/curves-srresnet-x4.png]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from vivid.training.runlog import read_records, training_hours


def binned_loss(records: list[dict], key: str, width: int = 1000) -> tuple[list, list]:
    bins: dict[int, list[float]] = {}
    for record in records:
        if key in record:
            bins.setdefault((record["iteration"] - 1) // width, []).append(record[key])
    order = sorted(bins)
    return [(b + 1) * width for b in order], [sum(bins[b]) / len(bins[b]) for b in order]


def plot(run: Path, target: Path) -> None:
    records = read_records(run / "log.jsonl")
    keys = ("loss_l1", "loss_mse", "loss_content", "loss_adversarial", "loss_d", "loss_warp",
            "loss_pingpong", "loss_temporal")
    losses = [k for k in keys if any(k in r for r in records)]
    width = 1000 if records[-1]["iteration"] >= 10000 else 250  # short runs: finer bins
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    for key in losses:
        left.plot(*binned_loss(records, key, width), label=key)
    left.set(xlabel="iteration", ylabel=f"training loss (mean per {width})", yscale="log")
    left.legend(loc="center right", fontsize="small")
    rates = [r for r in records if "lr" in r]
    rate_axis = left.twinx()
    rate_axis.plot([r["iteration"] for r in rates], [r["lr"] for r in rates], "k--", lw=0.8)
    rate_axis.set_ylabel("learning rate (dashed)")
    validation = [r for r in records if "val_psnr" in r]
    right.plot([r["iteration"] for r in validation], [r["val_psnr"] for r in validation], "o-")
    later = [r["val_psnr"] for r in validation[1:]]
    if len(later) > 1 and validation[0]["val_psnr"] < min(later) - 1:
        # stage 1: the first EMA point is far below the rest: leave it off-scale
        right.set_ylim(min(later) - 0.05, max(later) + 0.05)
    config = json.loads((run / "config.json").read_text())
    clips = config["data"].get("validation_videos")
    held_out = f"held-out clips: {', '.join(clips)}" if clips else "10 held-out BSD200 images"
    right.set(xlabel="iteration", ylabel="val Y-PSNR (dB)", title=held_out)
    figure.suptitle(f"{run.name}: {records[-1]['iteration']} iterations, "
                    f"{training_hours(records):.1f} h on a 2-core CPU")
    figure.tight_layout()
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target, dpi=100)
    print(f"{run}: {records[-1]['iteration']} iterations, {training_hours(records):.2f} "
          f"training hours, last validation {validation[-1] if validation else None} -> {target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run", type=Path)
    parser.add_argument("-o", "--output", type=Path, default=None)
    args = parser.parse_args()
    plot(args.run, args.output or Path("docs") / f"curves-{args.run.name}.png")


if __name__ == "__main__":
    main()
