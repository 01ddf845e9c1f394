"""Does starting the video generator's SR network from srresnet-x4 speed up training?

Runs the video-x4 recipe (configs/vivid-video-x4.toml) from scratch (``run.init = ''``) until
its validation at ``--iterations`` (default 250, the first validation), stops it with SIGTERM,
and sets its validation PSNR beside the one the real run (``--run``, started from
srresnet-x4, same seed, same batches, same schedule) logged at the same iteration.
Usage: python benchmarks/video_init.py [--iterations N] [--run runs/video-x4]
Writes benchmarks/results/video_init.json.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from common import save

REPO = Path(__file__).resolve().parents[1]


def validation_at(run: Path, iteration: int) -> dict | None:
    log = run / "log.jsonl"
    if not log.exists():
        return None
    records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    found = [r for r in records if r["iteration"] == iteration and "val_psnr" in r]
    return found[-1] if found else None


def train_from_scratch(out: Path, iteration: int) -> dict:
    """The scratch arm, stopped once its validation at ``iteration`` is logged."""
    command = [sys.executable, "-m", "vivid", "train",
               str(REPO / "configs" / "vivid-video-x4.toml"), "--out", str(out), "--resume",
               "--quiet", "--set", "run.init=''"]
    process = subprocess.Popen(command, cwd=REPO)
    try:
        while (record := validation_at(out, iteration)) is None:
            if process.poll() is not None:
                raise SystemExit(f"the scratch run ended (exit {process.returncode}) first")
            time.sleep(5)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait()
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=250)
    parser.add_argument("--run", type=Path, default=REPO / "runs" / "video-x4")
    args = parser.parse_args()
    initialised = validation_at(args.run, args.iterations)
    if initialised is None:
        raise SystemExit(f"{args.run}: no validation logged at iteration {args.iterations}")
    scratch = train_from_scratch(REPO / "runs" / "video-x4-scratch", args.iterations)
    numbers = {"iteration": args.iterations,
               "from_srresnet_x4": {k: initialised[k] for k in ("val_psnr", "val_ssim")},
               "from_scratch": {k: scratch[k] for k in ("val_psnr", "val_ssim")}}
    for arm in ("from_srresnet_x4", "from_scratch"):
        print(f"{arm}: validation PSNR {numbers[arm]['val_psnr']:.2f} dB at iteration "
              f"{args.iterations}")
    print(f"-> {save('video_init', numbers)}")


if __name__ == "__main__":
    main()
