"""16-bit PNG reading and writing, which Pillow cannot do for RGB(A) images.

Reading uses pypng (pure Python); writing is a small encoder (filter type 0, zlib) that also
writes an ICC profile (iCCP) and text chunks (tEXt).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np
import png

from vivid.errors import VividError

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG colour type


def png_header(path: Path) -> tuple[int, int, int] | None:
    """(width, height, bit depth) from a PNG's IHDR chunk; None if it is not a PNG."""
    with open(path, "rb") as file:
        header = file.read(26)
    if len(header) < 26 or header[:8] != _SIGNATURE or header[12:16] != b"IHDR":
        return None
    width, height, bit_depth = struct.unpack(">IIB", header[16:25])
    return width, height, bit_depth


def read_png16(path: Path) -> np.ndarray:
    """The samples of a 16-bit PNG as a uint16 array of shape H x W x channels."""
    try:
        width, height, rows, info = png.Reader(filename=str(path)).asDirect()
        pixels = np.vstack([np.asarray(row, dtype=np.uint16) for row in rows])
    except (png.Error, ValueError, EOFError, zlib.error) as error:
        raise VividError(f"{path}: corrupt or truncated 16-bit PNG ({error})") from error
    if pixels.shape[0] != height:
        raise VividError(f"{path}: truncated 16-bit PNG ({pixels.shape[0]} of {height} rows)")
    return pixels.reshape(height, width, info["planes"])


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def write_png16(
    file: BinaryIO, pixels: np.ndarray, text: dict[str, str], icc_profile: bytes | None
) -> None:
    """Write a uint16 H x W x C array (C = 1..4) as a 16-bit PNG with text and ICC chunks."""
    height, width, channels = pixels.shape
    header = struct.pack(">IIBBBBB", width, height, 16, _COLOUR_TYPES[channels], 0, 0, 0)
    rows = pixels.astype(">u2").reshape(height, width * channels).view(np.uint8)
    raw = np.hstack([np.zeros((height, 1), dtype=np.uint8), rows]).tobytes()
    file.write(_SIGNATURE + _chunk(b"IHDR", header))
    if icc_profile:
        file.write(_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc_profile)))
    for key, value in text.items():
        file.write(_chunk(b"tEXt", key.encode("latin-1") + b"\x00" + value.encode("latin-1")))
    file.write(_chunk(b"IDAT", zlib.compress(raw, 6)) + _chunk(b"IEND", b""))
