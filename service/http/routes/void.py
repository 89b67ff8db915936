"""`GET /.well-known/void` and the dumps it links: how another region finds and copies us.

The VoID description names the whole dataset (`void:triples` = every quad in the store),
one `void:subset` per named graph with what the provenance graph says of it (its size,
source, licence and rights, whether it is illustrative), the SPARQL endpoint, the IRI
space data are minted in, the vocabularies used, and the dumps.

`GET /dump.nq.gz` and `/dump.trig.gz` stream the whole store, gzipped, as the store writes
it: a thread serialises into a bounded queue the response reads from, so a store of
millions of quads is never held in memory (a slow client slows the serialiser down).
"""

from __future__ import annotations

import gzip
import io
import queue
import threading
from collections.abc import AsyncIterator
from functools import partial
from typing import IO, cast

import anyio
from fastapi import APIRouter, Request
from pyoxigraph import Literal, NamedNode, QuerySolutions, RdfFormat, Triple, serialize
from starlette.responses import Response, StreamingResponse

from citytools import vocab as v
from citytools.service.http import conneg
from citytools.service.http.cache import CachedAnswer, CacheKey, validator_headers
from citytools.service.http.deps import Context
from citytools.service.store.interface import GraphStore

router = APIRouter(tags=["Dataset description and dumps"])

DUMPS = {"nq": RdfFormat.N_QUADS, "trig": RdfFormat.TRIG}
VOCABULARIES = (v.CT, v.PROV, v.DCT, v.ORG, v.SKOS, v.SCHEMA, v.DCAT, v.CPOV, v.FOAF)
# What a subset says of itself, copied from the provenance graph.
SUBSET_FACTS = (
    v.RDFS.label,
    v.DCT.source,
    v.DCT.license,
    v.DCT.rights,
    v.DCT.rightsHolder,
    v.DCT.modified,
    v.PROV.generatedAtTime,
    v.VOID.triples,
    v.ILLUSTRATIVE,
)
_CHUNK = 1 << 16
_QUEUED_CHUNKS = 16  # at most ~1 MiB of compressed dump waits for the client


@router.get("/.well-known/void")
async def void(request: Request, ctx: Context) -> Response:
    """The VoID description of the dataset (Turtle, N-Triples, JSON-LD or RDF/XML)."""
    name = request.query_params.get("format")
    offer = conneg.choose_one(
        request.headers.get("accept"), [name] if name else [], conneg.GRAPHS, "the description"
    )
    origin = str(request.base_url).rstrip("/")
    key: CacheKey = ("void", origin, offer.name)
    version, validators, unchanged = ctx.revalidate(request, key)
    if unchanged is not None:
        return unchanged
    cached = ctx.cache.get(version, key)
    if cached is None:
        provenance = ctx.ingestor.writes.provenance
        triples = await anyio.to_thread.run_sync(
            partial(describe, ctx.store, origin, ctx.settings.base_iri, provenance)
        )
        body = serialize(triples, format=offer.rdf_format, prefixes=v.PREFIXES) or b""
        cached = CachedAnswer(body, offer.content_type, "graph")
        ctx.cache.put(version, key, cached)
    return Response(
        cached.body, headers=validator_headers(validators), media_type=cached.media_type
    )


def describe(store: GraphStore, origin: str, base: str, provenance: NamedNode) -> list[Triple]:
    dataset = NamedNode(base + "dataset")
    out = [
        Triple(dataset, v.RDF.type, v.VOID.Dataset),
        Triple(dataset, v.DCT["title"], Literal("City Tools Graph")),  # .title is str's
        Triple(
            dataset,
            v.DCT.description,
            Literal("Which IT systems local authorities run, for which services, from whom."),
        ),
        Triple(dataset, v.VOID.triples, Literal(store.quad_count())),
        Triple(dataset, v.VOID.sparqlEndpoint, NamedNode(origin + "/sparql")),
        Triple(dataset, v.VOID.uriSpace, Literal(base)),
        *(Triple(dataset, v.VOID.vocabulary, NamedNode(str(ns))) for ns in VOCABULARIES),
        *(Triple(dataset, v.VOID.dataDump, NamedNode(f"{origin}/dump.{s}.gz")) for s in DUMPS),
    ]
    described = _subset_facts(store, provenance)
    for graph in store.named_graphs():
        out.append(Triple(dataset, v.VOID.subset, graph))
        out.append(Triple(graph, v.RDF.type, v.VOID.Dataset))
        facts = described.get(graph, [])
        if not any(t.predicate == v.VOID.triples for t in facts):  # e.g. the provenance graph
            facts.append(Triple(graph, v.VOID.triples, Literal(_size(store, graph))))
        out.extend(facts)
    return out


