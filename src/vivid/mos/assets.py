"""The MOS app's one stylesheet and one script, served from ``/static/`` (the CSP allows no
inline code).

The script shows every ``img.native`` 1:1 in device pixels (CSS size = pixels /
devicePixelRatio, redone on resize and zoom) and reveals it only once loaded, with a "window
too small" notice instead of any scaling. On a rating page it gates the rating: keys 1-5 and
the buttons work only once the image has loaded and been visible (tab in front) for the
page's minimum time; one rating per image (later presses are ignored while it is sent and the
next image loads); a refused or failed POST is reported and the image stays for another try.
"""

from __future__ import annotations

CSS = """body{font-family:sans-serif;margin:0 auto;padding:0 1em 1em;text-align:center}
img.native{visibility:hidden;max-width:none;max-height:none;image-rendering:auto}
img.native.shown{visibility:visible}
.stage{margin:.5em 0}
.bar{position:sticky;top:0;background:#fff;padding:.5em 0;z-index:1}
.pairs{display:flex;flex-direction:column;align-items:center;gap:1em}
.pair{display:flex;flex-wrap:nowrap;gap:1em;justify-content:center;align-items:flex-start}
figure{margin:0}
button{font-size:1.2em;margin:.3em;padding:.5em 1em}
#status{min-height:1.4em;font-weight:bold}
#too-small{background:#fff3c4;padding:.4em}
"""

JS = """"use strict";
(() => {
  const natives = [...document.querySelectorAll("img.native")];
  const notice = document.getElementById("too-small");
  const fit = () => {
    const ratio = window.devicePixelRatio || 1;
    let tooBig = false;
    for (const img of natives) {
      if (!img.naturalWidth) continue;
      const height = img.naturalHeight / ratio;
      img.style.width = img.naturalWidth / ratio + "px";
      img.style.height = height + "px";
      tooBig = tooBig || height > window.innerHeight;
    }
    const page = document.documentElement;
    if (notice) notice.hidden = !(tooBig || page.scrollWidth > page.clientWidth);
  };
  const whenShown = (img, then) => {
    const show = () => { fit(); img.classList.add("shown"); then(); };
    if (img.complete && img.naturalWidth) show();
    else img.addEventListener("load", show, {once: true});
  };
  natives.forEach((img) => whenShown(img, () => {}));
  window.addEventListener("resize", fit);

  const trial = document.getElementById("trial");
  if (!trial) return;
  const img = document.getElementById("subject");
  const status = document.getElementById("status");
  const buttons = [...document.querySelectorAll("button.score")];
  const minView = Number(trial.dataset.minViewMs);
  let shownAt = null;
  let busy = false;
  const ready = () => !busy && shownAt !== null && document.visibilityState === "visible"
    && performance.now() - shownAt >= minView;
  const refresh = () => buttons.forEach((b) => { b.disabled = !ready(); });
  const start = () => {
    shownAt = document.visibilityState === "visible" ? performance.now() : null;
    refresh();
    setTimeout(refresh, minView + 20);
  };
  whenShown(img, start);
  document.addEventListener("visibilitychange", () => {
    if (img.classList.contains("shown")) start();
  });
  img.addEventListener("error", () => {
    status.textContent = "The image could not be loaded: please reload the page.";
  });
  const refused = async (reply) => {
    try { return (await reply.json()).error; } catch (e) { return reply.statusText; }
  };
  const send = async (score) => {
    if (!ready()) return;
    busy = true;
    refresh();
    status.textContent = "Saving...";
    let problem;
    try {
      const reply = await fetch("/api/rate", {method: "POST",
        headers: {"Content-Type": "application/json"},
        body: JSON.stringify({token: trial.dataset.token, image: trial.dataset.image, score})});
      if (reply.ok) { location.reload(); return; }
      problem = await refused(reply);
    } catch (e) {
      problem = "no connection to the server";
    }
    status.textContent = "Your rating was not saved (" + problem + "): please rate again.";
    busy = false;
    refresh();
  };
  buttons.forEach((b) => b.addEventListener("click", () => send(Number(b.dataset.score))));
  document.addEventListener("keydown", (e) => {
    if (!e.repeat && e.key.length === 1 && "12345".includes(e.key)) send(Number(e.key));
  });
})();
"""
