"""Video models on OpenVINO (``inference.frame_engines``): the exported graphs stream a clip as
torch does (first frame and carried state, tiled and untiled, versions 1 to 3, with and
without blend), the carried state is mixed in fp32, and ``auto`` measures once and falls
back to torch. Run the OpenVINO ones in their own pytest run (pyproject.toml, ``test``)."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from video_fixtures import pan, smooth_image
from vivid.cli.main import main
from vivid.device import CPU, resolve_precision
from vivid.errors import VividError
from vivid.inference import frame_engines, runtimes
from vivid.inference.loader import load_upscaler
from vivid.inference.openvino_runtime import openvino_available
from vivid.inference.recurrent import VideoUpscaler
from vivid.nets.frvsr import RecurrentGenerator
from vivid.nets.srresnet import GeneratorConfig
from vivid.nets.weights_file import save_generator

pytest.importorskip("cv2")  # Farneback motion
TINY = GeneratorConfig(scale=4, blocks=1, channels=8)
LEVEL = 1 / 255
needs_openvino = pytest.mark.skipif(
    not openvino_available(), reason='needs the openvino extra (pip install -e ".[openvino]")')
needs_bf16 = pytest.mark.skipif(resolve_precision("auto", CPU) != torch.bfloat16,
                                reason="this CPU has no native bf16")


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A cache folder of this module's own: no test reads or writes the user's."""
    folder = tmp_path_factory.getbasetemp() / "vivid-video-cache"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("VIVID_CACHE_DIR", str(folder))
        yield folder


def _network(version: int = 2, blend: bool = True) -> RecurrentGenerator:
    """The same tiny network on every call, with a state that changes the output."""
    torch.manual_seed(0)
    network = RecurrentGenerator(TINY, blend=blend, motion="farneback", version=version)
    torch.nn.init.normal_(network.state_head.weight, std=0.05)
    if network.hidden_head is not None:
        torch.nn.init.normal_(network.hidden_head.weight, std=0.05)
    if network.blend is not None:
        torch.nn.init.normal_(network.blend[-1].weight, std=0.05)  # a weight per pixel
    return network.eval()


def _upscaler(runtime: str, dtype: torch.dtype = torch.float32, tile: int | None = None,
              network: RecurrentGenerator | None = None) -> VideoUpscaler:
    return VideoUpscaler(network or _network(), "tiny", CPU, dtype, tile=tile, tile_overlap=4,
                         runtime=runtime)


def _clip(frames: int = 4) -> torch.Tensor:
    return pan(smooth_image((48, 80), seed=3), frames=frames, size=28, step=2)


@needs_openvino
@pytest.mark.parametrize("tile", [None, 12], ids=["untiled", "tiled"])
@pytest.mark.parametrize("dtype", [torch.float32, pytest.param(torch.bfloat16, marks=needs_bf16)],
                         ids=["fp32", "bf16"])
@pytest.mark.parametrize("version", [2, 3])
def test_openvino_streams_a_clip_as_torch_does(tile: int | None, dtype: torch.dtype,
                                               version: int) -> None:
    clip = _clip()
    expected = _upscaler("torch", dtype, tile, _network(version)).stream()(clip)
    upscaler = _upscaler("openvino", dtype, tile, _network(version))
    assert upscaler.runtime == "openvino"
    assert upscaler.image_upscaler().describe().startswith("openvino ")
    ours = upscaler.stream()(clip)
    difference = (ours - expected).abs().amax((1, 2, 3))
    # Measured: 0 in fp32, at most 0.56 levels in bf16 (AMD EPYC, OpenVINO 2026.4).
    assert difference.max() <= 2 * LEVEL, difference / LEVEL
    assert torch.equal(upscaler.stream()(clip), ours)  # again, after the buffers were freed
    first_frames = _upscaler("torch", dtype, tile, _network(version)).image_upscaler()(clip)
    assert ((expected - first_frames)[1:].abs().amax((1, 2, 3)) > 10 * LEVEL).all()  # state


@needs_openvino
@pytest.mark.parametrize("tile", [None, 12], ids=["untiled", "tiled"])
@pytest.mark.parametrize(("version", "blend"), [(1, True), (2, False), (1, False), (3, True),
                                                (3, False)])
def test_every_version_with_and_without_blend_exports_and_matches(
        version: int, blend: bool, tile: int | None) -> None:
    clip = _clip(frames=3)
    expected = _upscaler("torch", tile=tile, network=_network(version, blend)).stream()(clip)
    upscaler = _upscaler("openvino", tile=tile, network=_network(version, blend))
    graph = upscaler.engine.graphs[True]
    hidden = version == 3  # the LR features are an output of both graphs
    # SR output (, blend logits) (, features)
    assert len(graph.compiled.outputs) == 1 + blend + hidden
    assert len(upscaler.engine.graphs[False].compiled.outputs) == 1 + hidden
    channels = graph.model.inputs[1].get_partial_shape()[1].get_length()
    assert channels == 3 * 16 + (4 if version >= 2 else 0) + (TINY.channels if hidden else 0)
    assert channels == _network(version).carried_channels
    torch.testing.assert_close(upscaler.stream()(clip), expected, atol=1e-4, rtol=0)


