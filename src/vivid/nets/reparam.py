"""Re-parameterized 3x3 convolutions: several linear branches in training, one conv after.

In training the kernel of a C_in -> C_out 3x3 conv is a sum of linear branches (as the
edge-oriented convolution block of ECBSR, Zhang et al. 2021, and the collapsible linear blocks
of SESR, Bhardwaj et al. 2022): the network still runs one conv per layer, with the kernel
``BranchKernel`` computes from the branches' weights on every call, so training costs about
what the plain network costs and the function is exactly the plain conv's with that kernel.
Saving folds the branches into the plain kernel (``folded_state``): weights files hold plain
convs, and inference never sees the branches.

The branches (no biases inside them: the conv keeps its one bias, so zero padding gives the
same result branch by branch as for the merged kernel):

- the plain 3x3 kernel (the parametrization's ``original``);
- expand and squeeze: a 1x1 conv to ``EXPANSION`` x C_out channels, then a 3x3 conv to C_out;
- edges: a 1x1 conv to C_out, then a fixed Sobel-x, Sobel-y or Laplacian 3x3 filter per
  channel times a learned per-channel scale (one such branch per filter);
- the identity, where C_in == C_out: a constant, so it only moves the kernel's start to
  identity + plain branch (each block conv of the light network starts near the identity,
  inside the block's own skip); in bf16 training the centre tap 1 + w is rounded as such.

The EMA of a re-parameterized network averages the branches' weights, not the merged kernel
(the two differ: squeeze o expand is a product); validation and the saved weights both use
the averaged branches, folded.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils import parametrize

from vivid.errors import VividError

EXPANSION = 2  # the expand-and-squeeze branch's width, in multiples of C_out
EDGE_FILTERS = torch.tensor([
    [[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]],  # Sobel x
    [[-1.0, -2.0, -1.0], [0.0, 0.0, 0.0], [1.0, 2.0, 1.0]],  # Sobel y
    [[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]],  # Laplacian
])
EDGE_SCALE_START = 1e-3  # the edge branches start nearly off (scale ~ N(0, 1e-3))
PARAMETRIZED = ".parametrizations.weight."  # what torch.nn.utils.parametrize names
BRANCHES = ("expand", "squeeze", "edge_in", "edge_scale")  # fold's order after the kernel


def _conv_init(tensor: torch.Tensor, fan_in: int) -> None:
    """PyTorch's default conv weight init (Kaiming uniform, a = sqrt(5)) for this fan-in."""
    bound = 1 / math.sqrt(fan_in)
    nn.init.uniform_(tensor, -bound, bound)


def fold(kernel: torch.Tensor, expand: torch.Tensor, squeeze: torch.Tensor,
         edge_in: torch.Tensor, edge_scale: torch.Tensor) -> torch.Tensor:
    """The merged C_out x C_in x 3 x 3 kernel of the branches (see the module docstring):
    ``kernel`` (the plain branch) + squeeze o expand + the scaled edge filters o edge_in +
    the identity where C_in == C_out."""
    out_channels, in_channels = kernel.shape[:2]
    filters = EDGE_FILTERS.to(kernel.device, kernel.dtype)
    merged = (kernel + torch.einsum("owkl,wi->oikl", squeeze, expand)
              + torch.einsum("eo,ekl,eoi->oikl", edge_scale, filters, edge_in))
    if out_channels == in_channels:
        centre = torch.zeros_like(merged)
        centre[range(out_channels), range(in_channels), 1, 1] = 1.0
        merged = merged + centre
    return merged


class BranchKernel(nn.Module):
    """The parametrization: the plain 3x3 kernel (C_out x C_in x 3 x 3) in, the sum of all
    branches' kernels out (``fold``)."""

    def __init__(self, out_channels: int, in_channels: int) -> None:
        super().__init__()
        wide = EXPANSION * out_channels
        self.expand = nn.Parameter(torch.empty(wide, in_channels))
        self.squeeze = nn.Parameter(torch.empty(out_channels, wide, 3, 3))
        self.edge_in = nn.Parameter(torch.empty(len(EDGE_FILTERS), out_channels, in_channels))
        self.edge_scale = nn.Parameter(
            torch.randn(len(EDGE_FILTERS), out_channels) * EDGE_SCALE_START)
        _conv_init(self.expand, in_channels)
        _conv_init(self.squeeze, 9 * wide)
        _conv_init(self.edge_in, in_channels)

    def forward(self, kernel: torch.Tensor) -> torch.Tensor:
        return fold(kernel, self.expand, self.squeeze, self.edge_in, self.edge_scale)


def reparameterize(conv: nn.Conv2d, zero_start: bool = False) -> nn.Conv2d:
    """``conv`` (3x3, no groups) with its kernel made of ``BranchKernel``'s branches, in
    place; the plain kernel it had becomes the plain branch. ``zero_start`` (a conv whose
    kernel starts at zero, C_in != C_out): the branches' second factors start at zero too, so
    the merged kernel starts at zero and every branch still gets a gradient."""
    if conv.kernel_size != (3, 3) or conv.groups != 1:
        raise ValueError(f"re-parameterizes 3x3 convs without groups, not {conv}")
    branches = BranchKernel(conv.out_channels, conv.in_channels)
    if zero_start:
        if conv.out_channels == conv.in_channels or conv.weight.abs().sum() > 0:
            raise ValueError("zero_start needs a zero kernel and no identity branch")
        nn.init.zeros_(branches.squeeze)
        nn.init.zeros_(branches.edge_scale)
    parametrize.register_parametrization(conv, "weight", branches)
    return conv


def folded_state(state: dict[str, torch.Tensor], source: str | Path = "weights"
                 ) -> dict[str, torch.Tensor]:
    """A state dict with every re-parameterized kernel folded into a plain ``weight`` (the
    tensors of a network without ``reparameterize``); other tensors as they are. Other
    parametrizations (e.g. PyTorch's weight norm) are a one-line ``VividError`` naming
    ``source``."""
    prefixes = {key.split(PARAMETRIZED)[0] for key in state if PARAMETRIZED in key}
    folded = {k: v for k, v in state.items() if PARAMETRIZED not in k}
    for prefix in sorted(prefixes):
        names = ("original", *(f"0.{name}" for name in BRANCHES))
        own = {k.removeprefix(prefix + PARAMETRIZED): v for k, v in state.items()
               if k.startswith(prefix + PARAMETRIZED)}
        if set(own) != set(names) or own["original"].dim() != 4:
            raise VividError(f"{source}: {prefix}.weight has a parametrization vivid does not "
                             f"know ({', '.join(sorted(own))}); vivid folds only its own "
                             "re-parameterized kernels (nets.reparam)")
        with torch.no_grad():
            merged = fold(*(own[name].float() for name in names))
        folded[f"{prefix}.weight"] = merged.to(own["original"].dtype)
    return folded
