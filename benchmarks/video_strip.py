"""The video comparison images: consecutive crops of a sequence, one row per method.

BD LR of ../shared/data/Vid4/GT/<sequence>, or of a folder of frames given as ``--sequence``
(e.g. a held-out clip of ../shared/data/VideoClips: not a test set), as ``vivid eval-video``
makes it; every method upscales
the whole sequence in order (image models frame by frame, video models through their
recurrence); the strip shows the same 64x64 HR square (the one with the most detail in the
middle frame) in ``--frames`` consecutive frames (rows, time going down), magnified 3x as
the image gallery, one column per method, then GT. Flicker shows as texture that changes
from row to row where GT's does not. Also writes a looping GIF of the square over all
frames, methods side by side. Display only: nothing is chosen by these images.
Usage: python benchmarks/video_strip.py [--model M ...] [--sequence walk|FOLDER] [--save-as NAME]
(default: srgan-x4 and the bundled video models, walk -> docs/video-strip.png,
docs/video-compare.gif; ``--save-as NAME`` -> docs/NAME-strip.png, docs/NAME-compare.gif)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gallery_image import CROP, ZOOM, sheet
from PIL import Image

from common import DATA
from vivid.evaluation.gallery import detail_region
from vivid.inference.loader import load_upscaler
from vivid.nets.weights_file import bundled_models
from vivid.video.evaluate import load_sequence, run_method

DOCS = Path(__file__).resolve().parents[1] / "docs"


def tile(frame, top: int, left: int) -> Image.Image:
    patch = frame[0, :, top:top + CROP, left:left + CROP].clamp(0, 1)
    pixels = (patch * 255).round().byte().permute(1, 2, 0).numpy()
    return Image.fromarray(pixels).resize((CROP * ZOOM,) * 2, Image.NEAREST)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", action="append", default=None)
    parser.add_argument("--sequence", default="walk",
                        help="a Vid4 name, or a frame folder (a path with a /)")
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--save-as", default="video", help="docs/NAME-strip.png, NAME-compare.gif")
    args = parser.parse_args()
    models = args.model or ["srgan-x4", *(m for m in bundled_models() if m.startswith("video"))]
    folder = Path(args.sequence) if "/" in args.sequence else DATA / "Vid4" / "GT" / args.sequence
    if not folder.is_dir():
        raise SystemExit(f"{folder}: no such frame folder")
    lr_frames, hr_frames = load_sequence(folder, 4, "bd")
    outputs = {m: run_method(load_upscaler(m, precision="fp32"), "none", lr_frames)
               for m in models}
    outputs["GT"] = hr_frames
    middle = len(hr_frames) // 2
    top, left = detail_region(hr_frames[middle], CROP)
    shown = range(middle - args.frames // 2, middle - args.frames // 2 + args.frames)
    rows = [[tile(frames[t], top, left) for frames in outputs.values()] for t in shown]
    strip, loop = DOCS / f"{args.save_as}-strip.png", DOCS / f"{args.save_as}-compare.gif"
    sheet(rows, list(outputs)).save(strip)
    gif = [sheet([[tile(frames[t], top, left) for frames in outputs.values()]], list(outputs))
           for t in range(len(hr_frames))]
    gif[0].save(loop, save_all=True, append_images=gif[1:], duration=120, loop=0)
    print(f"-> {strip}, {loop} ({folder.name}, HR square at {top},{left})")


if __name__ == "__main__":
    main()
