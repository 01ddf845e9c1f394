"""Mean Opinion Score studies: the study database and what raters do to it.

A study folder (made by ``mos.create``) holds ``study.sqlite`` (WAL mode) and ``images/`` with
every image copied under an opaque random id, so neither method names nor file names reach
the browser. Tables: ``images`` (id, method, item, file, reference), ``calibration`` and
``practice`` (images from the separate ``--training`` folder, never rated in the study),
``raters`` (secret token, public number, name, image order, calibration/practice progress),
``ratings`` (one row per rater and image: re-rating replaces the score), ``views`` (when each
image was first served to each rater: a rating needs the image shown long enough) and
``settings``.

Nothing here imports torch: the MOS web app runs without it.
"""

from __future__ import annotations

import contextlib
import json
import queue
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from vivid.errors import VividError
from vivid.mos.alloc import allocate
from vivid.mos.text import clean_name

T = TypeVar("T")
_WRITE_LOCK = threading.Lock()
DATABASE = "study.sqlite"
SCHEMA_VERSION = "2"
SCHEMA = """
CREATE TABLE images (id TEXT PRIMARY KEY, method TEXT NOT NULL, item TEXT NOT NULL,
    file TEXT NOT NULL, reference INTEGER NOT NULL);
CREATE TABLE calibration (id TEXT PRIMARY KEY, file TEXT NOT NULL, score INTEGER NOT NULL,
    caption TEXT NOT NULL, pair INTEGER NOT NULL);
CREATE TABLE practice (id TEXT PRIMARY KEY, file TEXT NOT NULL, position INTEGER NOT NULL);
CREATE TABLE raters (token TEXT PRIMARY KEY, number INTEGER NOT NULL UNIQUE,
    name TEXT NOT NULL, image_order TEXT NOT NULL, calibrated INTEGER NOT NULL DEFAULT 0,
    practiced INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL, active REAL NOT NULL);
CREATE TABLE ratings (rater TEXT NOT NULL REFERENCES raters(token),
    image TEXT NOT NULL REFERENCES images(id), score INTEGER NOT NULL
    CHECK (score BETWEEN 1 AND 5), updated REAL NOT NULL, PRIMARY KEY (rater, image));
CREATE TABLE views (rater TEXT NOT NULL REFERENCES raters(token), image TEXT NOT NULL,
    served REAL NOT NULL, PRIMARY KEY (rater, image));
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class UnknownError(VividError):
    """An unknown rater token or an image that is not this rater's (HTTP 404)."""


class TooSoonError(VividError):
    """A rating for an image that has not been on screen long enough (HTTP 409)."""


class StudyFullError(VividError):
    """Every image already has its ``--ratings-per-image`` target (HTTP 503)."""


def connect(study: Path, timeout: float = 30.0) -> sqlite3.Connection:
    """A connection to a study's database (waits up to ``timeout`` seconds for a lock).

    The database is in WAL mode (set once at creation; it persists) with synchronous=NORMAL:
    a committed rating survives any crash of the server process; only an OS crash or power
    loss could drop the last moments' commits, and it saves an fsync per rating.
    """
    path = Path(study) / DATABASE
    if not path.is_file():
        raise VividError(f"{study}: not a vivid MOS study (no {DATABASE})")
    connection = sqlite3.connect(path, timeout=timeout, isolation_level=None,
                                 check_same_thread=False)
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
    connection.execute("PRAGMA foreign_keys=ON")
    if setting(connection, "schema") != SCHEMA_VERSION:
        connection.close()
        raise VividError(f"{study}: made by an older vivid (schema {SCHEMA_VERSION} needed); "
                         "create the study again")
    return connection


def setting(connection: sqlite3.Connection, key: str) -> str | None:
    try:
        row = connection.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    except sqlite3.OperationalError:  # no settings table: not this schema
        return None
    return None if row is None else row[0]


@contextlib.contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[None]:
    """One write transaction, rolled back on any error. Writers of this process queue on a
    lock first: SQLite's own busy wait sleeps in coarse steps and is left to outside writers."""
    wait_s = connection.execute("PRAGMA busy_timeout").fetchone()[0] / 1000
    if not _WRITE_LOCK.acquire(timeout=wait_s):
        raise sqlite3.OperationalError(f"database is locked (other writers for {wait_s:g} s)")
    try:
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
    finally:
        _WRITE_LOCK.release()


class ConnectionPool:
    """Open connections reused across requests (opening and closing one per request costs a
    WAL checkpoint each time); any thread may take one, one thread at a time."""

    def __init__(self, study: Path, timeout: float) -> None:
        self.study, self.timeout = Path(study), timeout
        self._idle: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()

    def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        try:
            connection = self._idle.get_nowait()
        except queue.Empty:
            connection = connect(self.study, self.timeout)
        try:
            return work(connection)
        finally:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            self._idle.put(connection)

    def close(self) -> None:
        """Close the idle connections (at server shutdown)."""
        while not self._idle.empty():
            self._idle.get_nowait().close()


