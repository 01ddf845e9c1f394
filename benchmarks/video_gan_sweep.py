"""Video GAN sweep: short runs of the next video-gan recipe that differ in one loss setting.

Every arm trains ``configs/vivid-video-gan-x4-next.toml`` (started from the bundled
``video-x4``, the same seed, batches and schedule) for ``--iterations`` iterations with the
arm's overrides, then all finished arms, the pixel model they started from and ``srgan-x4``
frame by frame (sharp, flickering) are scored on the held-out clips (never Vid4) by
``heldout_clips.py`` under bd with tOF and NIQE: the GAN should lower NIQE towards
``srgan-x4``'s (more natural texture) while its tOF stays within 0.05 of the pixel model's.
Arms:

- ``adv-0``: the control, the stage's other losses (0.3 x L1, content, ping-pong, temporal)
  without the adversarial one: what the change of losses does on its own;
- ``adv-1e-3``: the adversarial loss at 1e-3 (the first ``video-gan-x4`` used 3e-4, which
  barely moved NIQE);
- ``adv-1e-3-pp0``: ``adv-1e-3`` without ping-pong (it is minimised exactly by a network
  that ignores its state; the control's tOF rose);
- ``adv-3e-3-pp0``, ``adv-1e-2-pp0``: the adversarial weight, without ping-pong;
- ``adv-3e-3-pp0-fm``: D feature matching at 0.2;
- ``adv-3e-3-pp0-px005``: the pixel loss at 0.05 instead of 0.3 (SRGAN's image stage has
  none: its texture comes from the content and adversarial losses alone);
- ``adv-3e-3-pp0-px005-t0625``: and 1/16 of the temporal loss (the pixel stage's choice; the
  temporal loss also penalises invented detail that differs from the truth's as it moves).
The model card (docs/models/video.md, How we got here) has the results in order.

Usage (from anywhere; the config's paths are relative to the repository root):
  python benchmarks/video_gan_sweep.py --arm adv-1e-3     # one arm; a stopped arm resumes
  python benchmarks/video_gan_sweep.py --arm all          # every unfinished arm in turn
  python benchmarks/video_gan_sweep.py --report           # score the finished arms
Runs: runs/video-gan-sweep/ARM (``--work`` moves them); the report is
benchmarks/results/video_gan_sweep.json (``--save-as``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from heldout_clips import main as heldout_clips

from common import RESULTS, finished, train_to_end

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "vivid-video-gan-x4-next.toml"
ITERATIONS = 400
BASELINES = ["video-x4", "srgan-x4"]  # where the arms start, and the sharp image GAN
# The loss weights every arm starts from (the config's when the sweep began; the config now
# holds the sweep's pick), then the arm's own overrides
START = ["loss.pixel_weight=0.3", "loss.pingpong_weight=0.5", "loss.temporal_weight=1.0",
         "loss.adversarial_weight=1e-3", "loss.feature_matching_weight=0"]
PP0 = ["loss.pingpong_weight=0"]  # no ping-pong: from the third arm on
ARMS: dict[str, list[str]] = {
    "adv-0": ["loss.adversarial_weight=0"],
    "adv-1e-3": ["loss.adversarial_weight=1e-3"],
    "adv-1e-3-pp0": ["loss.adversarial_weight=1e-3", *PP0],
    "adv-3e-3-pp0": ["loss.adversarial_weight=3e-3", *PP0],
    "adv-1e-2-pp0": ["loss.adversarial_weight=1e-2", *PP0],
    "adv-3e-3-pp0-fm": ["loss.adversarial_weight=3e-3", *PP0, "loss.feature_matching_weight=0.2"],
    "adv-3e-3-pp0-px005": ["loss.adversarial_weight=3e-3", *PP0, "loss.pixel_weight=0.05"],
    "adv-3e-3-pp0-px005-t0625": ["loss.adversarial_weight=3e-3", *PP0, "loss.pixel_weight=0.05",
                                 "loss.temporal_weight=0.0625"],
}


def report(runs: Path, baselines: list[str], save_as: str, clips: list[str], results: Path
           ) -> None:
    """Score the ``baselines`` and every finished arm on the held-out clips (bd, tOF, NIQE);
    writes ``results/SAVE_AS.json``."""
    models = [*baselines, *(str(runs / arm / "generator.safetensors") for arm in ARMS
                            if finished(runs / arm))]
    heldout_clips([*(a for m in models for a in ("--model", m)), "--degradation", "bd",
                   "--tof", "--niqe", "--save-as", save_as, "--results", str(results),
                   *(a for c in clips for a in ("--clip", c))])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arm", choices=[*ARMS, "all"], help="train this arm (or all)")
    parser.add_argument("--report", action="store_true", help="score the finished arms")
    parser.add_argument("--iterations", type=int, default=ITERATIONS)
    parser.add_argument("--work", type=Path, default=REPO, help="folder of runs/video-gan-sweep")
    parser.add_argument("--baseline", action="append", default=[],
                        help="a model scored beside the arms (repeat; default the pixel model "
                             f"they start from and {' and '.join(BASELINES[1:])} frame by frame)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="passed to vivid train (smoke tests only)")
    parser.add_argument("--clip", action="append", default=[], help="held-out clip folder")
    parser.add_argument("--save-as", default="video_gan_sweep")
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder of the JSON")
    args = parser.parse_args(argv)
    runs, results = args.work.resolve() / "runs" / "video-gan-sweep", args.results.resolve()
    baselines = [str(Path(b).resolve()) if Path(b).suffix else b  # a file, not a bundled name
                 for b in args.baseline or BASELINES]
    os.chdir(REPO)  # the config's paths are relative to the repository root
    for arm in ARMS if args.arm == "all" else [args.arm] if args.arm else []:
        if not finished(runs / arm):
            print(f"arm {arm}: training -> {runs / arm}", flush=True)
            sets = [f"optim.iterations={args.iterations}", *START, *ARMS[arm], *args.set]
            train_to_end(CONFIG, runs / arm, sets)
    if args.report:
        report(runs, baselines, args.save_as, args.clip, results)


if __name__ == "__main__":
    main()
