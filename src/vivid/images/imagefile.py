"""Image files <-> tensors. The only place that knows about uint8, 16-bit, modes and metadata.

``read_image`` returns RGB in [0, 1] as a 1 x 3 x H x W float32 tensor, alpha (if any) as
1 x 1 x H x W, and an ``ImageInfo`` that ``write_image`` uses to write the result back in the
source's mode: greyscale stays greyscale, 16-bit PNG stays 16-bit, CMYK JPEG stays CMYK, the
ICC profile and EXIF (with orientation applied and reset) are kept. Palette images come back
as RGB(A): a palette cannot hold the new colours of an upscaled image.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from PIL.PngImagePlugin import PngInfo

from vivid._version import __version__
from vivid.atomic import temp_path
from vivid.errors import VividError
from vivid.images.png16 import png_header, read_png16, write_png16

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
OUTPUT_FORMATS = {"png": ".png", "jpg": ".jpg", "webp": ".webp", "tif": ".tif", "bmp": ".bmp"}
_SUFFIX_FORMATS = {".png": "png", ".jpg": "jpg", ".jpeg": "jpg", ".webp": "webp",
                   ".tif": "tif", ".tiff": "tif", ".bmp": "bmp"}
_PILLOW_FORMATS = {"png": "PNG", "jpg": "JPEG", "webp": "WEBP", "tif": "TIFF", "bmp": "BMP"}
DEFAULT_MAX_PIXELS = 89_478_485  # Pillow's own decompression-bomb limit
_ORIENTATION, _SOFTWARE, _DESCRIPTION = 0x0112, 0x0131, 0x010E
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601, as Pillow's "L"
_STRIP_ROWS = 256


@dataclass(frozen=True)
class ImageInfo:
    """What ``write_image`` needs to write an image back like its source."""

    mode: str  # Pillow mode of the source ("RGB", "LA", "CMYK", ...; "RGB;16" etc. for PNG16)
    bit_depth: int  # 8 or 16
    greyscale: bool
    icc_profile: bytes | None = None
    exif: bytes | None = None  # source EXIF with the orientation tag reset to 1


@dataclass(frozen=True)
class DecodedImage:
    rgb: torch.Tensor  # 1 x 3 x H x W, float32 in [0, 1]
    alpha: torch.Tensor | None  # 1 x 1 x H x W, float32 in [0, 1]
    info: ImageInfo


_GUARD = threading.Lock()


@contextlib.contextmanager
def _pillow_guard_off() -> Iterator[None]:
    """Pillow's own size guard (a process-wide setting) off while one file is opened and
    decoded: ``_check_size`` applies ours (``max_pixels``) first. Under a lock, so vivid's
    threads never see each other's setting, and always put back."""
    with _GUARD:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _orient(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8) to an H x W x C array, like ``ImageOps.exif_transpose``."""
    if orientation in (5, 7):  # transpose (5) or transverse (7): swap the axes
        pixels = pixels.transpose(1, 0, 2)
    if orientation in (2, 3, 7, 8):  # mirror left-right
        pixels = pixels[:, ::-1]
    if orientation in (3, 4, 6, 7):  # mirror top-bottom
        pixels = pixels[::-1]
    if orientation in (6, 8):
        pixels = pixels.transpose(1, 0, 2)
    return np.ascontiguousarray(pixels)


def _pillow_pixels(image: Image.Image) -> tuple[np.ndarray, int]:
    """Pixels of an 8-bit (or 16-bit greyscale) Pillow image as H x W x C, and the bit depth."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        return np.asarray(image, dtype=np.float64).clip(0, 65535)[..., None].astype(np.uint16), 16
    if mode == "P":
        mode = "RGBA" if "transparency" in image.info else "RGB"
    conversions = {"1": "L", "La": "LA", "PA": "RGBA", "RGBa": "RGBA", "F": "L"}
    target = conversions.get(mode, mode if mode in ("L", "LA", "RGB", "RGBA") else "RGB")
    pixels = np.asarray(image.convert(target) if target != image.mode else image)
    return pixels.reshape(*pixels.shape[:2], -1), 8


def _info(image: Image.Image, pixels: np.ndarray, bit_depth: int, exif: bytes | None) -> ImageInfo:
    channels = pixels.shape[2]
    mode = image.mode if bit_depth == 8 else ("L", "LA", "RGB", "RGBA")[channels - 1] + ";16"
    return ImageInfo(
        mode=mode,
        bit_depth=bit_depth,
        greyscale=channels <= 2,
        icc_profile=image.info.get("icc_profile") or None,
        exif=exif,
    )


