"""Load check of the MOS app on loopback: many concurrent raters posting ratings.

``run_load(study, raters, ratings_each)`` serves the study with uvicorn in a background
thread, lets ``raters`` simulated raters (asyncio + httpx) each start a session and post
``ratings_each`` ratings at once (fetching each image first with ``fetch_images``), then
returns the rating request latencies. The raters must have at least ``ratings_each`` images
each. The load runs without the minimum viewing time and with the session rate limit lifted
(all raters share 127.0.0.1).
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
from typing import Any

import httpx
import uvicorn

from vivid.mos_security import RateLimits
from vivid.mos_study import connect
from vivid.mos_web import KEEP_ALIVE_S, create_app


async def _rater(client: httpx.AsyncClient, study: Path, ratings: int,
                 fetch_images: bool) -> list[float]:
    response = await client.post("/start", data={"name": "load"}, follow_redirects=False)
    token = response.headers["location"].rsplit("/", 1)[1]
    await client.post(f"/r/{token}/calibrated", follow_redirects=False)
    connection = connect(study)
    order = connection.execute("SELECT image_order FROM raters WHERE token = ?",
                               (token,)).fetchone()[0]
    connection.close()
    latencies = []
    for image in json.loads(order)[:ratings]:
        if fetch_images:
            (await client.get(f"/r/{token}/image/{image}")).raise_for_status()
        started = time.perf_counter()
        reply = await client.post("/api/rate", json={"token": token, "image": image,
                                                     "score": 3})
        latencies.append(time.perf_counter() - started)
        reply.raise_for_status()
    return latencies


async def _all(base: str, study: Path, raters: int, ratings: int,
               fetch_images: bool) -> list[float]:
    limits = httpx.Limits(max_connections=raters)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        results = await asyncio.gather(*(_rater(client, study, ratings, fetch_images)
                                         for _ in range(raters)))
    return [latency for result in results for latency in result]


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


def run_load(study: Path, raters: int = 50, ratings_each: int = 20,
             fetch_images: bool = False) -> list[float]:
    """Latencies (seconds) of every rating request; raises if any request failed."""
    limits = RateLimits(sessions_per_hour=3600 * raters, session_burst=raters)
    with serve_in_thread(study, min_view_s=0, limits=limits) as base:
        return asyncio.run(_all(base, study, raters, ratings_each, fetch_images))
