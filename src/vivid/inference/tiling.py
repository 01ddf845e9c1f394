"""Tiled upscaling, so memory stays bounded for any image size.

The LR image is cut into a grid of near-equal *cores*. Each tile is its core plus ``overlap``
LR pixels of context on every side (clipped at the image border); it goes through the model
(tiles of equal size in batches) and the output of its core is written into the result, once
per output pixel. Every output pixel is therefore computed with at least ``overlap`` LR
pixels of context on each side (or the border): the result equals the untiled one exactly
when ``overlap`` is at least the model's receptive radius, and in practice within float
rounding for much less, since trained networks look only a few pixels far.

The grid (``tile_plan``) is the fewest tiles whose largest (context included) has at most a
given number of LR pixels (one tile when the whole image fits), or cores no longer than a
given side (``tile``). The result is float32, or uint8 (rounded, clamped to [0, 1] first;
stored channels-last, i.e. as H x W x channels samples) for a quarter of the memory. A single
tile is the model's own output, with nothing copied. Only tiles travel to the model (and its
device); the input and output stay where they are. A tile that runs out of memory makes the
whole image start again one tile at a time, then with half the tile side; a tile with
non-finite output is an error.

``pad_small`` wraps a network for inputs smaller than its training crops (see there).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from vivid.errors import VividError
from vivid.inference.tile_plan import (
    Grid,
    first_grid,
    longest_core,
    needs_tiles,
    side_grid,
    split_into,
)

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


def _is_out_of_memory(error: BaseException) -> bool:
    return isinstance(error, torch.OutOfMemoryError) or (
        isinstance(error, RuntimeError) and "can't allocate memory" in str(error)
    )


@dataclass(frozen=True)
class _Tile:
    rows: tuple[int, int]  # LR span with context
    columns: tuple[int, int]
    core_rows: tuple[int, int]  # LR core: the output this tile writes
    core_columns: tuple[int, int]

    @property
    def size(self) -> tuple[int, int]:
        return self.rows[1] - self.rows[0], self.columns[1] - self.columns[0]

    def target(self, scale: int) -> tuple[slice, slice]:
        """The output region of the core."""
        return (slice(self.core_rows[0] * scale, self.core_rows[1] * scale),
                slice(self.core_columns[0] * scale, self.core_columns[1] * scale))

    def source(self, scale: int) -> tuple[slice, slice]:
        """The core's region in the tile's output."""
        top, left = self.core_rows[0] - self.rows[0], self.core_columns[0] - self.columns[0]
        bottom, right = top + self.core_rows[1] - self.core_rows[0], \
            left + self.core_columns[1] - self.core_columns[0]
        return slice(top * scale, bottom * scale), slice(left * scale, right * scale)


def _plan(height: int, width: int, grid: Grid) -> list[_Tile]:
    def spans(length: int, count: int) -> list[tuple[tuple[int, int], tuple[int, int]]]:
        context = grid[2]
        return [((max(0, start - context), min(length, end + context)), (start, end))
                for start, end in split_into(length, count)]

    return [_Tile(rows, columns, core_rows, core_columns)
            for rows, core_rows in spans(height, grid[0])
            for columns, core_columns in spans(width, grid[1])]


def _same_size_batches(tiles: list[_Tile], batch: int) -> list[list[_Tile]]:
    """Tiles grouped by size (first-seen order), in runs of at most ``batch``."""
    groups: dict[tuple[int, int], list[_Tile]] = {}
    for tile in tiles:
        groups.setdefault(tile.size, []).append(tile)
    return [members[i : i + batch] for members in groups.values()
            for i in range(0, len(members), batch)]


def _output_buffer(lr_image: torch.Tensor, scale: int, dtype: torch.dtype, channels: int = 3
                   ) -> torch.Tensor:
    """The zeroed result (uint8: channels-last); too big for memory is an error no tile size
    can help."""
    count, _, height, width = lr_image.shape
    try:
        if dtype == torch.uint8:
            return torch.zeros(count, height * scale, width * scale, channels,
                               dtype=dtype).permute(0, 3, 1, 2)
        return torch.zeros(count, channels, height * scale, width * scale, dtype=dtype)
    except (RuntimeError, torch.OutOfMemoryError) as error:
        if not _is_out_of_memory(error):
            raise
        size = torch.empty((), dtype=dtype).element_size()
        gib = count * channels * height * width * scale**2 * size / 2**30
        raise VividError(f"out of memory for the {width * scale}x{height * scale} result "
                         f"({gib:.1f} GiB as {str(dtype).removeprefix('torch.')}), which "
                         "smaller tiles cannot reduce; free memory or upscale a smaller "
                         "image") from error


def _checked(piece: torch.Tensor, tile: _Tile) -> torch.Tensor:
    """``piece``, unless it holds NaN or inf (its sum then does; one pass, no copy)."""
    if not torch.isfinite(piece.sum()):
        raise VividError(f"the model produced non-finite values (NaN/inf, tile at LR "
                         f"{(tile.core_rows[0], tile.core_columns[0])}); with --precision "
                         "fp16/bf16 try fp32, else the weights are broken")
    return piece


def _store(target: torch.Tensor, piece: torch.Tensor) -> None:
    """Write ``piece`` (float, the model's output: changed in place) into ``target``: as is,
    or rounded to 8 bits. No temporary: per-tile copies fragment the heap (measured: ~100
    MiB kept after a 2000x2000 image)."""
    with torch.inference_mode():  # the model's output may be an inference tensor
        if target.dtype == torch.uint8:
            piece = piece.float().mul_(255).round_().clamp_(0, 255)
        target.copy_(piece)


def _run_tiles(model: ModelFn, lr_image: torch.Tensor, sr_image: torch.Tensor, scale: int,
               tiles: list[_Tile], batch: int, on_tile: Callable[[int, int], None] | None
               ) -> None:
    count, done = lr_image.shape[0], 0
    for group in _same_size_batches(tiles, batch):
        pieces = model(torch.cat([lr_image[:, :, slice(*t.rows), slice(*t.columns)]
                                  for t in group]))
        for tile, piece in zip(group, pieces.split(count), strict=True):
            _store(sr_image[(..., *tile.target(scale))],
                   _checked(piece, tile)[(..., *tile.source(scale))])
            done += 1
            if on_tile is not None:
                on_tile(done, len(tiles))


def _whole(model: ModelFn, lr_image: torch.Tensor, scale: int, dtype: torch.dtype,
           channels: int) -> torch.Tensor:
    """One tile: the model's output itself (float32), or rounded into a new uint8 result."""
    height, width = lr_image.shape[-2:]
    piece = _checked(model(lr_image), _Tile((0, height), (0, width), (0, height), (0, width)))
    if piece.shape[1] != channels:
        raise VividError(f"the model gave {piece.shape[1]} channels, {channels} expected")
    if dtype == torch.uint8:
        sr_image = _output_buffer(lr_image, scale, dtype, channels)
        _store(sr_image, piece)
        return sr_image
    if piece.dtype != torch.float32 or piece.is_inference():
        return piece.float() if piece.dtype != torch.float32 else piece.clone()
    return piece


def upscale_tiled(
    model: ModelFn,
    lr_image: torch.Tensor,
    scale: int,
    tile: int | None,
    overlap: int,
    on_tile: Callable[[int, int], None] | None = None,
    batch: int = 1,
    max_pixels: int | None = None,
    dtype: torch.dtype = torch.float32,
    channels: int = 3,
) -> torch.Tensor:
    """Apply ``model`` (LR tile -> SR tile, any device, a new tensor) to ``lr_image`` tile by
    tile; returns the N x ``channels`` x sH x sW result in ``dtype`` (float32, or uint8
    channels-last).

    ``tile``: the largest core side in LR pixels; else (None or 0) ``max_pixels``: the most
    LR pixels of a tile with its context (``tile_plan.plan_grid``); neither: one tile. Up to
    ``batch`` tiles of the same size go through the model together. On out-of-memory the
    image is redone one tile at a time, then with half the tile side, down to 16 pixels,
    then a ``VividError``.
    """
    _, _, height, width = lr_image.shape
    if not needs_tiles(height, width, tile, max_pixels):
        try:
            return _whole(model, lr_image, scale, dtype, channels)
        except (RuntimeError, torch.OutOfMemoryError) as error:
            if not _is_out_of_memory(error):
                raise
            tile = max(height, width) // 2  # as the out-of-memory step below
    grid = first_grid(height, width, overlap, tile, max_pixels)
    sr_image = _output_buffer(lr_image, scale, dtype, channels)
    while True:
        try:
            _run_tiles(model, lr_image, sr_image, scale, _plan(height, width, grid), batch,
                       on_tile)
            return sr_image
        except (RuntimeError, torch.OutOfMemoryError) as error:
            if not _is_out_of_memory(error):
                raise
            side = longest_core(height, width, grid)
            if batch > 1:
                batch = 1
            elif side // 2 < MIN_TILE:
                raise VividError(f"out of memory even with {side}-pixel tiles one at a time: "
                                 "the model itself does not fit in the free memory of its "
                                 "device (free memory, or try another --device)") from error
            else:
                grid = side_grid(height, width, side // 2, overlap)
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
