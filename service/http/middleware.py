"""Pure-ASGI middleware (cheaper than BaseHTTPMiddleware on the hot path).

* `Observer`: the request metrics (and a JSON log line, when asked) of every request, by
  route template: the one place requests are counted.
* `BodyLimit`: refuses a body over the limit — at once on `Content-Length`, and
  while streaming by counting bytes (chunked uploads have no length).
"""

from __future__ import annotations

import json
import logging
import time

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from citytools.errors import PayloadTooLarge
from citytools.service.http.errors import error_response
from citytools.service.http.metrics import Metrics
from citytools.settings import Settings

log = logging.getLogger("citytools.http")


def configure_logging(settings: Settings) -> None:
    """Messages on standard error; the JSON line per request only with CITYTOOLS_ACCESS_LOG
    (request counts and latencies are in /metrics either way)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    log.setLevel(logging.INFO if settings.access_log else logging.WARNING)


class Observer:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = str(scope["method"])
            self.metrics.observe_request(method, route, status, elapsed)
            if log.isEnabledFor(logging.INFO):  # skip the JSON work when nobody listens
                line = {
                    "method": method,
                    "route": route,
                    "path": scope.get("path", ""),
                    "status": status,
                    "ms": round(elapsed * 1000, 2),
                }
                log.info(json.dumps(line))


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> PayloadTooLarge:
        mib = self.max_bytes / (1024 * 1024)
        return PayloadTooLarge(
            f"request body over the limit of {mib:g} MiB (CITYTOOLS_MAX_BODY_MB)"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            error = self._too_large()
            request = Request(scope)
            response = error_response(request, error.status, error.code, str(error))
            response.headers["Connection"] = "close"
            await response(scope, receive, send)
            return
        received = 0

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise self._too_large()
            return message

        await self.app(scope, counted_receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
