"""Decoding a source in a background thread, handing each frame on as it comes.

A file is shown at its own frame rate (``Pacer``) and, with ``loop``, from the start again at
its end; paused, the reader waits. A webcam or stream comes at its own pace; paused, its
frames are read and thrown away (so its buffers never fill). When a webcam or stream fails
or ends, the reader says so (``Status``) and opens it again after 1, 2, 4 ... 10 s, for as
long as it runs; a file that ends or fails stays ended. ``size`` scales every frame (FFmpeg's
area filter) before it is handed on. Audio frames go to ``audio`` with the time they were
decoded (less the time paused, as ``Frame.time``) when it is given (the recording), except
while paused.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from vivid.errors import VividError
from vivid.live.source import Source, open_source
from vivid.live.status import ENDED, FAILED, RECONNECTING, Pause, Status
from vivid.video.codec import ffmpeg_reason, require_av

LATE_S = 0.25  # a file frame this far behind its time re-anchors the pacing
MAX_RETRY_S = 10.0


@dataclass(frozen=True)
class Frame:
    """A decoded frame. ``decoded``: ``time.monotonic()`` as it left the decoder; ``time``:
    the same less the seconds spent paused (the recording's clock); ``index``: 0, 1, ... over
    the session, loops and reconnections included."""

    rgb: np.ndarray  # h x w x 3 uint8
    decoded: float
    time: float
    index: int


class Pacer:
    """Waits until each file frame's time: media time ``t`` is due at the anchor's wall time
    plus ``t`` less the anchor's media time. The first frame, a frame late by over ``LATE_S``
    (a slow decode) and the first frame after ``restart`` set a new anchor."""

    def __init__(self, wait: Callable[[float], object], clock: Callable[[], float]) -> None:
        self.wait, self.clock = wait, clock
        self._anchor: tuple[float, float] | None = None
        self._next_wall: float | None = None

    def restart(self, at: float | None = None) -> None:
        """Re-anchor at the next frame, shown at wall time ``at`` (None: at once)."""
        self._anchor, self._next_wall = None, at

    def __call__(self, t: float) -> None:
        now = self.clock()
        if self._anchor is None:
            self._anchor = (max(now, self._next_wall or now), t)
        due = self._anchor[0] + t - self._anchor[1]
        if due < now - LATE_S:
            self._anchor, due = (now, t), now
        if due > now:
            self.wait(due - now)


class Reader:
    """The decoding thread of one source; see the module doc. ``container``: the source
    already opened (the command opens it first, so that its errors end the command)."""

    def __init__(self, source: Source, container: Any, deliver: Callable[[Frame], None],
                 status: Status, pause: Pause, *, loop: bool = False,
                 size: tuple[int, int] | None = None,
                 audio: Callable[[Any, float], None] | None = None, timeout_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.source, self.deliver, self.status, self.pause = source, deliver, status, pause
        self.loop, self.size, self.audio, self.timeout_s = loop, size, audio, timeout_s
        self.clock = clock
        self._container = container
        self._stop = threading.Event()
        self._pacer = Pacer(self._stop.wait, clock)
        self.frames = 0
        self.thread = threading.Thread(target=self._run, name="vivid-live-reader", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.pause.set(False)  # a paused file reader waits on this

    def _run(self) -> None:
        retries = 0
        while not self._stop.is_set():
            frames_before, problem = self.frames, None
            try:
                container, self._container = self._container, None
                container = container or open_source(self.source, self.timeout_s, self.size)
                try:
                    self._play(container)
                finally:
                    container.close()
            except VividError as error:
                problem = str(error)
            if self._stop.is_set():
                return
            if not self.source.live:
                self._file_done(problem)
                return
            retries = 0 if self.frames > frames_before else retries + 1
            delay = min(2.0 ** max(retries - 1, 0), MAX_RETRY_S)
            why = problem or f"{self.source.label}: the stream ended"
            self.status.set(RECONNECTING, f"{why}; reconnecting in {delay:g} s")
            if self._stop.wait(delay):
                return

    def _file_done(self, problem: str | None) -> None:
        if problem:
            self.status.set(FAILED, problem)
        else:
            self.status.set(ENDED, f"{self.source.label}: ended after {self.frames} frames "
                            "(--loop plays it again)")

    def _play(self, container: Any) -> None:
        """Decode until the source ends (a file with ``loop``: until stopped)."""
        video = container.streams.video[0]
        audio = container.streams.audio[0] if self.audio and container.streams.audio else None
        rate = float(video.average_rate or video.guessed_rate or 25)
        while True:
            for stream, decoded in self._decoded(container, video, audio):
                if self._stop.is_set():
                    return
                if stream is video:
                    self._video(decoded)
                elif not self.pause.paused and self.audio is not None:
                    self.audio(decoded, self.clock() - self.pause.total())
            if not self.loop or self.source.live or self._stop.is_set():
                return
            container.seek(0)
            self._pacer.restart(self.clock() + 1 / rate)

    def _decoded(self, container: Any, *streams: Any) -> Iterator[tuple[Any, Any]]:
        """(stream, decoded frame) pairs; FFmpeg's errors as one-line ``VividError``s."""
        av = require_av()
        packets = container.demux(*(s for s in streams if s is not None))
        while True:
            try:
                packet = next(packets)
                frames = packet.decode()
            except StopIteration:
                return
            except (av.error.FFmpegError, OSError) as error:
                what = "lost" if self.source.live else "corrupt video data"
                raise VividError(f"{self.source.label}: {what} ({ffmpeg_reason(error)})"
                                 ) from error
            for frame in frames:
                yield packet.stream, frame

    def _video(self, frame: Any) -> None:
        if self.pause.paused:
            if self.source.live:
                return  # read and thrown away
            while not self.pause.wait_running(0.25) and not self._stop.is_set():
                pass
            self._pacer.restart()
        if not self.source.live and frame.time is not None:
            self._pacer(frame.time)
        if self.size:
            frame = frame.reformat(width=self.size[0], height=self.size[1],
                                   interpolation="AREA")
        rgb = frame.to_ndarray(format="rgb24")
        now = self.clock()
        self.deliver(Frame(rgb, now, now - self.pause.total(), self.frames))
        self.frames += 1
