"""A replica hands every write to the primary process, over the primary's Unix socket.

Only the primary holds the store for writing (`cluster.py`), so on a replica `POST
/update` and `PUT`/`POST`/`DELETE /store` are passed on whole: method, path, headers
(the token included: the primary checks it again) and the body as it streams in; the
primary's answer streams back as it is. The primary validates, writes, publishes the new
version, and only then answers, so the next read on any process sees the write.

A write without the right token is not passed on: the replica checks it first, with the
check of the write routes (`auth.require_write_token`), and leaves such a request to its
own app, whose route refuses it (401/403) exactly as the primary's would, with the same
error shape, CORS headers and metrics, and without waiting on the primary.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from citytools.errors import AuthError, PrimaryUnreachable
from citytools.service.http.auth import require_write_token
from citytools.service.http.deps import context_of
from citytools.service.http.errors import render

VIA = b"1.1 citytools-replica"
WRITES = frozenset(
    {("POST", "/update"), ("PUT", "/store"), ("POST", "/store"), ("DELETE", "/store")}
)
# Headers of one connection, not of the request (RFC 9110 §7.6.1).
_HOP_BY_HOP = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"upgrade"}
    | {b"transfer-encoding"}
)
# The replica's uvicorn adds its own to every answer: passed on too, they would come twice.
_SERVER_ADDED = frozenset({b"date", b"server"})


class ForwardWrites:
    def __init__(self, app: ASGIApp, primary: Path) -> None:
        self.app = app
        self.primary = primary

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (scope["method"], scope["path"]) not in WRITES:
            await self.app(scope, receive, send)
            return
        if not await _authorised(scope):
            await self.app(scope, receive, send)  # its route refuses it, as the primary's would
            return
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in _HOP_BY_HOP]
        url = httpx.URL("http://primary", raw_path=scope["raw_path"] + _query(scope))
        transport = httpx.AsyncHTTPTransport(uds=str(self.primary))
        async with httpx.AsyncClient(transport=transport, timeout=None) as client:
            request = client.build_request(
                scope["method"], url, headers=headers, content=_body(receive)
            )
            try:
                response = await client.send(request, stream=True)
            except httpx.TransportError:
                error = PrimaryUnreachable(
                    "the primary process, which does every write, cannot be reached; try again"
                )
                answer = await render(Request(scope), error)
                await answer(scope, receive, send)
                return
            try:
                dropped = _HOP_BY_HOP | _SERVER_ADDED
                headers = [(k, v) for k, v in response.headers.raw if k.lower() not in dropped]
                headers.append((b"via", VIA))  # RFC 9110 §7.6.3: a forwarded answer says so
                await send(
                    {
                        "type": "http.response.start",
                        "status": response.status_code,
                        "headers": headers,
                    }
                )
                async for chunk in response.aiter_raw():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
            finally:
                await response.aclose()


async def _authorised(scope: Scope) -> bool:
    request = Request(scope)
    try:
        await require_write_token(request, context_of(request))
    except AuthError:
        return False
    return True


def _query(scope: Scope) -> bytes:
    query: bytes = scope.get("query_string", b"")
    return b"?" + query if query else b""


async def _body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunk: bytes = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return
