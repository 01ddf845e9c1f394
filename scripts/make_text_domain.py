"""Make the ninth domain of the domain study: synthetic text pages, ``text/{train,test}``.

Text and documents have no public set we may redistribute, so the pages are rendered here:
each page is a 512x512 canvas of headings, paragraphs and number lines in one of the fonts that
ship with matplotlib (DejaVu Sans/Serif/Mono, STIX, Computer Modern: ``matplotlib`` is in the
``test`` extra, so CI has them without a system font package), one size of 10-34 px, a style
(dark ink on white or paper, light on dark, coloured ink on a tint), and sometimes a slight
Gaussian blur (radius 0.3-0.8) and/or Gaussian noise (sigma 1-4 of 255). One crop per page,
like the other domains: 192x192 for ``train/`` (``text_NNN_0.png``), 256x256 for ``test/``
(``text_NNN.png``), placed where the page holds the most ink among 16 random tries.

Invariants: deterministic: the page parameters come from ``numpy.random.default_rng((split,
index))`` (split 0 = train, 1 = test, so no page gives files to both splits), the pixels from
Pillow's FreeType rendering of those parameters (the same Pillow/FreeType and matplotlib give
the same bytes); ``pages.csv`` lists every file with its parameters, and a folder whose
``pages.csv`` already says what this script would write is left as it is. Counts default to 36
train and 12 test, those of a typical domain of ``shared/data/Domains``. RGB PNG, lossless.

Why generated, not committed: the script remakes the 48 files (about 1.6 MB) in seconds, and
binary test data would stay in the repository's history for good (the other domains live
outside it, in ``shared/``); ``benchmarks/domain_study.py`` makes them on demand into the
git-ignored ``data/text`` and its report records a digest of the files and the Pillow and
FreeType versions, so a renderer that draws other pixels shows.
Usage: python scripts/make_text_domain.py [--out data/text] [--train 36] [--test 12]
"""

from __future__ import annotations

import argparse
import csv
import io
from dataclasses import astuple, dataclass, fields
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

PAGE = 512
MARGIN = 24
CROPS = {"train": 192, "test": 256}
SPLIT_SEEDS = {"train": 0, "test": 1}
FONTS = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSerif-Italic.ttf",
         "DejaVuSansMono.ttf", "STIXGeneral.ttf", "STIXGeneralItalic.ttf", "cmr10.ttf",
         "cmss10.ttf")
SIZES = (10, 12, 14, 16, 18, 21, 24, 28, 34)
SYLLABLES = ("ba", "con", "de", "fi", "gra", "hu", "in", "ka", "lo", "men", "no", "pre", "qui",
             "ra", "sti", "tor", "un", "ve", "wa", "xi", "ter", "ment", "al", "es", "ly")
WORDS = ("the", "of", "and", "to", "in", "is", "for", "that", "with", "on", "as", "by", "image",
         "data", "model", "report", "page", "figure", "table", "result", "value", "signal")
REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Page:
    """What one page looks like: everything its pixels depend on besides the renderer."""

    file: str
    font: str
    size: int
    ink: tuple[int, int, int]
    paper: tuple[int, int, int]
    spacing: float  # line height / font size
    blur: float  # Gaussian blur radius in pixels (0 = none)
    noise: float  # Gaussian noise sigma in 8-bit levels (0 = none)
    seed: int  # of the words and the crop


