"""Training data for the video generator: real clips plus synthetic motion over still images.

Real clips are folders of frames (``../shared/data/VideoClips/NAME/%08d.png``); each frame is
cropped to a multiple of the scale and its LR made once (``degrade``, BD by default, as
TecoGAN), both kept in memory as uint8. A sample is ``frames`` consecutive frames (every
frame or every second one), one aligned random crop, a flip / 90-degree turn and, half the
time, played backwards.

Synthetic samples move a window over a still training image: a smooth random pan, zoom and
rotation per frame (bicubic resampling of the HR image), and half the time a patch of another
image crossing it with its own velocity, so the model meets occlusion and disocclusion. Their
LR is made from HR frames with a margin, so the blur sees real context at the crop border.

As for images (``training.data``), batch ``i`` is a pure function of (seed, i, rank): a resumed
run sees exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from vivid.degrade import crop_to_multiple, degrade
from vivid.errors import VividError
from vivid.images import imagefile
from vivid.images.listing import list_images
from vivid.images.pixels import quantize_8bit, to_uint8

MARGIN = 16  # HR pixels of context around a synthetic crop (a multiple of every scale)
MAX_SHIFT = 10.0  # largest synthetic pan per frame, HR pixels
MAX_TURN = math.radians(1.5)  # largest synthetic rotation per frame
MAX_ZOOM = 0.02  # largest synthetic zoom change per frame


@dataclass
class Clip:
    """One real sequence in memory: T x 3 x H x W HR frames, uint8."""

    name: str
    hr_frames: torch.Tensor


def sequence_folders(folders: Iterable[str | Path], exclude: Iterable[str] = ()) -> list[Path]:
    """Every sequence folder (a folder of frames) inside ``folders``, minus ``exclude`` names."""
    excluded, found = set(exclude), []
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise VividError(f"{folder}: not a folder of sequence folders")
        found += sorted(p for p in folder.iterdir() if p.is_dir() and p.name not in excluded)
    if not found:
        raise VividError(f"no sequence folders in {', '.join(map(str, folders))}")
    return found


def read_frames(folder: Path, scale: int) -> torch.Tensor:
    """T x 3 x H x W float frames of a sequence folder, cropped to a multiple of ``scale``."""
    hr_frames = [crop_to_multiple(imagefile.read_image(p).rgb, scale) for p in list_images(folder)]
    if len({tuple(f.shape) for f in hr_frames}) > 1:
        raise VividError(f"{folder}: frames differ in size")
    return torch.cat(hr_frames)


def degrade_frames(hr_frames: torch.Tensor, scale: int, degradation: str) -> torch.Tensor:
    """LR of T x 3 x H x W frames, a few at a time (memory)."""
    return torch.cat([degrade(chunk, scale, degradation) for chunk in hr_frames.split(8)])


def _augment(hr: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A random flip, quarter turns and time direction of T x 3 x H x W frames.

    Applied to HR before its LR is made: BD keeps every ``scale``-th pixel from the first, so
    flipping a made LR would put it 3 HR pixels off its flipped HR target.
    """
    flip, turns, backwards = (int(torch.randint(n, (1,), generator=generator)) for n in (2, 4, 2))
    if flip:
        hr = hr.flip(-1)
    hr = hr.rot90(turns, (-2, -1))
    return hr.flip(0) if backwards else hr


