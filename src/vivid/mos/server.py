"""Serving an ASGI app (the MOS study app, ``vivid live``'s page): ``listen`` opens the port
with a one-line error when it is taken, ``serve_app`` runs uvicorn on it in the foreground,
``app_in_thread`` in a background thread on a free loopback port (notebooks, tests and the
benchmarks). ``vivid mos serve`` runs uvicorn in the foreground by itself."""

from __future__ import annotations

import contextlib
import errno
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn

from vivid.errors import VividError
from vivid.mos.web import KEEP_ALIVE_S, create_app

GRACEFUL_S = 2  # open streams (vivid live's video) are cut this long after Ctrl-C


def listen(host: str, port: int) -> socket.socket:
    """A bound socket on ``host:port`` (port 0: a free one); a port in use or an address that
    is not this machine's is a one-line error naming it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise VividError(f"{host}:{port}: the port is in use (another server?); choose "
                             "another with --port") from error
        raise VividError(f"{host}:{port}: cannot listen there "
                         f"({error.strerror or error})") from error


def url(sock: socket.socket) -> str:
    """The http URL of a bound socket (IPv6 addresses in brackets)."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _server(app: Any) -> uvicorn.Server:
    """The uvicorn server of ``app``; a Starlette app's ``state.exiting()`` tells whether it
    is shutting down (endless responses, such as a video stream, end on it)."""
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning",
                                           timeout_keep_alive=KEEP_ALIVE_S,
                                           timeout_graceful_shutdown=GRACEFUL_S))
    state = getattr(app, "state", None)
    if state is not None:
        state.exiting = lambda: server.should_exit
    return server


def serve_app(app: Any, sock: socket.socket) -> None:
    """Run ``app`` on ``sock`` in the foreground until Ctrl-C or SIGTERM."""
    _server(app).run(sockets=[sock])


@contextlib.contextmanager
def app_in_thread(app: Any, sock: socket.socket | None = None) -> Iterator[str]:
    """Serve ``app`` from a background thread (on ``sock``, default a free loopback port);
    yields the base URL, stops the server and closes the socket on exit."""
    sock = sock or listen("127.0.0.1", 0)
    server = _server(app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.01)
    if not server.started:
        raise RuntimeError("the server did not start within 30 s")
    try:
        yield url(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextlib.contextmanager
def serve_in_thread(study: Path, access_code: str | None = None,
                    **options: Any) -> Iterator[str]:
    """Serve a study on a free loopback port in a background thread; yields the base URL.
    ``options`` go to ``create_app``."""
    with app_in_thread(create_app(study, access_code, **options)) as base:
        yield base
