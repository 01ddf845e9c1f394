"""Load check of the MOS app on loopback: many concurrent raters posting ratings.

``run_load(study, raters, ratings_each)`` serves the study with uvicorn in a background
thread, lets ``raters`` simulated raters (asyncio + httpx) each start a session and post
``ratings_each`` ratings at once, then returns the request latencies. The raters must have at
least ``ratings_each`` images each.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import uvicorn

from vivid.mos_study import connect
from vivid.mos_web import create_app

# Idle keep-alive connections stay open this long; uvicorn's 5 s default closes connections a
# busy client is about to reuse (seen as ReadError under load).
KEEP_ALIVE_S = 75


async def _rater(client: httpx.AsyncClient, study: Path, ratings: int) -> list[float]:
    response = await client.post("/start", data={"name": "load"}, follow_redirects=False)
    token = response.headers["location"].rsplit("/", 1)[1]
    await client.post(f"/r/{token}/calibrated", follow_redirects=False)
    connection = connect(study)
    order = connection.execute("SELECT image_order FROM raters WHERE token = ?",
                               (token,)).fetchone()[0]
    connection.close()
    latencies = []
    for image in json.loads(order)[:ratings]:
        started = time.perf_counter()
        reply = await client.post("/api/rate", json={"token": token, "image": image,
                                                     "score": 3})
        latencies.append(time.perf_counter() - started)
        reply.raise_for_status()
    return latencies


async def _all(base: str, study: Path, raters: int, ratings: int) -> list[float]:
    limits = httpx.Limits(max_connections=raters)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        results = await asyncio.gather(*(_rater(client, study, ratings) for _ in range(raters)))
    return [latency for result in results for latency in result]


@contextlib.contextmanager
def serve_in_thread(study: Path, access_code: str | None = None) -> Iterator[str]:
    """Serve a study on a free loopback port in a background thread; yields the base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(study, access_code), log_level="warning",
                            timeout_keep_alive=KEEP_ALIVE_S)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def run_load(study: Path, raters: int = 50, ratings_each: int = 20) -> list[float]:
    """Latencies (seconds) of every rating request; raises if any request failed."""
    with serve_in_thread(study) as base:
        return asyncio.run(_all(base, study, raters, ratings_each))
