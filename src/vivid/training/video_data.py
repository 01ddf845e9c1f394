"""Training data for the video generator: real clips plus synthetic motion over still images.

Real clips are folders of frames (``../shared/data/VideoClips/NAME/%08d.png``); each frame is
cropped to a multiple of the scale and kept in memory as uint8. A sample is ``frames``
consecutive frames (every frame or every second one; a clip shorter than that is played on
backwards from its end, as a camera that turns back), one aligned random crop, a flip / 90-degree
turn and, half the time, played backwards; its LR is made from the augmented HR (``degrade``,
BD by default, as TecoGAN; ``mixed``: BD or MATLAB bicubic, drawn per sequence, and the
validation sequences scored under both).

Synthetic samples pan a window over a still training image by a whole number of HR pixels per
frame (at most ``MAX_PAN`` per axis: TecoGAN's moving first frames), so every frame is an exact
crop of the still and the truth stays consistent along the motion; half the time a patch of
another image crosses it with its own whole-pixel velocity (occlusion and disocclusion).

Every crop is taken with ``MARGIN`` HR pixels more per side, so the degradation's blur sees
real content, and those are cut off after degrading. ``context`` HR pixels per side are kept
around the ``crop``: the generator sees them (motion estimated with context, content entering
at the border already there), the losses do not (``inner``).

As for images (``training.data``), batch ``i`` is a pure function of (seed, i, rank): a resumed
run sees exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import torch

from vivid.degrade import MIXED, crop_to_multiple, degrade
from vivid.errors import VividError
from vivid.images import imagefile
from vivid.images.listing import list_images
from vivid.images.pixels import to_uint8

MARGIN = 16  # HR pixels degraded with a crop and cut off after (a multiple of every scale)
MAX_PAN = 4  # largest synthetic pan per frame and axis, whole HR pixels (1 LR pixel at x4)
MIXED_CHOICES = ("bd", "bicubic")


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


def _inner(lr: torch.Tensor, hr: torch.Tensor, scale: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A crop made with ``MARGIN`` and its LR without the margin, uint8."""
    inner = MARGIN // scale
    return to_uint8(lr[..., inner:-inner, inner:-inner]), to_uint8(hr[..., MARGIN:-MARGIN,
                                                                       MARGIN:-MARGIN])


def inner(frames: torch.Tensor, context: int) -> torch.Tensor:
    """``frames`` (... x H x W) without ``context`` pixels per side: what the losses see."""
    return frames[..., context:frames.shape[-2] - context, context:frames.shape[-1] - context]


def frame_indices(count: int, frames: int, stride: int, start: int) -> torch.Tensor:
    """``frames`` indices from ``start`` every ``stride``, turned back at a clip end (a clip of
    ``count`` frames plays 0, 1, ..., count - 1, count - 2, ...)."""
    steps = torch.arange(frames) * stride + start
    if count == 1:
        return torch.zeros_like(steps)
    period = 2 * (count - 1)
    steps = steps % period
    return torch.where(steps < count, steps, period - steps)


def draw_int(high: int, generator: torch.Generator) -> int:
    """A random integer in [0, high)."""
    return int(torch.randint(high, (1,), generator=generator))


def draw_degradation(name: str, generator: torch.Generator) -> str:
    """``name``; for ``mixed`` one of ``MIXED_CHOICES``, equally likely (a draw only then)."""
    return MIXED_CHOICES[draw_int(len(MIXED_CHOICES), generator)] if name == MIXED else name


def draw_uniform(limit: float, generator: torch.Generator) -> float:
    """A random float in [-limit, limit)."""
    return float(torch.rand((), generator=generator) * 2 - 1) * limit


