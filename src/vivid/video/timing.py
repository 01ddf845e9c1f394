"""Timestamps of a video being upscaled: kept exact, and checked for a stream that ends early.

The encoder works in the source stream's time base (in its default 1/frame-rate grid,
variable-rate timestamps would be rounded and could collide), and a stream that ends before
its header says it should (truncated or corrupt) is an error rather than a shorter video.
"""

from __future__ import annotations

import itertools
import statistics
from fractions import Fraction
from pathlib import Path

from vivid.errors import VividError


def encoder_time_base(source_stream, codec: str) -> Fraction:
    """The source's time base, for the encoder too: every timestamp stays exact."""
    time_base = source_stream.time_base
    if codec == "mpeg4" and time_base.denominator > 65535:  # the MPEG-4 Part 2 limit
        raise VividError(f"the mpeg4 encoder cannot keep timestamps in units of {time_base} "
                         "s (at most 1/65535); use --codec libx264 or another encoder")
    return time_base


def _expected_seconds(container) -> float | None:
    """The video stream's duration from the header (the container's if it has none)."""
    stream = container.streams.video[0]
    if stream.duration:
        return float(stream.duration * stream.time_base)
    return container.duration / 1_000_000 if container.duration else None


def check_complete(container, source: Path, timestamps: list[int]) -> None:
    """A stream that ends early (truncated or corrupt) is an error, not a shorter video: by
    the header's frame count (5% slack, for edit lists), and by the header's duration (1.5
    median frame gaps of slack, for audio that outlasts the video: a single lost last frame
    can go unnoticed)."""
    stream = container.streams.video[0]
    if not timestamps:
        raise VividError(f"{source}: has no video frames")
    ordered = sorted(timestamps)
    gaps = [b - a for a, b in itertools.pairwise(ordered)]
    rate = stream.average_rate or stream.guessed_rate or Fraction(25)
    gap = float(statistics.median(gaps) * stream.time_base) if gaps else 1 / float(rate)
    decoded = float((ordered[-1] - ordered[0]) * stream.time_base) + gap
    expected = _expected_seconds(container)
    short_count = stream.frames and len(timestamps) < 0.95 * stream.frames - 1
    if short_count or (expected and decoded < expected - 1.5 * gap):
        total = f" of {stream.frames}" if stream.frames else ""
        length = f" ({decoded:.2f} s of {expected:.2f} s)" if expected else ""
        raise VividError(f"{source}: the video stream ends after {len(timestamps)}{total} "
                         f"frames{length} (truncated or corrupt)")


def is_variable(timestamps: list[int]) -> bool:
    """Whether frames are unevenly spaced (by more than one tick of rounding)."""
    gaps = [b - a for a, b in itertools.pairwise(sorted(timestamps))] or [0]
    return max(gaps) - min(gaps) > 1