def _inner(lr: torch.Tensor, hr: torch.Tensor, crop: int, scale: int
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``crop`` x ``crop`` HR centre of a crop made with ``MARGIN`` and its LR, uint8."""
    inner = MARGIN // scale
    lr = lr[..., inner:inner + crop // scale, inner:inner + crop // scale]
    hr = hr[..., MARGIN:MARGIN + crop, MARGIN:MARGIN + crop]
    return to_uint8(lr), to_uint8(hr)


def draw_int(high: int, generator: torch.Generator) -> int:
    """A random integer in [0, high)."""
    return int(torch.randint(high, (1,), generator=generator))


def draw_uniform(limit: float, generator: torch.Generator) -> float:
    """A random float in [-limit, limit)."""
    return float(torch.rand((), generator=generator) * 2 - 1) * limit


def clip_sample(clip: Clip, frames: int, crop: int, scale: int, degradation: str,
                generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``frames`` consecutive (stride 1 or 2) crops of a clip, augmented, then degraded."""
    count = clip.hr_frames.shape[0]
    stride = 2 if count >= 2 * frames - 1 and draw_int(2, generator) else 1
    start = draw_int(count - (frames - 1) * stride, generator)
    indices = torch.arange(start, start + (frames - 1) * stride + 1, stride)
    size = crop + 2 * MARGIN
    top = draw_int(clip.hr_frames.shape[-2] - size + 1, generator)
    left = draw_int(clip.hr_frames.shape[-1] - size + 1, generator)
    hr = _augment(clip.hr_frames[indices, :, top:top + size, left:left + size], generator)
    hr = hr.float() / 255
    return _inner(degrade(hr, scale, degradation), hr, crop, scale)


def _motion_grid(frames: int, size: int, source: tuple[int, int], generator: torch.Generator
                 ) -> torch.Tensor:
    """Sampling grids (frames x size x size x 2, grid_sample units) of a smooth camera path."""
    height, width = source
    # the window's centre stays half a window from the borders (reflected content would move
    # against the pan), where the image is large enough
    half = size // 2
    centre = [half + draw_int(max(width - 2 * half, 1), generator),
              half + draw_int(max(height - 2 * half, 1), generator)]
    shift = [draw_uniform(MAX_SHIFT, generator), draw_uniform(MAX_SHIFT, generator)]
    turn, zoom = draw_uniform(MAX_TURN, generator), draw_uniform(MAX_ZOOM, generator)
    axis = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    ys, xs = torch.meshgrid(axis, axis, indexing="ij")
    grids = []
    for t in range(frames):
        angle, factor = turn * t, (1 + zoom) ** t
        cos, sin = math.cos(angle) * factor, math.sin(angle) * factor
        x = centre[0] + shift[0] * t + cos * xs - sin * ys
        y = centre[1] + shift[1] * t + sin * xs + cos * ys
        grids.append(torch.stack((2 * x / (width - 1) - 1, 2 * y / (height - 1) - 1), -1))
    return torch.stack(grids)


def _paste_mover(frames: torch.Tensor, patch: torch.Tensor, generator: torch.Generator
                 ) -> torch.Tensor:
    """``patch`` (3 x p x p) crossing ``frames`` (T x 3 x S x S) in a straight line."""
    size, side = frames.shape[-1], patch.shape[-1]
    start = [draw_int(size - side + 1, generator), draw_int(size - side + 1, generator)]
    velocity = [draw_uniform(MAX_SHIFT, generator), draw_uniform(MAX_SHIFT, generator)]
    out = frames.clone()
    for t in range(frames.shape[0]):
        top = min(max(round(start[1] + velocity[1] * t), 0), size - side)
        left = min(max(round(start[0] + velocity[0] * t), 0), size - side)
        out[t, :, top:top + side, left:left + side] = patch
    return out


def synthetic_sample(stills: list[torch.Tensor], frames: int, crop: int, scale: int,
                     degradation: str, generator: torch.Generator
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """A synthetic-motion sequence over a random still image, uint8 LR and HR."""
    image = stills[draw_int(len(stills), generator)].float()[None] / 255
    size = crop + 2 * MARGIN
    grid = _motion_grid(frames, size, tuple(image.shape[-2:]), generator)
    hr = F.grid_sample(image.expand(frames, -1, -1, -1), grid, mode="bicubic",
                       padding_mode="reflection", align_corners=True).clamp(0, 1)
    if draw_int(2, generator):
        other = stills[draw_int(len(stills), generator)]
        side = min(24 + draw_int(41, generator), *other.shape[-2:], size)
        top = draw_int(other.shape[-2] - side + 1, generator)
        left = draw_int(other.shape[-1] - side + 1, generator)
        hr = _paste_mover(hr, other[:, top:top + side, left:left + side].float() / 255,
                          generator)
    hr = quantize_8bit(hr)  # 8-bit frames, as real ones
    return _inner(degrade(hr, scale, degradation), hr, crop, scale)


def load_stills(folders: Iterable[str | Path], exclude: Iterable[str], min_side: float,
                only: Iterable[str] = ()) -> list[torch.Tensor]:
    """3 x H x W uint8 images of ``folders`` with both sides >= ``min_side``, except the names
    in ``exclude`` (and, if ``only`` is given, only the names in it)."""
    excluded, wanted = set(exclude), set(only)
    images = [to_uint8(imagefile.read_image(p).rgb[0]) for folder in folders
              for p in list_images(folder)
              if p.name not in excluded and (not wanted or p.name in wanted)]
    return [i for i in images if min(i.shape[-2:]) >= min_side]


def draw_batch(draw: Callable[[torch.Generator], Any], seed: int, iteration: int,
               batch_size: int, rank: int, world_size: int) -> list[Any]:
    """This rank's share of global batch ``iteration``: ``batch_size x world_size`` samples
    drawn in order from one generator seeded by (seed, iteration), then this rank's slice."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + iteration)
    samples = [draw(generator) for _ in range(batch_size * world_size)]
    return samples[rank * batch_size:(rank + 1) * batch_size]


@dataclass
class VideoCrops:
    """Random LR/HR training sequences; see the module docstring."""

    clips: list[Clip]
    stills: list[torch.Tensor]  # 3 x H x W uint8, for synthetic motion
    scale: int
    crop: int  # HR crop side
    frames: int  # frames per sequence
    synthetic: float  # fraction of synthetic sequences
    degradation: str

    @classmethod
    def from_folders(cls, videos: Iterable[str | Path], stills: Iterable[str | Path],
                     exclude: Iterable[str], scale: int, crop: int, frames: int,
                     synthetic: float, degradation: str) -> VideoCrops:
        """Clips of the sequence folders in ``videos`` and stills of ``stills``, except the
        sequence and image names in ``exclude`` (held out for validation)."""
        if crop % scale:
            raise VividError(f"crop {crop} is not a multiple of the scale {scale}")
        clips = [Clip(f.name, to_uint8(read_frames(f, scale)))
                 for f in sequence_folders(videos, exclude)]
        clips = [c for c in clips if c.hr_frames.shape[0] >= frames
                 and min(c.hr_frames.shape[-2:]) >= crop + 2 * MARGIN]
        images = load_stills(stills, exclude, crop)
        if synthetic < 1 and not clips:
            raise VividError(f"no clip with {frames} frames of at least {crop + 2 * MARGIN} "
                             "pixels a side")
        if synthetic > 0 and not images:
            raise VividError(f"data.synthetic = {synthetic} needs still images of at least "
                             f"{crop}x{crop} in data.train")
        return cls(clips, images, scale, crop, frames, synthetic, degradation)

    def sample(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        if float(torch.rand((), generator=generator)) < self.synthetic:
            return synthetic_sample(self.stills, self.frames, self.crop, self.scale,
                                    self.degradation, generator)
        clip = self.clips[draw_int(len(self.clips), generator)]
        return clip_sample(clip, self.frames, self.crop, self.scale, self.degradation,
                           generator)

    def batch(self, seed: int, iteration: int, batch_size: int, rank: int = 0,
              world_size: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """This rank's share of global batch ``iteration``: N x T x 3 x h x w floats in [0, 1]."""
        mine = draw_batch(self.sample, seed, iteration, batch_size, rank, world_size)
        lr = torch.stack([s[0] for s in mine]).float() / 255
        hr = torch.stack([s[1] for s in mine]).float() / 255
        return lr, hr


def load_validation_clips(folder: str | Path, names: Iterable[str], scale: int,
                          degradation: str) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """(name, LR, HR) float T x 3 x h x w of the held-out validation sequences."""
    wanted = list(names)
    found = {p.name: p for p in sequence_folders([folder])}
    missing = [n for n in wanted if n not in found]
    if missing:
        raise VividError(f"{folder}: no sequence folder {missing[0]!r} (data.validation_videos)")
    sequences = []
    for name in wanted:
        hr = to_uint8(read_frames(found[name], scale)).float() / 255  # 8-bit, as training
        lr = to_uint8(degrade_frames(hr, scale, degradation)).float() / 255
        sequences.append((name, lr, hr))
    return sequences
