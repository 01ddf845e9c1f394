from __future__ import annotations

import json
import os
import pickle
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from generator_fixtures import (
    check_onnx_export_matches_torch,
    light_trained_like,
    srresnet_trained_like,
)
from vivid.errors import VividError
from vivid.inference.upscaler import Upscaler
from vivid.nets.srresnet import GeneratorConfig
from vivid.nets.weights_file import load_model, save_generator
from vivid.training.checkpoints import data_name


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    state_b = b.state_dict()
    return all(
        torch.equal(v, state_b[k]) for k, v in a.state_dict().items() if v.is_floating_point()
    )


def test_safetensors_round_trip_keeps_weights_and_metadata(tmp_path: Path) -> None:
    generator = srresnet_trained_like()
    path = tmp_path / "g.safetensors"
    save_generator(
        path,
        generator,
        stage="srresnet",
        data="T91+BSD200",
        iterations=123,
        metrics={"Set5": {"psnr": 30.1}},
    )
    loaded, metadata = load_model(path)
    assert _same_weights(generator, loaded)
    assert not loaded.training
    assert metadata["stage"] == "srresnet" and metadata["iterations"] == 123
    assert metadata["metrics"] == {"Set5": {"psnr": 30.1}}
    with safe_open(str(path), framework="pt") as file:
        header = json.loads(file.metadata()["vivid"])
    for key in (
        "architecture",
        "scale",
        "blocks",
        "channels",
        "stage",
        "data",
        "iterations",
        "metrics",
        "vivid_version",
    ):
        assert key in header
    assert (header["scale"], header["blocks"], header["channels"]) == (4, 2, 8)


@pytest.mark.parametrize("wrapper", [None, "params_ema", "params", "state_dict"])
def test_plain_state_dicts_are_unwrapped_and_prefixes_stripped(
    tmp_path: Path, wrapper: str | None
) -> None:
    generator = srresnet_trained_like(GeneratorConfig(scale=2, blocks=3, channels=8))
    state = {f"module.{k}": v for k, v in generator.state_dict().items()}
    path = tmp_path / "g.pth"
    torch.save(state if wrapper is None else {wrapper: state, "iter": 5}, path)
    loaded, metadata = load_model(path)
    assert loaded.config == GeneratorConfig(scale=2, blocks=3, channels=8)
    assert _same_weights(generator, loaded) and metadata == {}


class _Exploit:
    def __reduce__(self):  # would create a file if ever unpickled
        return (os.system, ("touch pwned",))


def test_pickled_code_is_never_executed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pth"
    torch.save({"head.weight": torch.zeros(1), "payload": _Exploit()}, path)
    with pytest.raises(VividError, match=r"evil\.pth"):
        load_model(path)
    assert not (tmp_path / "pwned").exists()
    raw = tmp_path / "raw.pkl"
    raw.write_bytes(pickle.dumps(_Exploit()))
    with pytest.raises(VividError, match=r"raw\.pkl"):
        load_model(raw)
    assert not (tmp_path / "pwned").exists()


def test_truncated_and_corrupt_files_give_one_clear_error(tmp_path: Path) -> None:
    good = tmp_path / "g.safetensors"
    save_generator(good, srresnet_trained_like())
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00\x01not a safetensors file")
    broken_torch = tmp_path / "broken.pth"
    torch.save(srresnet_trained_like().state_dict(), broken_torch)
    broken_torch.write_bytes(broken_torch.read_bytes()[:300])
    for path in (truncated, garbage, broken_torch):
        with pytest.raises(VividError) as error:
            load_model(path)
        message = str(error.value)
        assert path.name in message and "\n" not in message


