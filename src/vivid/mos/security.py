"""Protections of the MOS web app: bounded request bodies, security headers, rate limits.

* ``BodyLimit``: a request whose Content-Length exceeds the limit is answered 413 before any
  of its body is read (and the connection closed); a body without a length (chunked) is
  counted as it arrives and refused with 413 once past the limit. Memory stays flat.
* ``SecurityHeaders``: CSP (scripts, styles and images only from the app itself, no
  framing, forms only to the app), ``nosniff``, ``X-Frame-Options: DENY``, no Referer (the
  rater's URL holds their token).
* ``RateLimiter``: a token bucket per client address for session starts and access-code
  attempts (429 with Retry-After once spent).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from starlette.exceptions import HTTPException

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY = 4096  # bytes: ratings and the start form are far smaller
HEADERS = {
    b"content-security-policy": (b"default-src 'none'; img-src 'self'; script-src 'self'; "
                                 b"style-src 'self'; connect-src 'self'; form-action 'self'; "
                                 b"frame-ancestors 'none'; base-uri 'none'"),
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    b"referrer-policy": b"no-referrer",
    b"cross-origin-opener-policy": b"same-origin",
}


def _content_length(scope: Scope) -> int | None:
    """The declared body length (-1 when malformed, None when absent)."""
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            return int(value) if value.strip().isdigit() else -1
    return None


async def _refuse(send: Send, status: int, text: str) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": json.dumps({"error": text}).encode()})


class BodyLimit:
    """ASGI middleware: refuse bodies over ``limit`` bytes with 413 (see the module doc)."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _content_length(scope)
        if length is not None and length < 0:
            await _refuse(send, 400, "bad Content-Length")
            return
        if length is not None and length > self.limit:
            await _refuse(send, 413, f"request body over {self.limit} bytes")
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise HTTPException(413, f"request body over {self.limit} bytes",
                                    headers={"Connection": "close"})
            return message

        await self.app(scope, counted, send)


class SecurityHeaders:
    """ASGI middleware: add ``HEADERS`` to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *((k, v) for k, v in HEADERS.items() if k not in present)]
            await send(message)

        await self.app(scope, receive, with_headers if scope["type"] == "http" else send)


@dataclass(frozen=True)
class RateLimits:
    """Per client address: session starts and access-code attempts (burst, then a rate)."""

    sessions_per_hour: float = 30.0
    session_burst: int = 10
    codes_per_minute: float = 10.0
    code_burst: int = 10


@dataclass
class RateLimiter:
    """Token buckets per key: ``burst`` at once, refilled at ``per_second``."""

    per_second: float
    burst: int
    clock: Callable[[], float] = time.monotonic
    max_keys: int = 10_000
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def take(self, key: str) -> float:
        """0 if allowed (a token spent), else the seconds until the next token."""
        now = self.clock()
        tokens, last = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.per_second)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.per_second if self.per_second > 0 else math.inf
        self._buckets[key] = (tokens - 1, now)
        if len(self._buckets) > self.max_keys:
            self._forget_full(now)
        return 0.0

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled (they equal a new one); bounds the memory."""
        for key, (tokens, last) in list(self._buckets.items()):
            if tokens + (now - last) * self.per_second >= self.burst:
                del self._buckets[key]
