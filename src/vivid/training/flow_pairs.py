"""Training pairs with known motion for the flow network of the video generator (stage
``video-flow``), in the manner of FlyingChairs: a still training image moved by a random
affine motion (pan, rotation, zoom) and, half the time, a patch of another image crossing it
with its own velocity (occlusion). Both frames are degraded as the video stage degrades them
(BD by default), so the flow is learned on the LR frames it will see, with the true motion as
the target (why the flow network needs this: docs/models/video.md, "How we got here").

A sample is (LR pair, flow): 2 x 3 x h x w (current frame, previous frame) and 2 x h x w, the
motion from the current LR frame to the previous one in LR pixels (x then y): where each
pixel of the current frame was in the previous one, as ``FlowNet`` outputs it. As for the other
stages, batch ``i`` is a pure function of (seed, i, rank).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from vivid.degrade import degrade
from vivid.errors import VividError
from vivid.images.pixels import quantize_8bit, to_uint8
from vivid.training.video_data import MARGIN, draw_batch, draw_int, draw_uniform, load_stills

MAX_SHIFT = 16.0  # largest pan between the two frames, HR pixels (4 LR pixels at x4)
MAX_TURN = math.radians(2.0)
MAX_ZOOM = 0.03


def affine_pair(image: torch.Tensor, size: int, generator: torch.Generator
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """(2 x 3 x size x size frames [current, previous], 2 x size x size HR flow) of a random
    affine motion of ``image`` (3 x H x W, at least ``size`` + 2 x MAX_SHIFT a side)."""
    height, width = image.shape[-2:]
    reach = size / 2 + MAX_SHIFT + 2
    centre = (reach + draw_int(int(width - 2 * reach), generator),
              reach + draw_int(int(height - 2 * reach), generator))
    shift = (draw_uniform(MAX_SHIFT, generator), draw_uniform(MAX_SHIFT, generator))
    angle, zoom = draw_uniform(MAX_TURN, generator), 1 + draw_uniform(MAX_ZOOM, generator)
    axis = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    ys, xs = torch.meshgrid(axis, axis, indexing="ij")
    cos, sin = math.cos(angle) * zoom, math.sin(angle) * zoom
    # current pixel u shows the image at centre + q(u); the previous frame shows centre + u
    qx = shift[0] + cos * xs - sin * ys
    qy = shift[1] + sin * xs + cos * ys
    flow = torch.stack((qx - xs, qy - ys))
    grid = torch.stack([torch.stack((2 * (centre[0] + x) / (width - 1) - 1,
                                     2 * (centre[1] + y) / (height - 1) - 1), -1)
                        for x, y in ((qx, qy), (xs, ys))])  # current, previous
    frames = F.grid_sample(image[None].expand(2, -1, -1, -1), grid, mode="bicubic",
                           padding_mode="reflection", align_corners=True).clamp(0, 1)
    return frames, flow


def paste_mover(frames: torch.Tensor, flow: torch.Tensor, patch: torch.Tensor,
                generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A ``patch`` moving by a whole-pixel velocity between the previous and current frame,
    pasted over both; the flow inside it becomes the patch's motion."""
    size, side = frames.shape[-1], patch.shape[-1]
    velocity = tuple(round(draw_uniform(MAX_SHIFT, generator)) for _ in range(2))
    # the current position, chosen so that the previous one (current - velocity) fits too
    left, top = (max(0, v) + draw_int(size - side - abs(v) + 1, generator) for v in velocity)
    frames, flow = frames.clone(), flow.clone()
    frames[0, :, top:top + side, left:left + side] = patch  # current
    frames[1, :, top - velocity[1]:top - velocity[1] + side,
           left - velocity[0]:left - velocity[0] + side] = patch  # previous
    flow[0, top:top + side, left:left + side] = -velocity[0]
    flow[1, top:top + side, left:left + side] = -velocity[1]
    return frames, flow


def flow_sample(stills: list[torch.Tensor], crop: int, scale: int, degradation: str,
                generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """One (LR pair uint8 2 x 3 x h x w, LR flow float 2 x h x w); see the module docstring."""
    image = stills[draw_int(len(stills), generator)].float() / 255
    size = crop + 2 * MARGIN
    frames, flow = affine_pair(image, size, generator)
    if draw_int(2, generator):
        other = stills[draw_int(len(stills), generator)]
        side = min(24 + draw_int(41, generator), *other.shape[-2:], size // 2)
        top = draw_int(other.shape[-2] - side + 1, generator)
        left = draw_int(other.shape[-1] - side + 1, generator)
        frames, flow = paste_mover(frames, flow, other[:, top:top + side, left:left + side]
                                   .float() / 255, generator)
    lr = degrade(quantize_8bit(frames), scale, degradation)
    inner = MARGIN // scale
    lr = lr[..., inner:inner + crop // scale, inner:inner + crop // scale]
    # BD keeps HR pixels 0, scale, 2 scale, ...: LR pixel i is HR pixel scale * i
    lr_flow = flow[:, MARGIN:MARGIN + crop:scale, MARGIN:MARGIN + crop:scale] / scale
    return to_uint8(lr), lr_flow


@dataclass
class FlowPairs:
    """Random LR frame pairs with their true motion (stage ``video-flow``)."""

    stills: list[torch.Tensor]  # 3 x H x W uint8
    scale: int
    crop: int  # HR crop side
    degradation: str

    @classmethod
    def from_folders(cls, stills: Iterable[str | Path], exclude: Iterable[str], scale: int,
                     crop: int, degradation: str, only: Iterable[str] = ()) -> FlowPairs:
        """Stills of ``stills`` except the names in ``exclude`` (only those in ``only`` if
        given), large enough for a crop plus the largest motion."""
        if crop % scale:
            raise VividError(f"crop {crop} is not a multiple of the scale {scale}")
        need = crop + 2 * MARGIN + 2 * MAX_SHIFT + 6
        images = load_stills(stills, exclude, need, only)
        if not images:
            raise VividError(f"stage video-flow needs still images of at least {need:.0f} "
                             "pixels a side in data.train")
        return cls(images, scale, crop, degradation)

    def batch(self, seed: int, iteration: int, batch_size: int, rank: int = 0,
              world_size: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """This rank's share of batch ``iteration``: N x 2 x 3 x h x w LR pairs in [0, 1]
        (current, previous) and N x 2 x h x w flows in LR pixels."""
        def draw(generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
            return flow_sample(self.stills, self.crop, self.scale, self.degradation, generator)

        mine = draw_batch(draw, seed, iteration, batch_size, rank, world_size)
        return (torch.stack([s[0] for s in mine]).float() / 255,
                torch.stack([s[1] for s in mine]))
