"""Frame-recurrent video models (``video-x4``) at inference: streamed, tiled, reset at cuts.

``VideoUpscaler.from_pretrained(name)`` loads a recurrent generator (weights whose
``architecture`` is ``frvsr``, see ``vivid.nets.frvsr``) on the chosen device and precision,
its SR network on the chosen engine (``frame_engines``: torch, OpenVINO, or ``auto``).
``stream()`` returns a ``VideoStream``: call it on batches of consecutive LR frames, in
order, and it returns their outputs. It keeps only the previous LR frame, the previous
output and (version 3) the SR body's LR features of the previous frame (the recurrence), so
memory does not grow with the length of the video. Per frame:

1. if there is a previous frame and ``is_scene_cut`` says a new scene starts, the state is
   dropped: the frame is upscaled as a first frame, exactly as if the video started there;
2. the network's motion estimate (flow network or OpenCV) runs on the whole LR frame, and
   ``RecurrentGenerator.carry`` (the code training uses) warps the whole previous output with
   it and packs it to LR size, with its reliability inputs and the warped features;
3. the SR network (the engine) runs on the LR frame and the carried state in tiles
   (``upscale_tiled``, as for images). The state is always the whole assembled output (and
   features: each tile's LR features go through ``upscale_tiled`` beside its output, packed
   depth-to-space to the output's size, so they are cut and assembled exactly as the
   output), so tiling changes the SR network's input only at tile borders, as it does for
   images; memory is one output frame (and its features) for the state plus one tile of
   activations.

On single images (``image_upscaler()``) a video model upscales every image as a first frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from vivid.device import CPU, PRECISION_NAMES, resolve_device, resolve_precision
from vivid.errors import VividError
from vivid.inference.frame_engines import (
    FrameEngine,
    FrameResult,
    load_frame_engine,
    resolve_video_runtime,
)
from vivid.inference.scene_cut import is_scene_cut
from vivid.inference.tiling import pad_small, upscale_tiled
from vivid.inference.upscaler import DEFAULT_TILE, DEFAULT_TILE_OVERLAP, Upscaler
from vivid.nets.frvsr import RecurrentGenerator
from vivid.nets.weights_file import load_model


@dataclass
class VideoUpscaler:
    """A recurrent video model made ready for inference; see the module docstring.

    ``runtime``: the engine of the SR network (``frame_engines``: ``torch``, ``openvino`` or
    ``auto``, the faster here, measured once); after construction what ran, e.g. ``auto ->
    openvino``. ``network`` runs motion and ``carry`` on torch, cast once to ``dtype``."""

    network: RecurrentGenerator
    name: str
    device: torch.device
    dtype: torch.dtype
    tile: int | None = DEFAULT_TILE
    tile_overlap: int = DEFAULT_TILE_OVERLAP
    metadata: dict[str, Any] = field(default_factory=dict)
    scene_cuts: bool = True
    runtime: str = "torch"
    engine: FrameEngine = field(init=False, repr=False)

    def __post_init__(self) -> None:
        chosen = resolve_video_runtime(self.runtime, self.network, self.device,
                                       PRECISION_NAMES[self.dtype], self.name)
        self.runtime = f"auto -> {chosen}" if self.runtime == "auto" else chosen
        self.engine = load_frame_engine(chosen, self.network, self.device, self.dtype)
        # Weights cast once (after an export, which takes them in fp32): autocast would cast
        # every conv weight on every frame (measured ~15% of a frame's time on the CPU, bf16).
        self.network = self.network.to(dtype=self.dtype).eval().requires_grad_(False)

    @property
    def scale(self) -> int:
        return self.network.scale

    @classmethod
    def from_pretrained(cls, name_or_path: str, device: str = "auto", precision: str = "auto",
                        tile: int | None = DEFAULT_TILE,
                        tile_overlap: int = DEFAULT_TILE_OVERLAP,
                        runtime: str = "auto") -> VideoUpscaler:
        """Load a bundled video model (``video-x4``) or a video weights file; ``runtime``:
        ``torch``, ``openvino`` (on the CPU, whatever ``device``) or ``auto``."""
        target = CPU if runtime == "openvino" else resolve_device(device)
        network, metadata = load_model(name_or_path)
        if not isinstance(network, RecurrentGenerator):
            raise VividError(f"{name_or_path}: is an image model, not a video model "
                             "(use vivid.Upscaler)")
        network = network.to(target, memory_format=torch.channels_last)
        return cls(network, str(name_or_path), target, resolve_precision(precision, target),
                   tile, tile_overlap, metadata, runtime=runtime)

    def _input(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor.to(self.device, self.dtype, memory_format=torch.channels_last)

    def stream(self) -> VideoStream:
        """A fresh recurrence: the first frame it sees is upscaled without a previous one."""
        return VideoStream(self)

    def image_upscaler(self) -> Upscaler:
        """An ``Upscaler`` (images) that treats every image as a first frame."""
        def first_frame(lr_tile: torch.Tensor) -> torch.Tensor:
            return self.run_sr(lr_tile, None)[0]

        return Upscaler(first_frame, self.scale, self.name, self.device, self.dtype, self.tile,
                        self.tile_overlap, self.metadata, runtime=self.runtime)

    def provenance(self) -> str:
        return self.image_upscaler().provenance()

    def run_sr(self, lr_tile: torch.Tensor, carried: torch.Tensor | None) -> FrameResult:
        """The SR network (the engine) on an LR tile and its carried state (None: a first
        frame), both on the CPU in fp32; returns the output tile and (version 3) the tile's
        LR features, on the CPU in fp32. The carried state stays in fp32 (the blend mixes it
        in fp32; bf16 would round it every frame)."""
        return self.engine(lr_tile, carried)

    def estimate_flow(self, lr_frame: torch.Tensor, previous_lr: torch.Tensor) -> torch.Tensor:
        """LR flow from ``lr_frame`` to ``previous_lr`` (1 x 2 x h x w, fp32, on the CPU): the
        flow network, or OpenCV on the fp32 frames as given."""
        if self.network.flow is None:
            return self.network.estimate_motion(lr_frame.float().cpu(), previous_lr.float().cpu())
        with torch.inference_mode():
            flow = self.network.flow(self._input(lr_frame), self._input(previous_lr))
        return flow.float().cpu()

    def carry(self, previous_sr: torch.Tensor, flow: torch.Tensor, lr_frame: torch.Tensor,
              features: torch.Tensor | None = None) -> torch.Tensor:
        """``RecurrentGenerator.carry`` on the CPU in fp32."""
        with torch.inference_mode():
            hidden = None if features is None else features.float()
            return self.network.carry(previous_sr.float(), flow.float(), lr_frame.float(),
                                      hidden).float().cpu()


class VideoStream:
    """The recurrence over one video: call it on batches of consecutive frames, in order."""

    def __init__(self, upscaler: VideoUpscaler) -> None:
        self.upscaler = upscaler
        self.previous_lr: torch.Tensor | None = None
        self.previous_sr: torch.Tensor | None = None
        self.previous_features: torch.Tensor | None = None  # version 3
        self.hidden = upscaler.network.hidden_head is not None
        self.cuts = 0  # scene cuts found so far

    def reset(self) -> None:
        self.previous_lr = self.previous_sr = self.previous_features = None

    def __call__(self, lr_batch: torch.Tensor) -> torch.Tensor:
        """N x 3 x h x w consecutive LR frames in [0, 1] -> N x 3 x H x W outputs in [0, 1]."""
        if lr_batch.ndim != 4 or lr_batch.shape[1] != 3:
            raise VividError(f"expected an N x 3 x H x W tensor, got {tuple(lr_batch.shape)}")
        return torch.cat([self.frame(lr_batch[i:i + 1].float().cpu())
                          for i in range(lr_batch.shape[0])])

    def frame(self, lr_frame: torch.Tensor) -> torch.Tensor:
        """One 1 x 3 x h x w frame; updates the state."""
        if self.previous_lr is not None and self.upscaler.scene_cuts and is_scene_cut(
                self.previous_lr, lr_frame):
            self.reset()
            self.cuts += 1
        packed = self._packed_state(lr_frame)
        tiles_in = lr_frame if packed is None else torch.cat((lr_frame, packed), 1)
        upscaler, scale = self.upscaler, self.upscaler.scale
        hidden_channels = upscaler.network.config.channels if self.hidden else 0
        model = pad_small(self._tile_model(tiles_in.shape[1]), scale)
        assembled = upscale_tiled(model, tiles_in, scale, upscaler.tile, upscaler.tile_overlap,
                                  channels=3 + packed_channels(hidden_channels, scale))
        if not self.hidden:
            sr_frame = assembled.clamp_(0, 1)
        else:  # copies: the state keeps the output and the features, not the packed buffer
            sr_frame = assembled[:, :3].clamp(0, 1)
            self.previous_features = unpack_features(assembled[:, 3:], scale, hidden_channels)
        self.previous_lr, self.previous_sr = lr_frame, sr_frame
        return sr_frame

    def _packed_state(self, lr_frame: torch.Tensor) -> torch.Tensor | None:
        """The previous output (and features) carried onto this frame (None: none)."""
        if self.previous_lr is None or self.previous_sr is None:
            return None
        if self.previous_lr.shape != lr_frame.shape:
            return None  # a new size is a new scene (is_scene_cut says so too)
        flow = self.estimate_flow(lr_frame, self.previous_lr)
        return self.upscaler.carry(self.previous_sr, flow, lr_frame, self.previous_features)

    def estimate_flow(self, lr_frame: torch.Tensor, previous_lr: torch.Tensor) -> torch.Tensor:
        """The motion the state is carried by: the model's (a diagnosis may replace it)."""
        return self.upscaler.estimate_flow(lr_frame, previous_lr)

    def _tile_model(self, channels: int) -> Callable[[torch.Tensor], torch.Tensor]:
        """LR tile (and its carried state after 3 channels) -> the output tile, and version
        3's LR features after it (``pack_features``)."""
        run_sr, scale = self.upscaler.run_sr, self.upscaler.scale

        def tile_model(tile: torch.Tensor) -> torch.Tensor:
            sr_tile, features = run_sr(tile[:, :3], None if channels == 3 else tile[:, 3:])
            if features is None:
                return sr_tile
            return torch.cat((sr_tile, pack_features(features, scale)), 1)

        return tile_model


def packed_channels(channels: int, scale: int) -> int:
    """The HR channels of ``channels`` LR feature channels packed by ``pack_features``."""
    return -(-channels // scale**2)


def pack_features(features: torch.Tensor, scale: int) -> torch.Tensor:
    """LR features depth-to-space to HR size, zero channels added up to a multiple of
    scale^2, so tiles assemble them as they assemble the output."""
    missing = packed_channels(features.shape[1], scale) * scale**2 - features.shape[1]
    return F.pixel_shuffle(F.pad(features, (0, 0, 0, 0, 0, missing)), scale)


def unpack_features(packed: torch.Tensor, scale: int, channels: int) -> torch.Tensor:
    """``pack_features`` undone: the first ``channels`` LR feature channels, a new tensor."""
    return F.pixel_unshuffle(packed, scale)[:, :channels].clone()
