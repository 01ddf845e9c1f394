"""What new users hit (issue 19): reruns, tiny images, animations, output file names,
duplicate inputs, and messages that name the file and the cause."""

from __future__ import annotations

import os
import re
import signal
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vivid.cli.main import main
from vivid.errors import VividError
from vivid.images import imagefile
from vivid.inference import tiling
from vivid.inference.upscaler import Upscaler
from vivid.nets.srresnet import Generator, GeneratorConfig
from vivid.nets.weights_file import save_generator

README = Path(__file__).resolve().parents[1] / "README.md"


def _image(path: Path, size: tuple[int, int] = (20, 16), seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


def _upscale(*args: str) -> int:
    return main(["upscale", *args, "--model", "bicubic", "--quiet"])


def _hidden_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*")]


# 1. Reruns


def test_rerun_skips_done_outputs_and_succeeds(tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    a, b = _image(tmp_path / "a.png"), _image(tmp_path / "b.png", seed=1)
    out = tmp_path / "out"
    assert _upscale(str(a), str(b), "-o", str(out)) == 0
    (out / "b.png").unlink()  # as if the first run had been interrupted
    (out / "a.png").write_bytes(b"done before")
    assert _upscale(str(a), str(b), "-o", str(out)) == 0
    printed = capsys.readouterr()
    assert "upscaled 1 of 2 images" in printed.out and "1 skipped" in printed.out
    assert "failed" not in printed.out and printed.err == ""
    assert (out / "a.png").read_bytes() == b"done before" and (out / "b.png").is_file()
    assert _upscale(str(a), str(b), "-o", str(out), "--overwrite") == 0
    assert "upscaled 2 of 2 images" in capsys.readouterr().out
    with Image.open(out / "a.png") as image:
        assert image.size == (80, 64)


# 2. Tiny images


@pytest.mark.parametrize("model", ["srgan-x4", "srresnet-x4"])
def test_tiny_images_keep_their_colours(model: str) -> None:
    upscaler = Upscaler.from_pretrained(model, device="cpu")
    rng = np.random.default_rng(0)
    for height, width in ((1, 1), (1, 64), (64, 1), (2, 3)):
        colour = torch.tensor(rng.uniform(0.05, 0.95, 3), dtype=torch.float32)
        lr_image = colour.view(1, 3, 1, 1).expand(1, 3, height, width).contiguous()
        sr_image = upscaler(lr_image)
        assert sr_image.shape == (1, 3, 4 * height, 4 * width)
        error = (sr_image.mean((0, 2, 3)) - colour).abs().max().item()
        assert error < 0.06, (height, width, colour, sr_image.mean((0, 2, 3)))


def test_pad_small_crops_back_exactly() -> None:
    seen = []

    def model(lr_tile: torch.Tensor) -> torch.Tensor:
        seen.append(tuple(lr_tile.shape[-2:]))
        return lr_tile.repeat_interleave(2, -2).repeat_interleave(2, -1)

    lr_image = torch.rand(1, 3, 2, 30)
    sr_image = tiling.pad_small(model, 2)(lr_image)
    assert seen == [(24, 30)]
    assert torch.equal(sr_image, model(lr_image))


# 3. Animations and multi-page files


def test_animations_and_multipage_files_are_refused(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture) -> None:
    frames = [Image.new("RGB", (8, 6), colour) for colour in ("red", "green", "blue")]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:],
                   duration=[100, 200, 300], loop=0)
    frames[0].save(tmp_path / "pages.tif", save_all=True, append_images=frames[1:2])
    frames[0].save(tmp_path / "still.gif")
    out = tmp_path / "out"
    assert _upscale(*(str(tmp_path / n) for n in ("anim.gif", "pages.tif", "still.gif")),
                    "-o", str(out)) == 1
    errors = capsys.readouterr().err.splitlines()
    assert len(errors) == 2
    assert "anim.gif: animated GIF with 3 frames" in errors[0]
    assert "pages.tif: multi-page TIFF with 2 frames" in errors[1]
    assert [p.name for p in out.iterdir()] == ["still.png"]


# 4. An output file name with an image suffix


@pytest.mark.parametrize(("name", "fmt"), [("out.tif", "TIFF"), ("x4.tiff", "TIFF"),
                                           ("x4.bmp", "BMP"), ("x4.webp", "WEBP")])
def test_single_output_file_has_the_suffix_format(tmp_path: Path, name: str, fmt: str) -> None:
    source = _image(tmp_path / "one.png")
    assert _upscale(str(source), "-o", str(tmp_path / name)) == 0
    assert (tmp_path / name).is_file()
    with Image.open(tmp_path / name) as image:
        assert image.format == fmt and image.size == (80, 64)
    assert _hidden_files(tmp_path) == []


def test_format_option_writes_tiff_into_a_folder(tmp_path: Path) -> None:
    source = _image(tmp_path / "one.png")
    assert _upscale(str(source), "-o", str(tmp_path / "out"), "--format", "tif") == 0
    with Image.open(tmp_path / "out" / "one.tif") as image:
        assert image.format == "TIFF"


# 5. Duplicate inputs