def _check_size(path: Path, width: int, height: int, max_pixels: int) -> None:
    if width * height == 0:
        raise VividError(f"{path}: image has 0 pixels ({width}x{height})")
    if width * height > max_pixels:
        raise VividError(
            f"{path}: {width}x{height} = {width * height} pixels exceeds the limit of "
            f"{max_pixels} (decompression-bomb guard); allow it with --max-pixels "
            f"{width * height}"
        )


def output_format(path: Path) -> str | None:
    """The output format (a key of ``OUTPUT_FORMATS``) named by a file's suffix, or None."""
    return _SUFFIX_FORMATS.get(path.suffix.lower())


def _check_single_frame(path: Path, image: Image.Image) -> None:
    """Refuse animations and multi-page files: upscaling only the first frame would drop the
    others without a word. (A camera's MPO JPEG is one photo plus previews: it is read.)"""
    frames = getattr(image, "n_frames", 1)
    if frames > 1 and image.format != "MPO":
        kind = "multi-page TIFF" if image.format == "TIFF" else f"animated {image.format}"
        raise VividError(f"{path}: {kind} with {frames} frames; vivid upscales single images "
                         "only (split it into frames, or convert it to a video, first)")


def _decode(path: Path, max_pixels: int) -> tuple[np.ndarray, ImageInfo]:
    header = png_header(path)
    if header is not None:
        _check_size(path, header[0], header[1], max_pixels)
    with _pillow_guard_off(), Image.open(path) as image:
        _check_size(path, *image.size, max_pixels)
        _check_single_frame(path, image)
        if header is not None and header[2] == 16:
            pixels, bit_depth = read_png16(path), 16
        else:
            image.load()
            pixels, bit_depth = _pillow_pixels(image)
        exif = image.getexif()
        orientation = int(exif.get(_ORIENTATION, 1))
        if _ORIENTATION in exif:
            exif[_ORIENTATION] = 1
        info = _info(image, pixels, bit_depth, exif.tobytes() if len(exif) else None)
    return _orient(pixels, orientation), info


def _to_tensors(pixels: np.ndarray, info: ImageInfo) -> DecodedImage:
    scaled = torch.from_numpy(pixels.astype(np.float32) / (2**info.bit_depth - 1))
    scaled = scaled.permute(2, 0, 1).unsqueeze(0)
    colour_channels = 1 if info.greyscale else 3
    rgb = scaled[:, :colour_channels].expand(1, 3, -1, -1).contiguous()
    alpha = scaled[:, colour_channels:] if scaled.shape[1] > colour_channels else None
    return DecodedImage(rgb=rgb, alpha=alpha, info=info)


