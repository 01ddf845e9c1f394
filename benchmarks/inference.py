"""Inference speed of the x4 generator against the raw engines (the same graph, called
directly) and the machine's practical peak at 128x128, 270x480 and 540x960, and the peak
memory of ``vivid upscale`` on a 2000x2000 photo, in one run: ``vivid bench --compile`` (see
``vivid.evaluation.bench``: medians of alternating runs), saved with date, commit and the CPU
model. Run it on a quiet machine.
Usage: python benchmarks/inference.py [--repeats N] [--no-memory].
Writes benchmarks/results/inference.json.
"""

from __future__ import annotations

import argparse

from common import save
from vivid.evaluation.bench import run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory run")
    args = parser.parse_args()
    results = run(args.repeats, memory=not args.no_memory, compile=True, say=print)
    print(f"-> {save('inference', results)}")


if __name__ == "__main__":
    main()
