"""Stage video-flow: pairs with known motion, and a flow network that learns from them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import load_file

from video_fixtures import smooth_image
from vivid.errors import VividError
from vivid.nets.frvsr import RecurrentGenerator
from vivid.nets.srresnet import GeneratorConfig
from vivid.nets.warping import warp
from vivid.nets.weights_file import save_generator
from vivid.training.config import load_config
from vivid.training.flow_pairs import FlowPairs, affine_pair, flow_sample, paste_mover
from vivid.training.flow_steps import end_point_error, flow_step
from vivid.training.steps import Nets, Optimizers, StepContext

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("seed", range(4))
def test_the_true_flow_warps_the_previous_frame_onto_the_current(seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    image = smooth_image((160, 160), seed=seed)[0]
    frames, flow = affine_pair(image, 96, generator)
    assert flow.abs().max() > 1  # it moved
    warped = warp(frames[1:2], flow[None])
    inner = (slice(None), slice(None), slice(8, -8), slice(8, -8))
    error = (warped - frames[0:1])[inner].abs().mean()
    assert error < 0.1 * (frames[1:2] - frames[0:1])[inner].abs().mean()


def test_a_moving_patch_carries_its_own_flow() -> None:
    generator = torch.Generator().manual_seed(3)
    frames = torch.zeros(2, 3, 64, 64)
    patch = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(0))
    moved, flow = paste_mover(frames, torch.zeros(2, 64, 64), patch, generator)
    inside = flow.abs().sum(0) > 0
    assert inside.sum() == 16 * 16
    velocity = -flow[:, inside][:, 0]
    rows, columns = torch.nonzero(inside, as_tuple=True)
    top, left = int(rows.min()), int(columns.min())
    assert torch.equal(moved[0, :, top:top + 16, left:left + 16], patch)
    previous = (top - int(velocity[1]), left - int(velocity[0]))
    assert torch.equal(moved[1, :, previous[0]:previous[0] + 16, previous[1]:previous[1] + 16],
                       patch)


@pytest.mark.parametrize("seed", range(3))
def test_lr_flow_warps_the_previous_lr_frame_onto_the_current(seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    stills = [(smooth_image((260, 260), seed=7)[0] * 255).round().to(torch.uint8)]
    lr_pair, lr_flow = flow_sample(stills, 128, 4, "bd", generator)
    assert lr_pair.shape == (2, 3, 32, 32) and lr_flow.shape == (2, 32, 32)
    lr_pair = lr_pair.float() / 255
    inner = (slice(None), slice(None), slice(5, -5), slice(5, -5))
    warped = warp(lr_pair[1:2], lr_flow[None])
    error = (warped - lr_pair[0:1])[inner].abs().mean()
    assert error < 0.3 * (lr_pair[1:2] - lr_pair[0:1])[inner].abs().mean()


def test_flow_pairs_batches_are_a_function_of_seed_and_iteration(tmp_path: Path) -> None:
    for index in range(2):
        pixels = smooth_image((120, 120), seed=index)[0].permute(1, 2, 0).numpy() * 255
        Image.fromarray(pixels.round().astype(np.uint8)).save(tmp_path / f"{index}.png")
    pairs = FlowPairs.from_folders([tmp_path], ["1.png"], 4, 32, "bd")
    assert len(pairs.stills) == 1
    a, b = pairs.batch(1, 7, 3), pairs.batch(1, 7, 3)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert a[0].shape == (3, 2, 3, 8, 8) and a[1].shape == (3, 2, 8, 8)
    assert not torch.equal(a[1], pairs.batch(1, 8, 3)[1])
    with pytest.raises(VividError, match="at least"):
        FlowPairs.from_folders([tmp_path], [], 4, 256, "bd")


def _textures(folder: Path, count: int, size: int) -> Path:
    """Random stills with texture at ~4 HR pixels (still visible after the BD blur)."""
    folder.mkdir()
    for index in range(count):
        coarse = torch.rand(1, 3, size // 4, size // 4,
                            generator=torch.Generator().manual_seed(index))
        texture = F.interpolate(coarse, size=(size, size), mode="bicubic").clamp(0, 1)
        pixels = texture[0].permute(1, 2, 0).numpy() * 255
        Image.fromarray(pixels.round().astype(np.uint8)).save(folder / f"{index}.png")
    return folder


def test_stage_video_flow_trains_only_the_flow_network(tmp_path: Path) -> None:
    stills = _textures(tmp_path / "stills", 3, 136)
    start = tmp_path / "start.safetensors"
    torch.manual_seed(0)
    save_generator(start, RecurrentGenerator(GeneratorConfig(4, 1, 8)))
    settings = {"data.train": json.dumps([str(stills)]), "data.validation": str(stills),
                "data.validation_images": "[]", "data.crop": 64, "optim.iterations": 6,
                "optim.batch_size": 2, "optim.warmup": 0, "model.blocks": 1,
                "model.channels": 8, "run.init": str(start), "run.log_every": 1,
                "run.validate_every": 3, "run.checkpoint_every": 3, "run.precision": "'fp32'"}
    sets = [arg for key, value in settings.items() for arg in ("--set", f"{key}={value}")]
    subprocess.run([sys.executable, "-m", "vivid", "train",
                    str(REPO / "configs/vivid-video-flow.toml"), "--out", str(tmp_path / "run"),
                    "--quiet", *sets], check=True)
    before = load_file(start)
    after = load_file(tmp_path / "run" / "generator.safetensors")
    changed = {name for name, tensor in before.items() if not torch.equal(tensor, after[name])}
    assert changed and all(name.startswith("flow.") for name in changed), changed
    records = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").open()]
    assert sum("val_epe" in r for r in records) == 2
    assert all(r["val_epe_zero"] > 0 for r in records if "val_epe" in r)


def test_flow_step_fits_a_batch(tmp_path: Path) -> None:
    stills = [(t[0] * 255).round().to(torch.uint8) for t in
              (smooth_image((200, 200), seed=s) for s in range(2))]
    generator = torch.Generator().manual_seed(0)
    samples = [flow_sample(stills, 128, 4, "bd", generator) for _ in range(4)]
    lr_pairs = torch.stack([s[0] for s in samples]).float() / 255
    flows = torch.stack([s[1] for s in samples])
    torch.manual_seed(0)
    network = RecurrentGenerator(GeneratorConfig(4, 1, 8))
    config = load_config(REPO / "configs/vivid-video-flow.toml")
    optimizers = Optimizers(torch.optim.Adam(network.flow.parameters(), lr=1e-3))
    amp = StepContext.create(torch.device("cpu"), torch.float32)
    losses = [flow_step(Nets(network), lr_pairs, flows, optimizers, config, amp)["loss_epe"]
              for _ in range(40)]
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:5]), losses


def test_end_point_error_is_the_mean_euclidean_distance() -> None:
    truth = torch.zeros(1, 2, 4, 4)
    truth[:, 0], truth[:, 1] = 3.0, 4.0
    assert end_point_error(torch.zeros_like(truth), truth).item() == pytest.approx(5.0)
    assert end_point_error(truth, truth).item() == pytest.approx(0.0, abs=1e-2)
