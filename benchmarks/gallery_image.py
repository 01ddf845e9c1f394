"""The README's gallery image: zoomed crops bicubic | srresnet-x4 | srgan-x4 | HR.

Each row is one test image (x4 MATLAB-bicubic LR, as ``vivid eval``); the crop is the 64x64
HR square with the most detail (``vivid.evaluation.gallery.detail_region``), magnified 3x without
smoothing. Display only: nothing is chosen by these images.
Usage: python benchmarks/gallery_image.py [--model M ...] [--image PATH ...] [-o PNG]
(default: bicubic + the bundled models on four Set14 images -> docs/gallery.png).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from common import default_models, save
from vivid.degrade import make_pair
from vivid.evaluation.gallery import detail_region
from vivid.images.imagefile import read_image
from vivid.images.pixels import quantize_8bit
from vivid.inference.upscaler import Upscaler

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
IMAGES = ("Set14/baboon.png", "Set14/comic.png", "Set14/face.png", "Set14/zebra.png")
CROP, ZOOM, LABEL = 64, 3, 22


def crops(upscalers: dict[str, Upscaler], path: Path) -> list[Image.Image]:
    lr_image, hr_image = make_pair(read_image(path).rgb, 4)
    top, left = detail_region(hr_image, CROP)
    images = [quantize_8bit(u(lr_image)) for u in upscalers.values()] + [hr_image]
    tiles = []
    for image in images:
        patch = image[0, :, top:top + CROP, left:left + CROP].clamp(0, 1)
        pixels = (patch * 255).round().byte().permute(1, 2, 0).numpy()
        tiles.append(Image.fromarray(pixels).resize((CROP * ZOOM,) * 2, Image.NEAREST))
    return tiles


def sheet(rows: list[list[Image.Image]], labels: list[str]) -> Image.Image:
    cell = CROP * ZOOM
    page = Image.new("RGB", (cell * len(labels), LABEL + cell * len(rows)), "white")
    draw, font = ImageDraw.Draw(page), ImageFont.load_default(size=16)
    for column, label in enumerate(labels):
        draw.text((column * cell + cell // 2, LABEL // 2), label, fill="black", font=font,
                  anchor="mm")
    for row, tiles in enumerate(rows):
        for column, tile in enumerate(tiles):
            page.paste(tile, (column * cell, LABEL + row * cell))
    return page


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", action="append", default=None)
    parser.add_argument("--image", action="append", type=Path, default=None)
    parser.add_argument("-o", "--output", type=Path,
                        default=Path(__file__).resolve().parents[1] / "docs" / "gallery.png")
    args = parser.parse_args()
    models = args.model or default_models()
    paths = args.image or [DATA / name for name in IMAGES]
    upscalers = {m: Upscaler.from_pretrained(m, precision="fp32") for m in models}
    labels = [Path(m).stem for m in models]  # a weights file by its name
    page = sheet([crops(upscalers, path) for path in paths], [*labels, "HR"])
    temp = args.output.with_name(f".{args.output.name}.tmp")
    page.save(temp, format="PNG", optimize=True)
    temp.replace(args.output)
    print(f"-> {args.output}")
    print(f"-> {save('gallery_image', {'models': models, 'images': [str(p) for p in paths]})}")


if __name__ == "__main__":
    main()
