"""Inference speed of the x4 generator against the machine's practical peak, in one run:
``vivid bench --compile`` (see ``vivid.evaluation.bench`` for what is measured), saved with
date, commit and machine.
Usage: python benchmarks/inference.py [--repeats N]. Writes benchmarks/results/inference.json.
"""

from __future__ import annotations

import argparse

from common import save
from vivid.evaluation.bench import run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"-> {save('inference', run(args.repeats, compile=True, say=print))}")


if __name__ == "__main__":
    main()
