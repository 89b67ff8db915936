"""The hot path in front of FastAPI's routing: `GET /sparql`.

FastAPI's routing, dependency solving and middleware stack cost as much as evaluating a
small query (`docs/benchmarks.md`), and `GET /sparql` needs none of them: no dependency,
no body to limit. `FrontedApp` hands it straight to its route handler, turns errors into
answers with the same handlers, and records the request as `Observer` does. A request
with an `Origin` header (CORS) takes the whole way, as does everything else.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from citytools.service.http.errors import render
from citytools.service.http.metrics import Metrics
from citytools.service.http.middleware import record
from citytools.service.http.routes.sparql import sparql_get

ROUTE = "/sparql"


class FrontedApp(FastAPI):
    """FastAPI with `GET /sparql` answered before routing."""

    def __init__(self, *, metrics: Metrics, **options: Any) -> None:
        super().__init__(**options)
        self.metrics = metrics
        self.answered_in_protocol = 0  # by `uvicorn_protocol.py`, in front of this front

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _hot(scope):
            await super().__call__(scope, receive, send)
            return
        started = time.perf_counter()
        scope["app"] = self
        request = Request(scope, receive)
        try:
            response = await sparql_get(request)
        except Exception as exc:
            response = await render(request, exc)
        await response(scope, receive, send)
        record(self.metrics, scope, ROUTE, response.status_code, time.perf_counter() - started)


def _hot(scope: Scope) -> bool:
    if scope["type"] != "http" or scope["path"] != ROUTE or scope["method"] != "GET":
        return False
    return all(name != b"origin" for name, _ in scope["headers"])
