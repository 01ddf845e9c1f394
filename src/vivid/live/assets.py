"""The live page: its HTML (server-rendered, names escaped), stylesheet and script.

The script polls ``/api/stats`` twice a second for the status line, re-opens the MJPEG
stream when it breaks, and posts the viewer's choices: model, compare mode, wipe position
(dragged on the picture, or the arrow keys; at most one request in flight, the newest
position sent next), pause (the button or the space bar).
"""

from __future__ import annotations

from html import escape

CSS = """
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: #111; color: #eee; }
header, #stats, #message { display: flex; flex-wrap: wrap; gap: 0.4em 1em; align-items: center;
  padding: 0.4em 0.8em; margin: 0; }
header { background: #222; }
button, select, #snapshot { font: inherit; color: #eee; background: #333;
  border: 1px solid #555; border-radius: 4px; padding: 0.2em 0.7em; text-decoration: none; }
button[aria-pressed="true"] { background: #2a5d8f; border-color: #4a8dcf; }
#stats span { font-variant-numeric: tabular-nums; }
#message:empty { display: none; }
body[data-state="stalled"] #message, body[data-state="reconnecting"] #message,
body[data-state="failed"] #message, body[data-state="ended"] #message,
body[data-state="offline"] #message { background: #7a2e1f; }
#stage { position: relative; width: fit-content; max-width: 100%; margin: 0 auto;
  touch-action: none; user-select: none; }
#view { display: block; max-width: 100%; height: auto; min-height: 4em; }
.label { position: absolute; top: 0.4em; padding: 0 0.4em; background: rgba(0, 0, 0, 0.6);
  border-radius: 3px; pointer-events: none; }
#label-plain { left: 0.4em; }
#label-model { left: calc(50% + 0.4em); }
body[data-compare="wipe"] #label-model { left: auto; right: 0.4em; }
body[data-compare="wipe"] #stage { cursor: ew-resize; }
#handle { position: absolute; top: 0; bottom: 0; width: 2px; margin-left: -1px;
  background: rgba(255, 255, 255, 0.5); pointer-events: none; }
#handle::after { content: "\\2194"; position: absolute; top: 50%; left: -0.75em; width: 1.6em;
  text-align: center; background: #fff; color: #000; border-radius: 50%; }
"""