def test_the_same_file_twice_is_processed_once(tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    source = _image(tmp_path / "a.png")
    same = tmp_path / "." / "a.png"
    assert _upscale(str(source), str(same), str(tmp_path / "*.png"), "-o",
                    str(tmp_path / "out")) == 0
    assert "upscaled 1 of 1 images" in capsys.readouterr().out


def test_same_names_in_different_folders_keep_their_folders(tmp_path: Path) -> None:
    _image(tmp_path / "in" / "day1" / "photo.png")
    _image(tmp_path / "in" / "day2" / "photo.png", seed=1)
    out = tmp_path / "out"
    assert _upscale(str(tmp_path / "in" / "**" / "*.png"), "--recursive", "-o", str(out)) == 0
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*.png"))
    assert written == ["day1/photo.png", "day2/photo.png"]


def test_a_real_collision_fails_only_that_file(tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    first = _image(tmp_path / "day1" / "photo.png")
    second = _image(tmp_path / "day2" / "photo.png", seed=1)
    other = _image(tmp_path / "other.png")
    out = tmp_path / "out"
    assert _upscale(str(first), str(second), str(other), "-o", str(out)) == 1
    printed = capsys.readouterr()
    assert "upscaled 2 of 3 images" in printed.out and "1 failed" in printed.out
    [error] = printed.err.splitlines()
    assert "day2/photo.png: its output" in error and "day1/photo.png" in error
    assert sorted(p.name for p in out.iterdir()) == ["other.png", "photo.png"]


# 7. Messages


def _out_of_memory(*args: object, **kwargs: object) -> torch.Tensor:
    raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


def test_out_of_memory_that_tiles_cannot_help_names_file_and_cause(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr("vivid.inference.upscaler.imresize", _out_of_memory)
    source = _image(tmp_path / "a.png", (40, 40))
    assert _upscale(str(source), "-o", str(tmp_path / "out")) == 1
    [error] = capsys.readouterr().err.splitlines()
    assert re.search(r"a\.png: out of memory even with \d+-pixel tiles one at a time", error)
    assert "model itself does not fit" in error


def test_out_of_memory_for_the_result_says_tiles_cannot_help(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tiling.torch, "zeros", _out_of_memory)
    with pytest.raises(VividError, match=r"out of memory for the 8000x4000 result \(0\.4 GiB.*"
                                         r"smaller tiles cannot reduce"):
        tiling.upscale_tiled(lambda x: x, torch.empty(1, 3, 1000, 2000), 4, 384, 16)


def test_nan_weights_are_named(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    generator = Generator(GeneratorConfig(scale=2, blocks=1, channels=8))
    with torch.no_grad():
        generator.head.weight[0, 0, 0, 0] = float("nan")
    save_generator(tmp_path / "nan.safetensors", generator)
    source = _image(tmp_path / "a.png")
    assert main(["upscale", str(source), "-o", str(tmp_path / "out"), "--model",
                 str(tmp_path / "nan.safetensors"), "--quiet"]) == 2
    error = capsys.readouterr().err.strip()
    assert "nan.safetensors: 1 tensors hold NaN or infinite values (e.g. head.weight)" in error


def test_a_pickle_that_is_not_weights_says_what_is_accepted(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    torch.save({"model": torch.nn.Linear(2, 2)}, tmp_path / "module.pt")
    source = _image(tmp_path / "a.png")
    assert main(["upscale", str(source), "-o", str(tmp_path / "out"), "--model",
                 str(tmp_path / "module.pt"), "--quiet"]) == 2
    error = capsys.readouterr().err.strip()
    assert "module.pt: holds Python objects besides tensors" in error and ".safetensors" in error
    assert "\n" not in error and "succeed" not in error and "trust" not in error


def test_unwritable_output_folder_is_found_before_the_work(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    source = _image(tmp_path / "a.png")

    def denied(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")

    def not_now(*args: object, **kwargs: object) -> None:
        raise AssertionError("the image was read before the output folder was checked")

    monkeypatch.setattr("vivid.atomic.tempfile.mkstemp", denied)
    monkeypatch.setattr(imagefile, "read_image", not_now)
    assert _upscale(str(source), "-o", str(tmp_path / "out")) == 1
    assert "out: cannot write files here (Permission denied)" in capsys.readouterr().err


@pytest.fixture
def sigterm_restored():
    previous = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, previous)


def test_sigterm_mid_write_leaves_no_temporary_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture,
        sigterm_restored: None) -> None:
    source = _image(tmp_path / "a.png")
    real_save = Image.Image.save

    def terminated_midway(image: Image.Image, file: object, *args: object, **kwargs: object
                          ) -> None:
        real_save(image, file, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)  # handled before the next Python line runs

    monkeypatch.setattr(Image.Image, "save", terminated_midway)
    out = tmp_path / "out"
    assert _upscale(str(source), "-o", str(out)) == 128 + signal.SIGTERM
    assert "terminated" in capsys.readouterr().err
    assert not out.exists()  # no temporary file, and the folder the run made is gone


def test_onnx_runtime_prints_no_export_warnings(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime", reason="needs the 'onnx' extra")
    weights = tmp_path / "tiny.safetensors"
    save_generator(weights, Generator(GeneratorConfig(scale=2, blocks=1, channels=8)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Upscaler.from_pretrained(str(weights), runtime="onnx")
    assert [str(w.message) for w in caught] == []


# 8. Install hints match the README


def test_missing_pyav_hint_is_the_readme_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from vivid.video.codec import require_av

    monkeypatch.setitem(sys.modules, "av", None)  # import av -> ImportError
    with pytest.raises(VividError) as raised:
        require_av()
    command = str(raised.value).split("run ")[1].split(" in the")[0]
    assert command == 'pip install -e ".[video]"' and command in README.read_text()
