"""Check ``--temporal flow`` on videos that are not a test set: slow pans over the 10
held-out BSD200 validation images (never trained on, and not Vid4), scored like
``vivid eval-video`` (bd degradation: Gaussian blur sigma 1.5, every 4th pixel).

Each sequence is 24 frames of a 240x160 window moving 1 HR pixel right per frame and 1 down
every other frame (a quarter LR pixel: sub-pixel motion at the input). This is where the
temporal filter's settings may be checked; Vid4 is scored once, with whatever this gives.
Usage (from the repository root): python benchmarks/temporal_validation.py --model M [--model M ...]
Writes benchmarks/results/temporal_validation.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from PIL import Image
from vid4_table import markdown

from common import save
from vivid.training.config import load_config
from vivid.video.evaluate import evaluate_video

REPO = Path(__file__).resolve().parents[1]
FRAMES, WIDTH, HEIGHT = 24, 240, 160


def write_pans(folder: Path) -> Path:
    data = load_config(REPO / "configs" / "vivid-srresnet-x4.toml").data
    for name in data.validation_images:
        image = Image.open(Path(data.validation) / name).convert("RGB")
        sequence = folder / Path(name).stem
        sequence.mkdir(parents=True, exist_ok=True)
        for index in range(FRAMES):
            left, top = index, index // 2
            frame = image.crop((left, top, left + WIDTH, top + HEIGHT))
            frame.save(sequence / f"{index:08d}.png")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", action="append", required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        report = evaluate_video(args.model, write_pans(Path(folder)), ["flow"], 4, "bd")
    table = markdown(report)
    print(table)
    command = "python benchmarks/temporal_validation.py " + " ".join(
        f"--model {m}" for m in args.model)
    print(f"-> {save('temporal_validation', {'command': command, 'markdown': table, **report})}")


if __name__ == "__main__":
    main()
