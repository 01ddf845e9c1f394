"""The MOS app's HTML pages (server-rendered; the behaviour is in ``mos.assets``).

Every page has a mobile viewport and no inline script or style. Images on the rating,
practice and calibration pages are ``img.native``: shown at their real size in device pixels.
Method and file names never appear; images are addressed by opaque ids only.
"""

from __future__ import annotations

import html

from starlette.responses import HTMLResponse

LABELS = {1: "bad", 2: "poor", 3: "fair", 4: "good", 5: "excellent"}
_TOO_SMALL = ("<p id='too-small' hidden>Images are shown at their real size and this one "
              "does not fit your window: please enlarge the window or scroll to see all of "
              "it (do not zoom).</p>")


def page(title: str, body: str, status: int = 200, headers: dict[str, str] | None = None
         ) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><meta name='viewport' "
        "content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><link rel='stylesheet' href='/static/mos.css'>"
        f"</head><body>{body}<script src='/static/mos.js'></script></body></html>", status,
        headers={"Cache-Control": "no-store", **(headers or {})})


def start_page(access_code: bool) -> HTMLResponse:
    code = ("<p><label>Access code <input name='code' type='password' required></label></p>"
            if access_code else "")
    return page("Rating study", "<h1>Image quality study</h1><p>You will see images one at "
                "a time and rate each from 1 (bad) to 5 (excellent).</p><form method='post' "
                "action='/start'><p><label>Name (optional) <input name='name' maxlength='60'>"
                f"</label></p>{code}<button type='submit' id='begin'>Begin</button></form>")


def notice(title: str, text: str, status: int, headers: dict[str, str] | None = None
           ) -> HTMLResponse:
    return page(title, f"<p>{html.escape(text)}</p><p><a href='/'>Back to the start</a></p>",
                status, headers)


def calibration_page(token: str, rows: list[tuple[str, str, int]]) -> HTMLResponse:
    """rows: (image id, caption, pair) with each pair's good image first."""
    pairs: dict[int, list[str]] = {}
    for image, caption, pair in rows:
        pairs.setdefault(pair, []).append(
            f"<figure><img class='native' src='/image/{image}' alt='{html.escape(caption)}'>"
            f"<figcaption><b>{html.escape(caption)}</b></figcaption></figure>")
    shown = "".join(f"<div class='pair'>{''.join(p)}</div>" for p in pairs.values())
    return page("Calibration", f"<div class='bar'><form method='post' "
                f"action='/r/{token}/calibrated'><button type='submit' id='start-rating'>Start "
                "rating</button></form></div><h1>Before you start</h1><p>Each pair shows the "
                "two ends of the scale side by side: the same picture at excellent quality (5) "
                f"and at bad quality (1).</p>{_TOO_SMALL}<div class='pairs'>{shown}</div>")


def rating_page(token: str, image: str, label: str, min_view_s: float) -> HTMLResponse:
    """One image to rate; ``label`` is the progress line ("Image 3 of 9")."""
    buttons = "".join(f"<button class='score' data-score='{s}' disabled>{s} {word}</button>"
                      for s, word in LABELS.items())
    return page("Rate", f"<main id='trial' data-token='{token}' data-image='{image}' "
                f"data-min-view-ms='{round(min_view_s * 1000)}'><p id='progress'>"
                f"{html.escape(label)}</p><p>How good is this image? (keys 1-5)</p>"
                f"<p>{buttons}</p><p id='status' role='status'></p>{_TOO_SMALL}"
                f"<div class='stage'><img id='subject' class='native' "
                f"src='/r/{token}/image/{image}' alt='image to rate'></div></main>")


def thanks_page(count: int) -> HTMLResponse:
    return page("Thank you", f"<h1>Thank you!</h1><p id='done'>You rated all {count} "
                "images. You can close this page.</p>")
