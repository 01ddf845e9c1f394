"""Tiny generators that look trained, and the ONNX export check both image networks share."""

from __future__ import annotations

from pathlib import Path

import torch

from vivid.nets.light import LightConfig, LightGenerator
from vivid.nets.srresnet import Generator, GeneratorConfig
from vivid.nets.weights_file import save_generator

TINY_SRRESNET = GeneratorConfig(scale=4, blocks=2, channels=8)
TINY_LIGHT = LightConfig(scale=4, blocks=2, channels=8)


def srresnet_trained_like(config: GeneratorConfig = TINY_SRRESNET) -> Generator:
    """An SRResNet whose batch-norm statistics are not the identity (as after training)."""
    generator = Generator(config)
    for module in generator.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.3, 0.3)
            module.running_var.uniform_(0.5, 2.0)
    return generator.eval()


def light_trained_like(config: LightConfig = TINY_LIGHT) -> LightGenerator:
    """A light generator whose residual is not zero (as after training)."""
    generator = LightGenerator(config)
    torch.nn.init.normal_(generator.tail.weight, std=0.05)
    torch.nn.init.normal_(generator.tail.bias, std=0.01)
    return generator.eval()


def check_onnx_export_matches_torch(tmp_path: Path, generator: torch.nn.Module) -> None:
    """`vivid export --onnx` gives a model with dynamic height, width and batch whose outputs
    match the torch generator's within 1e-4, directly and through the Upscaler."""
    from vivid.cli.main import main
    from vivid.inference.onnx_runtime import OnnxNetwork
    from vivid.inference.upscaler import Upscaler

    weights = tmp_path / "g.safetensors"
    save_generator(weights, generator)
    assert main(["export", str(weights), "--onnx", str(tmp_path / "g.onnx")]) == 0
    network = OnnxNetwork(tmp_path / "g.onnx")
    assert network.scale == 4
    for shape in ((1, 3, 16, 16), (3, 3, 21, 13), (1, 3, 2, 5)):
        lr_image = torch.rand(shape)
        with torch.no_grad():
            expected = generator(lr_image)
        assert (network(lr_image) - expected).abs().max() <= 1e-4, shape
    torch_upscaler = Upscaler.from_pretrained(str(weights), device="cpu", precision="fp32")
    onnx_upscaler = Upscaler.from_pretrained(str(tmp_path / "g.onnx"), runtime="onnx")
    lr_image = torch.rand(1, 3, 40, 30)
    assert (torch_upscaler(lr_image) - onnx_upscaler(lr_image)).abs().max() <= 1e-4
