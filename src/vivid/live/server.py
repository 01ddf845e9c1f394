"""A live session and its server: what ``vivid live`` runs.

``Session`` opens the source (its errors end the command before anything is served), loads
the model, and wires the reader, the pipeline and the recording together; ``start`` and
``stop`` start and stop them together (stopping finishes the recording). ``run`` opens the
port first (a port in use is a one-line error before the model loads), prints the page's
URL and serves it in the foreground until Ctrl-C; ``session_in_thread`` serves from a
background thread on a free loopback port (tests and ``benchmarks/live_speed.py``).
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from vivid.atomic import Terminated, check_writable
from vivid.errors import VividError
from vivid.live.frames import SIDE
from vivid.live.models import LiveModel, load_live_model, model_choices
from vivid.live.pipeline import Pipeline
from vivid.live.reader import Reader
from vivid.live.recorder import Recorder
from vivid.live.source import open_source, parse_source
from vivid.live.status import Pause, Status
from vivid.live.web import create_app
from vivid.mos.server import app_in_thread, listen, serve_app, url


@dataclass(frozen=True)
class LiveOptions:
    """What ``vivid live`` was asked for (see its ``--help``)."""

    source: str
    model: str
    loop: bool = False
    size: tuple[int, int] | None = None
    compare: str = SIDE
    record: Path | None = None
    overwrite: bool = False
    quality: int = 80
    timeout_s: float = 10.0
    device: str = "auto"
    precision: str = "auto"
    runtime: str = "auto"


def _check_record_target(target: Path, overwrite: bool) -> None:
    if target.suffix.lower() not in (".mp4", ".mkv", ".mov"):
        raise VividError(f"{target}: --record writes .mp4, .mkv or .mov files")
    if target.exists() and not overwrite:
        raise VividError(f"{target}: exists; choose another name or add --overwrite")
    check_writable(target.parent)


def _audio_format(container: Any) -> tuple[int, int] | None:
    """Sample rate and channel count of the source's first audio stream, or None."""
    if not container.streams.audio:
        return None
    context = container.streams.audio[0].codec_context
    return context.sample_rate, context.layout.nb_channels


class Session:
    """See the module doc. ``load``: how models are loaded (tests pass their own)."""

    def __init__(self, options: LiveOptions,
                 load: Callable[..., LiveModel] = load_live_model) -> None:
        source = parse_source(options.source)
        self.options, self.source = options, source
        if options.record:
            _check_record_target(options.record, options.overwrite)
        container = open_source(source, options.timeout_s, options.size)
        try:
            loader = partial(load, device=options.device, precision=options.precision,
                             runtime=options.runtime)
            model = loader(options.model)
            audio = _audio_format(container) if options.record else None
        except BaseException:
            container.close()
            raise
        self.status, self.pause = Status(source.label), Pause()
        self.recorder = Recorder(options.record, audio) if options.record else None
        self.pipeline = Pipeline(model, loader, model_choices(options.model), self.status,
                                 self.pause, compare=options.compare, quality=options.quality,
                                 record=self.recorder.video if self.recorder else None)
        self.reader = Reader(source, container, self.pipeline.feed, self.status, self.pause,
                             loop=options.loop, size=options.size, timeout_s=options.timeout_s,
                             audio=self.recorder.audio if self.recorder else None)

    def start(self) -> None:
        if self.recorder:
            self.recorder.start()
        self.pipeline.start()
        self.reader.start()

    def stop(self) -> str | None:
        """Stop every thread; the recording's summary line (None: no recording)."""
        self.reader.stop()
        self.reader.thread.join(timeout=2)  # a network read may hang until its timeout
        self.pipeline.stop()
        return self.recorder.finish() if self.recorder else None

    def app(self, loopback: bool = True) -> Any:
        record = str(self.options.record) if self.options.record else None
        return create_app(self.pipeline, self.source.label, loopback=loopback,
                          recording=record)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def run(options: LiveOptions, host: str, port: int,
        announce: Callable[[str], None] = print) -> None:
    """Serve a live session on ``host:port`` until Ctrl-C (the normal end: no error), then
    stop it and announce the recording's summary. SIGTERM ends it as any command."""
    sock = listen(host, port)
    try:
        session = Session(options)
    except BaseException:
        sock.close()
        raise
    announce(f"vivid live: {session.source.label} with {session.pipeline.model.name} "
             f"({session.pipeline.model.engine}) on {url(sock)}/ (Ctrl-C stops)")
    session.start()
    try:
        serve_app(session.app(is_loopback(host)), sock)
    except KeyboardInterrupt as stop:
        if isinstance(stop, Terminated):
            raise
    finally:
        summary = session.stop()
        if summary:
            announce(summary)


@contextlib.contextmanager
def session_in_thread(options: LiveOptions, load: Callable[..., LiveModel] = load_live_model
                      ) -> Iterator[tuple[str, Session]]:
    """A started session served on a free loopback port; yields (base URL, session)."""
    session = Session(options, load)
    session.start()
    try:
        with app_in_thread(session.app()) as base:
            yield base, session
    finally:
        session.stop()
