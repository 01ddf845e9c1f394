"""Farneback motion (vivid.motion) and the recurrent generator that uses it instead of a flow
network (``motion = "farneback"``): the flow undoes a pan, the recurrence streams as it trains,
and weights without flow-network tensors load with Farneback motion."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from video_fixtures import pan, smooth_image
from vivid.inference.recurrent import VideoUpscaler
from vivid.motion import frame_flow
from vivid.nets.frvsr import RecurrentGenerator
from vivid.nets.srresnet import GeneratorConfig
from vivid.nets.warping import warp
from vivid.nets.weights_file import load_model, save_generator

pytest.importorskip("cv2")
TINY = GeneratorConfig(scale=4, blocks=1, channels=8)


@pytest.mark.parametrize("step", [1, 3])
def test_farneback_flow_finds_a_pan_and_warps_the_previous_frame_onto_the_current(
        step: int) -> None:
    frames = pan(smooth_image((64, 96), seed=5), frames=2, size=48, step=step)
    flow = frame_flow(frames[1:], frames[:1])  # content moves `step` px left per frame
    inner = (..., slice(8, -8), slice(8, -8))
    assert flow.shape == (1, 2, 48, 48) and flow.dtype == torch.float32
    assert abs(flow[0, 0][inner[1:]].mean().item() - step) < 0.1
    assert abs(flow[0, 1][inner[1:]].mean().item()) < 0.1
    warped = warp(frames[:1], flow)
    unmoved = (frames[1:] - frames[:1])[inner].abs().mean()
    assert (warped - frames[1:])[inner].abs().mean() < 0.1 * unmoved


def _farneback_upscaler(tile: int | None = None) -> VideoUpscaler:
    torch.manual_seed(0)
    network = RecurrentGenerator(TINY, motion="farneback")
    torch.nn.init.normal_(network.state_head.weight, std=0.05)  # make the state matter
    return VideoUpscaler(network, "tiny", torch.device("cpu"), torch.float32, tile=tile,
                         tile_overlap=16)


def test_a_farneback_generator_has_no_flow_network_and_streams_as_it_trains() -> None:
    upscaler = _farneback_upscaler()
    assert upscaler.network.flow is None
    assert not any(k.startswith("flow.") for k in upscaler.network.state_dict())
    clip = pan(smooth_image((64, 96), seed=3), frames=5, size=32, step=2)
    with torch.no_grad():
        expected, flows = upscaler.network(clip[None])
    stream = upscaler.stream()
    got = torch.cat([stream(clip[:2]), stream(clip[2:])])
    assert torch.allclose(got, expected[0].clamp(0, 1), atol=1e-5)
    assert flows.shape == (1, 4, 2, 32, 32)
    assert abs(flows[..., 8:-8, 8:-8][:, :, 0].mean().item() - 2) < 0.2
    tiled = _farneback_upscaler(tile=24).stream()(clip)
    assert (tiled - got).abs().max() <= 1 / 255  # tiles share the whole-frame motion


def test_farneback_weights_round_trip_with_their_motion(tmp_path: Path) -> None:
    network = RecurrentGenerator(TINY, motion="farneback")
    save_generator(tmp_path / "f.safetensors", network, stage="video")
    loaded, metadata = load_model(tmp_path / "f.safetensors")
    assert isinstance(loaded, RecurrentGenerator)
    assert loaded.motion == metadata["motion"] == "farneback" and loaded.flow is None
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in network.state_dict().items())
    save_generator(tmp_path / "n.safetensors", RecurrentGenerator(TINY))
    assert load_model(tmp_path / "n.safetensors")[0].motion == "network"


def test_an_unknown_motion_is_refused() -> None:
    with pytest.raises(ValueError, match="motion 'raft'"):
        RecurrentGenerator(TINY, motion="raft")
