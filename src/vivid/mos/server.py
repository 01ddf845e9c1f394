"""Serve a study from a background thread on a free loopback port (notebooks, tests and the
load benchmark); ``vivid mos serve`` runs uvicorn in the foreground instead."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn

from vivid.mos.web import KEEP_ALIVE_S, create_app


@contextlib.contextmanager
def serve_in_thread(study: Path, access_code: str | None = None,
                    **options: Any) -> Iterator[str]:
    """Serve a study on a free loopback port in a background thread; yields the base URL.
    ``options`` go to ``create_app``."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(study, access_code, **options), log_level="warning",
                            timeout_keep_alive=KEEP_ALIVE_S)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.01)
    if not server.started:
        raise RuntimeError("the MOS server did not start within 30 s")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
