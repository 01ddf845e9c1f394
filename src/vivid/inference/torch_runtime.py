"""The torch engine: vivid's generator in its inference form, called like the other engines.

``TorchNetwork.load`` takes the image generator's inference form (``inference_network``: an
SRResNet with BatchNorm folded into the convolutions and the sub-pixel tail, ``nets.subpixel``;
a light generator as it is), casts the weights once to the chosen precision (autocast would cast
every conv weight on every call: 2-15% of the time in bf16 on the CPU, same values,
tests/test_runtimes.py) and moves the network to its device in channels_last. A call converts
the LR tensor to that device, precision and layout (what the network runs on) and the output
back to a float32 N x 3 x H x W contiguous tensor on the CPU, each in one pass.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from vivid.errors import VividError
from vivid.inference.engine import PAPER_CHANNELS, working_bytes
from vivid.nets.frvsr import RecurrentGenerator
from vivid.nets.inference_form import inference_network
from vivid.nets.weights_file import load_model

# Peak memory above the process's own of one call, per LR pixel, for the x4 64-channel
# generator on the CPU (VmHWM, 64x64 and 128x128 inputs, torch 2.13, AMD EPYC): 6.6-6.8 KiB
# in bf16, 11-13.5 KiB in fp32, i.e. ~3.4 values of the precision's size per output value of
# the sub-pixel stage. The constants hold ~5% margin.
PAPER_BYTES_PER_ELEMENT_SIZE = 3_600  # x element size (2 for bf16/fp16, 4 for fp32)


def torch_bytes_per_pixel(dtype: torch.dtype, scale: int, channels: int = PAPER_CHANNELS
                          ) -> int:
    """Working memory of one torch call per LR pixel (see the measurements above)."""
    size = torch.empty((), dtype=dtype).element_size()
    return working_bytes(PAPER_BYTES_PER_ELEMENT_SIZE * size, scale, channels)


class TorchNetwork:
    """A torch module run at ``dtype`` on ``device``; see the module docstring."""

    def __init__(self, module: torch.nn.Module, scale: int, device: torch.device,
                 dtype: torch.dtype, channels: int = PAPER_CHANNELS,
                 metadata: dict[str, Any] | None = None) -> None:
        self.module = module
        self.scale = scale
        self.device = device
        self.dtype = dtype
        self.bytes_per_pixel = torch_bytes_per_pixel(dtype, scale, channels)
        self.metadata = metadata or {}  # the weights file's

    @classmethod
    def load(cls, name_or_path: str | Path, device: torch.device, dtype: torch.dtype,
             compile: bool = False) -> TorchNetwork:
        """The inference form of an image model's weights (``compile``: ``torch.compile``)."""
        generator, metadata = load_model(name_or_path)
        if isinstance(generator, RecurrentGenerator):
            raise VividError(f"{name_or_path}: is a video model; load it with "
                             "vivid.VideoUpscaler (vivid upscale does so by itself)")
        network = inference_network(generator).to(device, dtype,
                                                  memory_format=torch.channels_last)
        module = torch.compile(network) if compile else network
        return cls(module, generator.config.scale, device, dtype, generator.config.channels,
                   metadata)

    def prepare(self, lr_image: torch.Tensor) -> torch.Tensor:
        """The input as the network takes it: on its device, at its precision, channels_last."""
        return lr_image.to(self.device, self.dtype, memory_format=torch.channels_last)

    def __call__(self, lr_image: torch.Tensor) -> torch.Tensor:
        # no_grad, not inference_mode: the caller may change the result in place.
        with torch.no_grad():
            sr_image = self.module(self.prepare(lr_image))
            return sr_image.to("cpu", torch.float32, memory_format=torch.contiguous_format)

    run_tile = __call__  # every call's output is a new tensor

    def release_memory(self) -> None:
        """Nothing to do: torch frees a call's activations when it returns."""