def new_rater(connection: sqlite3.Connection, name: str, seed: int | None = None) -> str:
    """Register a rater with a balanced, shuffled set of images; returns the secret token.

    Runs in one write transaction so that concurrent starts see each other's allocations.
    """
    per_rater = int(setting(connection, "per_rater") or 0)
    target = int(setting(connection, "ratings_per_image") or 0)
    now = time.time()
    with transaction(connection):
        identifiers = allocate(connection, per_rater, target, seed, now)
        if not identifiers:
            raise StudyFullError("the study is complete: every image has its ratings")
        number = connection.execute("SELECT COALESCE(MAX(number), 0) + 1 FROM raters"
                                    ).fetchone()[0]
        token = secrets.token_urlsafe(16)
        connection.execute("INSERT INTO raters VALUES (?, ?, ?, ?, 0, 0, ?, ?)",
                           (token, number, clean_name(name), json.dumps(identifiers), now, now))
    return token


@dataclass(frozen=True)
class RaterState:
    order: list[str]  # the rater's study images, in showing order
    rated: set[str]
    calibrated: bool
    practice: list[str]  # practice images still to do, in order

    def next_image(self) -> str | None:
        """The practice or study image to show now (None when all are done)."""
        if self.practice:
            return self.practice[0]
        return next((image for image in self.order if image not in self.rated), None)


def rater_state(connection: sqlite3.Connection, token: str) -> RaterState:
    """Where a rater is (UnknownError for an unknown token)."""
    row = connection.execute("SELECT image_order, calibrated, practiced FROM raters "
                             "WHERE token = ?", (token,)).fetchone()
    if row is None:
        raise UnknownError("unknown rater")
    rated = {r[0] for r in connection.execute("SELECT image FROM ratings WHERE rater = ?",
                                              (token,))}
    practice = [r[0] for r in connection.execute("SELECT id FROM practice ORDER BY position")]
    has_calibration = connection.execute("SELECT COUNT(*) FROM calibration").fetchone()[0]
    return RaterState(json.loads(row[0]), rated, bool(row[1]) or not has_calibration,
                      practice[row[2]:])


def record_view(connection: sqlite3.Connection, token: str, image: str) -> bool:
    """Note when ``image`` was first served to this rater; False if it is not theirs."""
    state = rater_state(connection, token)
    if image not in state.order and image not in state.practice:
        return False
    with transaction(connection):
        connection.execute("INSERT OR IGNORE INTO views VALUES (?, ?, ?)",
                           (token, image, time.time()))
    return True


def _check_viewed(connection: sqlite3.Connection, token: str, image: str,
                  min_view_s: float) -> None:
    if min_view_s <= 0:
        return
    row = connection.execute("SELECT served FROM views WHERE rater = ? AND image = ?",
                             (token, image)).fetchone()
    if row is None:
        raise TooSoonError("this image was not shown to you yet")
    if time.time() - row[0] < min_view_s:
        raise TooSoonError(f"please look at the image for at least {min_view_s:g} s")


def rate(connection: sqlite3.Connection, token: str, image: str, score: object,
         min_view_s: float = 0.0) -> None:
    """Store (or replace) a rater's score for one of their images; validates everything.

    A practice image only advances the practice (its score is not kept). With
    ``min_view_s`` > 0 the image must have been served to this rater that long ago.
    """
    if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
        raise VividError(f"score must be an integer from 1 to 5, got {score!r}")
    with transaction(connection):
        state = rater_state(connection, token)
        now = time.time()
        if state.practice and image == state.practice[0]:
            _check_viewed(connection, token, image, min_view_s)
            connection.execute("UPDATE raters SET practiced = practiced + 1, active = ? "
                               "WHERE token = ?", (now, token))
            return
        if image not in state.order:
            raise UnknownError("unknown image for this rater")
        _check_viewed(connection, token, image, min_view_s)
        connection.execute(
            "INSERT INTO ratings VALUES (?, ?, ?, ?) ON CONFLICT (rater, image) "
            "DO UPDATE SET score = excluded.score, updated = excluded.updated",
            (token, image, score, now))
        connection.execute("UPDATE raters SET active = ? WHERE token = ?", (now, token))


def progress(connection: sqlite3.Connection, token: str) -> tuple[list[str], set[str]]:
    """A rater's image order and the images they have rated (UnknownError if unknown)."""
    state = rater_state(connection, token)
    return state.order, state.rated


def mark_calibrated(connection: sqlite3.Connection, token: str) -> bool:
    """The rater has seen the calibration page; False for an unknown token."""
    with transaction(connection):
        return connection.execute("UPDATE raters SET calibrated = 1 WHERE token = ?",
                                  (token,)).rowcount > 0
