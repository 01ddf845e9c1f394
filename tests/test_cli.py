from __future__ import annotations

import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vivid.cli.main import main
from vivid.images import imagefile
from vivid.nets.srresnet import Generator, GeneratorConfig
from vivid.nets.weights_file import save_generator


def _image(path: Path, size: tuple[int, int] = (20, 16), mode: str = "RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(path.name))
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).convert(mode).save(
        path
    )
    return path


def _png_header_only(path: Path, width: int, height: int) -> Path:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + chunk(b"IEND", b"")
    )
    return path


def _upscale(source: Path, out: Path, *extra: str) -> int:
    """``vivid upscale SOURCE -o OUT --model bicubic --quiet EXTRA...``, in-process."""
    return main(["upscale", str(source), "-o", str(out), "--model", "bicubic", "--quiet", *extra])


def _no_temp_files(folder: Path) -> bool:
    return not any(p.name.startswith(".") for p in folder.rglob("*"))


def test_console_script_upscales_a_file_to_4x(tmp_path: Path) -> None:
    source = _image(tmp_path / "in" / "bird.png", (72, 50))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "vivid",
            "upscale",
            str(source),
            "-o",
            str(tmp_path / "out"),
            "--model",
            "bicubic",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "upscaled 1 of 1 images x4" in result.stdout
    with Image.open(tmp_path / "out" / "bird.png") as image:
        assert image.size == (288, 200)
        assert "vivid" in image.text["Software"] and "bicubic" in image.text["Description"]


def test_folders_recursive_globs_and_formats_mirror_input_names(tmp_path: Path) -> None:
    _image(tmp_path / "in" / "a.png")
    _image(tmp_path / "in" / "sub" / "b.jpg")
    _image(tmp_path / "in" / "c.bmp")
    (tmp_path / "in" / "notes.txt").write_text("not an image")
    assert _upscale(tmp_path / "in", tmp_path / "o1", "--recursive") == 0
    written = sorted(str(p.relative_to(tmp_path / "o1")) for p in (tmp_path / "o1").rglob("*.*"))
    assert written == ["a.png", "c.png", "sub/b.jpg"]
    assert _upscale(tmp_path / "in" / "*.png", tmp_path / "o2", "--format", "webp") == 0
    assert [p.name for p in (tmp_path / "o2").iterdir()] == ["a.webp"]
    assert _upscale(tmp_path / "in" / "a.png", tmp_path / "x.jpg") == 0
    with Image.open(tmp_path / "x.jpg") as image:
        assert image.format == "JPEG" and image.size == (80, 64)


def test_existing_outputs_are_skipped_unless_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    source = _image(tmp_path / "a.png")
    out = tmp_path / "out"
    args = ["upscale", str(source), "-o", str(out), "--model", "bicubic", "--quiet"]
    assert main(args) == 0
    (out / "a.png").write_bytes(b"keep me")
    assert main(args) == 0  # a rerun skips what is done, and succeeds
    assert "upscaled 0 of 1 images" in capsys.readouterr().out
    assert (out / "a.png").read_bytes() == b"keep me"
    assert main([*args, "--overwrite"]) == 0
    with Image.open(out / "a.png") as image:
        assert image.size == (80, 64)


def test_no_provenance_flag(tmp_path: Path) -> None:
    source = _image(tmp_path / "a.png")
    assert _upscale(source, tmp_path / "o", "--no-provenance") == 0
    with Image.open(tmp_path / "o" / "a.png") as image:
        assert "Description" not in image.text and 0x010E not in image.getexif()


def test_weights_file_model_and_tiling_options(tmp_path: Path) -> None:
    weights = tmp_path / "tiny.safetensors"
    save_generator(weights, Generator(GeneratorConfig(scale=2, blocks=1, channels=8)))
    source = _image(tmp_path / "a.png", (40, 30))
    assert _upscale(source, tmp_path / "o", "--model", str(weights), "--tile", "16",
                    "--tile-overlap", "4", "--precision", "bf16", "--tile-batch", "3") == 0
    with Image.open(tmp_path / "o" / "a.png") as image:
        assert image.size == (80, 60) and "tiny.safetensors" in image.text["Description"]
    assert _upscale(source, tmp_path / "p", "--model", str(weights), "--tile-batch", "0") == 2


BAD_INPUTS = {
    "notes.txt": "not an image",
    "text.png": "not an image",
    "empty.png": "empty file (0 bytes)",
    "cut.png": "corrupt or truncated",
    "cut.jpg": "corrupt or truncated",
    "zero.png": "0 pixels",
    "bomb.png": "allow it with --max-pixels",
    "missing.png": "no such file",
}


