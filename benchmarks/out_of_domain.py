"""Out-of-domain check: the models on images unlike the training data (T91 + BSD200 photos).

scikit-image's bundled samples (photos: astronaut, coffee, chelsea, rocket; scientific:
hubble_deep_field, retina; text: page) are written as PNG HR images (grey ones as RGB) and
scored with the paper protocol (x4, MATLAB bicubic LR, Y channel, shave 4, NIQE), per image.
The images go to a folder (default: vivid-skimage in the temp folder) that the printed
``vivid eval`` command reads.
Usage: python benchmarks/out_of_domain.py [--model M ...] [--folder DIR]
(default: bicubic + the bundled models). Writes benchmarks/results/out_of_domain.json and
prints the command and a Markdown table.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image

from common import default_models, save, score_cell, vivid_eval

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
    parser.add_argument("--folder", type=Path,
                        default=Path(tempfile.gettempdir()) / "vivid-skimage")
    args = parser.parse_args()
    models = args.model or default_models()
    folder = write_images(args.folder)
    command, report = vivid_eval(models, [str(folder)])
    table = markdown(report, folder.name)
    print(f"{command}\n\n{table}")
    print(f"-> {save('out_of_domain', {'command': command, 'markdown': table, **report})}")


if __name__ == "__main__":
    main()
