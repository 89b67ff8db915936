"""Shared by the saved-query tests: the shipped catalogue, stores, and running a `QueryRequest`."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from pyoxigraph import BlankNode, Literal, NamedNode, RdfFormat, Triple, parse

from citytools.resources import queries_dir
from citytools.service.catalogue.saved import Catalogue
from citytools.service.engine.execution import QueryRequest
from citytools.service.engine.pool import InlineExecutor
from citytools.service.sparql.guard import service_targets
from citytools.service.store.embedded import EmbeddedStore
from citytools.settings import Settings

DATA = Path(__file__).parent / "data" / "queries"
BASE = "https://w3id.org/citytools/id/"
SHIPPED = Catalogue.load(queries_dir())
GOOD = Catalogue.load(DATA / "good")
SPEC_QUERIES = {
    "systems-of-authority",
    "authorities-using-system",
    "shared-systems",
    "contract-pipeline",
    "joint-procurement",
    "vendor-concentration",
    "single-supplier-dependency",
    "standards-coverage",
    "reuse-opportunities",
    "skills-peers",
    "region-comparison",
}
Term = NamedNode | BlankNode | Literal | Triple
Row = dict[str, str | None]


def warm_federation_check(catalogue: Catalogue) -> None:
    """Read every query of the catalogue with the SERVICE guard, as test modules load: it
    must read them all (it raises on a text it cannot vouch for) and find no endpoint.
    (The name is from when this warmed an rdflib parser ahead of the worker threads.)"""
    for query in catalogue:
        assert service_targets(query.text) == (), query.name


def small_store() -> EmbeddedStore:
    """An in-memory store holding `small.ttl` in one named graph."""
    store = EmbeddedStore(None)
    data = (DATA / "small.ttl").read_bytes()
    store.raw.load(data, format=RdfFormat.TURTLE, to_graph=NamedNode(BASE + "graph/small"))
    return store


def term(ntriples: str) -> Term:
    """A term from its N-Triples form, as `QueryRequest.substitutions` carries it."""
    quad = next(iter(parse(f"<urn:s> <urn:p> {ntriples} .", format=RdfFormat.N_TRIPLES)))
    return quad.object


def run(store: EmbeddedStore, request: QueryRequest) -> tuple[list[str], list[Row]]:
    """Evaluate through the service's `InlineExecutor` (SPARQL JSON results, union default
    graph) and read the answer back as {column: lexical value or None}."""
    executor = InlineExecutor(store.raw, Settings(_env_file=None))  # type: ignore[call-arg]
    answer = asyncio.run(executor.run(request, timeout=60))
    assert answer.kind == "select"
    document = json.loads(answer.body)
    columns: list[str] = document["head"]["vars"]
    rows = [
        {c: (b[c]["value"] if c in b else None) for c in columns}
        for b in document["results"]["bindings"]
    ]
    return columns, rows


def value(row: Row, column: str) -> str | None:
    return row[column]