def _make_bad_inputs(folder: Path) -> list[Path]:
    folder.mkdir()
    (folder / "notes.txt").write_text("hello")
    (folder / "text.png").write_text("this is not a PNG")
    (folder / "empty.png").write_bytes(b"")
    for name in ("cut.png", "cut.jpg"):
        full = _image(folder / f"full-{name}", (64, 64))
        (folder / name).write_bytes(full.read_bytes()[: full.stat().st_size // 2])
        full.unlink()
    _png_header_only(folder / "zero.png", 0, 10)
    _png_header_only(folder / "bomb.png", 20000, 10000)
    return [folder / name for name in BAD_INPUTS]


def test_bad_inputs_each_give_one_line_and_the_rest_is_processed(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    bad = _make_bad_inputs(tmp_path / "bad")
    good = _image(tmp_path / "good.png")
    out = tmp_path / "out"
    code = main(
        ["upscale", *map(str, bad), str(good), "-o", str(out), "--model", "bicubic", "--quiet"]
    )
    assert code == 1
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(lines) == len(BAD_INPUTS)
    for line, (name, problem) in zip(lines, BAD_INPUTS.items(), strict=True):
        assert name in line and problem in line, line
    assert [p.name for p in out.iterdir()] == ["good.png"]


def test_max_pixels_flag_allows_large_images(tmp_path: Path) -> None:
    source = _image(tmp_path / "a.png", (30, 30))
    args = ["upscale", str(source), "-o", str(tmp_path / "out"), "--model", "bicubic", "--quiet"]
    assert main([*args, "--max-pixels", "800"]) == 1
    assert main([*args, "--max-pixels", "900"]) == 0


def test_unreadable_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    source = _image(tmp_path / "secret.png")
    real_open = imagefile.Image.open

    def denied(path, *args, **kwargs):
        if Path(path).name == "secret.png":
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(imagefile.Image, "open", denied)
    assert (
        main(["upscale", str(source), "-o", str(tmp_path / "o"), "--model", "bicubic", "--quiet"])
        == 1
    )
    assert "secret.png: cannot read (Permission denied)" in capsys.readouterr().err
    assert not (tmp_path / "o").exists() or list((tmp_path / "o").iterdir()) == []


def test_unwritable_output_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    source = _image(tmp_path / "a.png")
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    assert (
        main(["upscale", str(source), "-o", str(blocker / "out"), "--model", "bicubic", "--quiet"])
        == 1
    )
    assert "cannot create folder" in capsys.readouterr().err

    def fail_midway(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(imagefile.Image.Image, "save", fail_midway)
    out = tmp_path / "out"
    assert _upscale(source, out) == 1
    assert "a.png: cannot write (No space left on device)" in capsys.readouterr().err
    assert not out.exists()  # no partial file, and no empty folder


def test_wrong_model_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    source = _image(tmp_path / "a.png")
    model = tmp_path / "model.safetensors"
    model.write_bytes(b"garbage")
    assert (
        main(["upscale", str(source), "-o", str(tmp_path / "o"), "--model", str(model), "--quiet"])
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "model.safetensors" in err and "\n" not in err
    assert not (tmp_path / "o").exists()


def test_acceptance_bird_becomes_1152_square(data_dir: Path, tmp_path: Path) -> None:
    assert _upscale(data_dir / "Set5" / "bird.png", tmp_path / "out") == 0
    with Image.open(tmp_path / "out" / "bird.png") as image:
        assert image.format == "PNG" and image.size == (1152, 1152)


def test_upscale_under_torchrun_processes_each_file_once(tmp_path: Path) -> None:
    for index in range(5):
        _image(tmp_path / "in" / f"{index}.png", (16, 12))
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
               "--standalone", "-m", "vivid", "upscale", str(tmp_path / "in"),
               "-o", str(tmp_path / "out"), "--model", "bicubic", "--quiet"]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stderr
    counts = sorted(int(line.split()[1]) for line in result.stdout.splitlines()
                    if line.startswith("upscaled"))
    assert counts == [2, 3]  # ranks took disjoint shares
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"{i}.png" for i in range(5)]


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "CMYK", "RGB16", "L16"])
def test_every_mode_survives_an_upscale(tmp_path: Path, mode: str) -> None:
    import png

    rng = np.random.default_rng(3)
    if mode.endswith("16"):
        channels = 3 if mode == "RGB16" else 1
        pixels = rng.integers(0, 65536, (10, 12 * channels), dtype=np.int64).astype(np.uint16)
        source = tmp_path / "in.png"
        with open(source, "wb") as file:
            png.Writer(12, 10, bitdepth=16, greyscale=channels == 1).write(file, pixels)
    else:
        source = tmp_path / ("in.jpg" if mode == "CMYK" else "in.png")
        Image.fromarray(rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)).convert(mode).save(
            source)
    assert _upscale(source, tmp_path / "out") == 0
    written = tmp_path / "out" / source.name
    if mode.endswith("16"):
        _, _, _, info = png.Reader(filename=str(written)).read()
        assert info["bitdepth"] == 16 and info["greyscale"] == (mode == "L16")
        assert (info["size"]) == (48, 40)
        return
    expected = {"P": "RGB"}.get(mode, mode)
    with Image.open(written) as image:
        assert image.mode == expected and image.size == (48, 40)
