"""The live page (Starlette, as the MOS app: server-rendered HTML, one small script).

``/`` is the page; ``/stream.mjpg`` the shown frames as an MJPEG stream (``multipart/x-mixed-
replace``, one JPEG per part): each viewer waits for the newest frame and gets it, so a slow
viewer skips frames instead of piling them up; ``/api/stats`` is what the status line shows
(polled); ``POST /api/model``, ``/api/view`` (compare mode and wipe position), ``/api/pause``
take small JSON bodies; ``/snapshot.png`` is the frame pair shown now (bicubic | model).

Protections: ``mos.security``'s body limit and security headers (CSP: scripts, styles and
images from the page's own origin only; no framing); POSTs must be JSON and, when the browser
names an Origin, from the page's own; served on loopback, only loopback Host names are
answered (no DNS rebinding). Waiting for frames runs in worker threads, never on the loop.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from vivid.errors import VividError
from vivid.live.assets import CSS, JS, page
from vivid.live.pipeline import Pipeline
from vivid.mos.security import BodyLimit, SecurityHeaders

MAX_BODY = 1024
WAIT_S = 0.5  # a viewer's wait for the next frame before it looks whether to stop
LOOPBACK = ["127.0.0.1", "localhost", "::1", "[::1]"]
_NO_STORE = {"Cache-Control": "no-store"}


def _pipeline(request: Request) -> Pipeline:
    return request.app.state.pipeline


def _page(request: Request) -> HTMLResponse:
    state = request.app.state
    return HTMLResponse(page(state.label, state.pipeline.choices, state.pipeline.model.name,
                             state.pipeline.view[0], state.recording), headers=_NO_STORE)


def _asset(text: str, media_type: str) -> Callable[[Request], Response]:
    def serve(request: Request) -> Response:
        return Response(text, media_type=media_type, headers={"Cache-Control": "no-cache"})

    return serve


async def _stream(request: Request) -> StreamingResponse:
    pipeline, exiting = _pipeline(request), request.app.state.exiting

    async def parts() -> AsyncIterator[bytes]:
        sequence = 0
        while not pipeline.stopped and not exiting():
            newer = await run_in_threadpool(pipeline.shown.newer, sequence, WAIT_S)
            if newer is None:
                continue
            sequence, shown = newer
            yield (b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
                   % len(shown.jpeg) + shown.jpeg + b"\r\n")
            pipeline.sent(shown)  # resumed once the part was handed to the connection

    return StreamingResponse(parts(), media_type="multipart/x-mixed-replace; boundary=frame",
                             headers=_NO_STORE)


def _stats(request: Request) -> JSONResponse:
    return JSONResponse({**_pipeline(request).stats(), "source": request.app.state.label,
                         "recording": request.app.state.recording}, headers=_NO_STORE)


async def _body(request: Request) -> dict:
    """The JSON object a POST sent; refused unless JSON from this page's origin."""
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise VividError("cross-origin requests are refused")
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise VividError("the body must be application/json")
    try:
        body = json.loads(await request.body())
    except (ValueError, RecursionError):
        raise VividError("the body must be JSON") from None
    if not isinstance(body, dict):
        raise VividError("the body must be a JSON object")
    return body


def _posted(action: Callable[[Pipeline, dict], None]) -> Callable:
    async def endpoint(request: Request) -> JSONResponse:
        try:
            action(_pipeline(request), await _body(request))
        except VividError as error:
            return JSONResponse({"error": str(error)}, 400)
        return JSONResponse(_pipeline(request).stats())

    return endpoint


def _choose_model(pipeline: Pipeline, body: dict) -> None:
    if not isinstance(body.get("model"), str):
        raise VividError("expected {model: NAME}")
    pipeline.choose_model(body["model"])


def _set_view(pipeline: Pipeline, body: dict) -> None:
    compare, wipe = body.get("compare", pipeline.view[0]), body.get("wipe", pipeline.view[1])
    if not isinstance(compare, str) or isinstance(wipe, bool) or \
            not isinstance(wipe, int | float):
        raise VividError("expected {compare: side|wipe, wipe: 0-1}")
    pipeline.set_view(compare, float(wipe))


def _set_pause(pipeline: Pipeline, body: dict) -> None:
    if not isinstance(body.get("paused"), bool):
        raise VividError("expected {paused: true|false}")
    pipeline.pause.set(body["paused"])


async def _snapshot(request: Request) -> Response:
    pipeline = _pipeline(request)
    shown = pipeline.shown.item
    png = await run_in_threadpool(pipeline.snapshot)
    if png is None or shown is None:
        return JSONResponse({"error": "no frame shown yet"}, 404)
    name = re.sub(r"[^A-Za-z0-9._-]", "_", f"vivid-live-{shown.model}-{shown.frame.index}")
    return Response(png, media_type="image/png", headers={
        **_NO_STORE, "Content-Disposition": f'attachment; filename="{name}.png"'})


def create_app(pipeline: Pipeline, label: str, *, loopback: bool = True,
               recording: str | None = None) -> Starlette:
    """The page's ASGI app for a running ``pipeline``; ``label`` names the source,
    ``loopback``: answer loopback Host names only, ``recording``: the file being written."""
    app = Starlette(routes=[
        Route("/", _page), Route("/stream.mjpg", _stream), Route("/api/stats", _stats),
        Route("/api/model", _posted(_choose_model), methods=["POST"]),
        Route("/api/view", _posted(_set_view), methods=["POST"]),
        Route("/api/pause", _posted(_set_pause), methods=["POST"]),
        Route("/snapshot.png", _snapshot),
        Route("/static/live.js", _asset(JS, "text/javascript")),
        Route("/static/live.css", _asset(CSS, "text/css")),
    ], middleware=[Middleware(SecurityHeaders),
                   Middleware(TrustedHostMiddleware, allowed_hosts=LOOPBACK if loopback
                              else ["*"]),
                   Middleware(BodyLimit, limit=MAX_BODY)])
    app.state.pipeline, app.state.label, app.state.recording = pipeline, label, recording
    app.state.exiting = lambda: False  # the server's own, once served (mos.server)
    return app
