"""The contract between the HTTP layer and query evaluation.

The HTTP layer negotiates a result format and builds a `QueryRequest`; an
executor evaluates it (in a worker process it can kill at the deadline) and
returns the serialised answer. Everything in a request is plain data, so it
crosses process boundaries.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Literal, Protocol

QueryKind = Literal["select", "ask", "construct", "describe"]


@dataclass(frozen=True)
class QueryRequest:
    sparql: str
    # variable name (no '?') -> term in N-Triples syntax: '<https://…>', '"2"^^<…#integer>'
    substitutions: dict[str, str] = field(default_factory=dict)
    # None = the union of every named graph (the product's default graph)
    default_graph: tuple[str, ...] | None = None
    named_graphs: tuple[str, ...] | None = None
    # media type chosen by content negotiation for each kind of answer
    solutions_format: str = "application/sparql-results+json"
    graph_format: str = "text/turtle"
    max_results: int = 100_000
    base_iri: str | None = None


@dataclass(frozen=True)
class QueryAnswer:
    body: bytes
    media_type: str
    kind: QueryKind
    rows: int | None  # solutions or triples written (1 for ASK); None: not counted
    # (the inline lane writes small answers whole, without counting their solutions)
    truncated: bool  # True when max_results cut the answer


class QueryExecutor(Protocol):
    async def run(self, request: QueryRequest, *, timeout: float) -> QueryAnswer:
        """Evaluate; raise InputError (bad SPARQL), FederationRefused, QueryTimeout."""
        ...

    def answer_now(self, request: QueryRequest) -> QueryAnswer | None:
        """The answer when it can be given at once, without waiting or risk of running
        long (`inline_lane.py`); None when only `run` can give it."""
        ...

    def writing(self) -> AbstractAsyncContextManager[None]:
        """Held around every write: waits for running queries, holds new ones, then lets
        readers see the new store version."""
        ...

    async def close(self) -> None: ...
