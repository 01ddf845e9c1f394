"""MOS app under abuse (issue 20, items 1, 2, 4, 5, 6): bounded bodies, any access code,
malformed input, a locked database, rate limits, security headers."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

pytest.importorskip("starlette", reason="the MOS app needs the 'mos' extra")

from test_mos import app, images_of, make_study, start
from vivid.mos.security import RateLimits
from vivid.mos.server import serve_in_thread
from vivid.mos.study import connect

MB = 1024 * 1024


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_study(tmp_path_factory.mktemp("security"))


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


class PeakRss:
    """The highest RSS of this process (server thread included) while the block runs."""

    def __enter__(self) -> PeakRss:
        self.start, self.peak, self._stop = rss_bytes(), rss_bytes(), threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, rss_bytes())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def post_huge(base: str, size: int) -> tuple[bytes, int]:
    """POST ``size`` bytes to /api/rate with no token, the way a raw client would; returns
    the status line and how many body bytes the server let us push before closing."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        chunk, sent = b"{" * MB, MB
        sock.sendall(b"POST /api/rate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (size, chunk))
        status = sock.recv(4096).split(b"\r\n", 1)[0]
        try:
            while sent < size:
                sock.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass
    return status, sent


def test_200_mb_post_is_refused_with_413_and_flat_memory(study: Path) -> None:
    with serve_in_thread(study) as base, PeakRss() as rss:
        status, sent = post_huge(base, 200 * MB)
    assert status == b"HTTP/1.1 413 Request Entity Too Large"
    growth = (rss.peak - rss.start) / MB
    print(f"200 MB POST: {status.decode()}, {sent // MB} MB pushed, RSS growth {growth:.1f} MB")
    assert growth < 50
    assert sent < 200 * MB  # the server closed the connection instead of reading it all


def test_oversized_bodies_without_length_and_forms(study: Path) -> None:
    client = app(study)
    assert client.post("/api/rate", content=b"x" * 5000).status_code == 413
    chunks = (b"x" * 1024 for _ in range(64))  # chunked: no Content-Length
    assert client.post("/api/rate", content=chunks).status_code == 413
    assert client.post("/start", data={"name": "x" * 5000}).status_code == 413
    assert client.post("/api/rate", content=b"[" * 2000 + b"]" * 2000).status_code == 400
    upload = client.post("/start", data={"name": "x"}, files={"code": ("c.txt", b"s3cret")})
    assert upload.status_code == 400
    assert connect(study).execute("SELECT COUNT(*) FROM raters").fetchone()[0] == 0


@pytest.mark.parametrize("code", ["pässwort", "密码🔑", "p\u0061\u0308sswort"])
def test_unicode_access_codes(study: Path, code: str) -> None:
    client = app(study, access_code="pässwort" if "ss" in code else code)
    assert client.post("/start", data={"code": "passwort"}).status_code == 403
    assert client.post("/start", data={"code": code + "x"}).status_code == 403
    start(client, code=code)  # "a" + combining diaeresis is the same code as "ä" (NFC)


def test_security_headers_and_no_referrer(study: Path) -> None:
    client = app(study)
    token = start(client)
    for response in (client.get("/"), client.get(f"/r/{token}"),
                     client.get(f"/r/{token}/image/{images_of(study, token)[0]}"),
                     client.get("/r/nope"), client.post("/api/rate", content=b"x" * 9000)):
        headers = response.headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "script-src 'self'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
    assert "<script>" not in client.get(f"/r/{token}").text  # the CSP allows no inline code


def test_session_starts_and_code_guesses_are_rate_limited(study: Path) -> None:
    now = [0.0]
    limits = RateLimits(sessions_per_hour=60, session_burst=3, codes_per_minute=6, code_burst=5)
    client = app(study, access_code="s3cret", limits=limits, clock=lambda: now[0])
    guesses = [client.post("/start", data={"code": f"guess{i}"}).status_code for i in range(8)]
    assert guesses == [403] * 5 + [429] * 3
    assert client.post("/start", data={"code": "s3cret"}).status_code == 429  # even the right one
    now[0] += 10  # 6 codes a minute: one more try after 10 s
    assert client.post("/start", data={"code": "s3cret"},
                       follow_redirects=False).status_code == 303
    now[0] += 120  # the session bucket is full again: 3 at once
    for _ in range(3):
        assert client.post("/start", data={"code": "s3cret"},
                           follow_redirects=False).status_code == 303
    refused = client.post("/start", data={"code": "s3cret"})  # the burst is spent
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0


@pytest.fixture
def locked(study: Path) -> Iterator[threading.Event]:
    """An outside process-like writer holding the database's write lock until released."""
    release = threading.Event()
    holding = threading.Event()

    def hold() -> None:
        connection = connect(study)
        connection.execute("BEGIN IMMEDIATE")
        holding.set()
        release.wait(10)
        connection.execute("ROLLBACK")
        connection.close()

    thread = threading.Thread(target=hold)
    thread.start()
    holding.wait(10)
    yield release
    release.set()
    thread.join()


def test_a_held_write_lock_does_not_stall_pages(study: Path,
                                                locked: threading.Event) -> None:
    with serve_in_thread(study, busy_timeout_s=5, min_view_s=0) as base, \
            httpx.Client(base_url=base, timeout=10) as client, ThreadPoolExecutor(2) as pool:
        waiting = pool.submit(client.post, "/start", data={"name": "x"})  # needs the lock
        time.sleep(0.2)
        for path in ("/", "/static/mos.js", "/r/unknown"):
            started = time.perf_counter()
            client.get(path)
            assert time.perf_counter() - started < 0.5, path
        assert not waiting.done()
        locked.set()
        assert waiting.result().status_code in (200, 303)


def test_a_lock_held_too_long_is_a_503_not_a_hang(study: Path,
                                                  locked: threading.Event) -> None:
    client = app(study, busy_timeout_s=0.2)
    started = time.perf_counter()
    response = client.post("/start", data={"name": "x"})
    assert response.status_code == 503 and "busy" in response.text
    assert time.perf_counter() - started < 2
