"""What the page and the terminal say about the source, and the pause switch.

``Status`` holds one state (``STARTING``, ``PLAYING``, ``STALLED``, ``RECONNECTING``,
``ENDED``, ``FAILED``) and a one-line message; every change is logged once (problems as
warnings), so the terminal tells what the page shows. A source that gives no frame for
``stall_s`` while playing becomes ``STALLED`` until the next frame. ``Pause`` is the pause
switch and the seconds spent paused.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("vivid.live")

STARTING, PLAYING, STALLED = "starting", "playing", "stalled"
RECONNECTING, ENDED, FAILED = "reconnecting", "ended", "failed"
PROBLEMS = (STALLED, RECONNECTING, FAILED)
STALL_S = 3.0


class Status:
    """The source's state and message; see the module doc."""

    def __init__(self, label: str, stall_s: float = STALL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.label, self.stall_s, self.clock = label, stall_s, clock
        self._lock = threading.Lock()
        self.state, self.message = STARTING, ""
        self.last_frame = clock()

    def set(self, state: str, message: str = "") -> None:
        """Change the state (logged when it or the message changed)."""
        with self._lock:
            if (state, message) == (self.state, self.message):
                return
            self.state, self.message = state, message
        if message:
            log.log(logging.WARNING if state in PROBLEMS else logging.INFO, "%s", message)

    def get(self) -> tuple[str, str]:
        with self._lock:
            return self.state, self.message

    def frame(self) -> None:
        """A frame arrived: playing again after a start, stall or reconnection."""
        self.last_frame = self.clock()
        if self.state in (STARTING, STALLED, RECONNECTING):
            again = self.state != STARTING
            self.set(PLAYING, f"{self.label}: playing again" if again else "")

    def check_stall(self, paused: bool = False) -> None:
        """Mark a playing source that gave no frame for ``stall_s`` as stalled; time spent
        ``paused`` does not count."""
        if paused:
            self.last_frame = self.clock()
            return
        quiet = self.clock() - self.last_frame
        if self.state == PLAYING and quiet > self.stall_s:
            self.set(STALLED, f"{self.label}: no frame for {quiet:.0f} s (stalled)")


class Pause:
    """Paused or not, and the total seconds spent paused (thread-safe)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._since: float | None = None
        self._total = 0.0
        self._running = threading.Event()
        self._running.set()

    @property
    def paused(self) -> bool:
        return self._since is not None

    def set(self, paused: bool) -> None:
        with self._lock:
            if paused and self._since is None:
                self._since = self.clock()
                self._running.clear()
            elif not paused and self._since is not None:
                self._total += self.clock() - self._since
                self._since = None
                self._running.set()

    def total(self) -> float:
        """Seconds paused so far (the current pause included)."""
        with self._lock:
            return self._total + (self.clock() - self._since if self._since is not None else 0)

    def unless_paused(self, action: Callable[[], None]) -> bool:
        """Runs ``action`` and returns True if not paused, atomically with :meth:`set`: once
        ``set(True)`` has returned, no action runs until ``set(False)``."""
        with self._lock:
            if self._since is not None:
                return False
            action()
            return True

    def wait_running(self, timeout: float) -> bool:
        """True once not paused (at once if not), False after ``timeout``."""
        return self._running.wait(timeout)
