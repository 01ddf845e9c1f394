"""FRVSR's flow network (FNet): the trained motion estimate of ``motion = "network"``."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

MAX_FLOW = 24.0  # FNet's tanh output scale: the largest motion in LR pixels per frame
FLOW_MULTIPLE = 8  # FNet pools three times: inputs are padded to a multiple of 8


def _conv_pair(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.LeakyReLU(0.2),
        nn.Conv2d(out_channels, out_channels, 3, padding=1), nn.LeakyReLU(0.2))


class FlowNet(nn.Module):
    """FRVSR's FNet: (current, previous) LR frames -> flow from current to previous, LR pixels.

    Encoder 3 x (two conv-LReLU + 2x max-pool; 32/64/128 channels), decoder 3 x (two
    conv-LReLU + 2x bilinear upsampling; 256/128/64), conv-LReLU (32), conv to 2, tanh x 24.
    Any size works: the input is padded (replicated) to a multiple of 8 and the flow cropped.

    Initialisation: He (Kaiming) normal for the LeakyReLU convs, zero biases, and a near-zero
    last conv (the flow starts at ~0): PyTorch's default conv init shrinks the signal through
    the 15 layers, and the network then barely learns motion (the video model card's history).
    """

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.ModuleList([_conv_pair(6, 32), _conv_pair(32, 64), _conv_pair(64, 128)])
        self.decoder = nn.ModuleList(
            [_conv_pair(128, 256), _conv_pair(256, 128), _conv_pair(128, 64)])
        self.out = nn.Sequential(nn.Conv2d(64, 32, 3, padding=1), nn.LeakyReLU(0.2),
                                 nn.Conv2d(32, 2, 3, padding=1))
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, a=0.2, nonlinearity="leaky_relu")
                nn.init.zeros_(module.bias)
        nn.init.normal_(self.out[-1].weight, std=1e-3)

    def forward(self, current: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
        height, width = current.shape[-2:]
        pad_h, pad_w = -height % FLOW_MULTIPLE, -width % FLOW_MULTIPLE
        x = F.pad(torch.cat((current, previous), 1), (0, pad_w, 0, pad_h), mode="replicate")
        for stage in self.encoder:
            x = F.max_pool2d(stage(x), 2)
        for stage in self.decoder:
            x = F.interpolate(stage(x), scale_factor=2, mode="bilinear", align_corners=False)
        return torch.tanh(self.out(x)[..., :height, :width].float()) * MAX_FLOW
