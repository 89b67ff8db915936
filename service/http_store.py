"""`/store`: the SPARQL 1.1 Graph Store HTTP Protocol.

Reads are open; writes need the token and go through the one ingest path, so they
are SHACL-validated (422 with the report) and atomic per graph.

* `?graph=IRI` names a graph; `?default` is the product's default graph, the union
  of every named graph. It is read-only here: a write to it would land in the
  store's real default graph, which no query sees — so PUT/POST/DELETE on it are
  405 and data goes into named graphs.
* `GET /store` without a parameter is the whole dataset (TriG or N-Quads).
* `POST /store` without a parameter creates a new graph `{base}graph/upload/{id}`
  (201, `Location`).
* Several files in one multipart request land in the same graph: the first
  replaces (PUT) or merges (POST), the rest merge; if a later one is rejected the
  graph is put back as it was, so the request as a whole changes nothing.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Sequence
from functools import partial
from typing import Literal

import anyio
from fastapi import APIRouter, Request
from pyoxigraph import NamedNode, QueryTriples, serialize
from starlette.exceptions import HTTPException
from starlette.responses import Response

from citytools.errors import InputError, NotFound, ParameterError
from citytools.service import conneg
from citytools.service.auth import Writer
from citytools.service.http_body import Params, single
from citytools.service.http_cache import (
    CachedAnswer,
    CacheKey,
    validator_headers,
)
from citytools.service.http_deps import AppContext, Context
from citytools.service.http_sources import read_sources
from citytools.service.ingest import Ingestor, LoadOutcome, Source
from citytools.service.store import GraphStore
from citytools.vocab import PREFIXES

router = APIRouter(tags=["SPARQL 1.1 Graph Store Protocol"])

Target = NamedNode | Literal["default"] | None
DEFAULT_READ_ONLY = (
    "the default graph is the union of the named graphs and is read-only; "
    "write to a named graph with ?graph=IRI"
)
UNION = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"
STORE_PARAMETERS = [
    {"name": "graph", "in": "query", "schema": {"type": "string", "format": "iri"}},
    {"name": "default", "in": "query", "schema": {"type": "string"}, "allowEmptyValue": True},
]


def target_of(params: Params) -> Target:
    graph = single(params, "graph")
    if graph is not None and "default" in params:
        raise InputError("give either ?graph=IRI or ?default, not both")
    if "default" in params:
        return "default"
    if graph is None:
        return None
    try:
        return NamedNode(graph.strip())
    except ValueError:
        raise ParameterError("graph", f"{graph!r} is not an absolute IRI") from None


@router.get("/store", openapi_extra={"parameters": STORE_PARAMETERS})
@router.head("/store", include_in_schema=False)  # one operation id per documented method
async def store_get(request: Request, ctx: Context) -> Response:
    """A graph (`?graph=`), the union (`?default`) or the whole dataset, as negotiated."""
    target = target_of(request.query_params)
    offers = conneg.DATASETS if target is None else conneg.GRAPHS
    offer = _negotiate(request, offers)
    if isinstance(target, NamedNode) and not ctx.store.has_graph(target):
        raise NotFound(f"no graph <{target.value}> in the store")
    name = target.value if isinstance(target, NamedNode) else str(target)
    key: CacheKey = ("store", name, offer.name)
    version, validators, unchanged = ctx.revalidate(request, key)
    if unchanged is not None:
        return unchanged
    cached = ctx.cache.get(version, key)
    if cached is None:
        body = await anyio.to_thread.run_sync(partial(_serialise, ctx.store, target, offer))
        cached = CachedAnswer(body, offer.content_type, "graph")
        ctx.cache.put(version, key, cached)
    else:
        ctx.metrics.cache_hits.inc()
    headers = validator_headers(validators)
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(cached.body))
        return Response(b"", headers=headers, media_type=cached.media_type)
    return Response(cached.body, headers=headers, media_type=cached.media_type)


def _negotiate(request: Request, offers: Sequence[conneg.Offer]) -> conneg.Offer:
    name = request.query_params.get("format")
    if name:
        chosen = conneg.by_name(name, offers)
        if chosen is None:
            raise ParameterError(
                "format", f"unknown format {name!r}; use one of {conneg.format_names(offers)}"
            )
        return chosen
    chosen = conneg.negotiate(conneg.parse_accept(request.headers.get("accept")), offers)
    if chosen is None:
        offered = ", ".join(o.media_type for o in offers)
        raise HTTPException(406, f"none of the accepted media types is offered: {offered}")
    return chosen


def _serialise(store: GraphStore, target: Target, offer: conneg.Offer) -> bytes:
    fmt = offer.rdf_format
    if target is None or (isinstance(target, NamedNode) and fmt.supports_datasets):
        buffer = io.BytesIO()
        store.dump(buffer, fmt=fmt, graph=target)
        return buffer.getvalue()
    if isinstance(target, NamedNode):
        triples = store.graph_triples(target)
        return serialize(triples, format=fmt, prefixes=PREFIXES) or b""
    union = store.query(UNION)
    assert isinstance(union, QueryTriples)
    return serialize(union, format=fmt, prefixes=PREFIXES) or b""


@router.put("/store", openapi_extra={"parameters": STORE_PARAMETERS})
async def store_put(request: Request, ctx: Context, _: Writer) -> Response:
    """Replace a graph with the posted data (201 created, 204 replaced)."""
    graph = _writable(target_of(request.query_params), "PUT")
    sources = await read_sources(request, "put")
    return await _write(ctx, graph, sources, replace=True, created_location=False)


@router.post("/store", openapi_extra={"parameters": STORE_PARAMETERS})
async def store_post(request: Request, ctx: Context, _: Writer) -> Response:
    """Merge the posted data into a graph, or into a new graph when none is named."""
    target = target_of(request.query_params)
    sources = await read_sources(request, "post")
    if target is None:
        graph = ctx.ingestor.minter.graph("upload", uuid.uuid4().hex)
        return await _write(ctx, graph, sources, replace=True, created_location=True)
    return await _write(
        ctx, _writable(target, "POST"), sources, replace=False, created_location=False
    )


@router.delete("/store", openapi_extra={"parameters": STORE_PARAMETERS})
async def store_delete(request: Request, ctx: Context, _: Writer) -> Response:
    """Drop a graph (404 when there is none)."""
    target = target_of(request.query_params)
    if target is None:
        raise InputError("DELETE needs ?graph=IRI (the whole store is not deleted over HTTP)")
    graph = _writable(target, "DELETE")
    async with ctx.write_lock:
        if not ctx.store.has_graph(graph):
            raise NotFound(f"no graph <{graph.value}> in the store")
        async with ctx.executor.writing():
            await anyio.to_thread.run_sync(ctx.store.drop_graph, graph)
        ctx.cache.written()
    return Response(status_code=204)


def _writable(target: Target, method: str) -> NamedNode:
    if isinstance(target, NamedNode):
        return target
    if target == "default":
        raise HTTPException(405, DEFAULT_READ_ONLY, headers={"Allow": "GET, HEAD"})
    raise InputError(f"{method} needs ?graph=IRI")


async def _write(
    ctx: AppContext,
    graph: NamedNode,
    sources: list[Source],
    *,
    replace: bool,
    created_location: bool,
) -> Response:
    async with ctx.write_lock:
        existed = ctx.store.has_graph(graph)
        async with ctx.executor.writing():
            try:
                outcome = await anyio.to_thread.run_sync(
                    partial(load_all, ctx.ingestor, sources, graph, replace=replace)
                )
            finally:
                ctx.cache.written()
    if existed and not created_location:
        return Response(status_code=204)
    summary = {
        "graph": graph.value,
        "triples": outcome.triples,
        "warnings": [f.describe() for f in outcome.report.warnings],
    }
    headers = {"Location": graph.value} if created_location else None
    return Response(json.dumps(summary).encode(), 201, headers, media_type="application/json")


def load_all(
    ingestor: Ingestor, sources: Sequence[Source], graph: NamedNode, *, replace: bool
) -> LoadOutcome:
    """Load every source into `graph`; if one is rejected, put the graph back as it was."""
    store = ingestor.store
    previous = None
    if len(sources) > 1 and store.has_graph(graph):
        previous = list(store.graph_triples(graph))
    outcome = None
    for index, source in enumerate(sources):
        try:
            outcome = ingestor.load(source, graph=graph, replace=replace and index == 0)
        except Exception:
            if index > 0:  # earlier sources were written: undo them
                if previous is None:
                    store.drop_graph(graph)
                else:
                    store.replace_graph(graph, previous)
            raise
    assert outcome is not None
    return outcome
