"""The text of ``vivid mos report``. Every name that came from a rater or the command line goes
through ``mos.text.safe_text``: nothing in the report can drive the terminal."""

from __future__ import annotations

import math

from vivid.mos.data import Ratings
from vivid.mos.report import MethodScore, method_scores, pairwise, per_image, unrated
from vivid.mos.screen import RaterCheck
from vivid.mos.text import safe_text


def _number(value: float, width: int = 5) -> str:
    return f"{'-':>{width}}" if math.isnan(value) else f"{value:{width}.2f}"


def _interval(low: float, high: float) -> str:
    return f"[{_number(low, 4)}, {_number(high, 4)}]"


def method_table(scores: list[MethodScore], data: Ratings) -> list[str]:
    lines = ["method           MOS    std  95% CI (t)    95% CI (raters x images)  z-MOS   "
             "DMOS  ratings"]
    for r in scores:
        lines.append(f"{safe_text(r.method):<14} {_number(r.mos)}  {_number(r.std)}  "
                     f"{_interval(r.ci_low, r.ci_high)}  "
                     f"{_interval(r.boot_low, r.boot_high):<24}  {_number(r.zmos)}  "
                     f"{_number(r.dmos)}  {r.ratings:7d}")
    missing = unrated(data)
    if missing:
        lines.append("methods with no ratings: " + ", ".join(safe_text(m) for m in missing))
    return lines


def _pairwise_lines(data: Ratings) -> list[str]:
    lines = ["pairwise Mann-Whitney U (two-sided p; Holm-adjusted p over all pairs)"]
    lines += [f"  {safe_text(c.a)} vs {safe_text(c.b)}: p = {c.p:.3g}, Holm p = "
              f"{c.p_holm:.3g}{' *' if c.p_holm < 0.05 else ''}" for c in pairwise(data)]
    return lines


def _per_image_lines(data: Ratings) -> list[str]:
    table = per_image(data)
    methods = sorted({method for _, method in table})
    items = sorted({item for item, _ in table})
    width = max([4, *(len(safe_text(i)) for i in items)])
    lines = ["per-image MOS (ratings)",
             f"  {'item':<{width}}  " + "  ".join(f"{safe_text(m):>12}" for m in methods)]
    for item in items:
        cells = [f"{table[item, m][0]:7.2f} ({table[item, m][1]:2d})" if (item, m) in table
                 else f"{'-':>12}" for m in methods]
        lines.append(f"  {safe_text(item):<{width}}  " + "  ".join(cells))
    return lines


def _rater_lines(data: Ratings, checks: list[RaterCheck]) -> list[str]:
    lines = ["raters (ratings, Pearson r vs the others' mean, BT.500 outliers P/Q)"]
    for check in checks:
        flag = f"  <- {'; '.join(check.reasons)}" if check.excluded else ""
        lines.append(f"  {safe_text(data.rater_label(check.rater))}: {check.ratings}, "
                     f"r = {_number(check.correlation, 4).strip()}, P/Q = {check.above}/"
                     f"{check.below}{flag}")
    return lines


def _screening_lines(data: Ratings, checks: list[RaterCheck], applied: bool) -> list[str]:
    excluded = [c for c in checks if c.excluded]
    if not applied:
        return [f"screening: {len(excluded)} rater(s) flagged; `--screen` excludes them"]
    lines = [f"screening: excluded {len(excluded)} of {len(checks)} raters"]
    lines += [f"  {safe_text(data.rater_label(c.rater))}: {'; '.join(c.reasons)}"
              for c in excluded]
    kept = data.without({c.rater for c in excluded})
    before = {s.method: s.mos for s in method_scores(data)}
    lines.append("MOS of all raters -> without the excluded")
    for score in method_scores(kept):
        lines.append(f"  {safe_text(score.method)}: {before[score.method]:.2f} -> "
                     f"{score.mos:.2f}")
    return lines


def format_report(data: Ratings, checks: list[RaterCheck], screen: bool = False) -> str:
    """The whole report; with ``screen`` the tables use only the raters the checks keep."""
    shown = data.without({c.rater for c in checks if c.excluded}) if screen else data
    scores = method_scores(shown)
    raters = len(set(shown.rater.tolist()))
    head = (f"{len(shown)} ratings from {raters} raters"
            f"{' (after screening)' if screen else ''}")
    sections = [[head, *method_table(scores, shown)], _pairwise_lines(shown),
                _per_image_lines(shown), _rater_lines(data, checks),
                _screening_lines(data, checks, screen)]
    return "\n\n".join("\n".join(lines) for lines in sections)
