"""The hottest path, inside uvicorn's HTTP protocol: `GET /sparql?query=…` whose answer
is ready at once, written back without an ASGI cycle.

A lookup answered from the cache or the inline lane costs a fraction of a millisecond;
the ASGI cycle around it (a task, the receive/send messages, Starlette's request and
response objects, header checks, two socket writes) costs as much again
(`docs/benchmarks.md`). So when a request's headers are in, this protocol reads the
query and the few headers that matter straight from the parser, asks the app context for
an answer that needs no waiting (`AppContext.answer_now`: the cache or the inline lane)
and writes it in one write, with the headers the route would give (`http_sparql.Asked`).

Everything else takes uvicorn's own way to the app, which answers it as before: any
other route or parameter (`format=`, the dataset parameters, no query at all), an answer
that needs a worker, an error, and any request this path cannot take with certainty (a
pipelined one behind a running request, HTTP/1.0 or `Connection: close`, an upgrade that
uvicorn performs (`http_upgrade.py` answers the others as plain HTTP/1.1), `Expect`,
CORS, a paused transport, a concurrency limit).

It relies on uvicorn's `HttpToolsProtocol` internals (its parser callbacks and per-
connection state), so uvicorn is pinned to the minor versions it was checked against,
and `tests/test_uvicorn_protocol.py` fails if the path stops being taken.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import STATUS_LINE

from citytools.service.http.body import decoded
from citytools.service.http.cache import validator_headers
from citytools.service.http.deps import AppContext
from citytools.service.http.front import ROUTE, FrontedApp
from citytools.service.http.middleware import record
from citytools.service.http.routes.sparql import Asked, by_accept
from citytools.service.http.upgrade import UpgradeIgnoringProtocol

_TARGET = ROUTE.encode() + b"?query="
_DECLINING_HEADERS = (b"origin", b"expect")  # CORS, and a body announced on a GET
_SCOPE = {"method": "GET", "path": ROUTE}  # what the request metrics and log line read


class _Ready(NamedTuple):
    status: int
    headers: dict[str, str]
    media_type: str | None  # None: no body (304)
    body: bytes


class SparqlHttpProtocol(UpgradeIgnoringProtocol):
    """uvicorn's httptools protocol, with `GET /sparql?query=…` answered when its headers
    are in, if the answer is ready at once."""

    def __init__(self, config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        app = config.app
        self.front: FrontedApp | None = app if isinstance(app, FrontedApp) else None
        self.answered = False  # the current request was answered here

    def on_message_begin(self) -> None:
        self.answered = False
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        # A keep-alive timer armed after an earlier answer must not close the connection
        # under a request that the ASGI way is now to answer.
        self._unset_keepalive_if_required()
        if self._takes() and self._answer():
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self.answered:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self.answered:
            super().on_message_complete()

    def _takes(self) -> bool:
        """A request this path may answer: nothing before it is still being answered
        (answers must leave in order), and nothing in it calls for the ASGI way."""
        busy = self.cycle is not None and not self.cycle.response_complete
        return (
            self.front is not None
            and self.url.startswith(_TARGET)
            and b"&" not in self.url
            and not busy
            and not self.pipeline
            and not self.flow.write_paused
            and self.limit_concurrency is None
            and self.parser.get_method() == b"GET"
            and self.parser.get_http_version() == "1.1"
            and self.parser.should_keep_alive()
            and not self.parser.should_upgrade()
        )

    def _answer(self) -> bool:
        """Write the answer if it is ready at once; False leaves the request to ASGI."""
        front = self.front
        context: AppContext | None = getattr(front.state, "context", None) if front else None
        if front is None or context is None:
            return False
        started = time.perf_counter()
        # Errors are the route's to answer, in one shape (`http_errors.py`): it meets them
        # again, and an exception let out here would end in the parser as "invalid HTTP".
        try:
            ready = self._ready(context)
        except Exception:
            return False
        if ready is None:
            return False
        self._write(*ready)
        front.answered_in_protocol += 1
        record(front.metrics, _SCOPE, ROUTE, ready.status, time.perf_counter() - started)
        return True

    def _ready(self, context: AppContext) -> _Ready | None:
        """The answer as the route would give it, if it needs no waiting."""
        accept = if_none_match = if_modified_since = None
        for name, value in self.headers:
            if name == b"accept":
                accept = value.decode("latin-1")
            elif name == b"if-none-match":
                if_none_match = value.decode("latin-1")
            elif name == b"if-modified-since":
                if_modified_since = value.decode("latin-1")
            elif name in _DECLINING_HEADERS:
                return None
        formats = by_accept(accept)
        if formats.solutions is None and formats.graphs is None:
            return None
        asked = Asked(decoded(self.url[len(_TARGET) :].decode("latin-1")), (), (), formats)
        key = asked.key()
        version, validators, current = context.validate(key, if_none_match, if_modified_since)
        if current:
            return _Ready(304, validator_headers(validators), None, b"")
        answered = context.answer_now(version, key, asked.request(context.settings))
        if answered is None:
            return None
        cached, fresh = answered
        headers = asked.headers(cached, validators if fresh else None)
        return _Ready(200, headers, cached.media_type, cached.body)

    def _write(
        self, status: int, headers: dict[str, str], media_type: str | None, body: bytes
    ) -> None:
        """The whole response in one write, as Starlette's `Response` would head it."""
        lines = [STATUS_LINE[status]]
        for raw_name, raw_value in self.server_state.default_headers:  # date, server
            lines += (raw_name, b": ", raw_value, b"\r\n")
        if media_type is not None:
            if media_type.startswith("text/") and "charset=" not in media_type:
                media_type += "; charset=utf-8"
            lines.append(
                b"content-length: %d\r\ncontent-type: %s\r\n"
                % (len(body), media_type.encode("latin-1"))
            )
        for name, value in headers.items():
            lines.append(f"{name.lower()}: {value}\r\n".encode("latin-1"))
        lines += (b"\r\n", body)
        self.transport.write(b"".join(lines))
        self.answered = True
        self.server_state.total_requests += 1
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )


def http_server(app: FastAPI, **options: Any) -> uvicorn.Server:
    """uvicorn as every process of the service runs it (`options`: more of its `Config`):
    with this protocol, and its own access log off (the service writes one of its own,
    when asked: CITYTOOLS_ACCESS_LOG)."""
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, http=SparqlHttpProtocol, **options
    )
    return uvicorn.Server(config)