def clip_sample(clip: Clip, frames: int, crop: int, scale: int, degradation: str,
                generator: torch.Generator, context: int = 0
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """``frames`` consecutive (stride 1 or 2) crops of a clip, augmented, then degraded."""
    count = clip.hr_frames.shape[0]
    wide = draw_int(2, generator)  # always drawn: the random stream does not depend on clips
    stride = 2 if wide and count >= 2 * frames - 1 else 1
    start = draw_int(max(count - (frames - 1) * stride, 1), generator)
    indices = frame_indices(count, frames, stride, start)
    size = crop + 2 * (context + MARGIN)
    top = draw_int(clip.hr_frames.shape[-2] - size + 1, generator)
    left = draw_int(clip.hr_frames.shape[-1] - size + 1, generator)
    hr = _augment(clip.hr_frames[indices, :, top:top + size, left:left + size], generator)
    hr = hr.float() / 255
    return _inner(degrade(hr, scale, degradation), hr, scale)


def pan_frames(image: torch.Tensor, frames: int, size: int, generator: torch.Generator
               ) -> torch.Tensor:
    """``frames`` exact ``size`` x ``size`` crops of ``image`` (3 x H x W) along a straight
    path of a whole number of pixels per frame, at most ``MAX_PAN`` per axis (the image must
    have ``size + MAX_PAN * (frames - 1)`` pixels a side)."""
    velocity = [draw_int(2 * MAX_PAN + 1, generator) - MAX_PAN for _ in range(2)]
    travel = [abs(v) * (frames - 1) for v in velocity]
    left = draw_int(image.shape[-1] - size - travel[0] + 1, generator)
    top = draw_int(image.shape[-2] - size - travel[1] + 1, generator)
    # a path to the left (up) starts at the right (bottom) end of its travel
    left += travel[0] if velocity[0] < 0 else 0
    top += travel[1] if velocity[1] < 0 else 0
    return torch.stack([image[:, top + velocity[1] * t:top + velocity[1] * t + size,
                              left + velocity[0] * t:left + velocity[0] * t + size]
                        for t in range(frames)])


def paste_mover(frames: torch.Tensor, patch: torch.Tensor, generator: torch.Generator
                ) -> torch.Tensor:
    """``patch`` (3 x p x p) crossing ``frames`` (T x 3 x S x S) in a straight line at a
    whole-pixel velocity (at most ``2 * MAX_PAN`` per axis), clipped at the borders."""
    size, side = frames.shape[-1], patch.shape[-1]
    start = [draw_int(size - side + 1, generator), draw_int(size - side + 1, generator)]
    velocity = [draw_int(4 * MAX_PAN + 1, generator) - 2 * MAX_PAN for _ in range(2)]
    out = frames.clone()
    for t in range(frames.shape[0]):
        top = min(max(start[1] + velocity[1] * t, 0), size - side)
        left = min(max(start[0] + velocity[0] * t, 0), size - side)
        out[t, :, top:top + side, left:left + side] = patch
    return out


def still_side(crop: int, frames: int, context: int = 0) -> int:
    """The smallest side of a still that a synthetic sequence can pan over."""
    return crop + 2 * (context + MARGIN) + MAX_PAN * (frames - 1)


def synthetic_sample(stills: list[torch.Tensor], frames: int, crop: int, scale: int,
                     degradation: str, generator: torch.Generator, context: int = 0
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """A synthetic-motion sequence over a random still image, uint8 LR and HR."""
    image = stills[draw_int(len(stills), generator)]
    size = crop + 2 * (context + MARGIN)
    hr = pan_frames(image, frames, size, generator).float() / 255
    if draw_int(2, generator):
        other = stills[draw_int(len(stills), generator)]
        side = min(24 + draw_int(41, generator), *other.shape[-2:], size)
        top = draw_int(other.shape[-2] - side + 1, generator)
        left = draw_int(other.shape[-1] - side + 1, generator)
        hr = paste_mover(hr, other[:, top:top + side, left:left + side].float() / 255,
                         generator)
    return _inner(degrade(hr, scale, degradation), hr, scale)


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
    crop: int  # HR crop side the losses see
    frames: int  # frames per sequence
    synthetic: float  # fraction of synthetic sequences
    degradation: str
    context: int = 0  # HR pixels around the crop that the generator sees too

    @classmethod
    def from_folders(cls, videos: Iterable[str | Path], stills: Iterable[str | Path],
                     exclude: Iterable[str], scale: int, crop: int, frames: int,
                     synthetic: float, degradation: str, context: int = 0) -> VideoCrops:
        """Clips of the sequence folders in ``videos`` and stills of ``stills``, except the
        sequence and image names in ``exclude`` (held out for validation)."""
        if crop % scale or context % scale:
            raise VividError(f"crop {crop} and context {context} must be multiples of the "
                             f"scale {scale}")
        size = crop + 2 * (context + MARGIN)
        clips = [Clip(f.name, to_uint8(read_frames(f, scale)))
                 for f in sequence_folders(videos, exclude)]
        clips = [c for c in clips if c.hr_frames.shape[0] >= 2
                 and min(c.hr_frames.shape[-2:]) >= size]
        side = still_side(crop, frames, context)
        images = load_stills(stills, exclude, side)
        if synthetic < 1 and not clips:
            raise VividError(f"no clip with 2 frames of at least {size} pixels a side")
        if synthetic > 0 and not images:
            raise VividError(f"data.synthetic = {synthetic} needs still images of at least "
                             f"{side}x{side} in data.train")
        return cls(clips, images, scale, crop, frames, synthetic, degradation, context)

    def sample(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        degradation = draw_degradation(self.degradation, generator)
        if float(torch.rand((), generator=generator)) < self.synthetic:
            return synthetic_sample(self.stills, self.frames, self.crop, self.scale,
                                    degradation, generator, self.context)
        clip = self.clips[draw_int(len(self.clips), generator)]
        return clip_sample(clip, self.frames, self.crop, self.scale, degradation, generator,
                           self.context)

    def batch(self, seed: int, iteration: int, batch_size: int, rank: int = 0,
              world_size: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """This rank's share of global batch ``iteration``: N x T x 3 x h x w floats in [0, 1]
        (with ``context``; ``inner`` cuts it off)."""
        mine = draw_batch(self.sample, seed, iteration, batch_size, rank, world_size)
        lr = torch.stack([s[0] for s in mine]).float() / 255
        hr = torch.stack([s[1] for s in mine]).float() / 255
        return lr, hr


class ValidationClip(NamedTuple):
    """A held-out sequence: LR and HR float T x 3 x h x w; ``degradation`` (the LR's kind) is
    set only in a ``mixed`` run, whose validation scores each kind on its own."""
    name: str
    lr: torch.Tensor
    hr: torch.Tensor
    degradation: str | None = None


def load_validation_clips(folder: str | Path, names: Iterable[str], scale: int,
                          degradation: str) -> list[ValidationClip]:
    """The held-out sequences; with ``mixed`` each twice (``name (bd)``, ``name (bicubic)``)."""
    wanted = list(names)
    found = {p.name: p for p in sequence_folders([folder])}
    missing = [n for n in wanted if n not in found]
    if missing:
        raise VividError(f"{folder}: no sequence folder {missing[0]!r} (data.validation_videos)")
    kinds = MIXED_CHOICES if degradation == MIXED else (degradation,)
    sequences = []
    for name in wanted:
        hr = to_uint8(read_frames(found[name], scale)).float() / 255  # 8-bit, as training
        for kind in kinds:
            lr = to_uint8(degrade_frames(hr, scale, kind)).float() / 255
            sequences.append(ValidationClip(name, lr, hr) if len(kinds) == 1 else
                             ValidationClip(f"{name} ({kind})", lr, hr, kind))
    return sequences
