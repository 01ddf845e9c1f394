"""The MOS rating web app (Starlette; server-rendered HTML, one small script, no build step).

Flow: ``/`` (optional name, access code if the study has one) -> ``/r/TOKEN`` shows the
calibration pairs once (if the study has a ``--training`` folder), then the practice trials,
then the rater's images (a balanced, shuffled set; method and file names never appear),
scored 1-5 by button or key and posted to ``/api/rate``, then a thank-you page. Reloading
resumes. A rating is accepted only once the image was served to this rater (through
``/r/TOKEN/image/ID``) at least ``min_view_s`` ago; the page's script gates the keys the same
way. All database work runs in worker threads with a bounded busy timeout (503 when the
database stays locked), so pages keep flowing while a write waits. ``mos.security`` bounds
bodies, adds security headers and rate-limits session starts and access-code attempts.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import sqlite3
import time
import unicodedata
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TypeVar

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from vivid.errors import VividError
from vivid.mos import study as mos_study
from vivid.mos.assets import CSS, JS
from vivid.mos.pages import calibration_page, notice, rating_page, start_page, thanks_page
from vivid.mos.security import MAX_BODY, BodyLimit, RateLimiter, RateLimits, SecurityHeaders

T = TypeVar("T")
_ID = re.compile(r"[0-9a-f]{24}")
_STATUS = {mos_study.UnknownError: 404, mos_study.TooSoonError: 409,
           mos_study.StudyFullError: 503}
_IMAGE_CACHE = {"Cache-Control": "private, max-age=3600"}

# Idle keep-alive connections stay open this long; uvicorn's 5 s default closes connections a
# busy client is about to reuse (seen as ReadError under load).
KEEP_ALIVE_S = 75


async def _db(request: Request, work: Callable[[sqlite3.Connection], T]) -> T:
    """Run ``work`` on a pooled connection in a worker thread (never on the event loop)."""
    return await run_in_threadpool(request.app.state.pool.run, work)


@contextlib.asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    yield
    app.state.pool.close()


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _too_many(wait: float) -> Response:
    return notice("Slow down", "Too many attempts from your address; please wait and try "
                  "again.", 429, {"Retry-After": str(max(1, round(wait)))})


def _code_matches(given: str, expected: str) -> bool:
    """Constant-time comparison of any Unicode codes (NFC, UTF-8 bytes)."""
    def encoded(text: str) -> bytes:
        return unicodedata.normalize("NFC", text).encode("utf-8")

    return secrets.compare_digest(encoded(given), encoded(expected))


async def _form_fields(request: Request) -> dict[str, str]:
    """Small text-only forms: files, repeated or long fields are a 400."""
    form = await request.form(max_files=0, max_fields=4, max_part_size=1024)
    fields = {key: value for key, value in form.multi_items()}
    if any(not isinstance(value, str) for value in fields.values()):
        raise VividError("only text fields are accepted")
    return fields


def _start(request: Request) -> Response:
    return start_page(bool(request.app.state.access_code))


async def _begin(request: Request) -> Response:
    state = request.app.state
    try:
        form = await _form_fields(request)
    except VividError as error:
        return notice("Bad request", str(error), 400)
    if state.access_code:
        wait = state.code_limiter.take(_client(request))
        if wait:
            return _too_many(wait)
        if not _code_matches(form.get("code", ""), state.access_code):
            return notice("Wrong code", "Wrong access code.", 403)
    wait = state.session_limiter.take(_client(request))
    if wait:
        return _too_many(wait)
    try:
        token = await _db(request, lambda c: mos_study.new_rater(c, form.get("name", "")))
    except mos_study.StudyFullError as error:
        return notice("Study complete", str(error), 503)
    return RedirectResponse(f"/r/{token}", status_code=303)


def _rater_view(connection: sqlite3.Connection, token: str, min_view_s: float) -> Response:
    state = mos_study.rater_state(connection, token)
    if not state.calibrated:
        rows = connection.execute("SELECT id, caption, pair FROM calibration "
                                  "ORDER BY pair, score DESC").fetchall()
        return calibration_page(token, rows)
    image = state.next_image()
    if image is None:
        return thanks_page(len(state.order))
    if state.practice:
        total = connection.execute("SELECT COUNT(*) FROM practice").fetchone()[0]
        label = f"Practice {total - len(state.practice) + 1} of {total} (not counted)"
    else:
        label = f"Image {len(state.rated) + 1} of {len(state.order)}"
    return rating_page(token, image, label, min_view_s)


async def _rater(request: Request) -> Response:
    token = request.path_params["token"]
    try:
        return await _db(request, lambda c: _rater_view(c, token,
                                                        request.app.state.min_view_s))
    except mos_study.UnknownError:
        return notice("Unknown", "Unknown rating session.", 404)


async def _calibrated(request: Request) -> Response:
    token = request.path_params["token"]
    if not await _db(request, lambda c: mos_study.mark_calibrated(c, token)):
        return notice("Unknown", "Unknown rating session.", 404)
    return RedirectResponse(f"/r/{token}", status_code=303)


def _parse_rating(body: bytes) -> tuple[str, str, object]:
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: deeply nested JSON
        raise VividError("body must be JSON") from None
    if not isinstance(payload, dict) or set(payload) != {"token", "image", "score"}:
        raise VividError("expected {token, image, score}")
    if not isinstance(payload["token"], str) or not isinstance(payload["image"], str):
        raise VividError("token and image must be strings")
    return payload["token"], payload["image"], payload["score"]


def _store_rating(connection: sqlite3.Connection, token: str, image: str, score: object,
                  min_view_s: float) -> dict[str, int]:
    mos_study.rate(connection, token, image, score, min_view_s)
    order, rated = mos_study.progress(connection, token)
    return {"rated": len(rated), "total": len(order)}


async def _api_rate(request: Request) -> JSONResponse:
    try:
        token, image, score = _parse_rating(await request.body())
        counts = await _db(request, lambda c: _store_rating(
            c, token, image, score, request.app.state.min_view_s))
    except VividError as error:
        return JSONResponse({"error": str(error)}, _STATUS.get(type(error), 400))
    return JSONResponse(counts)


def _image_file(request: Request, row: tuple[str] | None) -> Response:
    if row is None:
        return JSONResponse({"error": "unknown image"}, 404)
    return FileResponse(Path(request.app.state.study) / "images" / row[0], headers=_IMAGE_CACHE)


async def _image(request: Request) -> Response:
    """Calibration (and, by id, study) images; not recorded as viewed."""
    identifier = request.path_params["identifier"]
    if not _ID.fullmatch(identifier):
        return JSONResponse({"error": "unknown image"}, 404)
    row = await _db(request, lambda c: c.execute(
        "SELECT file FROM images WHERE id = ? UNION SELECT file FROM calibration WHERE id = ?",
        (identifier, identifier)).fetchone())
    return _image_file(request, row)


def _served(connection: sqlite3.Connection, token: str, image: str) -> tuple[str] | None:
    if not mos_study.record_view(connection, token, image):
        return None
    return connection.execute("SELECT file FROM images WHERE id = ? UNION "
                              "SELECT file FROM practice WHERE id = ?", (image, image)).fetchone()


async def _rater_image(request: Request) -> Response:
    """A rater's study or practice image; the time it is first served is recorded."""
    token, identifier = request.path_params["token"], request.path_params["identifier"]
    if not _ID.fullmatch(identifier):
        return JSONResponse({"error": "unknown image"}, 404)
    try:
        row = await _db(request, lambda c: _served(c, token, identifier))
    except mos_study.UnknownError:
        row = None
    return _image_file(request, row)


