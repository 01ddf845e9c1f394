"""Where ``tiling`` cuts an image: a grid of near-equal cores, each tile its core plus
``overlap`` LR pixels of context on every side (clipped at the border).

A grid is (rows, columns, context). It comes from a largest core side (``side_grid``, the
``--tile`` option and the out-of-memory fallback) or from a largest tile in LR pixels
(``plan_grid``: the fewest tiles that fit, one when the whole image does), which
``budget_tile_pixels`` derives from a memory budget.
"""

from __future__ import annotations

import itertools
import math

from vivid.errors import VividError

MIN_TILE_PIXELS = 64 * 64  # the smallest tile a memory budget leads to
Grid = tuple[int, int, int]  # rows, columns, context (overlap) in LR pixels


def split_into(length: int, count: int) -> list[tuple[int, int]]:
    """``count`` near-equal consecutive cores [start, end) covering [0, length)."""
    bounds = [round(i * length / count) for i in range(count + 1)]
    return list(itertools.pairwise(bounds))


def split(length: int, tile: int) -> list[tuple[int, int]]:
    """Near-equal consecutive cores [start, end) covering [0, length), none longer than tile."""
    return split_into(length, max(1, math.ceil(length / tile)))


def _spans(length: int, count: int, overlap: int) -> list[int]:
    """The length of each tile (core and context) along an axis cut into ``count`` cores."""
    return [min(length, end + overlap) - max(0, start - overlap)
            for start, end in split_into(length, count)]


def _fewest(length: int, overlap: int, allowed: int) -> int | None:
    """The fewest cores along an axis whose tiles are at most ``allowed`` long (None: none).

    Beyond two cores some tile has context on both sides and cores are ``length / count``
    rounded, so a fitting count needs floor(length / count) + 2 * overlap <= allowed, and
    ceil(length / count) + 2 * overlap <= allowed suffices: only the counts between are
    tried."""
    for count in (1, 2):
        if max(_spans(length, count, overlap)) <= allowed:
            return count
    room = allowed - 2 * overlap
    if room < 1 or length < 3:
        return None
    enough = max(3, math.ceil(length / room))
    for count in range(max(3, length // (room + 1) + 1), enough):
        if max(_spans(length, count, overlap)) <= allowed:
            return count
    return enough


def plan_grid(height: int, width: int, overlap: int, max_pixels: int) -> tuple[int, int]:
    """(rows, columns) of the fewest tiles none of which, context included, has more than
    ``max_pixels`` LR pixels; among as few, the one computing the fewest pixels (overlaps
    counted twice). (1, 1) when the whole image fits."""
    # No row of tiles is shorter than min(height, overlap + 1): at least this many columns.
    least_columns = _fewest(width, overlap, max_pixels // min(height, overlap + 1))
    best: tuple[int, int, int, int] | None = None  # tiles, computed pixels, rows, columns
    for rows in range(1, height + 1):
        if least_columns is None or (best is not None and rows * least_columns > best[0]):
            break
        row_spans = _spans(height, rows, overlap)
        columns = _fewest(width, overlap, max_pixels // max(row_spans))
        if columns is None:
            continue
        cost = (rows * columns, sum(row_spans) * sum(_spans(width, columns, overlap)))
        if best is None or cost < best[:2]:
            best = (*cost, rows, columns)
    if best is None:
        raise VividError(f"no tiling of {width}x{height} with {overlap}-pixel context has "
                         f"tiles of at most {max_pixels} pixels")
    return best[2], best[3]


def budget_tile_pixels(budget_bytes: int, fixed_bytes: int, bytes_per_pixel: int,
                       batch: int = 1) -> int:
    """LR pixels a tile may have so that ``batch`` of them (``bytes_per_pixel`` each) and
    ``fixed_bytes`` (the assembled result) stay within ``budget_bytes``. A result too large
    for that still leaves the tiles half the budget (smaller tiles would not make it fit,
    only slower); at least ``MIN_TILE_PIXELS``."""
    room = max(budget_bytes - fixed_bytes, budget_bytes // 2)
    return max(MIN_TILE_PIXELS, room // (bytes_per_pixel * batch))


def needs_tiles(height: int, width: int, tile: int | None, max_pixels: int | None) -> bool:
    """Whether an image of this size is cut into more than one tile."""
    if tile:
        return max(height, width) > tile
    return max_pixels is not None and height * width > max_pixels


def side_grid(height: int, width: int, side: int, overlap: int) -> Grid:
    """Cores no longer than ``side``; context at most half of it."""
    return math.ceil(height / side), math.ceil(width / side), min(overlap, side // 2)


def first_grid(height: int, width: int, overlap: int, tile: int | None,
               max_pixels: int | None) -> Grid:
    """The grid for ``tile`` (a largest core side), else ``max_pixels`` (context at most a
    quarter of the tile's side), else one tile."""
    if tile:
        return side_grid(height, width, tile, overlap)
    if max_pixels is None:
        return 1, 1, 0
    overlap = min(overlap, math.isqrt(max_pixels) // 4)
    return (*plan_grid(height, width, overlap, max_pixels), overlap)


def longest_core(height: int, width: int, grid: Grid) -> int:
    """The longest core side of a grid."""
    return max(math.ceil(height / grid[0]), math.ceil(width / grid[1]))
