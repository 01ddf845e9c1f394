"""The light real-time generator (``vivid.nets.light``): shape, cost, bicubic start, weights
files, the inference engines and tiling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from generator_fixtures import TINY_LIGHT, light_trained_like
from vivid.degrade import imresize
from vivid.errors import VividError
from vivid.inference.tiling import upscale_tiled
from vivid.inference.upscaler import Upscaler
from vivid.nets.light import LightConfig, LightGenerator, multiply_adds, receptive_radius
from vivid.nets.weights_file import load_generator, load_model, save_generator


def test_shapes_and_every_parameter_gets_a_gradient() -> None:
    generator = LightGenerator(TINY_LIGHT)
    lr_image = torch.rand(2, 3, 10, 13)
    output = generator(lr_image)
    assert output.shape == (2, 3, 40, 52)
    output.square().mean().backward()
    assert generator.tail.weight.grad.abs().sum() > 0  # the zero tail still learns
    generator.zero_grad()
    with torch.no_grad():  # as after a step: the features behind the tail get a gradient too
        generator.tail.weight.normal_(std=0.05)
    generator(lr_image).square().mean().backward()
    for name, parameter in generator.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_an_untrained_network_is_matlab_bicubic(scale: int) -> None:
    generator = LightGenerator(LightConfig(scale=scale, blocks=1, channels=8)).eval()
    for size in ((1, 1), (2, 3), (9, 14)):
        lr_image = torch.rand(2, 3, *size)
        with torch.no_grad():
            output = generator(lr_image)
        assert (output - imresize(lr_image, scale)).abs().max() <= 1e-5, size


def test_cost_and_receptive_radius_follow_the_formulas() -> None:
    assert multiply_adds(LightConfig()) == 34_320  # x4, 1 block, 32 channels
    assert multiply_adds(LightConfig(blocks=2)) == 52_752
    assert receptive_radius(LightConfig(blocks=2)) == 6
    assert receptive_radius(LightConfig(blocks=0)) == 2


def test_weights_round_trip_and_the_loader_knows_the_architecture(tmp_path: Path) -> None:
    generator = light_trained_like()
    path = tmp_path / "light.safetensors"
    save_generator(path, generator, stage="video", iterations=7)
    loaded, metadata = load_model(path)
    assert isinstance(loaded, LightGenerator) and loaded.config == TINY_LIGHT
    assert metadata["architecture"] == "light" and metadata["iterations"] == 7
    lr_image = torch.rand(1, 3, 12, 11)
    with torch.no_grad():
        assert torch.equal(loaded(lr_image), generator(lr_image))
    plain = tmp_path / "light.pt"  # a state dict without metadata: shaped from its tensors
    torch.save(generator.state_dict(), plain)
    assert load_generator(plain).config == TINY_LIGHT


def test_metadata_naming_another_architecture_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "light.safetensors"
    save_generator(path, light_trained_like(), architecture="srresnet")
    with pytest.raises(VividError, match="metadata says architecture=srresnet but the tensors "
                                         "are light's"):
        load_model(path)


def test_upscaler_and_live_run_a_light_weights_file(tmp_path: Path) -> None:
    from vivid.live.models import load_live_model

    generator = light_trained_like()
    path = tmp_path / "light.safetensors"
    save_generator(path, generator)
    upscaler = Upscaler.from_pretrained(str(path), device="cpu", precision="fp32",
                                        runtime="torch")
    lr_image = torch.rand(1, 3, 24, 30)  # not below tiling.MIN_SIDE: no padding
    with torch.no_grad():
        expected = generator(lr_image).clamp(0, 1)
    assert torch.allclose(upscaler(lr_image), expected, atol=1e-5, rtol=0)
    live = load_live_model(str(path), device="cpu", precision="fp32", runtime="torch")
    frame = np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    assert live.scale == 4 and live.run(frame).shape == (120, 160, 3)


@pytest.mark.parametrize(("height", "width", "tile"), [(37, 50, 16), (20, 61, 24), (13, 30, 12)])
def test_tiled_equals_untiled_with_the_receptive_radius_as_overlap(
        height: int, width: int, tile: int) -> None:
    generator = light_trained_like()
    overlap = receptive_radius(TINY_LIGHT)
    lr_image = torch.rand(1, 3, height, width)
    with torch.no_grad():
        whole = upscale_tiled(generator, lr_image, 4, None, 0)
        tiled = upscale_tiled(generator, lr_image, 4, tile, overlap)
    assert torch.allclose(tiled, whole, atol=1e-5, rtol=0)


def test_a_reparameterized_network_saves_as_the_plain_network_with_its_function(
        tmp_path: Path) -> None:
    """Training's branches (nets.reparam) fold into plain kernels: a weights file and a raw
    checkpoint state both load as the plain network, computing what the branches computed."""
    torch.manual_seed(0)
    network = LightGenerator(LightConfig(scale=4, blocks=2, channels=8), reparam=True)
    torch.nn.init.normal_(network.tail.weight, std=0.05)  # not the zero start: a real check
    lr = torch.rand(1, 3, 12, 10)
    network(lr).square().mean().backward()
    branch = network.body[0].conv1.parametrizations.weight[0]
    assert branch.squeeze.grad is not None and branch.edge_scale.grad.abs().sum() > 0
    with torch.no_grad():
        expected = network(lr)
    save_generator(tmp_path / "w.safetensors", network)
    torch.save({"params": network.state_dict()}, tmp_path / "ckpt.pt")
    plain_keys = set(LightGenerator(LightConfig(scale=4, blocks=2, channels=8)).state_dict())
    for path in (tmp_path / "w.safetensors", tmp_path / "ckpt.pt"):
        loaded = load_generator(path)
        assert isinstance(loaded, LightGenerator) and set(loaded.state_dict()) == plain_keys
        with torch.no_grad():
            assert torch.allclose(loaded(lr), expected, atol=1e-5)


def test_a_reparameterized_tail_starts_at_bicubic_and_learns() -> None:
    torch.manual_seed(0)
    network = LightGenerator(LightConfig(scale=4, blocks=1, channels=8), reparam=True,
                             reparam_tail=True)
    lr = torch.rand(1, 3, 10, 12)
    output = network(lr)
    assert (output - imresize(lr, 4)).abs().max() <= 1e-5  # the tail's kernel starts at zero
    (output - 1).square().mean().backward()
    branch = network.tail.parametrizations.weight[0]
    assert branch.squeeze.grad.abs().sum() > 0 and branch.edge_scale.grad.abs().sum() > 0
