"""Statistics for MOS reports, on plain arrays (one entry per rating).

* ``t_interval``: mean and 95% Student-t interval of independent scores.
* ``cluster_bootstrap``: 95% interval of each method's MOS that accounts for rater and image
  clustering: raters and source images are resampled independently with replacement (a
  two-way bootstrap), each rating weighted by how often its rater and its image were drawn.
* ``holm``: Holm's step-down correction of a family of p-values.
* ``mann_whitney``: two-sided Mann-Whitney U p-value (1.0 for identical constant samples,
  where scipy would warn).
* ``zscores``: each rater's scores standardised by their own mean and spread (NaN for a
  rater with no spread).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

BOOTSTRAP_DRAWS = 2000
_CHUNK = 100


def t_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float, float]:
    """(mean, sample std, low, high); the interval is NaN for fewer than 2 values."""
    mean = float(np.mean(values))
    if len(values) < 2:
        return mean, 0.0, math.nan, math.nan
    std = float(np.std(values, ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, len(values) - 1)) * std / math.sqrt(len(values))
    return mean, std, mean - half, mean + half


def _codes(labels: np.ndarray) -> tuple[np.ndarray, int]:
    _, codes = np.unique(labels, return_inverse=True)
    return codes.reshape(-1), int(codes.max()) + 1 if len(codes) else 0


def cluster_bootstrap(raters: np.ndarray, items: np.ndarray, methods: np.ndarray,
                      scores: np.ndarray, method_names: list[str], seed: int = 0,
                      draws: int = BOOTSTRAP_DRAWS) -> dict[str, tuple[float, float]]:
    """method -> (low, high) percentile 95% interval of its MOS under the two-way bootstrap."""
    rng = np.random.default_rng(seed)
    rater_codes, n_raters = _codes(raters)
    item_codes, n_items = _codes(items)
    onehot = np.stack([methods == name for name in method_names], axis=1).astype(float)
    weighted = onehot * scores[:, None]
    means = []
    for start in range(0, draws, _CHUNK):
        size = min(_CHUNK, draws - start)
        rater_draws = rng.multinomial(n_raters, np.full(n_raters, 1 / n_raters), size=size)
        item_draws = rng.multinomial(n_items, np.full(n_items, 1 / n_items), size=size)
        weights = rater_draws[:, rater_codes] * item_draws[:, item_codes]
        totals = weights @ onehot
        with np.errstate(invalid="ignore", divide="ignore"):
            means.append((weights @ weighted) / totals)  # NaN: a method with no draw
    means_all = np.concatenate(means)
    result = {}
    for column, name in enumerate(method_names):
        finite = means_all[:, column][np.isfinite(means_all[:, column])]
        result[name] = ((float(np.percentile(finite, 2.5)), float(np.percentile(finite, 97.5)))
                        if len(finite) else (math.nan, math.nan))
    return result


def holm(pvalues: list[float]) -> list[float]:
    """Holm-adjusted p-values, in the input order (monotone, capped at 1)."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    adjusted = [0.0] * len(pvalues)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[index]))
        adjusted[index] = running
    return adjusted


def mann_whitney(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided Mann-Whitney U p-value."""
    if len(a) == 0 or len(b) == 0:
        return math.nan
    if np.ptp(np.concatenate([a, b])) == 0:
        return 1.0
    return float(stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)


def zscores(raters: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Scores standardised per rater (mean 0, sample std 1); NaN where a rater has no spread
    or a single rating."""
    result = np.full(len(scores), math.nan)
    for rater in np.unique(raters):
        mask = raters == rater
        if mask.sum() < 2:
            continue
        std = float(np.std(scores[mask], ddof=1))
        if std > 0:
            result[mask] = (scores[mask] - scores[mask].mean()) / std
    return result


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation; NaN when either side has no spread (scipy would warn)."""
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan
    return float(stats.pearsonr(a, b).statistic)
