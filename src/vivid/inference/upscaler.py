"""The ``Upscaler``: a generator (or plain bicubic) made ready for inference, applied in tiles.

``Upscaler.from_pretrained(name_or_path)`` loads weights (a bundled name, a ``.safetensors``
file or a PyTorch state dict), folds BatchNorm into the convolutions and moves the network to
the chosen device. Calling it on a Pillow image returns a Pillow image; on an N x 3 x H x W
float tensor in [0, 1] it returns the upscaled tensor, clamped to [0, 1]. Alpha channels are
upscaled with MATLAB-style bicubic interpolation (smooth, and never invents detail in masks).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import torch
from PIL import Image

from vivid.degrade import imresize
from vivid.device import CPU, PRECISION_NAMES, resolve_device, resolve_precision
from vivid.errors import VividError
from vivid.images import imagefile
from vivid.inference.runtimes import load_engine, resolve_runtime
from vivid.inference.tiling import pad_small, upscale_tiled
from vivid.nets.inference_form import fold_batchnorm
from vivid.nets.srresnet import Generator
from vivid.nets.weights_file import load_model

log = logging.getLogger(__name__)

DEFAULT_MODEL = "srgan-x4"
DEFAULT_TILE = 384  # ~0.6 GB per tile in bf16: a 2000x2000 photo x4 stays under 2 GiB
DEFAULT_TILE_OVERLAP = 16
class Upscaler:
    """A ready-to-run super-resolution model; see the module docstring."""

    def __init__(
        self,
        network: torch.nn.Module | None,
        scale: int,
        name: str,
        device: torch.device,
        dtype: torch.dtype,
        tile: int | None = DEFAULT_TILE,
        tile_overlap: int = DEFAULT_TILE_OVERLAP,
        metadata: dict[str, Any] | None = None,
        tile_batch: int = 1,
        runtime: str = "torch",
    ) -> None:
        self.network = network
        self.scale = scale
        self.name = name
        self.device = device
        self.dtype = dtype
        self.tile = tile
        self.tile_overlap = tile_overlap
        self.metadata = metadata or {}
        self.tile_batch = tile_batch
        self.runtime = runtime  # torch, onnx or openvino; 'auto' -> ... when auto chose it

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str = DEFAULT_MODEL,
        device: str = "auto",
        precision: str = "auto",
        tile: int | None = DEFAULT_TILE,
        tile_overlap: int = DEFAULT_TILE_OVERLAP,
        scale: int = 4,
        runtime: str = "auto",
        tile_batch: int | None = None,
        compile: bool = False,
    ) -> Upscaler:
        """Load a bundled model, a weights file, or ``"bicubic"`` (MATLAB bicubic, ``scale``).

        ``runtime``: ``torch``; ``onnx`` (ONNX Runtime, fp32) and ``openvino`` run the model (a
        ``.onnx`` file, or any weights, exported on the fly) on the CPU; ``auto`` picks the
        fastest on this machine by the rule in ``inference.runtimes``. ``tile_batch``: tiles of
        the same size run together (default 1 on the CPU, 4 on a GPU). ``compile``: wrap the
        network in ``torch.compile`` (off by default: ``vivid bench`` measures no gain). The
        torch network is the inference form:
        BatchNorm folded, the sub-pixel tail (``nets.subpixel.subpixel_tail``), channels_last.
        """
        target = resolve_device(device)
        dtype = resolve_precision(precision, target)
        log.debug("%s: device %s, precision %s (asked: %s, %s), runtime %s", name_or_path,
                  target, PRECISION_NAMES[dtype], device, precision, runtime)
        # Batching tiles keeps a GPU busy; on a CPU one large tile already is (measured: no gain).
        tile_batch = tile_batch or (1 if target.type == "cpu" else 4)
        if str(name_or_path) == "bicubic":
            return cls(None, scale, "bicubic", target, dtype, tile, tile_overlap,
                       tile_batch=tile_batch)
        chosen = resolve_runtime(runtime, str(name_or_path), target, PRECISION_NAMES[dtype])
        label = f"auto -> {chosen}" if runtime == "auto" else chosen
        if chosen != "torch":  # an engine: on the CPU, whatever the device
            engine = load_engine(chosen, name_or_path, resolve_precision(precision, CPU))
            return cls(engine, engine.scale, str(name_or_path), CPU,
                       engine.dtype, tile, tile_overlap, tile_batch=tile_batch, runtime=label)
        generator, metadata = load_model(name_or_path)
        if not isinstance(generator, Generator):
            raise VividError(f"{name_or_path}: is a video model; load it with "
                             "vivid.VideoUpscaler (vivid upscale does so by itself)")
        # Weights cast once: autocast would cast every conv weight on every call (2-15% of
        # the time in bf16 on the CPU); the values are the same (tests/test_runtimes.py).
        network = fold_batchnorm(generator).to(target, dtype, memory_format=torch.channels_last)
        network.subpixel_tail = True
        if compile:
            network = torch.compile(network)
        return cls(network, generator.config.scale, str(name_or_path), target, dtype, tile,
                   tile_overlap, metadata, tile_batch, runtime=label)

    def _model(self, lr_tile: torch.Tensor) -> torch.Tensor:
        if self.network is None:
            return imresize(lr_tile, self.scale)
        if not isinstance(self.network, torch.nn.Module):  # an engine, or a video model's
            return self.network(lr_tile)
        with torch.inference_mode():
            sr_tile = self.network(
                lr_tile.to(self.device, self.dtype, memory_format=torch.channels_last))
        return sr_tile.float().cpu()

    def describe(self) -> str:
        """How it runs, e.g. 'torch bf16' or 'auto -> openvino bf16, compiled in 0.9 s'."""
        if self.network is None:
            return "bicubic"
        text = f"{self.runtime} {PRECISION_NAMES[self.dtype]}"
        compiled = getattr(self.network, "compile_seconds", None)
        return f"{text}, compiled in {compiled:.1f} s" if compiled is not None else text

    def upscale_tensor(
        self, lr_image: torch.Tensor, on_tile: Callable[[int, int], None] | None = None
    ) -> torch.Tensor:
        """N x 3 x H x W in [0, 1] -> N x 3 x sH x sW in [0, 1], tiled when large."""
        if lr_image.ndim != 4 or lr_image.shape[1] != 3:
            raise VividError(f"expected an N x 3 x H x W tensor, got {tuple(lr_image.shape)}")
        # Networks get tiny inputs padded to their training size (plain bicubic needs not).
        model = self._model if self.network is None else pad_small(self._model, self.scale)
        sr_image = upscale_tiled(model, lr_image.float().cpu(), self.scale, self.tile,
                                 self.tile_overlap, on_tile, self.tile_batch)
        return sr_image.clamp_(0, 1)

    def upscale_decoded(
        self, image: imagefile.DecodedImage, on_tile: Callable[[int, int], None] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Upscaled RGB and alpha (bicubic) of a decoded image."""
        sr_rgb = self.upscale_tensor(image.rgb, on_tile)
        if image.alpha is None:
            return sr_rgb, None
        return sr_rgb, imresize(image.alpha, self.scale).clamp_(0, 1)

    def __call__(self, image: Image.Image | torch.Tensor) -> Image.Image | torch.Tensor:
        if isinstance(image, torch.Tensor):
            return self.upscale_tensor(image)
        decoded = imagefile.from_pil(image)
        sr_rgb, sr_alpha = self.upscale_decoded(decoded)
        return imagefile.to_pil(sr_rgb, sr_alpha, decoded.info)

    def provenance(self) -> str:
        """The note written into output files so they are not mistaken for originals."""
        if self.network is None:
            return f"Upscaled {self.scale}x by vivid with bicubic interpolation."
        return (
            f"Upscaled {self.scale}x by vivid with model {self.name}; fine detail is "
            "synthesised by the model and is not a record of the original scene."
        )
