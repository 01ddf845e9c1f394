"""Which motion estimate for the video generator? End-point error against the true motion.

Pairs: the validation pairs of stage ``video-flow`` (configs/vivid-video-flow.toml: the 10
held-out BSD200 images moved by a random affine motion, half with a moving patch, BD-degraded,
48x48 LR; 4 x 8 pairs, fixed seed). Estimates: zero motion, OpenCV Farneback on the LR greys
(the settings of ``vivid.video.temporal``), and the flow network of each weights file given
(e.g. the first ``video-x4``, whose flow was trained only through the warping loss, and the
stage-1 run ``runs/video-flow/generator.safetensors``).
Usage: python benchmarks/flow_choice.py [WEIGHTS ...]
Writes benchmarks/results/flow_choice.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from common import save
from vivid.motion import flow, grey
from vivid.nets.frvsr import RecurrentGenerator
from vivid.nets.weights_file import load_model
from vivid.training.config import load_config
from vivid.training.datasets import load_validation
from vivid.training.flow_steps import end_point_error

REPO = Path(__file__).resolve().parents[1]


def farneback(current: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
    """N x 2 x h x w flow from each current frame to its previous one (OpenCV)."""
    flows = [flow(grey(c[None]), grey(p[None])) for c, p in zip(current, previous, strict=True)]
    return torch.from_numpy(np.stack(flows)).permute(0, 3, 1, 2).float()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("weights", nargs="*", help="video weights files or bundled names")
    args = parser.parse_args()
    pairs = load_validation(load_config(REPO / "configs" / "vivid-video-flow.toml"))
    estimators = {"zero motion": lambda c, p: torch.zeros(c.shape[0], 2, *c.shape[-2:]),
                  "OpenCV Farneback": farneback}
    for name in args.weights:
        network, _ = load_model(name)
        if not isinstance(network, RecurrentGenerator):
            parser.error(f"{name}: not a video model")
        estimators[f"flow network of {name}"] = network.flow
    rows = ["| motion estimate | end-point error (LR pixels) |", "|---|---|"]
    results = {}
    with torch.no_grad():
        for label, estimate in estimators.items():
            errors = [end_point_error(estimate(lr[:, 0], lr[:, 1]), truth).item()
                      for lr, truth in pairs]
            results[label] = float(np.mean(errors))
            rows.append(f"| {label} | {results[label]:.3f} |")
    table = "\n".join(rows)
    print(table)
    command = " ".join(["python benchmarks/flow_choice.py", *args.weights])
    print(f"-> {save('flow_choice', {'command': command, 'markdown': table, 'epe': results})}")


if __name__ == "__main__":
    main()
