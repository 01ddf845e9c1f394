"""The generators' inference form: every BatchNorm merged into the convolution before it."""

from __future__ import annotations

import copy

import torch
from torch import nn

from vivid.nets.light import LightGenerator
from vivid.nets.srresnet import Generator


def _fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A conv equal to ``bn(conv(x))`` with BN in eval mode (running statistics)."""
    folded = copy.deepcopy(conv)
    std = torch.sqrt(bn.running_var + bn.eps)
    gamma = bn.weight if bn.weight is not None else torch.ones_like(std)
    beta = bn.bias if bn.bias is not None else torch.zeros_like(std)
    factor = (gamma / std).detach()
    bias = conv.bias.detach() if conv.bias is not None else torch.zeros_like(std)
    with torch.no_grad():
        folded.weight.mul_(factor.reshape(-1, 1, 1, 1))
        folded.bias = nn.Parameter((bias - bn.running_mean) * factor + beta.detach())
    return folded


def fold_batchnorm(generator: Generator) -> Generator:
    """An eval-mode copy of ``generator`` with each BatchNorm merged into the conv before it."""
    folded = copy.deepcopy(generator).eval()
    if isinstance(folded.body_bn, nn.Identity):  # built without BatchNorm
        return folded
    for block in folded.body:
        block.conv1 = _fold_conv_bn(block.conv1, block.bn1)
        block.conv2 = _fold_conv_bn(block.conv2, block.bn2)
        block.bn1, block.bn2 = nn.Identity(), nn.Identity()
    folded.body_conv = _fold_conv_bn(folded.body_conv, folded.body_bn)
    folded.body_bn = nn.Identity()
    return folded


def inference_network(generator: Generator | LightGenerator) -> nn.Module:
    """An eval-mode copy of an image generator in the form inference runs (torch engine and
    ONNX export alike): an SRResNet with BatchNorm folded and the sub-pixel tail on (the same
    function), a light generator as it is."""
    if isinstance(generator, LightGenerator):
        return copy.deepcopy(generator).eval()
    network = fold_batchnorm(generator)
    network.subpixel_tail = True
    return network