def _style(rng: np.random.Generator) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(ink, paper) colours: dark on white or paper, light on dark, or coloured on a tint."""
    kind = rng.choice(["white", "paper", "dark", "colour"], p=[0.35, 0.25, 0.15, 0.25])
    grey = int(rng.integers(0, 60))
    if kind == "white":
        return (grey,) * 3, (255, 255, 255)
    if kind == "paper":
        return (grey,) * 3, tuple(int(v) for v in rng.integers(215, 250, 3))
    if kind == "dark":
        return tuple(int(v) for v in rng.integers(200, 256, 3)), tuple(
            int(v) for v in rng.integers(0, 50, 3))
    return tuple(int(v) for v in rng.integers(0, 120, 3)), tuple(
        int(v) for v in rng.integers(180, 256, 3))


def plan(split: str, count: int) -> list[Page]:
    """The parameters of ``count`` pages of ``split``."""
    pages = []
    for index in range(count):
        rng = np.random.default_rng((SPLIT_SEEDS[split], index))
        ink, paper = _style(rng)
        blur = float(rng.uniform(0.3, 0.8)) if rng.random() < 0.3 else 0.0
        noise = float(rng.uniform(1, 4)) if rng.random() < 0.3 else 0.0
        name = f"text_{index:03d}_0.png" if split == "train" else f"text_{index:03d}.png"
        pages.append(Page(name, str(rng.choice(FONTS)), int(rng.choice(SIZES)), ink, paper,
                          round(float(rng.uniform(1.15, 1.6)), 2), round(blur, 2),
                          round(noise, 2), int(rng.integers(2**31))))
    return pages


def _word(rng: np.random.Generator) -> str:
    if rng.random() < 0.4:
        return str(rng.choice(WORDS))
    if rng.random() < 0.08:
        return f"{rng.integers(0, 10**int(rng.integers(1, 5)))}"
    return "".join(rng.choice(SYLLABLES, int(rng.integers(1, 4))))


def _line(rng: np.random.Generator, font: ImageFont.FreeTypeFont, width: float) -> str:
    """Words (a sentence start capitalised, some punctuation) that fit ``width`` pixels."""
    words: list[str] = []
    while True:
        word = _word(rng)
        if not words or words[-1].endswith("."):
            word = word.capitalize()
        word += str(rng.choice([".", ",", ";", ""], p=[0.08, 0.07, 0.02, 0.83]))
        if font.getlength(" ".join([*words, word])) > width:
            return " ".join(words) or word
        words.append(word)


def render_page(page: Page, fonts: Path) -> Image.Image:
    """The whole 512x512 page, before the crop, the blur and the noise."""
    rng = np.random.default_rng(page.seed)
    image = Image.new("RGB", (PAGE, PAGE), page.paper)
    draw = ImageDraw.Draw(image)
    body = ImageFont.truetype(str(fonts / page.font), page.size)
    heading = ImageFont.truetype(str(fonts / page.font), round(page.size * 1.5))
    y = MARGIN
    while y < PAGE - MARGIN:
        font = heading if rng.random() < 0.08 else body
        indent = MARGIN + (2 * page.size if rng.random() < 0.15 else 0)
        draw.text((indent, y), _line(rng, font, PAGE - MARGIN - indent), fill=page.ink,
                  font=font)
        y += round(font.size * page.spacing) + (page.size if rng.random() < 0.1 else 0)
    return image


def _crop(image: Image.Image, side: int, rng: np.random.Generator, paper: tuple) -> Image.Image:
    """The ``side`` square, of 16 random ones, that differs most from the paper colour."""
    pixels = np.asarray(image, dtype=np.int16)
    best, best_ink = (0, 0), -1
    for _ in range(16):
        top, left = (int(v) for v in rng.integers(0, PAGE - side + 1, 2))
        ink = int(np.abs(pixels[top:top + side, left:left + side] - paper).sum())
        if ink > best_ink:
            best, best_ink = (top, left), ink
    top, left = best
    return image.crop((left, top, left + side, top + side))


def make_file(page: Page, side: int, fonts: Path) -> Image.Image:
    """One page's crop with its blur and noise: what ``page.file`` holds."""
    rng = np.random.default_rng(page.seed + 1)
    image = _crop(render_page(page, fonts), side, rng, page.paper)
    if page.blur:
        image = image.filter(ImageFilter.GaussianBlur(page.blur))
    if page.noise:
        pixels = np.asarray(image, dtype=np.float64)
        pixels = pixels + rng.normal(0, page.noise, pixels.shape)
        image = Image.fromarray(np.clip(np.rint(pixels), 0, 255).astype(np.uint8))
    return image


def manifest(pages: dict[str, list[Page]]) -> str:
    """``pages.csv``: split, then every field of every page."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["split", *(f.name for f in fields(Page))])
    for split, items in pages.items():
        writer.writerows([split, *astuple(page)] for page in items)
    return text.getvalue()


def make_domain(out: Path, train: int = 36, test: int = 12) -> Path:
    """Write ``out/{train,test}`` and ``out/pages.csv`` unless ``pages.csv`` already matches;
    returns ``out``."""
    pages = {"train": plan("train", train), "test": plan("test", test)}
    listing = manifest(pages)
    index = out / "pages.csv"
    if index.is_file() and index.read_text() == listing and all(
            (out / split / page.file).is_file() for split, items in pages.items()
            for page in items):
        return out
    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    for split, items in pages.items():
        folder = out / split
        folder.mkdir(parents=True, exist_ok=True)
        for stale in set(folder.glob("*.png")) - {folder / p.file for p in items}:
            stale.unlink()
        for page in items:
            make_file(page, CROPS[split], fonts).save(folder / page.file)
    index.write_text(listing)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "data" / "text")
    parser.add_argument("--train", type=int, default=36)
    parser.add_argument("--test", type=int, default=12)
    args = parser.parse_args()
    print(f"wrote {make_domain(args.out, args.train, args.test)}")


if __name__ == "__main__":
    main()
