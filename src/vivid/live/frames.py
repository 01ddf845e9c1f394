"""The pictures of the live page: plain interpolation beside the model, composed side by
side or as a wipe, encoded for the browser (JPEG), a snapshot (PNG) and the recording.

Everything here works on 8-bit RGB arrays (h x w x 3, uint8) and returns new arrays; Pillow
does the resizing and encoding (its C code runs without the GIL, beside the model's thread).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

SIDE, WIPE = "side", "wipe"
COMPARE_MODES = (SIDE, WIPE)
DIVIDER = 255  # the wipe's line: 2 white columns


def bicubic(rgb: np.ndarray, scale: int) -> np.ndarray:
    """Bicubic interpolation by ``scale`` (Pillow's, a = -0.5 as MATLAB; within a level or
    two of ``vivid.degrade.imresize`` and ~10x faster on a CPU)."""
    height, width = rgb.shape[:2]
    image = Image.fromarray(rgb).resize((width * scale, height * scale),
                                        Image.Resampling.BICUBIC)
    return np.asarray(image)


def compose(plain: np.ndarray, model: np.ndarray, mode: str, wipe: float) -> np.ndarray:
    """``SIDE``: ``plain`` left of ``model`` (twice as wide). ``WIPE``: ``plain`` left of the
    column at ``wipe`` (0-1) of the width, ``model`` right of it, a white line between."""
    if mode == SIDE:
        return np.hstack((plain, model))
    width = model.shape[1]
    line = min(max(round(wipe * width), 0), width)
    shown = model.copy()
    shown[:, :line] = plain[:, :line]
    shown[:, max(line - 1, 0):line + 1] = DIVIDER
    return shown


def encode(rgb: np.ndarray, kind: str = "JPEG", quality: int = 85) -> bytes:
    """The image as a JPEG (``quality``) or PNG file's bytes."""
    buffer = io.BytesIO()
    options = {"quality": quality} if kind == "JPEG" else {"compress_level": 1}
    Image.fromarray(rgb).save(buffer, kind, **options)
    return buffer.getvalue()


def fit(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """``rgb`` scaled to fit ``width`` x ``height`` (aspect kept), centred on black: frames
    of another size (the compare mode changed) in a recording of fixed size."""
    if rgb.shape[:2] == (height, width):
        return rgb
    ratio = min(width / rgb.shape[1], height / rgb.shape[0])
    size = (max(1, round(rgb.shape[1] * ratio)), max(1, round(rgb.shape[0] * ratio)))
    scaled = np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))
    canvas = np.zeros((height, width, 3), np.uint8)
    top, left = (height - size[1]) // 2, (width - size[0]) // 2
    canvas[top:top + size[1], left:left + size[0]] = scaled
    return canvas
