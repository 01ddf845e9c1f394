"""Mean Opinion Score studies: the study folder and its SQLite database.

A study folder holds ``study.sqlite`` (WAL mode) and ``images/`` with every image copied
under an opaque random id, so neither method names nor file names reach the browser. Tables:
``images`` (id, method, item, file, reference), ``calibration`` (id, file, score, caption),
``raters`` (token, name, order of image ids, calibration done), ``ratings`` (one row per
rater and image: re-rating replaces the score) and ``settings``.

The calibration examples are made from the reference method (HR) when there is one, else
from the first method: the image itself labelled 5 ("excellent") and a 4x nearest-neighbour
degraded copy labelled 1 ("bad"), as the SRGAN paper calibrated its raters on NN and HR.
"""

from __future__ import annotations

import json
import random
import secrets
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from vivid.data import list_images
from vivid.errors import VividError

DATABASE = "study.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS images (id TEXT PRIMARY KEY, method TEXT NOT NULL,
    item TEXT NOT NULL, file TEXT NOT NULL, reference INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS calibration (id TEXT PRIMARY KEY, file TEXT NOT NULL,
    score INTEGER NOT NULL, caption TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS raters (token TEXT PRIMARY KEY, name TEXT NOT NULL,
    image_order TEXT NOT NULL, calibrated INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS ratings (rater TEXT NOT NULL REFERENCES raters(token),
    image TEXT NOT NULL REFERENCES images(id), score INTEGER NOT NULL
    CHECK (score BETWEEN 1 AND 5), updated REAL NOT NULL, PRIMARY KEY (rater, image));
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def connect(study: Path) -> sqlite3.Connection:
    """A connection to a study's database (waits up to 30 s for a lock).

    The database is in WAL mode (set once at creation; it persists) with synchronous=NORMAL:
    a committed rating survives any crash of the server process; only an OS crash or power
    loss could drop the last moments' commits, and it saves an fsync per rating.
    """
    path = Path(study) / DATABASE
    if not path.is_file():
        raise VividError(f"{study}: not a vivid MOS study (no {DATABASE})")
    connection = sqlite3.connect(path, timeout=30, isolation_level=None)
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA busy_timeout=30000")
    connection.execute("PRAGMA foreign_keys=ON")
    return connection


def _parse_method(text: str) -> tuple[str, Path]:
    name, sep, folder = text.partition("=")
    if not sep or not name or not folder:
        raise VividError(f"--method {text}: expected NAME=FOLDER")
    return name, Path(folder)


def _copy(source: Path, images: Path) -> str:
    identifier = secrets.token_hex(12)
    shutil.copyfile(source, images / f"{identifier}{source.suffix.lower()}")
    return identifier


def _calibration(connection: sqlite3.Connection, examples: list[Path], images: Path) -> None:
    for source in examples:
        good = _copy(source, images)
        connection.execute("INSERT INTO calibration VALUES (?, ?, 5, ?)",
                           (good, f"{good}{source.suffix.lower()}", "excellent: 5"))
        with Image.open(source) as image:
            small = image.convert("RGB").resize((max(1, image.width // 4),
                                                 max(1, image.height // 4)), Image.NEAREST)
            bad = secrets.token_hex(12)
            small.resize(image.size, Image.NEAREST).save(images / f"{bad}.png")
        connection.execute("INSERT INTO calibration VALUES (?, ?, 1, ?)",
                           (bad, f"{bad}.png", "bad: 1"))


@dataclass(frozen=True)
class StudyPlan:
    methods: dict[str, Path]  # name -> folder, the reference (if any) included
    reference: str | None
    items: list[str]  # file names present in every method's folder


def plan_study(methods: list[str], reference: str | None) -> StudyPlan:
    """Match images by file name across the method folders (and the reference)."""
    folders = dict(_parse_method(m) for m in methods)
    reference_name = None
    if reference:
        reference_name, folder = _parse_method(reference)
        folders[reference_name] = folder
    if len(folders) < 1:
        raise VividError("give at least one --method NAME=FOLDER")
    names = [{p.name for p in list_images(folder)} for folder in folders.values()]
    common = sorted(set.intersection(*names))
    if not common:
        raise VividError("no image file name is present in every method folder")
    return StudyPlan(folders, reference_name, common)


def create_study(study: Path, methods: list[str], reference: str | None = None,
                 per_rater: int | None = None) -> StudyPlan:
    """Write a new study folder; refuses to overwrite an existing study."""
    plan = plan_study(methods, reference)
    study = Path(study)
    if (study / DATABASE).exists():
        raise VividError(f"{study}: already holds a study")
    images = study / "images"
    images.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(study / DATABASE, isolation_level=None)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.executescript(_SCHEMA)
        connection.execute("BEGIN")
        for method, folder in plan.methods.items():
            for item in plan.items:
                identifier = _copy(folder / item, images)
                file = f"{identifier}{(folder / item).suffix.lower()}"
                connection.execute("INSERT INTO images VALUES (?, ?, ?, ?, ?)",
                                   (identifier, method, item, file, method == plan.reference))
        source = plan.methods[plan.reference or next(iter(plan.methods))]
        _calibration(connection, [source / item for item in plan.items[:2]], images)
        connection.execute("INSERT INTO settings VALUES ('per_rater', ?)",
                           (str(per_rater or 0),))
        connection.execute("COMMIT")
    finally:
        connection.close()
    return plan


def new_rater(connection: sqlite3.Connection, name: str, seed: int | None = None) -> str:
    """Register a rater with their own random order of images; returns the opaque token."""
    identifiers = [row[0] for row in connection.execute("SELECT id FROM images ORDER BY id")]
    per_rater = int(connection.execute(
        "SELECT value FROM settings WHERE key = 'per_rater'").fetchone()[0])
    rng = random.Random(seed)
    rng.shuffle(identifiers)
    if per_rater:
        identifiers = identifiers[:per_rater]
    token = secrets.token_urlsafe(16)
    connection.execute("INSERT INTO raters VALUES (?, ?, ?, 0, ?)",
                       (token, name[:100], json.dumps(identifiers), time.time()))
    return token


def rate(connection: sqlite3.Connection, token: str, image: str, score: int) -> None:
    """Store (or replace) a rater's score for one of their images; validates everything."""
    if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
        raise VividError(f"score must be an integer from 1 to 5, got {score!r}")
    row = connection.execute("SELECT image_order FROM raters WHERE token = ?",
                             (token,)).fetchone()
    if row is None:
        raise VividError("unknown rater")
    if image not in json.loads(row[0]):
        raise VividError("unknown image for this rater")
    connection.execute(
        "INSERT INTO ratings VALUES (?, ?, ?, ?) ON CONFLICT (rater, image) "
        "DO UPDATE SET score = excluded.score, updated = excluded.updated",
        (token, image, score, time.time()))


def progress(connection: sqlite3.Connection, token: str) -> tuple[list[str], set[str]]:
    """A rater's image order and the images they have rated (VividError if unknown)."""
    row = connection.execute("SELECT image_order FROM raters WHERE token = ?",
                             (token,)).fetchone()
    if row is None:
        raise VividError("unknown rater")
    rated = {r[0] for r in connection.execute("SELECT image FROM ratings WHERE rater = ?",
                                              (token,))}
    return json.loads(row[0]), rated
