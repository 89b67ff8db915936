"""The store interface every backend implements, and the change a write makes.

Everything above the store (ingest, queries, HTTP, CLI) talks to `GraphStore`, so a
remote SPARQL 1.1 store can stand in for the embedded one: its reads, plus one write
method, `apply`, that commits the changes of a write to several graphs in one
transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Protocol

from pyoxigraph import (
    BlankNode,
    DefaultGraph,
    Literal,
    NamedNode,
    QueryBoolean,
    QuerySolutions,
    QueryTriples,
    RdfFormat,
    Triple,
    Variable,
)

QueryResult = QuerySolutions | QueryTriples | QueryBoolean
Term = NamedNode | BlankNode | Literal | Triple
GraphName = NamedNode | DefaultGraph  # DefaultGraph() is the stored default graph


@dataclass
class GraphChange:
    """What one write does to one graph: the triples it adds (not there before) and removes
    (there before), and, for a named graph, whether it exists afterwards (None: as before;
    an empty named graph can exist)."""

    added: set[Triple] = field(default_factory=set)
    removed: set[Triple] = field(default_factory=set)
    exists_after: bool | None = None

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.exists_after is not None)


def graph_id(graph: GraphName) -> str:
    """How answers name a graph: its IRI, or "default" for the stored default graph."""
    return graph.value if isinstance(graph, NamedNode) else "default"


def shown(graph: GraphName) -> str:
    """How messages name a graph."""
    return f"<{graph.value}>" if isinstance(graph, NamedNode) else "the stored default graph"


class GraphStore(Protocol):
    """What ingest, queries and pages need from a quad store."""

    def query(
        self,
        sparql: str,
        *,
        substitutions: dict[Variable, Term] | None = None,
        default_graph: Sequence[GraphName] | None = None,
        named_graphs: Sequence[NamedNode] | None = None,
    ) -> QueryResult:
        """`default_graph=None` is the union of all graphs (as for every query the service
        answers); name `[DefaultGraph()]` for the stored default graph alone."""
        ...

    def apply(self, changes: Mapping[GraphName, GraphChange]) -> None:
        """Commit every change in one transaction: all of it is stored, or none of it."""
        ...

    def graph_triples(self, graph: NamedNode | DefaultGraph) -> Iterator[Triple]: ...

    def named_graphs(self) -> list[NamedNode]: ...

    def has_graph(self, graph: NamedNode) -> bool: ...

    def quad_count(self) -> int: ...

    def dump(self, output: IO[bytes], *, fmt: RdfFormat, graph: GraphName | None = None) -> None:
        """The whole dataset, or one graph (the stored default graph included)."""
        ...

    @property
    def version(self) -> int:
        """A number that changes on every write (for caches and ETags)."""
        ...

    def close(self) -> None: ...