def read_image(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> DecodedImage:
    """Read an image file; any problem is a ``VividError`` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise VividError(f"{path}: no such file" if not path.exists() else f"{path}: not a file")
    if path.stat().st_size == 0:
        raise VividError(f"{path}: empty file (0 bytes)")
    try:
        pixels, info = _decode(path, max_pixels)
    except UnidentifiedImageError as error:
        raise VividError(f"{path}: not an image (or a format Pillow cannot read)") from error
    except OSError as error:
        if error.errno is not None:  # a system error (permissions, I/O), not bad image data
            raise VividError(f"{path}: cannot read ({error.strerror})") from error
        raise VividError(f"{path}: corrupt or truncated image ({error})") from error
    except (SyntaxError, ValueError, EOFError) as error:
        raise VividError(f"{path}: corrupt or truncated image ({error})") from error
    return _to_tensors(pixels, info)


def from_pil(image: Image.Image) -> DecodedImage:
    """Tensors of an in-memory Pillow image (any mode; no EXIF orientation applied)."""
    pixels, bit_depth = _pillow_pixels(image)
    return _to_tensors(pixels, _info(image, pixels, bit_depth, None))


def to_pil(rgb: torch.Tensor, alpha: torch.Tensor | None, info: ImageInfo) -> Image.Image:
    """An 8-bit Pillow image in the source's mode family (L, LA, RGB, RGBA or CMYK).
    ``rgb``: float in [0, 1], or 8-bit samples (uint8, as the upscaler returns them)."""
    if rgb.dtype == torch.uint8 and alpha is None:
        samples = _uint8_samples(rgb, info.greyscale)
    else:
        pixels = _to_array(_float_rgb(rgb), alpha, info.greyscale)
        samples = (pixels * 255).round().astype(np.uint8)
    image = Image.fromarray(samples[..., 0] if samples.shape[2] == 1 else samples)
    return image.convert("CMYK") if info.mode == "CMYK" and alpha is None else image


def _float_rgb(rgb: torch.Tensor) -> torch.Tensor:
    """RGB as float in [0, 1] (uint8 samples divided by 255)."""
    return rgb.float() / 255 if rgb.dtype == torch.uint8 else rgb


def _uint8_samples(rgb: torch.Tensor, greyscale: bool) -> np.ndarray:
    """H x W x C uint8 samples of 1 x 3 x H x W uint8 RGB: a view when it is stored
    channels-last; grey is computed in strips of rows, never as a float copy of the whole."""
    colour = rgb[0].permute(1, 2, 0).numpy()
    if not greyscale:
        return colour
    grey = np.empty((*colour.shape[:2], 1), np.uint8)
    for top in range(0, colour.shape[0], _STRIP_ROWS):
        luma = colour[top:top + _STRIP_ROWS].astype(np.float32) @ _LUMA
        grey[top:top + _STRIP_ROWS, :, 0] = np.clip(luma.round(), 0, 255)
    return grey


def _to_array(rgb: torch.Tensor, alpha: torch.Tensor | None, greyscale: bool) -> np.ndarray:
    """H x W x C float32 array in [0, 1]: L, LA, RGB or RGBA."""
    colour = rgb[0].detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()
    if greyscale:
        colour = (colour @ _LUMA)[..., None]
    if alpha is None:
        return colour
    return np.concatenate(
        [colour, alpha[0, 0].detach().float().clamp(0, 1).cpu().numpy()[..., None]], axis=2
    )


def _exif_bytes(info: ImageInfo, provenance: str | None) -> bytes | None:
    exif = Image.Exif()
    if info.exif:
        exif.load(info.exif)
    if provenance:
        exif[_SOFTWARE] = f"vivid {__version__}"
        exif[_DESCRIPTION] = provenance
    return exif.tobytes() if len(exif) else None


def _save_8bit(
    file: BinaryIO, image: Image.Image, info: ImageInfo, fmt: str, provenance: str | None
) -> None:
    if image.mode == "CMYK" and fmt not in ("jpg", "tif"):
        image = image.convert("RGB")
    options: dict[str, object] = {}
    if info.icc_profile and fmt != "bmp":  # BMP holds no metadata
        options["icc_profile"] = info.icc_profile
    exif = _exif_bytes(info, provenance) if fmt != "bmp" else None
    if exif:
        options["exif"] = exif
    if fmt == "png" and provenance:
        text = PngInfo()
        text.add_text("Software", f"vivid {__version__}")
        text.add_text("Description", provenance)
        options["pnginfo"] = text
    if fmt in ("jpg", "webp"):
        options["quality"] = 95
    if fmt == "tif":
        options["compression"] = "tiff_adobe_deflate"  # lossless
    image.save(file, format=_PILLOW_FORMATS[fmt], **options)


def write_image(
    path: str | Path,
    rgb: torch.Tensor,
    alpha: torch.Tensor | None,
    info: ImageInfo,
    provenance: str | None = None,
) -> None:
    """Write ``rgb`` (float in [0, 1], or uint8 samples) atomically (temp file, then rename) in
    the format given by the suffix of ``path`` (PNG, JPEG, WebP, TIFF or BMP).

    16-bit sources stay 16-bit when written as PNG; ``provenance`` goes into a PNG text chunk
    and the EXIF Software/ImageDescription tags (BMP has no room for either).
    """
    path = Path(path)
    fmt = output_format(path)
    if fmt is None:
        raise VividError(f"{path}: unsupported output format (use "
                         f"{', '.join(OUTPUT_FORMATS.values())})")
    if fmt in ("jpg", "bmp") and alpha is not None:  # no alpha there: composite onto white
        rgb, alpha = _float_rgb(rgb) * alpha + (1 - alpha), None
    try:
        with temp_path(path) as temp, open(temp, "wb") as file:
            if info.bit_depth == 16 and fmt == "png":
                pixels = _to_array(_float_rgb(rgb), alpha, info.greyscale)
                samples = (pixels * 65535).round().astype(np.uint16)
                text = {"Software": f"vivid {__version__}", "Description": provenance}
                write_png16(file, samples, text if provenance else {}, info.icc_profile)
            else:
                _save_8bit(file, to_pil(rgb, alpha, info), info, fmt, provenance)
    except OSError as error:
        raise VividError(f"{path}: cannot write ({error.strerror or error})") from error
