"""What every engine module shares (``torch_runtime``, ``onnx_runtime``, ``openvino_runtime``,
and ``runtimes``, which picks one): the ``Engine`` protocol, the working-memory estimate
tiles are sized by, and the user's cache folder. It imports no other ``vivid.inference``
module, so the engine modules import it and not each other's helpers.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import torch

PAPER_CHANNELS = 64  # the feature width the per-pixel memory constants were measured at
PAPER_SCALE = 4


class Engine(Protocol):
    """A loaded image model called like a network: N x 3 x h x w float32 LR tensor on the CPU
    in, N x 3 x sh x sw float32 SR tensor on the CPU out (not clamped, owned by the caller)."""

    scale: int
    dtype: torch.dtype
    bytes_per_pixel: int  # working memory of one call per LR pixel (an upper estimate)

    def __call__(self, lr_image: torch.Tensor) -> torch.Tensor: ...

    def run_tile(self, lr_tile: torch.Tensor) -> torch.Tensor:
        """As a call, but the result may be the engine's own output buffer, valid (and
        writable) until the next call: for tiles, copied into the result at once."""

    def release_memory(self) -> None:
        """Free working buffers kept between calls (the next call allocates them again)."""


def working_bytes(paper_bytes: int, scale: int, channels: int = PAPER_CHANNELS) -> int:
    """Per-LR-pixel working memory of a generator of this scale and width, from
    ``paper_bytes`` measured on the x4 64-channel one: the activations after the sub-pixel
    convolutions dominate, and they grow with ``channels * scale**2``."""
    return max(1, paper_bytes * channels * scale**2 // (PAPER_CHANNELS * PAPER_SCALE**2))


def cache_dir() -> Path:
    """``$VIVID_CACHE_DIR``, else ``$XDG_CACHE_HOME/vivid``, else ``~/.cache/vivid``."""
    if os.environ.get("VIVID_CACHE_DIR"):
        return Path(os.environ["VIVID_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "vivid"
