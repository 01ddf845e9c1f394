"""MOS study report: per-method mean opinion score with spread and confidence interval,
pairwise significance (two-sided Mann-Whitney U, as the SRGAN paper), per-rater consistency,
and a plot.

Consistency of a rater: the Spearman correlation between their scores and the mean score the
other raters gave the same images (NaN with fewer than 3 shared images).
"""

from __future__ import annotations

import csv
import itertools
import math
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class MethodScore:
    method: str
    mos: float
    std: float
    ci_low: float
    ci_high: float
    ratings: int


def _scores(connection: sqlite3.Connection) -> dict[str, list[int]]:
    rows = connection.execute("SELECT images.method, ratings.score FROM ratings JOIN images "
                              "ON images.id = ratings.image ORDER BY images.method")
    by_method: dict[str, list[int]] = {}
    for method, score in rows:
        by_method.setdefault(method, []).append(score)
    return by_method


def method_scores(connection: sqlite3.Connection) -> list[MethodScore]:
    """MOS, sample standard deviation and 95% t-interval per method, best first."""
    results = []
    for method, scores in _scores(connection).items():
        values = np.asarray(scores, dtype=float)
        std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        half = (float(stats.t.ppf(0.975, len(values) - 1)) * std / math.sqrt(len(values))
                if len(values) > 1 else float("nan"))
        mean = float(values.mean())
        results.append(MethodScore(method, mean, std, mean - half, mean + half, len(values)))
    return sorted(results, key=lambda r: -r.mos)


def pairwise(connection: sqlite3.Connection) -> list[tuple[str, str, float]]:
    """(method a, method b, two-sided Mann-Whitney U p-value) for every pair."""
    scores = _scores(connection)
    return [(a, b, float(stats.mannwhitneyu(scores[a], scores[b],
                                            alternative="two-sided").pvalue))
            for a, b in itertools.combinations(sorted(scores), 2)]


def rater_consistency(connection: sqlite3.Connection) -> list[tuple[str, int, float]]:
    """(rater name or token prefix, ratings, Spearman rho against the other raters)."""
    rows = connection.execute("SELECT ratings.rater, raters.name, ratings.image, ratings.score "
                              "FROM ratings JOIN raters ON raters.token = ratings.rater"
                              ).fetchall()
    results = []
    for rater in sorted({r[0] for r in rows}):
        own = {image: score for token, _, image, score in rows if token == rater}
        others: dict[str, list[int]] = {}
        for token, _, image, score in rows:
            if token != rater and image in own:
                others.setdefault(image, []).append(score)
        shared = sorted(others)
        rho = float("nan")
        if len(shared) >= 3:
            rho = float(stats.spearmanr([own[i] for i in shared],
                                        [np.mean(others[i]) for i in shared]).statistic)
        name = next(n for t, n, _, _ in rows if t == rater) or rater[:8]
        results.append((name, len(own), rho))
    return results


def format_report(connection: sqlite3.Connection) -> str:
    lines = ["method          MOS    std    95% CI          ratings"]
    for r in method_scores(connection):
        lines.append(f"{r.method:<14} {r.mos:5.2f}  {r.std:5.2f}  [{r.ci_low:4.2f}, "
                     f"{r.ci_high:4.2f}]  {r.ratings:7d}")
    lines.append("\npairwise Mann-Whitney U (two-sided p)")
    lines += [f"  {a} vs {b}: p = {p:.3g}{' *' if p < 0.05 else ''}"
              for a, b, p in pairwise(connection)]
    lines.append("\nraters (ratings, Spearman rho vs the others)")
    lines += [f"  {name}: {count}, rho = {rho:.2f}" for name, count, rho in
              rater_consistency(connection)]
    return "\n".join(lines)


def write_csv(connection: sqlite3.Connection, path: Path) -> None:
    """Every rating: rater, method, item, score."""
    rows = connection.execute("SELECT ratings.rater, images.method, images.item, ratings.score "
                              "FROM ratings JOIN images ON images.id = ratings.image "
                              "ORDER BY ratings.rater, images.method, images.item")
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["rater", "method", "item", "score"])
        writer.writerows(rows)


def plot(connection: sqlite3.Connection, path: Path) -> None:
    """Bar chart of MOS per method with 95% confidence intervals (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = method_scores(connection)
    figure, axes = plt.subplots(figsize=(1.2 * len(results) + 2, 3.5))
    errors = [[r.mos - r.ci_low for r in results], [r.ci_high - r.mos for r in results]]
    axes.bar([r.method for r in results], [r.mos for r in results], yerr=errors, capsize=4,
             color="#4a7ab5")
    axes.set_ylim(1, 5)
    axes.set_ylabel("MOS (95% CI)")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
