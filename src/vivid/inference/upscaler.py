"""The ``Upscaler``: a generator (or plain bicubic) made ready for inference, applied in tiles
sized by a memory budget.

``Upscaler.from_pretrained(name_or_path)`` loads weights (a bundled name, a ``.safetensors``
file or a PyTorch state dict) into an engine (``runtimes``: torch, ONNX Runtime or OpenVINO).
Calling it on a Pillow image returns a Pillow image; on an N x 3 x H x W float tensor in
[0, 1] it returns the upscaled float32 tensor, clamped to [0, 1]. Alpha channels are upscaled
with MATLAB-style bicubic interpolation (smooth, and never invents detail in masks).

Memory: ``memory_budget`` (MiB; default ``DEFAULT_MEMORY_BUDGET`` on the CPU, half the free
memory on a GPU) bounds the assembled result plus one model call's working memory, which
each engine estimates per LR pixel (``Engine.bytes_per_pixel``); a result larger than half
the budget still leaves the model call half of it. An image whose whole run fits is
upscaled in one call, exactly as the engine alone would; a larger one in the fewest tiles
that fit (``tiling``), after which the engine's kept buffers are freed. The default keeps
``vivid upscale`` of a 2000x2000 photo (x4; result assembled as 8-bit, 183 MiB) under 1 GiB
of peak memory (824 MiB with OpenVINO bf16, process included), while a 270x480 video frame
still runs whole on OpenVINO bf16 (~460 MiB estimated). ``tile`` (a largest core side in LR
pixels; 0: never tile) replaces the budget.
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
from vivid.inference.tile_plan import budget_tile_pixels, needs_tiles
from vivid.inference.tiling import pad_small, upscale_tiled
from vivid.inference.torch_runtime import TorchNetwork, torch_bytes_per_pixel

log = logging.getLogger(__name__)

DEFAULT_MODEL = "srgan-x4"
DEFAULT_TILE = 384  # the fixed tile side of video models (image models: the memory budget)
DEFAULT_TILE_OVERLAP = 16
DEFAULT_MEMORY_BUDGET = 512  # MiB, on the CPU; see the module docstring
MIB = 2**20


class Upscaler:
    """A ready-to-run super-resolution model; see the module docstring.

    ``network``: None (bicubic), an engine (``engine.Engine``), a torch module (run by a
    ``TorchNetwork`` at ``dtype`` on ``device``) or any function LR tile -> SR tile.
    """

    def __init__(
        self,
        network: Any,
        scale: int,
        name: str,
        device: torch.device,
        dtype: torch.dtype,
        tile: int | None = None,
        tile_overlap: int = DEFAULT_TILE_OVERLAP,
        metadata: dict[str, Any] | None = None,
        tile_batch: int = 1,
        runtime: str = "torch",
        memory_budget: int | None = None,
    ) -> None:
        if isinstance(network, torch.nn.Module):
            config = getattr(network, "config", None)
            network = TorchNetwork(network, scale, device, dtype,
                                   getattr(config, "channels", 64))
        self.network = network
        self.scale = scale
        self.name = name
        self.device = device
        self.dtype = dtype
        self.tile = tile  # None: sized by memory_budget; 0: one tile
        self.tile_overlap = tile_overlap
        self.metadata = metadata or {}
        self.tile_batch = tile_batch
        self.runtime = runtime  # torch, onnx or openvino; 'auto' -> ... when auto chose it
        self.memory_budget = memory_budget  # MiB; None: the device's default

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str = DEFAULT_MODEL,
        device: str = "auto",
        precision: str = "auto",
        tile: int | None = None,
        tile_overlap: int = DEFAULT_TILE_OVERLAP,
        scale: int = 4,
        runtime: str = "auto",
        tile_batch: int | None = None,
        compile: bool = False,
        memory_budget: int | None = None,
    ) -> Upscaler:
        """Load a bundled model, a weights file, or ``"bicubic"`` (MATLAB bicubic, ``scale``).

        ``runtime``: ``torch``; ``onnx`` (ONNX Runtime, fp32) and ``openvino`` run the model (a
        ``.onnx`` file, or any weights, exported on the fly) on the CPU; ``auto`` picks the
        fastest on this machine by the rule in ``inference.runtimes``. ``tile_batch``: tiles of
        the same size run together (default 1 on the CPU, 4 on a GPU; the budget covers them
        together). ``compile``: wrap the torch network in ``torch.compile`` (off by default:
        ``vivid bench`` measures no gain). ``tile`` and ``memory_budget``: see the module
        docstring.
        """
        target = resolve_device(device)
        dtype = resolve_precision(precision, target)
        log.debug("%s: device %s, precision %s (asked: %s, %s), runtime %s", name_or_path,
                  target, PRECISION_NAMES[dtype], device, precision, runtime)
        # Batching tiles keeps a GPU busy; on a CPU one large tile already is (measured: no gain).
        tile_batch = tile_batch or (1 if target.type == "cpu" else 4)
        options = {"tile": tile, "tile_overlap": tile_overlap, "tile_batch": tile_batch,
                   "memory_budget": memory_budget}
        if str(name_or_path) == "bicubic":
            return cls(None, scale, "bicubic", target, dtype, **options)
        chosen = resolve_runtime(runtime, str(name_or_path), target, PRECISION_NAMES[dtype])
        label = f"auto -> {chosen}" if runtime == "auto" else chosen
        if chosen != "torch":  # an engine: on the CPU, whatever the device
            target, dtype = CPU, resolve_precision(precision, CPU)
        engine = load_engine(chosen, name_or_path, dtype, target, compile)
        return cls(engine, engine.scale, str(name_or_path), target, engine.dtype,
                   metadata=getattr(engine, "metadata", None), runtime=label, **options)

    def _bicubic(self, lr_tile: torch.Tensor) -> torch.Tensor:
        return imresize(lr_tile, self.scale)

    def _model(self, tiled: bool) -> Callable[[torch.Tensor], torch.Tensor]:
        """What runs on a tile: bicubic, or the network (``run_tile`` when there are several
        tiles) with tiny inputs padded to its training size."""
        if self.network is None:
            return self._bicubic
        run_tile = getattr(self.network, "run_tile", None) if tiled else None
        return pad_small(run_tile or self.network, self.scale)

    def budget_bytes(self) -> int:
        """The memory budget in bytes (see the module docstring)."""
        if self.memory_budget is not None:
            return self.memory_budget * MIB
        if self.device.type == "cuda":
            free = torch.cuda.mem_get_info(self.device)[0]
            return max(DEFAULT_MEMORY_BUDGET * MIB, free // 2)
        return DEFAULT_MEMORY_BUDGET * MIB

    def bytes_per_pixel(self) -> int:
        """The model's working memory per LR pixel: the engine's estimate; for bicubic its
        float32 output and interpolation steps; for other functions the paper-size torch
        generator's at this precision."""
        if self.network is None:
            return 64 * self.scale**2
        estimate = getattr(self.network, "bytes_per_pixel", None)
        return estimate or torch_bytes_per_pixel(self.dtype, self.scale)

    def max_tile_pixels(self, lr_image: torch.Tensor, dtype: torch.dtype) -> int | None:
        """LR pixels a tile may have (None: ``tile`` decides instead of the budget)."""
        if self.tile is not None:
            return None
        output = lr_image[:, :3].numel() * self.scale**2 * torch.empty((), dtype=dtype).itemsize
        return budget_tile_pixels(self.budget_bytes(), output, self.bytes_per_pixel(),
                                  self.tile_batch)

    def _upscale(self, lr_image: torch.Tensor, dtype: torch.dtype,
                 on_tile: Callable[[int, int], None] | None) -> torch.Tensor:
        """N x 3 x H x W in [0, 1] -> N x 3 x sH x sW in ``dtype`` (float32 or uint8)."""
        if lr_image.ndim != 4 or lr_image.shape[1] != 3:
            raise VividError(f"expected an N x 3 x H x W tensor, got {tuple(lr_image.shape)}")
        max_pixels = self.max_tile_pixels(lr_image, dtype)
        tiled = needs_tiles(*lr_image.shape[-2:], self.tile, max_pixels)
        sr_image = upscale_tiled(self._model(tiled), lr_image.float().cpu(), self.scale,
                                 self.tile, self.tile_overlap, on_tile, self.tile_batch,
                                 max_pixels, dtype)
        release = getattr(self.network, "release_memory", None)
        if release is not None and tiled:
            release()  # an image larger than the budget: keep no buffers sized for its tiles
        return sr_image

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
        """N x 3 x H x W in [0, 1] -> N x 3 x sH x sW float32 in [0, 1], tiled when large."""
        return self._upscale(lr_image, torch.float32, on_tile).clamp_(0, 1)

    def upscale_decoded(
        self, image: imagefile.DecodedImage, on_tile: Callable[[int, int], None] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Upscaled RGB and alpha (bicubic) of a decoded image. The RGB of an 8-bit image
        without alpha is uint8 (channels-last), as its file is written; else float32."""
        if image.alpha is None and image.info.bit_depth == 8:
            return self._upscale(image.rgb, torch.uint8, on_tile), None
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
