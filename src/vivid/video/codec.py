"""Video in, video out, in-process with PyAV (its wheels bundle FFmpeg): ``pip install -e
".[video]"``.

Frames are decoded and upscaled in small batches (never the whole video in memory) and
encoded with their original timestamps, the encoder working in the input stream's time base
(in its default 1/frame-rate grid variable-rate timestamps would be rounded and could
collide; see ``video.timing``), so the frame rate (an exact fraction), the frame count,
every frame's timestamp and the duration are kept. Audio and subtitle streams are copied
packet by packet, never re-encoded. Stream metadata and the display rotation are copied. The
output is written to a temporary name and renamed at the end (``atomic``): a failure, Ctrl-C
or SIGTERM leaves no partial file.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from vivid.atomic import temp_path
from vivid.errors import VividError
from vivid.images.pixels import to_uint8
from vivid.video.temporal import FrameFn, flush
from vivid.video.timing import check_complete, encoder_time_base, is_variable

VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v")
CODEC_PREFERENCE = ("libx264", "mpeg4")  # H.264 when this FFmpeg build has it


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def require_av():
    """The ``av`` module (PyAV); its absence is a one-line error with the install command."""
    try:
        import av
    except ImportError as error:
        raise VividError('video needs PyAV: run pip install -e ".[video]" in the vivid folder'
                         ) from error
    return av


@dataclass(frozen=True)
class VideoOptions:
    codec: str | None = None  # None: libx264 if available, else mpeg4
    crf: int = 18
    pix_fmt: str = "yuv420p"
    batch: int = 4


@dataclass(frozen=True)
class VideoSummary:
    frames: int
    rate: Fraction
    codec: str
    size: tuple[int, int]  # output width, height
    note: str  # e.g. how an odd size was handled ("" if nothing was changed)
    variable: bool = False  # frames unevenly spaced (each keeps its own timestamp)

    def rate_text(self) -> str:
        """'24000/1001 fps', or 'variable frame rate (23.93 fps on average)'."""
        if self.variable:
            return f"variable frame rate ({float(self.rate):.2f} fps on average)"
        return f"{self.rate} fps"


def choose_codec(requested: str | None) -> str:
    """The encoder to use; an unknown or missing one is an error naming the alternatives."""
    av = require_av()
    available = [name for name in CODEC_PREFERENCE if name in av.codecs_available]
    if requested is None:
        if not available:
            raise VividError("this FFmpeg build has none of " + ", ".join(CODEC_PREFERENCE))
        return available[0]
    try:
        codec = av.codec.Codec(requested, "w")
    except Exception as error:  # PyAV raises UnknownCodecError or ValueError by version
        raise VividError(f"--codec {requested}: no such encoder in this FFmpeg build; try "
                         f"{', '.join(available) or 'another build of PyAV'}") from error
    if codec.type != "video":
        raise VividError(f"--codec {requested}: not a video encoder; try {', '.join(available)}")
    return requested


def ffmpeg_reason(error: Exception) -> str:
    """FFmpeg's message without its ``[Errno N]`` prefix and the file name it repeats."""
    return getattr(error, "strerror", None) or str(error).strip().splitlines()[0]


def open_video(path: Path):
    """An opened video file with a decodable video stream; anything else is a one-line error
    naming the file."""
    av = require_av()
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as error:
        empty = path.is_file() and path.stat().st_size == 0
        raise VividError(f"{path}: not a readable video "
                         f"({'an empty file' if empty else ffmpeg_reason(error)})") from error
    if not container.streams.video:
        container.close()
        raise VividError(f"{path}: has no video stream")
    if container.streams.video[0].codec_context is None:  # no decoder, or a damaged header
        container.close()
        raise VividError(f"{path}: cannot decode its video stream (unknown codec, or a "
                         "truncated or corrupt file)")
    return container


def _remux(packet, copy: dict, output, source: Path) -> None:
    """Copy one audio/subtitle packet into ``output``; a failure names both files."""
    kind = packet.stream.type
    packet.stream = copy[packet.stream]
    try:
        output.mux(packet)
    except require_av().error.FFmpegError as error:
        raise VividError(f"{source}: cannot copy its {kind} stream into the output "
                         f"({ffmpeg_reason(error)}; a corrupt input, or a stream this output "
                         "format cannot hold)") from error


def _frames(container, path: Path, copy: dict, output) -> Iterator[tuple[np.ndarray, int]]:
    """Decoded RGB frames with their pts; other streams' packets are remuxed on the way."""
    av = require_av()
    stream = container.streams.video[0]
    demuxed = container.demux(stream, *copy)
    while True:
        try:
            packet = next(demuxed)
            frames = packet.decode() if packet.stream is stream else []
        except StopIteration:
            return
        except av.error.FFmpegError as error:
            raise VividError(f"{path}: corrupt video data ({ffmpeg_reason(error)})") from error
        if packet.stream is not stream and packet.dts is not None:
            _remux(packet, copy, output, path)
        for frame in frames:
            yield frame.to_ndarray(format="rgb24"), frame.pts


def _even(length: int, pix_fmt: str) -> int:
    return length - (length % 2) if pix_fmt.startswith("yuv420") else length


def _to_frames(sr_batch: torch.Tensor, width: int, height: int) -> np.ndarray:
    pixels = to_uint8(sr_batch).permute(0, 2, 3, 1)
    return np.ascontiguousarray(pixels[:, :height, :width].numpy())


