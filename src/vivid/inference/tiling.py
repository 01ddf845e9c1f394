"""Tiled upscaling with cross-faded seams, so memory stays bounded for any image size.

The LR image is cut into a grid of near-equal *cores*. Each tile is the core plus ``overlap``
LR pixels of context on every side (clipped at the image border) and goes through the model
(tiles of equal size in batches); its output is added into the full-size result with a
separable weight that is 1 inside the core and ramps linearly across each inner seam over
``overlap`` LR pixels centred on it.
The two ramps at a seam sum to 1, so where neighbouring tiles agree the result equals the
untiled one. It is exact when ``overlap / 2`` is at least the model's receptive radius, and
in practice within float rounding for much less, since trained networks look only a few
pixels far.

Only tiles travel to the model (and its device); the input and output stay where they are.
A tile that runs out of memory makes the whole image start again with half the tile size;
a tile with non-finite output is an error.

``pad_small`` wraps a network for inputs smaller than its training crops (see there).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from vivid.errors import VividError

ModelFn = Callable[[torch.Tensor], torch.Tensor]
MIN_TILE = 16
MIN_SIDE = 24  # the LR crop size vivid's networks are trained on


def pad_small(model: ModelFn, scale: int, minimum: int = MIN_SIDE) -> ModelFn:
    """``model`` for inputs of any size: a side shorter than ``minimum`` is replicate-padded
    (centred) to ``minimum`` and the output cropped back.

    The networks' convolutions pad with zeros. In an input a few pixels across that black
    border is most of what every layer sees, so colours collapse (a 1x1 (200, 10, 10) pixel
    came out as (19, 16, 12), a 1x64 white strip as (144, 144, 117)); padded with copies of
    its own edge pixels the input looks like the inside of a larger image, as in training.
    """

    def padded(lr_tile: torch.Tensor) -> torch.Tensor:
        height, width = lr_tile.shape[-2:]
        extra_h, extra_w = max(0, minimum - height), max(0, minimum - width)
        if not (extra_h or extra_w):
            return model(lr_tile)
        top, left = extra_h // 2, extra_w // 2
        sr_tile = model(F.pad(lr_tile, (left, extra_w - left, top, extra_h - top),
                              mode="replicate"))
        return sr_tile[..., top * scale:(top + height) * scale,
                       left * scale:(left + width) * scale]

    return padded


def split(length: int, tile: int) -> list[tuple[int, int]]:
    """Near-equal consecutive cores [start, end) covering [0, length), none longer than tile."""
    count = max(1, math.ceil(length / tile))
    bounds = [round(i * length / count) for i in range(count + 1)]
    return list(itertools.pairwise(bounds))


def _ramp(
    core: tuple[int, int], span: tuple[int, int], length: int, half: float, scale: int
) -> torch.Tensor:
    """Weights for the output pixels of a tile spanning ``span`` (LR coords) along one axis."""
    start, end = core
    positions = (torch.arange(span[0] * scale, span[1] * scale) + 0.5) / scale
    weight = torch.ones_like(positions)
    if start > 0:
        weight = weight * (
            ((positions - start + half) / (2 * half)).clamp(0, 1)
            if half > 0
            else (positions >= start).float()
        )
    if end < length:
        weight = weight * (
            ((end + half - positions) / (2 * half)).clamp(0, 1)
            if half > 0
            else (positions < end).float()
        )
    return weight


def _is_out_of_memory(error: BaseException) -> bool:
    return isinstance(error, torch.OutOfMemoryError) or (
        isinstance(error, RuntimeError) and "can't allocate memory" in str(error)
    )


@dataclass(frozen=True)
class _Tile:
    core: tuple[int, int]  # (top, left) of the core, for messages
    rows: tuple[int, int]  # LR span with context
    columns: tuple[int, int]
    row_weight: torch.Tensor  # 1-D output weights
    column_weight: torch.Tensor

    @property
    def size(self) -> tuple[int, int]:
        return self.rows[1] - self.rows[0], self.columns[1] - self.columns[0]


def _plan(height: int, width: int, scale: int, tile: int, overlap: int) -> list[_Tile]:
    tiles = []
    for top, bottom in split(height, tile):
        rows = (max(0, top - overlap), min(height, bottom + overlap))
        row_weight = _ramp((top, bottom), rows, height, overlap / 2, scale)
        for left, right in split(width, tile):
            columns = (max(0, left - overlap), min(width, right + overlap))
            column_weight = _ramp((left, right), columns, width, overlap / 2, scale)
            tiles.append(_Tile((top, left), rows, columns, row_weight, column_weight))
    return tiles


def _same_size_batches(tiles: list[_Tile], batch: int) -> list[list[_Tile]]:
    """Tiles grouped by size (first-seen order), in runs of at most ``batch``."""
    groups: dict[tuple[int, int], list[_Tile]] = {}
    for tile in tiles:
        groups.setdefault(tile.size, []).append(tile)
    return [members[i : i + batch] for members in groups.values()
            for i in range(0, len(members), batch)]


def _output_buffer(lr_image: torch.Tensor, scale: int) -> torch.Tensor:
    """The zeroed float32 result; too big for memory is an error no tile size can help."""
    count, _, height, width = lr_image.shape
    try:
        return torch.zeros(count, 3, height * scale, width * scale)
    except (RuntimeError, torch.OutOfMemoryError) as error:
        if not _is_out_of_memory(error):
            raise
        gib = count * 3 * height * width * scale**2 * 4 / 2**30
        raise VividError(f"out of memory for the {width * scale}x{height * scale} result "
                         f"({gib:.1f} GiB as float32), which smaller tiles cannot reduce; "
                         "free memory or upscale a smaller image") from error


def _run_tiles(
    model: ModelFn,
    lr_image: torch.Tensor,
    sr_image: torch.Tensor,
    scale: int,
    tiles: list[_Tile],
    batch: int,
    on_tile: Callable[[int, int], None] | None,
) -> torch.Tensor:
    count = lr_image.shape[0]
    sr_image.zero_()  # a restart with smaller tiles begins afresh
    done = 0
    for group in _same_size_batches(tiles, batch):
        pieces = model(torch.cat([lr_image[:, :, slice(*t.rows), slice(*t.columns)]
                                  for t in group]))
        for tile, piece in zip(group, pieces.split(count), strict=True):
            if not torch.isfinite(piece).all():
                raise VividError(f"the model produced non-finite values (NaN/inf, tile at LR "
                                 f"{tile.core}); "
                                 "with --precision fp16/bf16 try fp32, else the weights are "
                                 "broken")
            weight = tile.row_weight[:, None] * tile.column_weight[None, :]
            sr_image[:, :, tile.rows[0] * scale : tile.rows[1] * scale,
                     tile.columns[0] * scale : tile.columns[1] * scale] += piece.float() * weight
            done += 1
            if on_tile is not None:
                on_tile(done, len(tiles))
    return sr_image


def upscale_tiled(
    model: ModelFn,
    lr_image: torch.Tensor,
    scale: int,
    tile: int | None,
    overlap: int,
    on_tile: Callable[[int, int], None] | None = None,
    batch: int = 1,
) -> torch.Tensor:
    """Apply ``model`` (LR tile -> SR tile, any device) to ``lr_image`` tile by tile.

    ``tile`` is the largest core side in LR pixels (None or 0: one tile); up to ``batch``
    tiles of the same size go through the model together. On out-of-memory the image is
    redone one tile at a time, then with half the tile size, down to 16 pixels, then a
    ``VividError``.
    """
    _, _, height, width = lr_image.shape
    tile = tile or max(height, width)
    sr_image = _output_buffer(lr_image, scale)
    while True:
        tiles = _plan(height, width, scale, tile, min(overlap, tile // 2))
        try:
            return _run_tiles(model, lr_image, sr_image, scale, tiles, batch, on_tile)
        except (RuntimeError, torch.OutOfMemoryError) as error:
            if not _is_out_of_memory(error):
                raise
            if batch > 1:
                batch = 1
            elif tile // 2 < MIN_TILE:
                raise VividError(f"out of memory even with {tile}-pixel tiles one at a time: "
                                 "the model itself does not fit in the free memory of its "
                                 "device (free memory, or try another --device)") from error
            else:
                tile //= 2
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
