"""The MOS rating web app (Starlette; server-rendered HTML, a few lines of JS, no build step).

Flow: ``/`` (optional name, access code if the study has one) -> ``/r/TOKEN`` shows the
calibration page once, then the rater's next unrated image (their own random order; method
and file names never appear), scores 1-5 by button or keys 1-5 posted to ``/api/rate``,
then a thank-you page. Reloading resumes where the rater was. Images are served only by
their opaque id from ``/image/ID``.
"""

from __future__ import annotations

import html
import re
import secrets
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from starlette.routing import Route

from vivid import mos_study
from vivid.errors import VividError

_ID = re.compile(r"[0-9a-f]{24}")
_LABELS = {1: "bad", 2: "poor", 3: "fair", 4: "good", 5: "excellent"}
_STYLE = """<style>body{font-family:sans-serif;margin:1em auto;max-width:1100px;text-align:center}
img{max-width:100%;max-height:70vh;image-rendering:auto}button{font-size:1.2em;margin:.3em;
padding:.5em 1em}.cal{display:inline-block;margin:1em}.cal img{max-height:40vh}</style>"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(f"<!doctype html><html><head><meta charset='utf-8'><title>{title}"
                        f"</title>{_STYLE}</head><body>{body}</body></html>", status)


def _start(request: Request) -> HTMLResponse:
    code = ("<p><label>Access code <input name='code' type='password' required></label></p>"
            if request.app.state.access_code else "")
    return _page("Rating study", "<h1>Image quality study</h1><p>You will see images one at "
                 "a time and rate each from 1 (bad) to 5 (excellent).</p><form method='post' "
                 "action='/start'><p><label>Name (optional) <input name='name'></label></p>"
                 f"{code}<button type='submit' id='begin'>Begin</button></form>")


async def _begin(request: Request) -> HTMLResponse | RedirectResponse:
    form = await request.form()
    expected = request.app.state.access_code
    if expected and not secrets.compare_digest(str(form.get("code", "")), expected):
        return _page("Wrong code", "<p>Wrong access code.</p><a href='/'>Back</a>", 403)
    connection = mos_study.connect(request.app.state.study)
    try:
        token = mos_study.new_rater(connection, str(form.get("name", "")).strip())
    finally:
        connection.close()
    return RedirectResponse(f"/r/{token}", status_code=303)


def _calibration_page(token: str, rows: list) -> HTMLResponse:
    examples = "".join(f"<div class='cal'><img src='/image/{r[0]}' alt='example'><p><b>"
                       f"{html.escape(r[1])}</b></p></div>" for r in rows)
    return _page("Calibration", f"<h1>Before you start</h1><p>These examples show the ends of "
                 f"the scale.</p>{examples}<form method='post' action='/r/{token}/calibrated'>"
                 "<button type='submit' id='start-rating'>Start rating</button></form>")


def _rating_page(token: str, image: str, done: int, total: int) -> HTMLResponse:
    buttons = "".join(f"<button class='score' data-score='{s}'>{s} {label}</button>"
                      for s, label in _LABELS.items())
    script = f"""<script>
const send = (score) => fetch('/api/rate', {{method: 'POST', headers: {{'Content-Type':
  'application/json'}}, body: JSON.stringify({{token: '{token}', image: '{image}', score}})}})
  .then(r => {{ if (r.ok) location.reload(); else r.text().then(t => alert(t)); }});
document.querySelectorAll('button.score').forEach(b => b.onclick = () =>
  send(Number(b.dataset.score)));
document.addEventListener('keydown', e => {{ if ('12345'.includes(e.key) && e.key !== '')
  send(Number(e.key)); }});
</script>"""
    return _page("Rate", f"<p id='progress'>Image {done + 1} of {total}</p><img id='subject' "
                 f"src='/image/{image}' alt='image to rate'><p>How good is this image? "
                 f"(keys 1-5)</p><p>{buttons}</p>{script}")


def _rater(request: Request) -> HTMLResponse:
    token = request.path_params["token"]
    connection = mos_study.connect(request.app.state.study)
    try:
        order, rated = mos_study.progress(connection, token)
        calibrated = connection.execute("SELECT calibrated FROM raters WHERE token = ?",
                                        (token,)).fetchone()[0]
        if not calibrated:
            rows = connection.execute("SELECT id, caption FROM calibration ORDER BY score DESC"
                                      ).fetchall()
            return _calibration_page(token, rows)
    except VividError:
        return _page("Unknown", "<p>Unknown rating session.</p><a href='/'>Start</a>", 404)
    finally:
        connection.close()
    remaining = [image for image in order if image not in rated]
    if not remaining:
        return _page("Thank you", f"<h1>Thank you!</h1><p id='done'>You rated all {len(order)} "
                     "images. You can close this page.</p>")
    return _rating_page(token, remaining[0], len(order) - len(remaining), len(order))


def _calibrated(request: Request) -> RedirectResponse | HTMLResponse:
    token = request.path_params["token"]
    connection = mos_study.connect(request.app.state.study)
    try:
        changed = connection.execute("UPDATE raters SET calibrated = 1 WHERE token = ?",
                                     (token,)).rowcount
    finally:
        connection.close()
    if not changed:
        return _page("Unknown", "<p>Unknown rating session.</p>", 404)
    return RedirectResponse(f"/r/{token}", status_code=303)


async def _api_rate(request: Request) -> JSONResponse:
    try:
        payload = await request.json()
    except ValueError:
        return JSONResponse({"error": "body must be JSON"}, 400)
    if not isinstance(payload, dict) or set(payload) != {"token", "image", "score"}:
        return JSONResponse({"error": "expected {token, image, score}"}, 400)
    connection = mos_study.connect(request.app.state.study)
    try:
        mos_study.rate(connection, str(payload["token"]), str(payload["image"]),
                       payload["score"])
        order, rated = mos_study.progress(connection, str(payload["token"]))
    except VividError as error:
        status = 404 if "unknown" in str(error) else 400
        return JSONResponse({"error": str(error)}, status)
    finally:
        connection.close()
    return JSONResponse({"rated": len(rated), "total": len(order)})


def _image(request: Request) -> FileResponse | JSONResponse:
    identifier = request.path_params["identifier"]
    if not _ID.fullmatch(identifier):
        return JSONResponse({"error": "unknown image"}, 404)
    connection = mos_study.connect(request.app.state.study)
    try:
        row = connection.execute("SELECT file FROM images WHERE id = ? UNION "
                                 "SELECT file FROM calibration WHERE id = ?",
                                 (identifier, identifier)).fetchone()
    finally:
        connection.close()
    if row is None:
        return JSONResponse({"error": "unknown image"}, 404)
    return FileResponse(Path(request.app.state.study) / "images" / row[0],
                        headers={"Cache-Control": "private, max-age=3600"})


def create_app(study: Path, access_code: str | None = None) -> Starlette:
    """The ASGI app for one study folder."""
    mos_study.connect(study).close()  # fails early on a folder that is not a study
    app = Starlette(routes=[
        Route("/", _start), Route("/start", _begin, methods=["POST"]),
        Route("/r/{token}", _rater), Route("/r/{token}/calibrated", _calibrated,
                                            methods=["POST"]),
        Route("/api/rate", _api_rate, methods=["POST"]), Route("/image/{identifier}", _image),
    ])
    app.state.study, app.state.access_code = Path(study), access_code or None
    return app
