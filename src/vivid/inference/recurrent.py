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

With a pre-roll (``stream(preroll=k)``; files: ``PREROLL``) the first frame of each scene
starts from the state left by running the recurrence backwards over the scene's next k frames,
so it has history as later frames do; outputs then come k frames late (``VideoStream``).

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

# Frames of look-ahead run backwards before each scene's first frame, for files (``vivid
# upscale``, ``vivid eval-video``); chosen on the held-out clips (model card, ``Pre-roll``)
PREROLL = 6


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

    def stream(self, preroll: int = 0) -> VideoStream:
        """A fresh recurrence over one video; ``preroll``: frames of look-ahead run backwards
        before each scene's first frame (``VideoStream``; ``PREROLL`` for files)."""
        return VideoStream(self, preroll)

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
    """The recurrence over one video: call it on batches of consecutive frames, in order.

    With ``preroll`` k > 0 the first frame of every scene (the video's first, and the first
    after a scene cut) starts from a state built by running the recurrence backwards over the
    scene's next k frames (fewer where the scene or the video ends sooner; their outputs are
    dropped), so that frame has history as later ones do. That takes k frames of look-ahead:
    a call returns the outputs of the frames finished so far, in order (fewer than it was
    given, possibly none), and ``flush()`` returns the rest at the end of the video. With k = 0
    (the default; ``vivid live``) every call returns its own frames' outputs."""

    def __init__(self, upscaler: VideoUpscaler, preroll: int = 0) -> None:
        if preroll < 0:
            raise VividError(f"preroll {preroll}: must be 0 or more frames")
        self.upscaler, self.preroll = upscaler, preroll
        self.previous_lr: torch.Tensor | None = None
        self.previous_sr: torch.Tensor | None = None
        self.previous_features: torch.Tensor | None = None  # version 3
        self.hidden = upscaler.network.hidden_head is not None
        self.cuts = 0  # scene cuts found so far (a new frame size is one)
        self.pending: list[torch.Tensor] = []  # frames given, not yet upscaled
        self.size: tuple[int, ...] = (0, 0)  # of the outputs of the last frames given

    def reset(self) -> None:
        """Forget the state: the next frame starts a scene (frames held back for a pre-roll
        must be ``flush()``-ed first)."""
        if self.pending:
            raise VividError(f"reset() with {len(self.pending)} frames held back for the "
                             "pre-roll: flush() them first")
        self._forget()

    def _forget(self) -> None:
        self.previous_lr = self.previous_sr = self.previous_features = None

    def __call__(self, lr_batch: torch.Tensor) -> torch.Tensor:
        """N x 3 x h x w consecutive LR frames in [0, 1] -> the outputs (in [0, 1]) of the
        frames finished so far: all N when ``preroll`` is 0."""
        if lr_batch.ndim != 4 or lr_batch.shape[1] != 3:
            raise VividError(f"expected an N x 3 x H x W tensor, got {tuple(lr_batch.shape)}")
        if self.pending and self.pending[-1].shape[-2:] != lr_batch.shape[-2:]:
            raise VividError(f"frame size changed from {tuple(self.pending[-1].shape[-2:])} to "
                             f"{tuple(lr_batch.shape[-2:])} within a video (a pre-roll needs "
                             "one size; --preroll 0 takes any)")
        self.pending += list(lr_batch.float().cpu().clone().split(1))  # kept: not the caller's
        self.size = tuple(side * self.upscaler.scale for side in lr_batch.shape[-2:])
        return self._run(keep=self.preroll)

    def flush(self) -> torch.Tensor:
        """The outputs of the frames still held back for the look-ahead (the video ended)."""
        return self._run(keep=0)

    def _run(self, keep: int) -> torch.Tensor:
        outputs = []
        while len(self.pending) > keep:
            lr_frame = self.pending.pop(0)
            outputs.append(self.frame(lr_frame, self.pending[:self.preroll]))
        return torch.cat(outputs) if outputs else torch.zeros(0, 3, *self.size)

    def frame(self, lr_frame: torch.Tensor, ahead: list[torch.Tensor] | None = None
              ) -> torch.Tensor:
        """One 1 x 3 x h x w frame, ``ahead`` the frames after it (for a pre-roll); updates
        the state."""
        starts = self.previous_lr is None
        if not starts and self._is_cut(self.previous_lr, lr_frame):
            self.cuts += 1
            starts = True
        if starts:
            self._forget()
            for warm in reversed(self._same_scene(lr_frame, ahead or [])):
                self._upscale(warm)  # the pre-roll: only the state it leaves is kept
        return self._upscale(lr_frame)

    def _is_cut(self, previous: torch.Tensor, lr_frame: torch.Tensor) -> bool:
        return previous.shape != lr_frame.shape or (
            self.upscaler.scene_cuts and is_scene_cut(previous, lr_frame))

    def _same_scene(self, first: torch.Tensor, ahead: list[torch.Tensor]
                    ) -> list[torch.Tensor]:
        """The frames of ``ahead`` before the first scene cut after ``first``."""
        scene: list[torch.Tensor] = []
        for lr_frame in ahead:
            if self._is_cut(scene[-1] if scene else first, lr_frame):
                break
            scene.append(lr_frame)
        return scene

    def _upscale(self, lr_frame: torch.Tensor) -> torch.Tensor:
        """The frame upscaled from the current state, which it then replaces."""
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
