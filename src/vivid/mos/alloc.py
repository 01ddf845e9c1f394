"""Balanced allocation of study images to raters (ITU-T P.910/P.913 practice).

Each new rater gets the ``per_rater`` images with the lowest load (random among ties), where
an image's load is its stored ratings plus the assignments still pending for raters active in
the last ``PENDING_S`` seconds (an abandoned session stops reserving images after that). Taking
the k least-loaded of loads that differ by at most 1 keeps them within 1, so every image ends
up with the same number of ratings +-1. The chosen images are then ordered so that no two
versions of the same source image are shown back to back (when that is possible at all).
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections import Counter

PENDING_S = 3600.0


def image_load(connection: sqlite3.Connection, now: float) -> Counter[str]:
    """Ratings plus pending assignments per study image (every image present, maybe 0)."""
    load: Counter[str] = Counter({row[0]: 0 for row in connection.execute(
        "SELECT id FROM images")})
    load.update(row[0] for row in connection.execute("SELECT image FROM ratings"))
    active = connection.execute("SELECT token, image_order FROM raters WHERE active >= ?",
                                (now - PENDING_S,)).fetchall()
    for token, order in active:
        rated = {row[0] for row in connection.execute(
            "SELECT image FROM ratings WHERE rater = ?", (token,))}
        load.update(image for image in json.loads(order) if image not in rated)
    return load


def allocate(connection: sqlite3.Connection, per_rater: int, target: int,
             seed: int | None, now: float) -> list[str]:
    """The next rater's images in showing order (empty when every image reached ``target``)."""
    rng = random.Random(seed)
    load = image_load(connection, now)
    if target:
        load = Counter({image: n for image, n in load.items() if n < target})
    ranked = sorted(load, key=lambda image: (load[image], rng.random()))
    chosen = ranked[:per_rater] if per_rater else ranked
    item_of = dict(connection.execute("SELECT id, item FROM images"))
    return spread(chosen, item_of, rng)


def _pick(remaining: dict[str, list[str]], previous: str | None,
          rng: random.Random) -> str:
    """A source item for the next position that keeps the rest arrangeable without two
    neighbours from the same item (any other item if none does)."""
    total = sum(len(ids) for ids in remaining.values())
    counts = sorted(((len(ids), item) for item, ids in remaining.items() if ids), reverse=True)
    good = []
    for count, item in counts:
        if item == previous:
            continue
        largest_other = next((c for c, other in counts if other != item), 0)
        if 2 * count <= total + 1 and 2 * largest_other <= total - 1 + 1:
            good.append(item)
    fallback = [item for _, item in counts if item != previous] or [counts[0][1]]
    return rng.choice(sorted(good or fallback))


def spread(images: list[str], item_of: dict[str, str], rng: random.Random) -> list[str]:
    """``images`` in random order with no two of the same source item adjacent if possible."""
    remaining: dict[str, list[str]] = {}
    for image in images:
        remaining.setdefault(item_of[image], []).append(image)
    for ids in remaining.values():
        rng.shuffle(ids)
    order: list[str] = []
    previous = None
    for _ in range(len(images)):
        previous = _pick(remaining, previous, rng)
        order.append(remaining[previous].pop())
    return order