@dataclass
class _Encoder:
    """Upscales buffered frames in batches and encodes them with their original pts (the
    outputs may come later than their frames: ``finish`` writes the last ones)."""

    output: object
    stream: object
    frame_fn: FrameFn
    size: tuple[int, int]
    bar: tqdm
    timestamps: list[int] = field(default_factory=list)  # pts of the frames written
    waiting: deque[int] = field(default_factory=deque)  # pts of frames given, not written

    def write(self, batch: list[tuple[np.ndarray, int]]) -> None:
        lr_batch = torch.from_numpy(np.stack([pixels for pixels, _ in batch]))
        self.waiting.extend(pts for _, pts in batch)
        self._encode(self.frame_fn(lr_batch.permute(0, 3, 1, 2).float() / 255))

    def finish(self) -> None:
        rest = flush(self.frame_fn)
        if rest is not None:
            self._encode(rest)

    def _encode(self, sr_batch: torch.Tensor) -> None:
        av = require_av()
        for pixels in _to_frames(sr_batch, *self.size):
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts, frame.time_base = self.waiting.popleft(), self.stream.codec_context.time_base
            for packet in self.stream.encode(frame):
                self.output.mux(packet)
            self.timestamps.append(frame.pts)
        self.bar.update(sr_batch.shape[0])


def rotation(path: Path) -> int:
    """Display rotation (degrees) of the first frame of a video, 0 if none."""
    av = require_av()
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                return int(frame.rotation or 0)
    except av.error.FFmpegError as error:
        raise VividError(f"{path}: corrupt video data ({ffmpeg_reason(error)})") from error
    return 0


def _add_video_stream(output, source_stream, codec: str, scale: int, options: VideoOptions
                      ) -> tuple[object, tuple[int, int], str]:
    width = source_stream.codec_context.width * scale
    height = source_stream.codec_context.height * scale
    size = (_even(width, options.pix_fmt), _even(height, options.pix_fmt))
    note = "" if size == (width, height) else (
        f"cropped {width}x{height} to {size[0]}x{size[1]} ({options.pix_fmt} needs even sizes)")
    rate = source_stream.average_rate or source_stream.guessed_rate or Fraction(25)
    stream = output.add_stream(codec, rate=rate)
    stream.width, stream.height, stream.pix_fmt = size[0], size[1], options.pix_fmt
    stream.codec_context.time_base = stream.time_base = encoder_time_base(source_stream, codec)
    if codec == "libx264":
        stream.options = {"crf": str(options.crf)}
    for key, value in source_stream.metadata.items():
        stream.metadata[key] = value
    return stream, size, note


def _transcode(container, output, frame_fn: FrameFn, scale: int, codec: str,
               options: VideoOptions, source: Path, progress: bool) -> VideoSummary:
    source_stream = container.streams.video[0]
    stream, size, note = _add_video_stream(output, source_stream, codec, scale, options)
    angle = rotation(source)  # a display matrix, not pixels: carried over as it is
    if angle:
        stream.set_display_rotation(angle)
    copy = {s: output.add_stream_from_template(s) for s in container.streams
            if s.type in ("audio", "subtitle")}
    bar = tqdm(total=source_stream.frames or None, unit="frame", disable=not progress,
               dynamic_ncols=True)
    encoder = _Encoder(output, stream, frame_fn, size, bar)
    batch: list[tuple[np.ndarray, int]] = []
    try:
        for item in _frames(container, source, copy, output):
            batch.append(item)
            if len(batch) == options.batch:
                encoder.write(batch)
                batch = []
        if batch:
            encoder.write(batch)
        encoder.finish()
    finally:
        bar.close()
    check_complete(container, source, encoder.timestamps)
    for packet in stream.encode(None):
        output.mux(packet)
    return VideoSummary(len(encoder.timestamps), stream.average_rate or Fraction(0), codec,
                        size, note, is_variable(encoder.timestamps))


def upscale_video(frame_fn: FrameFn, scale: int, source: Path, target: Path,
                  options: VideoOptions | None = None, progress: bool = True) -> VideoSummary:
    """Upscale every frame of ``source`` with ``frame_fn`` into ``target`` (see module doc)."""
    av = require_av()
    options = options or VideoOptions()
    codec = choose_codec(options.codec)
    container = open_video(source)
    try:
        with temp_path(target) as temp, av.open(str(temp), "w") as output:
            return _transcode(container, output, frame_fn, scale, codec, options, source,
                              progress)
    except (av.error.FFmpegError, OSError) as error:
        raise VividError(f"{target}: cannot write the video ({ffmpeg_reason(error)})") from error
    finally:
        container.close()


def frame_files(folder: Path) -> list[Path]:
    """The frames of a frame folder (PNG/JPEG/BMP/TIFF/WebP, sorted by name)."""
    from vivid.images.listing import list_images

    return list_images(folder)


def upscale_frame_folder(frame_fn: FrameFn, source: Path, target: Path, batch: int = 4,
                         progress: bool = True) -> int:
    """Upscale a folder of frames (all of one size) into ``target`` as ``%08d.png`` (written
    to a temporary folder that is renamed at the end); returns the frame count."""
    from vivid.images import imagefile

    files, shapes = frame_files(source), set()
    info = imagefile.ImageInfo(mode="RGB", bit_depth=8, greyscale=False)
    written = 0

    def write(sr_batch: torch.Tensor | None) -> None:
        nonlocal written
        for sr_frame in [] if sr_batch is None else sr_batch:
            imagefile.write_image(temp / f"{written:08d}.png", sr_frame[None], None, info)
            written += 1

    with temp_path(target, folder=True) as temp:
        for start in tqdm(range(0, len(files), batch), unit="batch", disable=not progress):
            frames = [imagefile.read_image(path).rgb for path in files[start:start + batch]]
            shapes |= {tuple(f.shape) for f in frames}
            if len(shapes) > 1:
                raise VividError(f"{source}: frames differ in size near {files[start].name}")
            write(frame_fn(torch.cat(frames)))
        write(flush(frame_fn))
    return len(files)
