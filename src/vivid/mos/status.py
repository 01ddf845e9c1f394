"""``vivid mos status``: how far a study is (raters, ratings per image against the target)."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass

from vivid.mos.alloc import PENDING_S
from vivid.mos.study import setting
from vivid.mos.text import safe_text


@dataclass(frozen=True)
class StudyStatus:
    raters: int  # sessions started
    finished: int  # raters who rated all their images
    active: int  # unfinished raters seen within PENDING_S
    ratings: int
    images: int
    per_image_min: int
    per_image_max: int
    target: int  # --ratings-per-image (0: none)
    per_method: dict[str, int]  # ratings per method (0 for unrated methods)


def study_status(connection: sqlite3.Connection, now: float | None = None) -> StudyStatus:
    now = time.time() if now is None else now
    counts = [row[0] for row in connection.execute(
        "SELECT COUNT(ratings.image) FROM images LEFT JOIN ratings ON ratings.image = images.id "
        "GROUP BY images.id")]
    per_method = dict(connection.execute(
        "SELECT images.method, COUNT(ratings.image) FROM images LEFT JOIN ratings "
        "ON ratings.image = images.id GROUP BY images.method ORDER BY images.method"))
    raters = connection.execute(
        "SELECT raters.image_order, raters.active, COUNT(ratings.image) FROM raters "
        "LEFT JOIN ratings ON ratings.rater = raters.token GROUP BY raters.token").fetchall()
    sizes = [(len(json.loads(order)), seen, rated) for order, seen, rated in raters]
    finished = sum(1 for size, _, rated in sizes if rated >= size)
    active = sum(1 for size, seen, rated in sizes if rated < size and seen >= now - PENDING_S)
    return StudyStatus(len(raters), finished, active, sum(counts), len(counts), min(counts),
                       max(counts), int(setting(connection, "ratings_per_image") or 0),
                       per_method)


def format_status(status: StudyStatus) -> str:
    target = f" of {status.target} wanted" if status.target else ""
    lines = [f"raters: {status.raters} started, {status.finished} finished, {status.active} "
             "rating now",
             f"ratings: {status.ratings} on {status.images} images; each image has "
             f"{status.per_image_min}-{status.per_image_max}{target}"]
    if status.target:
        left = max(0, status.target * status.images - status.ratings)
        lines.append(f"to go: {left} ratings")
    lines += [f"  {safe_text(method)}: {count}" for method, count in status.per_method.items()]
    return "\n".join(lines)
