"""A study's ratings as arrays (one entry per rating), for the report and the screening.

Raters appear by their public number (1, 2, ...), never by their secret session token.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace

import numpy as np

_QUERY = """
SELECT raters.number, raters.name, ratings.image, images.method, images.item, ratings.score,
       views.served, ratings.updated
FROM ratings JOIN raters ON raters.token = ratings.rater JOIN images ON images.id = ratings.image
LEFT JOIN views ON views.rater = ratings.rater AND views.image = ratings.image
ORDER BY raters.number, ratings.updated
"""


@dataclass(frozen=True)
class Ratings:
    rater: np.ndarray  # public rater number per rating
    image: np.ndarray  # opaque image id
    method: np.ndarray
    item: np.ndarray  # source file name (the same for every method's version)
    score: np.ndarray  # float, 1-5
    served: np.ndarray  # when the image was first served to the rater (NaN: unknown)
    updated: np.ndarray  # when the rating was stored (unix seconds)
    names: dict[int, str]  # rater number -> name as stored ("" if none)
    methods: list[str]  # every method of the study, rated or not, reference included
    reference: str | None

    def __len__(self) -> int:
        return len(self.score)

    def without(self, raters: set[int]) -> Ratings:
        """The same ratings less those of ``raters`` (rater numbers)."""
        keep = ~np.isin(self.rater, sorted(raters))
        arrays = {name: getattr(self, name)[keep] for name in
                  ("rater", "image", "method", "item", "score", "served", "updated")}
        return replace(self, **arrays)

    def rater_label(self, number: int) -> str:
        """``#3 ann`` (or ``#3``): the name as stored; outputs escape it further."""
        name = self.names.get(number, "")
        return f"#{number} {name}" if name else f"#{number}"


def load_ratings(connection: sqlite3.Connection) -> Ratings:
    """Every stored rating of a study with its rater, method and item."""
    rows = connection.execute(_QUERY).fetchall()
    columns = list(zip(*rows, strict=True)) if rows else [()] * 8
    methods = [r[0] for r in connection.execute("SELECT DISTINCT method FROM images "
                                                "ORDER BY method")]
    reference = connection.execute("SELECT method FROM images WHERE reference = 1 LIMIT 1"
                                   ).fetchone()
    names = dict(connection.execute("SELECT number, name FROM raters"))
    served = np.array([np.nan if v is None else v for v in columns[6]], dtype=float)
    return Ratings(
        rater=np.array(columns[0], dtype=int), image=np.array(columns[2], dtype=str),
        method=np.array(columns[3], dtype=str), item=np.array(columns[4], dtype=str),
        score=np.array(columns[5], dtype=float), served=served,
        updated=np.array(columns[7], dtype=float), names=names, methods=methods,
        reference=reference[0] if reference else None)
