"""What ``vivid live`` reads, and opening it with PyAV (FFmpeg).

``parse_source``: a webcam (``/dev/video0``, or an index: ``0`` is ``/dev/video0``), a URL
FFmpeg reads (``rtsp``, ``http(s)``, ``hls``, ``udp``, ...), or a video file.
``open_source``: the opened container, or a one-line ``VividError`` naming the source and
the problem: no such webcam or file, a busy webcam, an unreachable URL, no answer within
the timeout, no video stream. Webcams are read through FFmpeg's v4l2 input (Linux).
"""

from __future__ import annotations

import errno
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vivid.errors import VividError
from vivid.video.codec import ffmpeg_reason, open_video, require_av

WEBCAM, STREAM, FILE = "webcam", "stream", "file"
STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "hls", "udp", "tcp",
                  "rtp", "srt", "mms", "mmsh")  # also joined with '+', as hls+http
_URL = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*)://")


@dataclass(frozen=True)
class Source:
    """A source: its ``kind``, what FFmpeg opens (``target``) and how messages name it."""

    kind: str
    target: str
    label: str

    @property
    def live(self) -> bool:
        """Webcams and streams: not paced by vivid, reconnected when they drop."""
        return self.kind != FILE


def parse_source(text: str) -> Source:
    """The source ``text`` names (see the module doc); an unknown URL scheme is an error."""
    if text.isdigit():
        device = f"/dev/video{int(text)}"
        return Source(WEBCAM, device, f"webcam {text} ({device})")
    if text.startswith("/dev/video"):
        return Source(WEBCAM, text, f"webcam {text}")
    scheme = _URL.match(text)
    if scheme:
        if not set(scheme.group(1).lower().split("+")) <= set(STREAM_SCHEMES):
            raise VividError(f"{text}: unknown stream protocol '{scheme.group(1)}'; use one of "
                             f"{', '.join(STREAM_SCHEMES)}")
        return Source(STREAM, text, text)
    return Source(FILE, text, text)


def _device_exists(path: str) -> bool:
    return os.path.exists(path)


def _why(source: Source, error: Exception, timeout_s: float) -> str:
    """The problem in a few words, by the error's errno where FFmpeg gives one."""
    code = getattr(error, "errno", None)
    if code == errno.EBUSY:
        return "the webcam is busy (another program is using it)"
    if code in (errno.EACCES, errno.EPERM):
        return "permission denied (is this user in the 'video' group?)"
    if code == errno.ENOENT and source.kind == WEBCAM:
        return "no webcam there (no such device)"
    if isinstance(error, require_av().error.ExitError) or code == errno.ETIMEDOUT:
        return f"no answer within {timeout_s:g} s"
    if source.kind == STREAM:
        return f"unreachable ({ffmpeg_reason(error)})"
    return f"cannot open it ({ffmpeg_reason(error)})"


def _webcam_options(size: tuple[int, int] | None) -> dict[str, str]:
    return {"video_size": f"{size[0]}x{size[1]}"} if size else {}


def open_source(source: Source, timeout_s: float = 10.0,
                size: tuple[int, int] | None = None) -> Any:
    """The opened PyAV container of ``source`` (its first video stream decodes); ``size``
    is asked of webcams (they may choose another). See the module doc for the errors."""
    if source.kind == FILE:
        path = Path(source.target)
        if not path.is_file():
            raise VividError(f"{source.label}: no such video file")
        return open_video(path)
    if source.kind == WEBCAM and not _device_exists(source.target):
        raise VividError(f"{source.label}: no webcam there (no such device)")
    av = require_av()
    options = _webcam_options(size) if source.kind == WEBCAM else {}
    if source.target.lower().startswith("rtsp"):
        options["rtsp_transport"] = "tcp"  # no lost packets, so no smeared frames
    try:
        container = av.open(source.target, format="v4l2" if source.kind == WEBCAM else None,
                            options=options, timeout=(timeout_s, timeout_s))
    except (av.error.FFmpegError, OSError) as error:
        raise VividError(f"{source.label}: {_why(source, error, timeout_s)}") from error
    if not container.streams.video or container.streams.video[0].codec_context is None:
        container.close()
        raise VividError(f"{source.label}: has no video stream that can be decoded")
    return container


def parse_size(text: str) -> tuple[int, int]:
    """``WIDTHxHEIGHT`` (e.g. ``320x180``) as a pair of positive, even integers."""
    match = re.fullmatch(r"(\d+)x(\d+)", text.strip())
    if not match or int(match.group(1)) < 2 or int(match.group(2)) < 2:
        raise VividError(f"--size {text}: expected WIDTHxHEIGHT, e.g. 320x180")
    width, height = int(match.group(1)), int(match.group(2))
    return width - width % 2, height - height % 2