@needs_openvino
def test_the_carried_state_is_mixed_in_fp32_on_openvino_bf16() -> None:
    network = _network()
    torch.nn.init.zeros_(network.blend[-1].weight)
    torch.nn.init.constant_(network.blend[-1].bias, 30.0)  # weight 1: the output is the state
    upscaler = _upscaler("openvino", torch.bfloat16, network=network)
    carried = torch.rand(1, network.carried_channels, 20, 28) * 0.5 + 0.25
    warped = F.pixel_shuffle(carried[:, :48], 4)
    assert (warped - warped.bfloat16().float()).abs().max() > 1e-4  # bf16 would round it
    output, _ = upscaler.run_sr(torch.rand(1, 3, 20, 28), carried)
    torch.testing.assert_close(output, warped, atol=1e-6, rtol=0)


def test_auto_falls_back_to_torch_without_openvino(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import vivid.inference.openvino_runtime

    monkeypatch.setattr(vivid.inference.openvino_runtime, "openvino_available", lambda: False)
    monkeypatch.setitem(sys.modules, "openvino", None)  # 'import openvino' fails
    weights = tmp_path / "v.safetensors"
    save_generator(weights, _network(), stage="video")
    upscaler = load_upscaler(weights, device="cpu", precision="fp32")
    assert isinstance(upscaler, VideoUpscaler) and upscaler.runtime == "auto -> torch"
    assert upscaler.image_upscaler().describe() == "auto -> torch fp32"
    with pytest.raises(VividError, match=r"needs OpenVINO: run pip install"):
        load_upscaler(weights, device="cpu", runtime="openvino")
    with pytest.raises(VividError, match=r"v\.safetensors: a video model runs with --runtime "
                                         r"auto, torch, openvino, not onnx"):
        load_upscaler(weights, device="cpu", runtime="onnx")


def _fake_calibration(monkeypatch: pytest.MonkeyPatch, torch_s: float, openvino_s: float
                      ) -> list[str]:
    calls: list[str] = []

    def calibrate(network: RecurrentGenerator, precision: str) -> dict[str, float]:
        calls.append(precision)
        return {"torch": torch_s, "openvino": openvino_s}

    monkeypatch.setattr(frame_engines, "_calibrate", calibrate)
    return calls


@needs_openvino
def test_auto_measures_once_per_machine_and_architecture(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _fake_calibration(monkeypatch, torch_s=1.0, openvino_s=0.5)
    assert _upscaler("auto").runtime == "auto -> openvino"
    assert _upscaler("auto").runtime == "auto -> openvino"
    assert len(calls) == 1
    choices = json.loads((runtimes.cache_dir() / runtimes.CHOICE_FILE).read_text())
    key = next(k for k in choices if "video x4 1 blocks 8 channels version 2 blend" in k)
    assert runtimes.cpu_model() in key and choices[key]["seconds"]["openvino"] == 0.5
    _fake_calibration(monkeypatch, torch_s=1.0, openvino_s=0.97)  # within MARGIN: torch
    assert _upscaler("auto", network=_network(blend=False)).runtime == "auto -> torch"


@needs_openvino
def test_auto_calibration_really_runs_both_engines(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(runtimes, "CALIBRATION_SIZE", 24)
    network = _network(version=1)
    with caplog.at_level(logging.INFO, logger="vivid"):
        upscaler = _upscaler("auto", network=network)
    assert upscaler.runtime in ("auto -> torch", "auto -> openvino")
    assert "runtime: torch " in caplog.text
    assert network.state_head.weight.dtype == torch.float32  # calibration cast a copy


@needs_openvino
def test_openvino_failing_here_gives_torch_and_no_cached_choice(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("Exception from src/inference: unsupported")

    monkeypatch.setattr(frame_engines.OpenVinoFrames, "__init__", broken)
    network = _network(version=1, blend=False)
    with caplog.at_level(logging.WARNING, logger="vivid"):
        assert _upscaler("auto", network=network).runtime == "auto -> torch"
    assert "OpenVINO could not run the video x4 1 blocks 8 channels version 1" in caplog.text
    calls = _fake_calibration(monkeypatch, torch_s=1.0, openvino_s=2.0)
    _upscaler("auto", network=_network(version=1, blend=False))
    assert len(calls) == 1  # the failure was not kept as the choice


@needs_openvino
def test_vivid_upscale_runs_a_video_model_on_openvino(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    weights, frames = tmp_path / "v.safetensors", tmp_path / "frames"
    save_generator(weights, _network(), stage="video")
    frames.mkdir()
    for index, frame in enumerate(_clip(frames=3)):
        pixels = (frame.permute(1, 2, 0) * 255).round().byte().numpy()
        Image.fromarray(pixels).save(frames / f"{index:08d}.png")
    outputs = {}
    for runtime in ("torch", "openvino"):
        assert main(["upscale", str(frames), "-o", str(tmp_path / runtime), "--frames",
                     "--model", str(weights), "--runtime", runtime, "--precision", "fp32",
                     "--quiet"]) == 0
        assert f"({runtime} fp32)" in capsys.readouterr().out
        outputs[runtime] = [np.asarray(Image.open(p), dtype=np.int16)
                            for p in sorted((tmp_path / runtime / "frames").iterdir())]
    assert len(outputs["openvino"]) == 3
    for ours, reference in zip(outputs["openvino"], outputs["torch"], strict=True):
        assert np.abs(ours - reference).max() <= 1
