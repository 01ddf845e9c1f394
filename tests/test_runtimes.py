"""Runtimes (issue 17): OpenVINO matches torch, tiles and compiles as designed, and
``--runtime auto`` measures once per machine and model and falls back cleanly."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from PIL import Image

from vivid.cli.main import main
from vivid.errors import VividError
from vivid.images import imagefile
from vivid.inference import runtimes
from vivid.inference.loader import load_upscaler
from vivid.inference.openvino_runtime import openvino_available
from vivid.inference.recurrent import VideoUpscaler
from vivid.inference.upscaler import Upscaler
from vivid.nets.frvsr import RecurrentGenerator
from vivid.nets.inference_form import fold_batchnorm
from vivid.nets.srresnet import Generator, GeneratorConfig, receptive_radius
from vivid.nets.weights_file import bundled_models, save_generator

REPO = Path(__file__).resolve().parents[1]
TINY = GeneratorConfig(scale=4, blocks=2, channels=16)
needs_openvino = pytest.mark.skipif(
    not openvino_available(), reason='needs the openvino extra (pip install -e ".[openvino]")')


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A cache folder of this module's own: no test reads or writes the user's."""
    folder = tmp_path_factory.getbasetemp() / "vivid-cache"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VIVID_CACHE_DIR", str(folder))
        yield folder


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> str:
    torch.manual_seed(1)
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    save_generator(path, Generator(TINY).eval())
    return str(path)


def _fake_calibration(monkeypatch: pytest.MonkeyPatch, torch_s: float, openvino_s: float
                      ) -> list[str]:
    calls: list[str] = []

    def calibrate(name_or_path: str, precision: str) -> dict[str, float]:
        calls.append(name_or_path)
        return {"torch": torch_s, "openvino": openvino_s}

    monkeypatch.setattr(runtimes, "_calibrate", calibrate)
    return calls


@needs_openvino
def test_openvino_matches_torch_fp32_within_bf16_tolerance_on_a_real_image() -> None:
    if "srresnet-x4" not in bundled_models():
        pytest.skip("the bundled srresnet-x4 is not in this build")
    lr_image = imagefile.from_pil(Image.open(REPO / "examples" / "astronaut.png")).rgb
    reference = Upscaler.from_pretrained("srresnet-x4", device="cpu", precision="fp32",
                                         runtime="torch")(lr_image)
    upscaler = Upscaler.from_pretrained("srresnet-x4", device="cpu", runtime="openvino")
    assert upscaler.describe().startswith("openvino ")
    difference = (upscaler(lr_image) - reference).abs() * 255
    # Measured (AMD EPYC, bf16): mean 0.27, max 2.8 grey levels, as torch's own bf16 path.
    assert difference.mean() <= 0.5 and difference.max() <= 8, difference.mean()


@needs_openvino
def test_openvino_tiled_equals_untiled(tiny: str) -> None:
    overlap = 2 * receptive_radius(TINY)
    upscaler = Upscaler.from_pretrained(tiny, device="cpu", precision="fp32",
                                        runtime="openvino", tile=None)
    lr_image = torch.rand(1, 3, 45, 70)
    expected = upscaler(lr_image)
    upscaler.tile, upscaler.tile_overlap = 2 * overlap, overlap
    torch.testing.assert_close(upscaler(lr_image), expected, atol=1e-5, rtol=0)
    upscaler.tile = 0  # after the tiled image freed the buffers, a whole run allocates anew
    torch.testing.assert_close(upscaler(lr_image), expected, atol=0, rtol=0)


