from __future__ import annotations

import io as stdio
from pathlib import Path

import numpy as np
import png
import pytest
import torch
from PIL import Image, ImageCms, ImageOps

from vivid.images import imagefile
from vivid.inference.upscaler import Upscaler

RNG = np.random.default_rng(0)


def _pixels(channels: int, dtype: type = np.uint8, size: tuple[int, int] = (12, 10)) -> np.ndarray:
    top = np.iinfo(dtype).max
    return RNG.integers(0, top + 1, size=(*size, channels), dtype=np.int64).astype(dtype)


def _round_trip(source: Path, target: Path) -> imagefile.DecodedImage:
    decoded = imagefile.read_image(source)
    imagefile.write_image(target, decoded.rgb, decoded.alpha, decoded.info)
    return decoded


@pytest.mark.parametrize("mode,channels", [("RGB", 3), ("RGBA", 4), ("L", 1), ("LA", 2)])
def test_8bit_png_modes_round_trip_exactly(tmp_path: Path, mode: str, channels: int) -> None:
    pixels = _pixels(channels)
    Image.fromarray(pixels[..., 0] if channels == 1 else pixels, mode).save(tmp_path / "a.png")
    _round_trip(tmp_path / "a.png", tmp_path / "b.png")
    with Image.open(tmp_path / "b.png") as image:
        assert image.mode == mode
        assert np.array_equal(np.asarray(image).reshape(pixels.shape), pixels)


def test_palette_images_come_back_as_rgb_or_rgba(tmp_path: Path) -> None:
    rgb = Image.fromarray(_pixels(3)).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    rgb.save(tmp_path / "p.png")
    transparent = rgb.copy()
    transparent.info["transparency"] = 0
    transparent.save(tmp_path / "pt.png", transparency=0)
    for name, mode in (("p", "RGB"), ("pt", "RGBA")):
        _round_trip(tmp_path / f"{name}.png", tmp_path / f"{name}-out.png")
        with (
            Image.open(tmp_path / f"{name}.png") as original,
            Image.open(tmp_path / f"{name}-out.png") as written,
        ):
            assert written.mode == mode
            assert np.array_equal(np.asarray(written), np.asarray(original.convert(mode)))


def test_cmyk_jpeg_stays_cmyk(tmp_path: Path) -> None:
    Image.fromarray(_pixels(4), "CMYK").save(tmp_path / "c.jpg", quality=100)
    decoded = _round_trip(tmp_path / "c.jpg", tmp_path / "out.jpg")
    assert decoded.info.mode == "CMYK" and decoded.alpha is None
    with Image.open(tmp_path / "out.jpg") as image:
        assert image.mode == "CMYK"
    imagefile.write_image(tmp_path / "out.png", decoded.rgb, None, decoded.info)  # PNG: RGB
    with Image.open(tmp_path / "out.png") as image:
        assert image.mode == "RGB"


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_16bit_png_stays_16bit(tmp_path: Path, channels: int) -> None:
    pixels = _pixels(channels, np.uint16)
    height, width = pixels.shape[:2]
    writer = png.Writer(
        width, height, bitdepth=16, greyscale=channels <= 2, alpha=channels in (2, 4)
    )
    with open(tmp_path / "a.png", "wb") as file:
        writer.write(file, pixels.reshape(height, width * channels))
    decoded = _round_trip(tmp_path / "a.png", tmp_path / "b.png")
    assert decoded.info.bit_depth == 16
    assert decoded.info.greyscale == (channels <= 2)
    _, _, rows, info = png.Reader(filename=str(tmp_path / "b.png")).asDirect()
    assert info["bitdepth"] == 16 and info["planes"] == channels
    assert np.array_equal(np.vstack(list(rows)).reshape(pixels.shape), pixels)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(tmp_path: Path, orientation: int) -> None:
    image = Image.fromarray(_pixels(3, size=(6, 9)))
    exif = Image.Exif()
    exif[0x0112] = orientation
    image.save(tmp_path / "o.png", exif=exif.tobytes())
    decoded = imagefile.read_image(tmp_path / "o.png")
    with Image.open(tmp_path / "o.png") as reference:
        expected = np.asarray(ImageOps.exif_transpose(reference))
    got = (decoded.rgb[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    assert np.array_equal(got, expected)
    imagefile.write_image(tmp_path / "w.png", decoded.rgb, None, decoded.info)
    with Image.open(tmp_path / "w.png") as written:
        assert written.getexif().get(0x0112, 1) == 1  # not rotated twice by viewers


def test_icc_profile_and_provenance_are_written(tmp_path: Path) -> None:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(_pixels(3)).save(tmp_path / "a.png", icc_profile=profile)
    Image.fromarray(_pixels(3)).save(tmp_path / "a.jpg", icc_profile=profile)
    note = "Upscaled 4x by vivid; fine detail is synthesised"
    for name in ("a.png", "a.jpg"):
        decoded = imagefile.read_image(tmp_path / name)
        out = tmp_path / f"out-{name}"
        imagefile.write_image(out, decoded.rgb, None, decoded.info, provenance=note)
        with Image.open(out) as image:
            assert image.info.get("icc_profile") == profile
            exif = image.getexif()
            assert exif.get(0x010E) == note and exif.get(0x0131).startswith("vivid")
            if name.endswith(".png"):
                assert image.text["Description"] == note


def test_pil_api_keeps_mode_and_tensor_api_keeps_shape() -> None:
    upscaler = Upscaler.from_pretrained("bicubic", device="cpu")
    for mode in ("RGB", "RGBA", "L", "LA"):
        out = upscaler(Image.new(mode, (10, 7)))
        assert isinstance(out, Image.Image) and out.mode == mode and out.size == (40, 28)
    tensor = upscaler(torch.rand(2, 3, 5, 6))
    assert isinstance(tensor, torch.Tensor) and tensor.shape == (2, 3, 20, 24)
    assert tensor.min() >= 0 and tensor.max() <= 1


def test_alpha_is_upscaled(tmp_path: Path) -> None:
    rgba = np.zeros((8, 8, 4), dtype=np.uint8)
    rgba[:, :4, 3] = 255  # left half opaque
    out = Upscaler.from_pretrained("bicubic", device="cpu")(Image.fromarray(rgba, "RGBA"))
    alpha = np.asarray(out)[..., 3]
    assert alpha.shape == (32, 32) and alpha[:, :12].min() == 255 and alpha[:, 20:].max() == 0


def test_written_file_has_normal_permissions(tmp_path: Path) -> None:
    decoded = imagefile.from_pil(Image.new("RGB", (4, 4)))
    imagefile.write_image(tmp_path / "x.png", decoded.rgb, None, decoded.info)
    assert (tmp_path / "x.png").stat().st_mode & 0o044  # readable by others, not 0600
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]


def test_from_pil_of_bytes_equals_read_image(tmp_path: Path) -> None:
    buffer = stdio.BytesIO()
    Image.fromarray(_pixels(3)).save(buffer, format="PNG")
    (tmp_path / "a.png").write_bytes(buffer.getvalue())
    from_file = imagefile.read_image(tmp_path / "a.png").rgb
    assert torch.equal(imagefile.from_pil(Image.open(buffer)).rgb, from_file)
