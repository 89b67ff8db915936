"""`/store`: the SPARQL 1.1 Graph Store HTTP Protocol.

Reads are open; writes need the token and go through the one ingest path, so they
are SHACL-validated (422 with the report) and atomic per graph.

* `?graph=IRI` names a graph; `?default` is the stored default graph, a real graph of
  its own (SHACL-gated, with provenance, like any other). Queries still see the union of
  all graphs as their default graph; this route reads and writes exactly one graph, so
  what a client PUTs is what a GET of that graph returns.
* The service's own graphs (provenance, reference data, the ontology) are read-only
  (403).
* `GET /store` without a parameter is the whole dataset (TriG or N-Quads).
* `POST /store` without a parameter creates a new graph `{base}graph/upload/{id}`
  (201, `Location`).
* Several files in one multipart request land in the same graph as one write: the
  first replaces (PUT) or merges (POST), the rest merge; if one is rejected nothing
  changes.
"""

from __future__ import annotations

import io
import json
import uuid
from functools import partial

import anyio
from fastapi import APIRouter, Request
from pyoxigraph import DefaultGraph, NamedNode, serialize
from starlette.responses import Response

from citytools.errors import InputError, NotFound, ParameterError
from citytools.service.http import conneg
from citytools.service.http.auth import Writer
from citytools.service.http.body import Params, single
from citytools.service.http.cache import (
    CachedAnswer,
    CacheKey,
    validator_headers,
)
from citytools.service.http.deps import AppContext, Context
from citytools.service.http.sources import read_sources
from citytools.service.store.interface import GraphChange, GraphName, GraphStore, graph_id
from citytools.service.writes.commit import Write, WritePath
from citytools.service.writes.ingest import Source
from citytools.vocab import PREFIXES

router = APIRouter(tags=["SPARQL 1.1 Graph Store Protocol"])

Target = GraphName | None
STORE_PARAMETERS = [
    {"name": "graph", "in": "query", "schema": {"type": "string", "format": "iri"}},
    {"name": "default", "in": "query", "schema": {"type": "string"}, "allowEmptyValue": True},
]


def target_of(params: Params) -> Target:
    graph = single(params, "graph")
    if graph is not None and "default" in params:
        raise InputError("give either ?graph=IRI or ?default, not both")
    if "default" in params:
        return DefaultGraph()
    if graph is None:
        return None
    try:
        return NamedNode(graph.strip())
    except ValueError:
        raise ParameterError("graph", f"{graph!r} is not an absolute IRI") from None


@router.get("/store", openapi_extra={"parameters": STORE_PARAMETERS})
@router.head("/store", include_in_schema=False)  # one operation id per documented method
async def store_get(request: Request, ctx: Context) -> Response:
    """A graph (`?graph=`), the stored default graph (`?default`) or the whole dataset."""
    target = target_of(request.query_params)
    offers = conneg.DATASETS if target is None else conneg.GRAPHS
    offer = _negotiate(request, offers)
    if isinstance(target, NamedNode) and not ctx.store.has_graph(target):
        raise NotFound(f"no graph <{target.value}> in the store")
    name = target.value if isinstance(target, NamedNode) else str(target or "dataset")
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


def _negotiate(request: Request, offers: tuple[conneg.Offer, ...]) -> conneg.Offer:
    name = request.query_params.get("format")
    accept = request.headers.get("accept")
    return conneg.choose_one(accept, [name] if name else [], offers, "the graph store")


def _serialise(store: GraphStore, target: Target, offer: conneg.Offer) -> bytes:
    fmt = offer.rdf_format
    if target is None or fmt.supports_datasets:
        buffer = io.BytesIO()
        store.dump(buffer, fmt=fmt, graph=target)
        return buffer.getvalue()
    return serialize(store.graph_triples(target), format=fmt, prefixes=PREFIXES) or b""


@router.put("/store", openapi_extra={"parameters": STORE_PARAMETERS})
async def store_put(request: Request, ctx: Context, _: Writer) -> Response:
    """Replace a graph with the posted data (201 created, 204 replaced)."""
    graph = _named(target_of(request.query_params), "PUT")
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
    return await _write(ctx, target, sources, replace=False, created_location=False)


@router.delete("/store", openapi_extra={"parameters": STORE_PARAMETERS})
async def store_delete(request: Request, ctx: Context, _: Writer) -> Response:
    """Drop a graph (404 when there is none)."""
    target = target_of(request.query_params)
    if target is None:
        raise InputError("DELETE needs ?graph=IRI or ?default (the whole store is not deleted)")
    async with ctx.write_lock:
        if isinstance(target, NamedNode) and not ctx.store.has_graph(target):
            raise NotFound(f"no graph <{target.value}> in the store")
        async with ctx.executor.writing():
            try:
                await anyio.to_thread.run_sync(partial(_drop, ctx.ingestor.writes, target))
            finally:
                ctx.cache.written()
    return Response(status_code=204)


def _drop(writes: WritePath, graph: GraphName) -> None:
    """A named graph goes; the stored default graph, which always exists, is emptied."""
    removed = set(writes.store.graph_triples(graph))
    exists = False if isinstance(graph, NamedNode) else None
    change = GraphChange(removed=removed, exists_after=exists)
    writes.commit([Write(graph, change, content=set())], label="DELETE /store")


def _named(target: Target, method: str) -> GraphName:
    if target is None:
        raise InputError(f"{method} needs ?graph=IRI or ?default")
    return target


async def _write(
    ctx: AppContext,
    graph: GraphName,
    sources: list[Source],
    *,
    replace: bool,
    created_location: bool,
) -> Response:
    method = "PUT" if replace and not created_location else "POST"
    async with ctx.write_lock:
        existed = isinstance(graph, DefaultGraph) or ctx.store.has_graph(graph)
        async with ctx.executor.writing():
            try:
                outcome = await anyio.to_thread.run_sync(
                    partial(
                        ctx.ingestor.load_all,
                        sources,
                        graph,
                        replace=replace,
                        label=f"{method} /store",
                    )
                )
            finally:
                ctx.cache.written()
    if existed and not created_location:
        return Response(status_code=204)
    summary = {
        "graph": graph_id(graph),
        "triples": outcome.triples,
        "warnings": [f.describe() for f in outcome.report.warnings],
    }
    headers = (
        {"Location": graph.value} if created_location and isinstance(graph, NamedNode) else None
    )
    return Response(json.dumps(summary).encode(), 201, headers, media_type="application/json")