@needs_openvino
def test_openvino_converts_once_per_model_and_compiles_once_for_all_tile_shapes(
    tiny: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import openvino

    compiles = []
    compile_model = openvino.Core.compile_model
    monkeypatch.setattr(openvino.Core, "compile_model",
                        lambda self, *a, **k: compiles.append(1) or compile_model(self, *a, **k))
    Upscaler.from_pretrained(tiny, device="cpu", runtime="openvino")  # converted (if not yet)
    upscaler = Upscaler.from_pretrained(tiny, device="cpu", runtime="openvino", tile=40,
                                        tile_overlap=8)
    assert upscaler.network.convert_seconds == 0  # read from the cache
    for _ in range(2):  # two images, each in tiles of a few shapes
        upscaler(torch.rand(1, 3, 70, 90))
    assert len(compiles) == 2  # one per Upscaler, none per image or tile
    shapes = set(upscaler.network.shape_seconds)
    assert 1 < len(shapes) <= 4 and all(s[2] <= 56 and s[3] <= 56 for s in shapes)
    assert "compiled in" in upscaler.describe()


def test_auto_falls_back_to_torch_without_openvino(
    tiny: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    import vivid.inference.openvino_runtime

    monkeypatch.setattr(vivid.inference.openvino_runtime, "openvino_available", lambda: False)
    monkeypatch.setitem(sys.modules, "openvino", None)  # 'import openvino' fails
    upscaler = Upscaler.from_pretrained(tiny, device="cpu")
    assert upscaler.runtime == "auto -> torch"
    with pytest.raises(VividError, match=r"needs OpenVINO: run pip install") as raised:
        Upscaler.from_pretrained(tiny, device="cpu", runtime="openvino")
    command = str(raised.value).split("run ")[1].split(" in the")[0]
    assert command in (REPO / "README.md").read_text()  # the README's own install command
    source = REPO / "examples" / "astronaut.png"
    assert main(["upscale", str(source), "-o", str(tmp_path / "a.png"),
                 "--model", tiny, "--quiet", "--overwrite"]) == 0
    assert "(auto -> torch " in capsys.readouterr().out


@needs_openvino
def test_auto_measures_once_per_machine_and_model_and_keeps_the_choice(
    tiny: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtimes.forget_choice(tiny, "fp32")
    calls = _fake_calibration(monkeypatch, torch_s=1.0, openvino_s=0.5)
    assert Upscaler.from_pretrained(tiny, device="cpu", precision="fp32").runtime == \
        "auto -> openvino"
    assert Upscaler.from_pretrained(tiny, device="cpu", precision="fp32").runtime == \
        "auto -> openvino"
    assert len(calls) == 1
    choices = json.loads((runtimes.cache_dir() / runtimes.CHOICE_FILE).read_text())
    key = next(k for k in choices if "16 channels" in k and "precision fp32" in k)
    assert runtimes.cpu_model() in key and choices[key]["seconds"]["openvino"] == 0.5
    runtimes.forget_choice(tiny, "fp32")  # within MARGIN of torch: torch stays
    _fake_calibration(monkeypatch, torch_s=1.0, openvino_s=0.97)
    assert Upscaler.from_pretrained(tiny, device="cpu", precision="fp32").runtime == \
        "auto -> torch"


@needs_openvino
def test_auto_calibration_really_runs_both_runtimes(
    tiny: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(runtimes, "CALIBRATION_SIZE", 24)
    runtimes.forget_choice(tiny, "fp32")
    with caplog.at_level(logging.INFO, logger="vivid"):  # whatever an earlier -q left
        upscaler = Upscaler.from_pretrained(tiny, device="cpu", precision="fp32")
    assert upscaler.runtime in ("auto -> torch", "auto -> openvino")
    assert "runtime: torch " in caplog.text


@needs_openvino
def test_openvino_failing_here_gives_torch_with_a_warning_and_no_cached_choice(
    tiny: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import vivid.inference.openvino_runtime

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("Exception from src/inference: unsupported")

    runtimes.forget_choice(tiny, "fp32")
    monkeypatch.setattr(vivid.inference.openvino_runtime.OpenVinoNetwork, "__init__", broken)
    assert Upscaler.from_pretrained(tiny, device="cpu", precision="fp32").runtime == \
        "auto -> torch"
    assert "OpenVINO could not run" in capsys.readouterr().err
    calls = _fake_calibration(monkeypatch, torch_s=1.0, openvino_s=2.0)
    Upscaler.from_pretrained(tiny, device="cpu", precision="fp32")
    assert len(calls) == 1  # the failure was not kept as the choice


def test_an_onnx_file_runs_on_openvino_when_installed_else_onnx_runtime(
    tiny: str, tmp_path: Path
) -> None:
    pytest.importorskip("onnxruntime", reason="needs the 'onnx' extra")
    from vivid.inference.onnx_runtime import export_onnx

    export_onnx(tiny, tmp_path / "t.onnx")
    upscaler = Upscaler.from_pretrained(str(tmp_path / "t.onnx"), device="cpu",
                                        precision="fp32")
    assert upscaler.runtime == f"auto -> {'openvino' if openvino_available() else 'onnx'}"
    expected = Upscaler.from_pretrained(tiny, device="cpu", precision="fp32", runtime="torch")
    lr_image = torch.rand(1, 3, 20, 30)
    torch.testing.assert_close(upscaler(lr_image), expected(lr_image), atol=1e-4, rtol=0)


def test_video_models_take_their_runtime_and_refuse_onnx(tmp_path: Path) -> None:
    """(More in tests/test_video_runtimes.py.)"""
    save_generator(tmp_path / "v.safetensors", RecurrentGenerator(TINY), stage="video")
    upscaler = load_upscaler(tmp_path / "v.safetensors", device="cpu", precision="fp32",
                             runtime="torch")
    assert isinstance(upscaler, VideoUpscaler)
    assert upscaler.image_upscaler().describe() == "torch fp32"
    with pytest.raises(VividError, match="a video model runs with --runtime auto, torch, "):
        load_upscaler(tmp_path / "v.safetensors", device="cpu", runtime="onnx")


def test_torch_bf16_weights_cast_once_give_the_autocast_result() -> None:
    torch.manual_seed(0)
    generator = Generator(GeneratorConfig(blocks=2)).eval()
    network = fold_batchnorm(generator).to(torch.bfloat16)
    network.subpixel_tail = True
    upscaler = Upscaler(network, 4, "g", torch.device("cpu"), torch.bfloat16, tile=0)
    reference = fold_batchnorm(generator)
    reference.subpixel_tail = True
    lr_image = torch.rand(1, 3, 32, 40)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        expected = reference(lr_image).float().clamp(0, 1)
    assert (upscaler(lr_image) - expected).abs().max() <= 1 / 255


def test_summary_line_names_the_runtime_and_precision(
    tiny: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = REPO / "examples" / "astronaut.png"
    assert main(["upscale", str(source), "-o", str(tmp_path / "a.png"), "--model", tiny,
                 "--runtime", "torch", "--precision", "fp32", "--quiet"]) == 0
    assert f"x4 with {tiny} (torch fp32) in " in capsys.readouterr().out
