"""Rater screening for MOS studies.

Two checks; a rater failing either is excluded by ``vivid mos report --screen``:

* ITU-R BT.500 (Annex 1, A1-2.3.1) observer screening. For every image, its ratings' mean,
  standard deviation s and kurtosis beta2 = m4 / m2^2; a rating counts as an outlier above
  (P) or below (Q) when it is at least 2 s (beta2 in [2, 4], normal) or sqrt(20) s (otherwise)
  from the mean. A rater is rejected when (P + Q) / ratings > 0.05 and |P - Q| / (P + Q) < 0.3.
* Agreement (ITU-T P.913-style): the Pearson correlation between the rater's scores and the
  mean the other raters gave the same images must be at least ``min_correlation``. A rater
  whose scores do not vary (always 5) has no correlation and fails. Raters with fewer than
  ``MIN_SHARED`` images shared with others are not judged by this check.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vivid.mos.data import Ratings
from vivid.mos.stats import pearson

MIN_CORRELATION = 0.5
MIN_SHARED = 5


@dataclass(frozen=True)
class RaterCheck:
    rater: int  # public number
    ratings: int
    correlation: float  # NaN: not computable (no spread, or too few shared images)
    shared: int  # images also rated by others
    above: int  # BT.500 P
    below: int  # BT.500 Q
    reasons: tuple[str, ...]  # empty: kept

    @property
    def excluded(self) -> bool:
        return bool(self.reasons)


def _bt500_limits(scores: np.ndarray) -> tuple[float, float] | None:
    """(low, high) outlier limits for one image's ratings; None when they do not vary."""
    if len(scores) < 2:
        return None
    deviation = scores - scores.mean()
    m2 = float(np.mean(deviation ** 2))
    if m2 == 0:
        return None
    beta2 = float(np.mean(deviation ** 4)) / m2 ** 2
    spread = float(np.std(scores, ddof=1)) * (2.0 if 2 <= beta2 <= 4 else math.sqrt(20))
    return float(scores.mean()) - spread, float(scores.mean()) + spread


def bt500_counts(data: Ratings) -> dict[int, tuple[int, int]]:
    """rater -> (P, Q): ratings at or beyond the upper / lower BT.500 limit of their image."""
    counts = {int(r): [0, 0] for r in np.unique(data.rater)}
    for image in np.unique(data.image):
        mask = data.image == image
        limits = _bt500_limits(data.score[mask])
        if limits is None:
            continue
        for rater, score in zip(data.rater[mask], data.score[mask], strict=True):
            counts[int(rater)][0] += int(score >= limits[1])
            counts[int(rater)][1] += int(score <= limits[0])
    return {rater: (p, q) for rater, (p, q) in counts.items()}


def _agreement(data: Ratings, rater: int) -> tuple[float, int]:
    """(Pearson r against the others' mean on shared images, number of shared images)."""
    own = data.rater == rater
    others = ~own
    mine, theirs = [], []
    for image, score in zip(data.image[own], data.score[own], strict=True):
        other = data.score[others & (data.image == image)]
        if len(other):
            mine.append(score)
            theirs.append(float(other.mean()))
    if len(mine) < MIN_SHARED:
        return math.nan, len(mine)
    return pearson(np.asarray(mine), np.asarray(theirs)), len(mine)


def _reasons(p: int, q: int, ratings: int, correlation: float, shared: int,
             min_correlation: float) -> tuple[str, ...]:
    reasons = []
    if (p + q) / ratings > 0.05 and abs(p - q) / (p + q) < 0.3:
        reasons.append(f"BT.500: {p + q} of {ratings} ratings are outliers (P={p}, Q={q})")
    if shared >= MIN_SHARED and math.isnan(correlation):
        reasons.append("scores do not vary")
    elif correlation < min_correlation:
        reasons.append(f"r = {correlation:.2f} < {min_correlation:g} with the others")
    return tuple(reasons)


def screen(data: Ratings, min_correlation: float = MIN_CORRELATION) -> list[RaterCheck]:
    """Both checks for every rater with ratings, by rater number."""
    counts = bt500_counts(data)
    checks = []
    for rater, (p, q) in sorted(counts.items()):
        ratings = int(np.sum(data.rater == rater))
        correlation, shared = _agreement(data, rater)
        checks.append(RaterCheck(rater, ratings, correlation, shared, p, q,
                                 _reasons(p, q, ratings, correlation, shared, min_correlation)))
    return checks