def test_mismatched_weights_name_what_does_not_match(tmp_path: Path) -> None:
    state = srresnet_trained_like().state_dict()
    del state["body.1.conv2.bias"]
    path = tmp_path / "missing.pth"
    torch.save(state, path)
    with pytest.raises(VividError, match=r"missing.pth.*missing 1 tensors.*body\.1\.conv2\.bias"):
        load_model(path)
    state = srresnet_trained_like().state_dict()
    state["tail.weight"] = torch.zeros(3, 8, 5, 5)
    path = tmp_path / "shape.pth"
    torch.save(state, path)
    with pytest.raises(VividError, match=r"shape.pth.*tail\.weight has shape \(3, 8, 5, 5\)"):
        load_model(path)
    path = tmp_path / "other.pth"
    torch.save({"conv_first.weight": torch.zeros(1)}, path)
    with pytest.raises(VividError, match=r"other.pth: not a vivid SRResNet"):
        load_model(path)


def test_unknown_model_name_lists_what_is_bundled() -> None:
    with pytest.raises(VividError, match="no-such-model: no such model file or bundled model"):
        load_model("no-such-model")


def test_upscaler_from_weights_file_matches_the_generator(tmp_path: Path) -> None:
    generator = srresnet_trained_like()
    path = tmp_path / "g.safetensors"
    save_generator(path, generator)
    upscaler = Upscaler.from_pretrained(str(path), device="cpu", precision="fp32", tile=None)
    lr_image = torch.rand(2, 3, 24, 26)  # not below tiling.MIN_SIDE: no padding
    with torch.no_grad():
        expected = generator(lr_image).clamp(0, 1)
    assert torch.allclose(upscaler(lr_image), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("make", [srresnet_trained_like, light_trained_like],
                         ids=["srresnet", "light"])
def test_onnx_export_matches_torch_with_dynamic_shapes(
        tmp_path: Path, make: Callable[[], torch.nn.Module]) -> None:
    pytest.importorskip("onnxruntime", reason="needs the 'onnx' extra")
    from vivid.inference.onnx_runtime import OnnxNetwork

    check_onnx_export_matches_torch(tmp_path, make())
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"nonsense")
    with pytest.raises(VividError, match=r"broken\.onnx: not a readable ONNX model"):
        OnnxNetwork(broken)


@pytest.mark.parametrize(("folder", "name"), [
    ("../shared/data/T91", "T91"),
    ("../shared/data/VideoClips", "VideoClips"),
    ("../shared/data/Domains/urban/train", "Domains/urban"),
    ("data/text/train", "text"),
    ("/somewhere/frames", "frames"),
])
def test_weights_metadata_names_training_folders_so_their_terms_can_be_told(
        folder: str, name: str) -> None:
    """A Domains folder is named with its domain (not 'train'): the licence depends on it."""
    assert data_name(folder) == name


def test_shipped_weights_name_the_terms_of_their_training_data() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from ship_weights import IMAGE_TERMS, terms

    def config(*folders: str) -> dict:
        return {"data": {"train": list(folders), "videos": []}}

    assert terms(config("../shared/data/T91", "../shared/data/BSD200")) == IMAGE_TERMS
    for folder in ("../shared/data/Domains/faces/train", "../shared/data/Domains"):
        assert "not commercial" in terms(config("../shared/data/T91", folder)), folder
    video = {"data": {"train": ["../shared/data/T91"], "videos": ["../shared/data/VideoClips"]}}
    assert "CC BY-NC 4.0, S-Lab 1.0" in terms(video)


def test_a_foreign_parametrization_is_a_one_line_error(tmp_path: Path) -> None:
    """PyTorch's weight norm stores its own parametrization: vivid names the file, no
    traceback from deep inside."""
    conv = torch.nn.utils.parametrizations.weight_norm(torch.nn.Conv2d(3, 8, 3))
    path = tmp_path / "normed.pt"
    torch.save({f"head.{k}": v for k, v in conv.state_dict().items()}, path)
    with pytest.raises(VividError, match=r"normed\.pt: head\.weight has a parametrization "
                                         r"vivid does not know") as caught:
        load_model(path)
    assert "\n" not in str(caught.value)
