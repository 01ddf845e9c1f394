"""Temporal coherence for frame-by-frame super-resolution, and the optical flow it uses.

``TemporalBlend`` (``--temporal flow``) is a recurrent filter on the output: for frame t it
estimates where every pixel of LR frame t was in LR frame t-1 (dense Farneback flow, OpenCV,
on the small LR frames), warps the previous *output* frame there (flow upscaled to the output
size, bilinear sampling: ``vivid.nets.warping``), and mixes it in where the warp is reliable:

    out_t = S_t + m_t * weight * (warp(out_{t-1}) - S_t)

``S_t`` is the generator's frame, ``m_t`` in [0, 1] is 1 where the forward-backward flow check
(the two flows cancel to within ``consistency`` LR pixels) and the photometric check (the
warped previous LR frame matches within ``tolerance`` grey levels) pass, and 0 elsewhere.
Static and smoothly moving content thus keeps yesterday's detail instead of re-inventing it
(no flicker), while occluded or new content gets the generator's full detail. Cost per frame:
two flows at LR size plus one warp at output size, small next to the generator. A trained
recurrent generator can replace it later: anything with ``__call__(lr_frame, sr_frame)``
that keeps its own state slots in (see ``make_frame_fn``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from vivid.errors import VividError
from vivid.motion import flow, grey
from vivid.nets.warping import upsample, upscale_flow, warp

TEMPORAL_MODES = ("none", "flow")
# N x 3 x h x w -> the outputs of the frames finished so far, in order; one with a ``flush()``
# (a video model's stream with a pre-roll) may hold frames back until then (``flush``)
FrameFn = Callable[[torch.Tensor], torch.Tensor]


def flush(frame_fn: FrameFn) -> torch.Tensor | None:
    """The outputs ``frame_fn`` still holds at the end of a video: its ``flush()``; None for
    a frame function that returns every batch's outputs at once."""
    rest = getattr(frame_fn, "flush", None)
    return None if rest is None else rest()


def offsets_warp(image: torch.Tensor, offsets: np.ndarray) -> torch.Tensor:
    """``image`` (N x C x H x W) sampled at p + offsets(p) (an OpenCV flow, H x W x 2
    pixels): ``vivid.nets.warping.warp``, bilinear, borders repeated, fp32."""
    return warp(image, as_flow(offsets).expand(image.shape[0], -1, -1, -1))


def as_flow(offsets: np.ndarray) -> torch.Tensor:
    """An OpenCV flow (H x W x 2) as the package's 1 x 2 x H x W fp32 flow."""
    return torch.from_numpy(offsets).float().permute(2, 0, 1)[None]


def consistent(backward: np.ndarray, forward: np.ndarray, limit: float) -> np.ndarray:
    """Where following ``backward`` and then ``forward`` returns within ``limit`` pixels."""
    back_then_forth = backward + offsets_warp(as_flow(forward), backward)[0].permute(1, 2, 0
                                                                                     ).numpy()
    return np.linalg.norm(back_then_forth, axis=-1) < limit


@dataclass
class TemporalBlend:
    """See the module docstring. Call it on consecutive frames, in order."""

    scale: int
    weight: float = 0.5
    consistency: float = 1.0  # LR pixels
    tolerance: float = 12.0  # grey levels
    previous_lr: np.ndarray | None = field(default=None, repr=False)
    previous_out: torch.Tensor | None = field(default=None, repr=False)

    def reliability(self, lr_grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Backward flow (t -> t-1) and the mask where it can be trusted (LR size)."""
        assert self.previous_lr is not None
        backward = flow(lr_grey, self.previous_lr)  # lr_t(p) ~ lr_{t-1}(p + backward(p))
        forward = flow(self.previous_lr, lr_grey)
        trusted = consistent(backward, forward, self.consistency)
        previous = torch.from_numpy(self.previous_lr).float()[None, None]
        warped = offsets_warp(previous, backward)[0, 0].numpy()
        matches = np.abs(warped - lr_grey.astype(np.float32)) < self.tolerance
        return backward, (trusted & matches).astype(np.float32)

    def __call__(self, lr_frame: torch.Tensor, sr_frame: torch.Tensor) -> torch.Tensor:
        lr_grey = grey(lr_frame)
        out = sr_frame
        if self.previous_lr is not None and self.previous_out is not None:
            backward, mask = self.reliability(lr_grey)
            warped = warp(self.previous_out, upscale_flow(as_flow(backward), self.scale))
            big_mask = upsample(torch.from_numpy(mask)[None, None], self.scale, bd_grid=False)
            blend = big_mask * self.weight
            out = sr_frame + blend * (warped - sr_frame)
        self.previous_lr, self.previous_out = lr_grey, out
        return out


Filter = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def make_filter(mode: str, scale: int) -> Filter | None:
    if mode not in TEMPORAL_MODES:
        raise VividError(f"--temporal {mode}: choose one of {', '.join(TEMPORAL_MODES)}")
    return TemporalBlend(scale) if mode == "flow" else None


def make_frame_fn(upscale: Callable[[torch.Tensor], torch.Tensor], temporal: Filter | None
                  ) -> FrameFn:
    """Batch of consecutive LR frames -> SR frames, through the temporal filter in order."""
    def frame_fn(lr_batch: torch.Tensor) -> torch.Tensor:
        sr_batch = upscale(lr_batch)
        if temporal is None:
            return sr_batch
        return torch.cat([temporal(lr_batch[i:i + 1], sr_batch[i:i + 1]).clamp(0, 1)
                          for i in range(lr_batch.shape[0])])

    return frame_fn
