"""A lean reference SPARQL endpoint for the HTTP benchmark: NOT the product.

    BENCH_STORE=DIR uvicorn lean_server:app --app-dir bench --workers 2 --http httptools

It shows what this Python stack can serve at best on the same machine and data: a raw
ASGI callable (no FastAPI, no middleware), `GET /sparql?query=…` evaluated inline on the
event loop over `Store.read_only(BENCH_STORE)` (one handle per worker process), the answer
written by pyoxigraph as SPARQL JSON; with BENCH_CACHE=1 answers are kept by query text.
It has none of the product's promises (no timeout, no federation check, no content
negotiation, no errors worth the name), so it bounds what the product's hot path could
reach; it is no candidate for it.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qs

from pyoxigraph import QueryBoolean, QueryResultsFormat, QuerySolutions, Store

STORE = Store.read_only(os.environ["BENCH_STORE"])
CACHE: dict[str, bytes] | None = {} if os.environ.get("BENCH_CACHE") == "1" else None
JSON = [(b"content-type", b"application/sparql-results+json")]


def answer(query: str) -> bytes:
    if CACHE is not None and (cached := CACHE.get(query)) is not None:
        return cached
    result = STORE.query(query, use_default_graph_as_union=True)
    if not isinstance(result, QuerySolutions | QueryBoolean):
        raise ValueError("only SELECT and ASK queries")
    body = result.serialize(format=QueryResultsFormat.JSON) or b""
    if CACHE is not None and len(CACHE) < 4096:
        CACHE[query] = body
    return body


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    query = parse_qs(scope.get("query_string", b"").decode()).get("query")
    if scope.get("path") != "/sparql" or not query:
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b"GET /sparql?query=..."})
        return
    try:
        body, status, headers = answer(query[0]), 200, JSON
    except (SyntaxError, ValueError, RuntimeError) as exc:
        body, status, headers = str(exc).encode(), 400, []
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
