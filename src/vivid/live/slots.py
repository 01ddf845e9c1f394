"""Hand-over points between the live threads that hold the newest item only, and the meters
the page shows.

* ``LatestSlot``: one producer, one consumer. ``put`` replaces an item not yet taken (counted
  in ``dropped``), so a slow consumer always gets the newest item and nothing waits in line:
  the delay through a chain of slots is at most one item per stage.
* ``Latest``: one producer, many readers (the page's viewers): each reader waits for an item
  newer than the one it has (by sequence number); nothing is consumed.
* ``RateMeter`` (events per second over a window) and ``Window`` (median of recent values).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestSlot(Generic[T]):
    """At most one item; see the module doc."""

    def __init__(self) -> None:
        self._ready = threading.Condition()
        self._item: T | None = None
        self.dropped = 0  # items replaced before anyone took them
        self.taken = 0

    def put(self, item: T) -> None:
        with self._ready:
            if self._item is not None:
                self.dropped += 1
            self._item = item
            self._ready.notify()

    def take(self, timeout: float) -> T | None:
        """The item (removed from the slot), or None after ``timeout`` seconds without one."""
        with self._ready:
            if not self._ready.wait_for(lambda: self._item is not None, timeout):
                return None
            item, self._item = self._item, None
            self.taken += 1
            return item


class Latest(Generic[T]):
    """The newest item with its sequence number (1, 2, ...); see the module doc."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.sequence = 0
        self.item: T | None = None

    def put(self, item: T) -> None:
        with self._changed:
            self.sequence += 1
            self.item = item
            self._changed.notify_all()

    def newer(self, sequence: int, timeout: float) -> tuple[int, T] | None:
        """The newest item once its number is above ``sequence``, or None after ``timeout``."""
        with self._changed:
            if not self._changed.wait_for(lambda: self.sequence > sequence, timeout):
                return None
            assert self.item is not None
            return self.sequence, self.item


class RateMeter:
    """Events per second: over the events of the last ``window`` seconds, or the last
    ``MIN_EVENTS`` when fewer (slow models), none older than ``MAX_AGE`` s; 0 when those span
    under ``MIN_SPAN`` s or the last event is older than the window and twice their spacing."""

    MIN_EVENTS, MAX_AGE, MIN_SPAN = 3, 10.0, 0.2

    def __init__(self, window: float = 2.0, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.window, self.clock = window, clock
        self._times: deque[float] = deque(maxlen=256)
        self._lock = threading.Lock()
        self.count = 0

    def tick(self) -> None:
        with self._lock:
            self._times.append(self.clock())
            self.count += 1

    def rate(self) -> float:
        with self._lock:
            now = self.clock()
            recent = [t for t in self._times if t >= now - self.MAX_AGE]
        chosen = [t for t in recent if t >= now - self.window]
        if len(chosen) < self.MIN_EVENTS:
            chosen = recent[-self.MIN_EVENTS:]
        span = chosen[-1] - chosen[0] if len(chosen) >= 2 else 0.0
        if span < self.MIN_SPAN:
            return 0.0
        rate = (len(chosen) - 1) / span
        if now - chosen[-1] > max(self.window, 2 / rate):
            return 0.0
        return rate


class Window:
    """The median of the last ``size`` values (None before the first)."""

    def __init__(self, size: int = 50) -> None:
        self._values: deque[float] = deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, value: float) -> None:
        with self._lock:
            self._values.append(value)

    def values(self) -> list[float]:
        with self._lock:
            return list(self._values)

    def median(self) -> float | None:
        with self._lock:
            return statistics.median(self._values) if self._values else None
