"""Video network version 5: version 3 run in both directions (``backward_features`` and
``future_head``), grown from version 3's weights."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from video_fixtures import pan, smooth_image
from vivid.errors import VividError
from vivid.inference.recurrent import VideoUpscaler
from vivid.nets.frvsr import RecurrentGenerator
from vivid.nets.srresnet import GeneratorConfig
from vivid.nets.weights_file import load_generator, save_generator
from vivid.training.config import load_config
from vivid.training.steps import build_video_generator

TINY = GeneratorConfig(scale=4, blocks=1, channels=8)


def _version_3(path: Path) -> RecurrentGenerator:
    torch.manual_seed(0)
    network = RecurrentGenerator(TINY, motion="dis", version=3)
    torch.nn.init.normal_(network.state_head.weight, std=0.05)
    assert network.hidden_head is not None
    torch.nn.init.normal_(network.hidden_head.weight, std=0.05)
    save_generator(path, network, stage="video")
    return network.eval()


def _grown(init: Path) -> RecurrentGenerator:
    overrides = ["run.stage=\"video\"", "model.blocks=1", "model.channels=8",
                 "model.motion=\"dis\"", "loss.warp_weight=0", f"run.init=\"{init}\"",
                 "model.frvsr_version=5"]
    return build_video_generator(load_config(None, overrides))


def test_version_5_grows_from_version_3_and_starts_as_it(tmp_path: Path) -> None:
    old = _version_3(tmp_path / "v3.safetensors")
    new = _grown(tmp_path / "v3.safetensors").eval()
    assert new.version == 5 and new.future_head is not None and not new.future_head.weight.any()
    clip = pan(smooth_image((64, 96), seed=3), frames=4, size=32, step=2)[None]
    with torch.no_grad():
        torch.testing.assert_close(new(clip)[0], old(clip)[0], atol=1e-6, rtol=0)


def test_later_frames_reach_earlier_ones_through_the_backward_features(tmp_path: Path) -> None:
    old = _version_3(tmp_path / "v3.safetensors")
    new = _grown(tmp_path / "v3.safetensors").eval()
    torch.nn.init.normal_(new.future_head.weight, std=0.05)
    clip = pan(smooth_image((64, 96), seed=3), frames=4, size=32, step=2)[None]
    changed = clip.clone()
    changed[:, 3] = changed[:, 3].flip(-1)  # only the last frame differs
    with torch.no_grad():
        assert torch.allclose(old(changed)[0][:, 0], old(clip)[0][:, 0])  # forward only
        assert not torch.allclose(new(changed)[0][:, 0], new(clip)[0][:, 0], atol=1e-4)
        features = new.backward_features(clip)
    assert len(features) == 4 and features[0].shape == (1, 8, 32, 32)
    new.train()
    new(clip)[0].mean().backward()
    assert new.future_head.weight.grad.abs().sum() > 0
    assert any(p is new.future_head.weight for p in new.recurrence_parameters())


def test_version_5_weights_round_trip_and_the_streaming_engines_refuse_them(
        tmp_path: Path) -> None:
    _version_3(tmp_path / "v3.safetensors")
    new = _grown(tmp_path / "v3.safetensors")
    torch.nn.init.normal_(new.future_head.weight, std=0.05)
    path = tmp_path / "v5.safetensors"
    save_generator(path, new, stage="video")
    loaded = load_generator(path)
    assert loaded.version == 5 and torch.equal(loaded.future_head.weight, new.future_head.weight)
    with pytest.raises(VividError, match=r"v5\.safetensors: a version 5 \(bidirectional\)"):
        VideoUpscaler.from_pretrained(str(path), device="cpu", precision="fp32", runtime="torch")


def test_the_diagnosis_runs_version_5_whole_and_without_its_backward_features(
        tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from video_diagnose import forward_methods

    from vivid.video.evaluate import collect_outputs

    old = _version_3(tmp_path / "v3.safetensors")
    new = _grown(tmp_path / "v3.safetensors").eval()
    torch.nn.init.normal_(new.future_head.weight, std=0.05)
    clip = pan(smooth_image((64, 96), seed=3), frames=4, size=32, step=2)
    listed = forward_methods(new, "v5")
    assert list(listed) == ["v5", "v5/no-future"]
    with torch.no_grad():
        for label, network in (("v5", new), ("v5/no-future", old)):
            got = torch.cat(collect_outputs(listed[label](), list(clip.unsqueeze(1)), batch=3))
            expected = network(clip[None])[0][0].clamp(0, 1)
            torch.testing.assert_close(got, expected, atol=0.6 / 255, rtol=0)  # 8-bit rounding
