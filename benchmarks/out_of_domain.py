"""Out-of-domain check: the models on images unlike the training data (T91 + BSD200 photos).

scikit-image's bundled samples (photos: astronaut, coffee, chelsea, rocket; scientific:
hubble_deep_field, retina; text: page) are written as PNG HR images (grey ones as RGB) and
scored with the paper protocol (x4, MATLAB bicubic LR, Y channel, shave 4, NIQE), per image.
Usage: python benchmarks/out_of_domain.py [--model M ...]   (default: bicubic + bundled)
Writes benchmarks/results/out_of_domain.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image

from common import save, score_cell
from vivid.checkpoint import bundled_models
from vivid.evaluate import evaluate

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
IMAGES = ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "retina", "page")


def write_images(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in IMAGES:
        pixels = np.asarray(getattr(skimage.data, name)())
        Image.fromarray(pixels).convert("RGB").save(folder / f"{name}.png")
    return folder


def markdown(report: dict, dataset: str) -> str:
    models = list(report["results"][dataset])
    lines = ["| image | " + " | ".join(f"`{m}` PSNR / SSIM / NIQE" for m in models) + " |",
             "|---" * (len(models) + 1) + "|"]
    for image in [*(f"{name}.png" for name in IMAGES), "mean"]:
        cells = []
        for model in models:
            entry = report["results"][dataset][model]
            entry = entry if image == "mean" else entry["images"][image]
            cells.append(score_cell(entry))
        lines.append(f"| {image.removesuffix('.png')} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", action="append", default=None)
    args = parser.parse_args()
    models = args.model or ["bicubic", *bundled_models()]
    folder = write_images(Path(tempfile.mkdtemp()) / "skimage")
    report = evaluate(models, [folder], 4, "bicubic", DATA / "NIQE" / "niqe_pris_params.npz")
    table = markdown(report, folder.name)
    print(table)
    command = "python benchmarks/out_of_domain.py " + " ".join(f"--model {m}" for m in models)
    print(f"-> {save('out_of_domain', {'command': command, 'markdown': table, **report})}")


if __name__ == "__main__":
    main()
