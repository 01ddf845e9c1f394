"""MOS study report numbers: per-method and per-image MOS, DMOS, z-scored MOS, intervals,
pairwise tests, the ratings CSV and the plot. Text layout is in ``mos.format``.

* MOS with the sample standard deviation and two 95% intervals: Student-t over the ratings
  (treats them as independent) and a two-way cluster bootstrap over raters and source images
  (``mos.stats.cluster_bootstrap``), which is the one to quote.
* z-MOS: the mean of each rater's z-scored ratings (removes each rater's offset and scale).
* DMOS (ITU-T P.913): per rater and item, score - reference score + 5, averaged; only where the
  rater also rated the reference version of the item.
* Pairwise two-sided Mann-Whitney U p-values (as the SRGAN paper) with Holm's correction.
"""

from __future__ import annotations

import csv
import datetime
import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vivid.atomic import temp_path
from vivid.mos.data import Ratings
from vivid.mos.stats import cluster_bootstrap, holm, mann_whitney, t_interval, zscores
from vivid.mos.text import csv_cell, plot_label


@dataclass(frozen=True)
class MethodScore:
    method: str
    mos: float
    std: float
    ci_low: float  # Student-t over ratings
    ci_high: float
    boot_low: float  # two-way bootstrap over raters and images
    boot_high: float
    zmos: float
    dmos: float  # NaN without a reference
    ratings: int


@dataclass(frozen=True)
class Comparison:
    a: str
    b: str
    p: float  # two-sided Mann-Whitney U
    p_holm: float


def dmos(data: Ratings) -> dict[str, float]:
    """method -> DMOS against the reference (empty without a reference)."""
    if data.reference is None:
        return {}
    reference = {(r, i): s for r, i, s, m in zip(data.rater, data.item, data.score, data.method,
                                                  strict=True) if m == data.reference}
    values: dict[str, list[float]] = {}
    for rater, item, score, method in zip(data.rater, data.item, data.score, data.method,
                                          strict=True):
        if (rater, item) in reference:
            values.setdefault(method, []).append(score - reference[rater, item] + 5)
    return {method: float(np.mean(v)) for method, v in values.items()}


def method_scores(data: Ratings, seed: int = 0) -> list[MethodScore]:
    """Every rated method's scores, best MOS first."""
    rated = sorted(set(data.method.tolist()))
    if not rated:
        return []
    boot = cluster_bootstrap(data.rater, data.item, data.method, data.score, rated, seed)
    z = zscores(data.rater, data.score)
    differences = dmos(data)
    results = []
    for method in rated:
        mask = data.method == method
        mean, std, low, high = t_interval(data.score[mask])
        finite = z[mask][np.isfinite(z[mask])]
        zmos = float(finite.mean()) if len(finite) else math.nan
        results.append(MethodScore(method, mean, std, low, high, *boot[method], zmos,
                                   differences.get(method, math.nan), int(mask.sum())))
    return sorted(results, key=lambda r: -r.mos)


def unrated(data: Ratings) -> list[str]:
    """Methods of the study without a single rating."""
    return sorted(set(data.methods) - set(data.method.tolist()))


def pairwise(data: Ratings) -> list[Comparison]:
    """Every pair of rated methods, with Holm-adjusted p-values over the whole family."""
    pairs = list(itertools.combinations(sorted(set(data.method.tolist())), 2))
    pvalues = [mann_whitney(data.score[data.method == a], data.score[data.method == b])
               for a, b in pairs]
    adjusted = holm(pvalues)
    return [Comparison(a, b, p, q) for (a, b), p, q in zip(pairs, pvalues, adjusted,
                                                            strict=True)]


def per_image(data: Ratings) -> dict[tuple[str, str], tuple[float, int]]:
    """(item, method) -> (MOS, ratings)."""
    result = {}
    for item, method in sorted(set(zip(data.item.tolist(), data.method.tolist(),
                                       strict=True))):
        scores = data.score[(data.item == item) & (data.method == method)]
        result[item, method] = (float(scores.mean()), len(scores))
    return result


def _iso(seconds: float) -> str:
    if math.isnan(seconds):
        return ""
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).isoformat(
        timespec="milliseconds")


CSV_HEADER = ["rater", "name", "image", "method", "item", "score", "shown_utc", "rated_utc",
              "response_s"]


def csv_rows(data: Ratings) -> list[list[object]]:
    """One row per rating; the rater is their public number, never their session token."""
    rows: list[list[object]] = []
    for index in range(len(data)):
        served, updated = float(data.served[index]), float(data.updated[index])
        rater = int(data.rater[index])
        response = "" if math.isnan(served) else f"{updated - served:.3f}"
        rows.append([rater, csv_cell(data.names.get(rater, "")), data.image[index],
                     csv_cell(data.method[index]), csv_cell(data.item[index]),
                     int(data.score[index]), _iso(served), _iso(updated), response])
    return rows


def write_csv(data: Ratings, path: Path) -> None:
    """Every rating (``CSV_HEADER``), written to a temporary file and renamed into place."""
    with temp_path(path) as temporary, open(temporary, "w", newline="",
                                            encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(CSV_HEADER)
        writer.writerows(csv_rows(data))


def plot(scores: list[MethodScore], path: Path) -> None:
    """Bar chart of MOS per method with the bootstrap 95% intervals (PNG, atomic)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(1.2 * len(scores) + 2, 3.5))
    errors = [[max(0.0, r.mos - r.boot_low) for r in scores],
              [max(0.0, r.boot_high - r.mos) for r in scores]]
    axes.bar([plot_label(r.method) for r in scores], [r.mos for r in scores], yerr=errors,
             capsize=4, color="#4a7ab5")
    axes.set_ylim(1, 5)
    axes.set_ylabel("MOS (95% CI, raters x images)")
    figure.tight_layout()
    try:
        with temp_path(path) as temporary:
            figure.savefig(temporary, dpi=120, format="png")
    finally:
        plt.close(figure)