def _asset(text: str, media_type: str) -> Callable[[Request], Response]:
    def serve(request: Request) -> Response:
        return Response(text, media_type=media_type, headers={"Cache-Control": "no-cache"})

    return serve


def _busy(request: Request, error: Exception) -> Response:
    """A database that stays locked (or fails) is a 503, never a hung server."""
    return JSONResponse({"error": f"the study database is busy, try again ({error})"}, 503)


def create_app(study: Path, access_code: str | None = None, *, min_view_s: float = 1.0,
               limits: RateLimits | None = None, busy_timeout_s: float = 10.0,
               clock: Callable[[], float] = time.monotonic) -> Starlette:
    """The ASGI app for one study folder. ``min_view_s`` <= 0 turns the viewing-time check
    off (scripted clients); ``clock`` drives the rate limits (tests)."""
    mos_study.connect(study).close()  # fails early on a folder that is not a study
    limits = limits or RateLimits()
    app = Starlette(routes=[
        Route("/", _start), Route("/start", _begin, methods=["POST"]),
        Route("/r/{token}", _rater), Route("/r/{token}/calibrated", _calibrated,
                                            methods=["POST"]),
        Route("/r/{token}/image/{identifier}", _rater_image),
        Route("/api/rate", _api_rate, methods=["POST"]), Route("/image/{identifier}", _image),
        Route("/static/mos.js", _asset(JS, "text/javascript")),
        Route("/static/mos.css", _asset(CSS, "text/css")),
    ], middleware=[Middleware(SecurityHeaders), Middleware(BodyLimit, limit=MAX_BODY)],
        exception_handlers={sqlite3.OperationalError: _busy}, lifespan=_lifespan)
    app.state.study, app.state.access_code = Path(study), access_code or None
    app.state.min_view_s = min_view_s
    app.state.pool = mos_study.ConnectionPool(Path(study), busy_timeout_s)
    app.state.session_limiter = RateLimiter(limits.sessions_per_hour / 3600,
                                            limits.session_burst, clock)
    app.state.code_limiter = RateLimiter(limits.codes_per_minute / 60, limits.code_burst, clock)
    return app
