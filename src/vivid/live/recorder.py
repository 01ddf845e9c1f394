"""``--record out.mp4``: what the page showed, with the source's audio when it has some.

Each newly shown composed frame goes in at the time it was decoded, less the time spent
paused (so a pause leaves no gap, and frames the pipeline dropped leave the frame before
on screen longer, as on the page); sizes other than the first frame's (the compare mode
changed) are fitted onto it (``frames.fit``). Audio is re-encoded as AAC, sample after
sample from the first audio frame at or after the first video frame (paused audio is not
given). The encoder has its own thread and a ``LatestSlot``: when it falls behind, frames
are left out of the recording (counted), never queued. H.264 when FFmpeg has it (else
MPEG-4 Part 2), written under a temporary name and renamed when the recording finishes
(``atomic``): an error leaves no file, and so does a session that showed nothing.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from vivid.atomic import temp_path
from vivid.errors import VividError
from vivid.live.frames import fit
from vivid.live.slots import LatestSlot
from vivid.video.codec import choose_codec, ffmpeg_reason, require_av

MS = Fraction(1, 1000)
AUDIO_BACKLOG = 1000  # audio frames held while the encoder is busy (seconds of sound)


class Recorder:
    """See the module doc. ``audio``: the source's sample rate and channel count, or None."""

    def __init__(self, target: Path, audio: tuple[int, int] | None = None) -> None:
        self.target, self.audio_format = target, audio
        self.frames: LatestSlot[tuple[np.ndarray, float]] = LatestSlot()
        self._audio: queue.Queue[tuple[Any, float]] = queue.Queue(AUDIO_BACKLOG)
        self._stop = threading.Event()
        self.written, self.error, self.seconds = 0, None, 0.0
        self._start: float | None = None
        self._samples: int | None = None
        self._last_pts = -1
        self.thread = threading.Thread(target=self._run, name="vivid-live-record", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def video(self, composed: np.ndarray, time: float) -> None:
        """A newly shown frame (from the encode thread)."""
        self.frames.put((composed, time))

    def audio(self, frame: Any, time: float) -> None:
        """A decoded audio frame (from the reader thread); dropped when the backlog is full."""
        if self.audio_format is not None:
            with contextlib.suppress(queue.Full):
                self._audio.put_nowait((frame, time))

    def finish(self) -> str:
        """Stop, write out what is left and rename the file into place; a one-line summary,
        or a ``VividError`` when nothing could be written."""
        self._stop.set()
        self.thread.join()
        if self.error is not None:
            raise self.error
        dropped = f"; {self.frames.dropped} frames left out (the encoder was busy)" \
            if self.frames.dropped else ""
        sound = " with audio" if self.audio_format else ""
        return (f"recorded {self.written} frames ({self.seconds:.1f} s){sound} to "
                f"{self.target}{dropped}")

    def _run(self) -> None:
        av = require_av()
        try:
            with temp_path(self.target) as temp, av.open(str(temp), "w") as output:
                self._write(output)
                if not self.written:
                    raise VividError(f"{self.target}: nothing was shown, so nothing recorded")
        except VividError as error:
            self.error = error
        except (av.error.FFmpegError, OSError) as error:
            self.error = VividError(f"{self.target}: cannot write the recording "
                                    f"({ffmpeg_reason(error)})")

    def _write(self, output: Any) -> None:
        streams: tuple[Any, Any, Any] | None = None
        while True:
            item = self.frames.take(0.05)
            if item is not None:
                streams = streams or self._add_streams(output, item[0], item[1])
                self._encode_video(output, streams[0], *item)
            if streams is not None:
                self._drain_audio(output, *streams[1:])
            if item is None and self._stop.is_set():
                break
        if streams is not None:
            self._flush(output, *streams)

    def _add_streams(self, output: Any, first: np.ndarray, start: float
                     ) -> tuple[Any, Any, Any]:
        av = require_av()
        self._start = start
        codec = choose_codec(None)
        video = output.add_stream(codec, rate=30)
        video.width, video.height = first.shape[1] // 2 * 2, first.shape[0] // 2 * 2
        video.pix_fmt = "yuv420p"
        video.codec_context.time_base = video.time_base = MS
        if codec == "libx264":
            video.options = {"preset": "veryfast", "crf": "20"}
        if self.audio_format is None:
            return video, None, None
        rate, channels = self.audio_format
        layout = "mono" if channels == 1 else "stereo"
        sound = output.add_stream("aac", rate=rate, layout=layout)
        return video, sound, av.AudioResampler("fltp", layout, rate,
                                               frame_size=sound.codec_context.frame_size or 1024)

    def _encode_video(self, output: Any, stream: Any, composed: np.ndarray, time: float
                      ) -> None:
        assert self._start is not None
        pts = round((time - self._start) * 1000)
        if pts <= self._last_pts:
            return  # two frames in one millisecond: the first stays
        pixels = np.ascontiguousarray(fit(composed, stream.width, stream.height))
        frame = require_av().VideoFrame.from_ndarray(pixels, format="rgb24")
        frame.pts, frame.time_base, self._last_pts = pts, MS, pts
        output.mux(stream.encode(frame))
        self.written += 1
        self.seconds = pts / 1000

    def _drain_audio(self, output: Any, stream: Any, resampler: Any) -> None:
        while stream is not None:
            try:
                frame, time = self._audio.get_nowait()
            except queue.Empty:
                return
            assert self._start is not None
            if self._samples is None:
                if time < self._start:
                    continue  # sound from before the first frame shown
                self._samples = round((time - self._start) * stream.rate)
            self._encode_audio(output, stream, resampler.resample(frame))

    def _encode_audio(self, output: Any, stream: Any, frames: list[Any]) -> None:
        for frame in frames:
            frame.pts, frame.time_base = self._samples, Fraction(1, stream.rate)
            self._samples = (self._samples or 0) + frame.samples
            output.mux(stream.encode(frame))

    def _flush(self, output: Any, video: Any, sound: Any, resampler: Any) -> None:
        output.mux(video.encode(None))
        if sound is not None:
            if self._samples is not None:
                self._encode_audio(output, sound, resampler.resample(None))
            output.mux(sound.encode(None))
