"""The live pipeline: decoded frames -> the model -> composed and encoded for the page.

Three threads overlap (so two cores are busy): the ``Reader`` decodes and calls ``feed``; the
upscale thread runs the model on the newest frame; the encode thread adds plain bicubic,
composes the pair as the page asked (side by side or wipe), encodes it as JPEG and publishes
it (``shown``), handing the composed frame to the recording. Between the threads sit
``LatestSlot``s: a frame arriving while the next stage is busy replaces the waiting one, which
is counted as dropped, so a frame waits behind at most one other per stage and the delay
from decoding to the page stays bounded however slow the model is. Viewers call ``sent``
after each frame left the server: that gives the frames per second and latency shown.

The model can be switched while running (loaded in its own thread, then swapped in between
frames); a model that fails on a frame is reported and the next frame is tried.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vivid.errors import VividError
from vivid.live.frames import COMPARE_MODES, SIDE, bicubic, compose, encode
from vivid.live.models import LiveModel
from vivid.live.reader import Frame
from vivid.live.slots import Latest, LatestSlot, RateMeter, Window
from vivid.live.status import Pause, Status

log = logging.getLogger("vivid.live")
POLL_S = 0.1  # how often idle threads look at the stop flag, the view and the stall check

Record = Callable[[np.ndarray, float], None]


@dataclass(frozen=True)
class Upscaled:
    frame: Frame
    output: np.ndarray
    model: LiveModel


@dataclass(frozen=True)
class Shown:
    """What the page shows now: the JPEG, and the pair it was composed of (the snapshot)."""

    jpeg: bytes
    frame: Frame
    plain: np.ndarray
    output: np.ndarray
    model: str


def _size(rgb: np.ndarray) -> str:
    return f"{rgb.shape[1]}x{rgb.shape[0]}"


class Pipeline:
    """See the module doc. ``load`` loads a model by name (``choices`` are the names the page
    may ask for); ``record`` gets each new composed frame with its time."""

    def __init__(self, model: LiveModel, load: Callable[[str], LiveModel], choices: list[str],
                 status: Status, pause: Pause, *, compare: str = SIDE, quality: int = 80,
                 record: Record | None = None, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.model, self.load, self.choices = model, load, choices
        self.status, self.pause, self.quality, self.record = status, pause, quality, record
        self.clock = clock
        self.view = (compare, 0.5)
        self.incoming: LatestSlot[Frame] = LatestSlot()
        self.upscaled: LatestSlot[Upscaled] = LatestSlot()
        self.shown: Latest[Shown] = Latest()
        self.source_rate, self.model_rate, self.sent_rate = RateMeter(), RateMeter(), RateMeter()
        self.latency = Window()
        self.loading: str | None = None
        self.problems = {"load": "", "frame": ""}  # the last model problem of each kind
        self._last_sent = -1
        self._lock = threading.Lock()
        self._view_changed = threading.Event()
        self._stop = threading.Event()
        self.threads = [threading.Thread(target=target, name=name, daemon=True) for target, name
                        in ((self._upscale_loop, "vivid-live-upscale"),
                            (self._encode_loop, "vivid-live-encode"))]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self.threads:
            thread.join(timeout=30)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def feed(self, frame: Frame) -> None:
        """A decoded frame (from the reader's thread); replaces one the model has not taken."""
        self.status.frame()
        self.source_rate.tick()
        self.incoming.put(frame)

    def _upscale_loop(self) -> None:
        while not self._stop.is_set():
            frame = self.incoming.take(POLL_S)
            if frame is None:
                continue
            model = self.model
            try:
                output = model.run(frame.rgb)
            except Exception as error:  # any model failure: reported, and the next frame tried
                self._problem("frame", f"{model.name}: failed on frame {frame.index} ({error})")
                continue
            self.problems["frame"] = ""
            self.model_rate.tick()
            self.upscaled.put(Upscaled(frame, output, model))

    def _encode_loop(self) -> None:
        last: Shown | None = None
        while not self._stop.is_set():
            item = self.upscaled.take(POLL_S)
            changed = self._view_changed.is_set()
            self._view_changed.clear()
            if item is not None and not self.pause.paused:  # paused: the picture holds
                scale = item.output.shape[0] // item.frame.rgb.shape[0]
                last = self._show(item.frame, bicubic(item.frame.rgb, scale), item.output,
                                  item.model.name, new=True) or last
            elif changed and last is not None:  # recomposed for the page (also when paused)
                last = self._show(last.frame, last.plain, last.output, last.model,
                                  new=False) or last
            else:
                self.status.check_stall(self.pause.paused)

    def _show(self, frame: Frame, plain: np.ndarray, output: np.ndarray, model: str,
              new: bool) -> Shown | None:
        """Composes and publishes a picture; a new frame is dropped (None) if a pause began
        while it was composed, so nothing new appears once the pause is set."""
        composed = compose(plain, output, *self.view)
        shown = Shown(encode(composed, "JPEG", self.quality), frame, plain, output, model)
        if not new:
            self.shown.put(shown)
        elif not self.pause.unless_paused(lambda: self.shown.put(shown)):
            return None
        if new and self.record is not None:
            self.record(composed, frame.time)
        return shown

    def sent(self, shown: Shown) -> None:
        """A viewer sent ``shown``: its latency (decoded -> left the server) is kept, and a
        frame not sent before counts towards the frames per second."""
        self.latency.add(self.clock() - shown.frame.decoded)
        with self._lock:
            if shown.frame.index != self._last_sent:
                self._last_sent = shown.frame.index
                self.sent_rate.tick()

    def set_view(self, compare: str, wipe: float) -> None:
        """The compare mode and the wipe's position (0-1) for the frames from now on."""
        if compare not in COMPARE_MODES or not 0 <= wipe <= 1:
            raise VividError(f"compare must be one of {', '.join(COMPARE_MODES)} and wipe "
                             "within 0-1")
        self.view = (compare, float(wipe))
        self._view_changed.set()

    def choose_model(self, name: str) -> None:
        """Load ``name`` in the background and swap it in; one load at a time."""
        if name not in self.choices:
            raise VividError(f"{name}: not one of the models offered")
        with self._lock:
            if self.loading is not None:
                raise VividError(f"{self.loading} is still loading")
            if name == self.model.name:
                return
            self.loading = name
        threading.Thread(target=self._load, args=(name,), name="vivid-live-load",
                         daemon=True).start()

    def _load(self, name: str) -> None:
        log.info("loading %s", name)
        try:
            model = self.load(name)
        except Exception as error:  # a model that fails to load leaves the current one
            self._problem("load", f"{name}: cannot load ({error})")
        else:
            self.model, self.problems["load"] = model, ""
            log.info("now showing %s (%s)", model.name, model.engine)
        finally:
            self.loading = None

    def _problem(self, kind: str, message: str) -> None:
        """Keep (and log once) the last problem of a ``kind``: ``load`` or ``frame``."""
        if message != self.problems[kind]:
            log.warning("%s", message)
        self.problems[kind] = message

    def snapshot(self) -> bytes | None:
        """The frame pair shown now (bicubic left, the model right) as a PNG, or None."""
        shown = self.shown.item
        return None if shown is None else encode(np.hstack((shown.plain, shown.output)), "PNG")

    def stats(self) -> dict[str, object]:
        """What the page's status line shows."""
        state, message = self.status.get()
        shown, latency = self.shown.item, self.latency.median()
        return {"model": self.model.name, "engine": self.model.engine, "models": self.choices,
                "loading": self.loading, "state": "paused" if self.pause.paused else state,
                "message": self.problems["load"] or self.problems["frame"] or message,
                "input": _size(shown.frame.rgb) if shown else None,
                "output": _size(shown.output) if shown else None,
                "fps": round(self.sent_rate.rate(), 1),
                "source_fps": round(self.source_rate.rate(), 1),
                "model_fps": round(self.model_rate.rate(), 1),
                "latency_ms": None if latency is None else round(latency * 1000),
                "dropped": self.incoming.dropped + self.upscaled.dropped,
                "frames": self.source_rate.count, "compare": self.view[0],
                "wipe": self.view[1], "paused": self.pause.paused}