JS = """
"use strict";
const $ = (id) => document.getElementById(id);
const view = {compare: document.body.dataset.compare, wipe: 0.5};
let paused = false, dragging = false, inFlight = false, pending = false;

function post(path, body) {
  return fetch(path, {method: "POST", headers: {"Content-Type": "application/json"},
                      body: JSON.stringify(body)}).then(async (response) => {
    if (!response.ok) $("message").textContent = (await response.json()).error;
  });
}

function show(stats) {
  $("model-name").textContent = stats.model;
  $("label-model").textContent = stats.model;
  $("engine").textContent = stats.engine;
  $("sizes").textContent = stats.input ? stats.input + " \\u2192 " + stats.output : "no frame yet";
  $("fps").textContent = stats.fps.toFixed(1);
  $("source-fps").textContent = stats.source_fps.toFixed(1);
  $("latency").textContent = stats.latency_ms === null ? "-" : String(stats.latency_ms);
  $("dropped").textContent = String(stats.dropped);
  $("message").textContent = stats.loading ? "loading " + stats.loading + " ..." : stats.message;
  document.body.dataset.state = stats.state;
  if (document.activeElement !== $("model")) $("model").value = stats.model;
  paused = stats.paused;
  $("pause").textContent = paused ? "play" : "pause";
}

async function poll() {
  try {
    const response = await fetch("/api/stats", {cache: "no-store"});
    if (!response.ok) throw new Error(String(response.status));
    show(await response.json());
  } catch (error) {
    document.body.dataset.state = "offline";
    $("message").textContent = "the vivid live server does not answer (stopped?)";
  }
  setTimeout(poll, 500);
}

function placeHandle() {
  document.body.dataset.compare = view.compare;
  for (const button of document.querySelectorAll("[data-compare]")) {
    button.setAttribute("aria-pressed", String(button.dataset.compare === view.compare));
  }
  $("handle").hidden = view.compare !== "wipe";
  $("handle").style.left = (view.wipe * 100).toFixed(2) + "%";
}

async function sendView() {
  if (inFlight) { pending = true; return; }
  inFlight = true;
  try { await post("/api/view", view); } catch (error) { /* the poll reports it */ }
  inFlight = false;
  if (pending) { pending = false; sendView(); }
}

function wipeTo(fraction) {
  view.wipe = Math.min(1, Math.max(0, fraction));
  placeHandle();
  sendView();
}

function wipeAt(event) {
  const box = $("view").getBoundingClientRect();
  wipeTo((event.clientX - box.left) / box.width);
}

function reopen() {
  setTimeout(() => { $("view").src = "/stream.mjpg?" + Date.now(); }, 1000);
}

for (const button of document.querySelectorAll("[data-compare]")) {
  button.addEventListener("click", () => { view.compare = button.dataset.compare;
                                           placeHandle(); sendView(); });
}
$("pause").addEventListener("click", () => post("/api/pause", {paused: !paused}));
$("model").addEventListener("change", () => post("/api/model", {model: $("model").value}));
$("view").addEventListener("error", reopen);
const stage = $("stage");
stage.addEventListener("pointerdown", (event) => {
  if (view.compare !== "wipe") return;
  event.preventDefault();
  dragging = true;
  stage.setPointerCapture(event.pointerId);
  wipeAt(event);
});
stage.addEventListener("pointermove", (event) => { if (dragging) wipeAt(event); });
stage.addEventListener("pointerup", () => { dragging = false; });
stage.addEventListener("pointercancel", () => { dragging = false; });
document.addEventListener("keydown", (event) => {
  if (event.target instanceof HTMLSelectElement) return;
  if (event.key === " ") { event.preventDefault(); post("/api/pause", {paused: !paused}); }
  if (view.compare === "wipe" && event.key === "ArrowLeft") wipeTo(view.wipe - 0.05);
  if (view.compare === "wipe" && event.key === "ArrowRight") wipeTo(view.wipe + 0.05);
});
placeHandle();
poll();
"""


def page(label: str, models: list[str], model: str, compare: str,
         recording: str | None) -> str:
    """The page's HTML for a source ``label``, the models offered and the one running."""
    options = "".join(f'<option value="{escape(name)}"{" selected" if name == model else ""}>'
                      f"{escape(name)}</option>" for name in models)
    note = f'<span id="recording">recording to {escape(recording)}</span>' if recording else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vivid live: {escape(label)}</title>
<link rel="stylesheet" href="/static/live.css"><script src="/static/live.js" defer></script>
</head><body data-compare="{escape(compare)}" data-state="starting">
<header><strong>vivid live</strong> <span id="source">{escape(label)}</span>
<label>model <select id="model">{options}</select></label>
<span role="group" aria-label="compare">
<button type="button" data-compare="side">side by side</button>
<button type="button" data-compare="wipe">wipe</button></span>
<button type="button" id="pause">pause</button>
<a id="snapshot" href="/snapshot.png" download>snapshot</a>{note}</header>
<p id="stats"><span id="model-name"></span><span id="engine"></span><span id="sizes"></span>
<span><span id="fps">-</span> frames/s (source <span id="source-fps">-</span>)</span>
<span>latency <span id="latency">-</span> ms</span>
<span>dropped <span id="dropped">0</span></span></p>
<p id="message" role="status" aria-live="polite"></p>
<div id="stage">
<img id="view" src="/stream.mjpg" alt="bicubic and the model, live" draggable="false">
<span id="label-plain" class="label">bicubic</span><span id="label-model" class="label"></span>
<div id="handle" hidden></div></div>
</body></html>
"""
