"""Load harness for the MOS app: many concurrent raters posting ratings (asyncio + httpx).

``run_load(study, raters, ratings_each)`` serves the study in a background thread, lets
``raters`` simulated raters each start a session and post ``ratings_each`` ratings at once
(fetching each image first with ``fetch_images``), then returns the rating request latencies.
The raters must have at least ``ratings_each`` images each. The load runs without the minimum
viewing time and with the session rate limit lifted (all raters share 127.0.0.1).
Used by benchmarks/mos_load.py and tests/test_mos.py.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx

from vivid.mos.security import RateLimits
from vivid.mos.server import serve_in_thread
from vivid.mos.study import connect


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


def run_load(study: Path, raters: int = 50, ratings_each: int = 20,
             fetch_images: bool = False) -> list[float]:
    """Latencies (seconds) of every rating request; raises if any request failed."""
    limits = RateLimits(sessions_per_hour=3600 * raters, session_burst=raters)
    with serve_in_thread(study, min_view_s=0, limits=limits) as base:
        return asyncio.run(_all(base, study, raters, ratings_each, fetch_images))
