"""Tiled upscaling with cross-faded seams, so memory stays bounded for any image size.

The LR image is cut into a grid of near-equal *cores*. Each tile is the core plus ``overlap``
LR pixels of context on every side (clipped at the image border) and goes through the model
alone; its output is added into the full-size result with a separable weight that is 1 inside
the core and ramps linearly across each inner seam over ``overlap`` LR pixels centred on it.
The two ramps at a seam sum to 1, so where neighbouring tiles agree the result equals the
untiled one. It is exact when ``overlap / 2`` is at least the model's receptive radius, and
in practice within float rounding for much less, since trained networks look only a few
pixels far.

Only tiles travel to the model (and its device); the input and output stay where they are.
A tile that runs out of memory makes the whole image start again with half the tile size;
a tile with non-finite output is an error.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import torch

from vivid.errors import VividError

ModelFn = Callable[[torch.Tensor], torch.Tensor]
MIN_TILE = 16


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


def _run_tiles(
    model: ModelFn,
    lr_image: torch.Tensor,
    scale: int,
    tile: int,
    overlap: int,
    on_tile: Callable[[int, int], None] | None,
) -> torch.Tensor:
    _, _, height, width = lr_image.shape
    rows, columns = split(height, tile), split(width, tile)
    sr_image = torch.zeros(lr_image.shape[0], 3, height * scale, width * scale)
    for row_index, (top, bottom) in enumerate(rows):
        y_span = (max(0, top - overlap), min(height, bottom + overlap))
        y_weight = _ramp((top, bottom), y_span, height, overlap / 2, scale)
        for column_index, (left, right) in enumerate(columns):
            x_span = (max(0, left - overlap), min(width, right + overlap))
            x_weight = _ramp((left, right), x_span, width, overlap / 2, scale)
            piece = model(lr_image[:, :, y_span[0] : y_span[1], x_span[0] : x_span[1]])
            if not torch.isfinite(piece).all():
                raise VividError(f"tile at LR ({top}, {left}) produced non-finite values")
            weight = y_weight[:, None] * x_weight[None, :]
            sr_image[
                :, :, y_span[0] * scale : y_span[1] * scale, x_span[0] * scale : x_span[1] * scale
            ] += piece.float() * weight
            if on_tile is not None:
                on_tile(row_index * len(columns) + column_index + 1, len(rows) * len(columns))
    return sr_image


def upscale_tiled(
    model: ModelFn,
    lr_image: torch.Tensor,
    scale: int,
    tile: int | None,
    overlap: int,
    on_tile: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Apply ``model`` (LR tile -> SR tile, any device) to ``lr_image`` tile by tile.

    ``tile`` is the largest core side in LR pixels (None or 0: one tile). On out-of-memory the
    image is redone with half the tile size, down to 16 pixels, then a ``VividError``.
    """
    _, _, height, width = lr_image.shape
    tile = tile or max(height, width)
    while True:
        try:
            return _run_tiles(model, lr_image, scale, tile, min(overlap, tile // 2), on_tile)
        except (RuntimeError, torch.OutOfMemoryError) as error:
            if not _is_out_of_memory(error):
                raise
            if tile // 2 < MIN_TILE:
                raise VividError(f"out of memory even with {tile}px tiles") from error
            tile //= 2
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