def _subset_facts(store: GraphStore, provenance: NamedNode) -> dict[NamedNode, list[Triple]]:
    wanted = " ".join(str(p) for p in SUBSET_FACTS)
    rows = store.query(
        f"SELECT ?g ?p ?o WHERE {{ GRAPH {provenance} {{ ?g ?p ?o VALUES ?p {{ {wanted} }} }} }}"
    )
    assert isinstance(rows, QuerySolutions)
    found: dict[NamedNode, list[Triple]] = {}
    for row in rows:
        graph = row["g"]
        if isinstance(graph, NamedNode):
            found.setdefault(graph, []).append(Triple(graph, row["p"], row["o"]))
    return found


def _size(store: GraphStore, graph: NamedNode) -> int:
    rows = store.query(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH {graph} {{ ?s ?p ?o }} }}")
    assert isinstance(rows, QuerySolutions)
    count = next(iter(rows))["n"]
    return int(count.value) if isinstance(count, Literal) else 0


@router.get("/dump.nq.gz")
async def dump_nquads(request: Request, ctx: Context) -> Response:
    """The whole store as gzipped N-Quads, streamed."""
    return _dump(request, ctx, "nq")


@router.get("/dump.trig.gz")
async def dump_trig(request: Request, ctx: Context) -> Response:
    """The whole store as gzipped TriG, streamed."""
    return _dump(request, ctx, "trig")


def _dump(request: Request, ctx: Context, suffix: str) -> Response:
    _, validators, unchanged = ctx.revalidate(request, ("dump", suffix))
    if unchanged is not None:
        return unchanged
    headers = {
        **validator_headers(validators),
        "Content-Disposition": f'attachment; filename="citytools.{suffix}.gz"',
    }
    chunks = _streamed(ctx.store, DUMPS[suffix])
    return StreamingResponse(chunks, media_type="application/gzip", headers=headers)


class _Stopped(Exception):
    """The client went away: the serialiser stops."""


class _Pipe(io.RawIOBase):
    """What the serialiser writes to (through gzip): chunks into a bounded queue."""

    def __init__(self, out: queue.Queue[bytes | BaseException | None], stop: threading.Event):
        self._out = out
        self._stop = stop
        self._buffer = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self._buffer += data
        while len(self._buffer) >= _CHUNK:
            self._put(bytes(self._buffer[:_CHUNK]))
            del self._buffer[:_CHUNK]
        return len(data)

    def flush_rest(self) -> None:
        if self._buffer:
            self._put(bytes(self._buffer))
            self._buffer.clear()

    def _put(self, chunk: bytes) -> None:
        while not self._stop.is_set():  # waits while the client is slow
            try:
                self._out.put(chunk, timeout=0.5)
                return
            except queue.Full:
                continue
        raise _Stopped


async def _streamed(store: GraphStore, fmt: RdfFormat) -> AsyncIterator[bytes]:
    chunks: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=_QUEUED_CHUNKS)
    stop = threading.Event()

    def produce() -> None:
        pipe = _Pipe(chunks, stop)
        try:
            with gzip.GzipFile(fileobj=pipe, mode="wb") as compressed:
                store.dump(cast(IO[bytes], compressed), fmt=fmt)
            pipe.flush_rest()
        except _Stopped:
            return
        except Exception as exc:  # handed to the response, which raises it
            chunks.put(exc)
            return
        chunks.put(None)

    threading.Thread(target=produce, daemon=True, name="citytools-dump").start()
    try:
        while True:
            item = await anyio.to_thread.run_sync(chunks.get)
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()  # a client that went away frees the serialiser
