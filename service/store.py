"""The store interface every backend implements, and the embedded pyoxigraph backend.

Everything above this module (ingest, HTTP, CLI) talks to `GraphStore`, so a
remote SPARQL 1.1 endpoint (`--endpoint`) can stand in for the embedded store.

Writes that replace a source graph are one transaction: a kill during a load
leaves the store as it was before or after, never half.
"""

from __future__ import annotations

import fcntl
import gc
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
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
    Store,
    Triple,
    Variable,
    serialize,
)

from citytools.errors import StoreBusy

QueryResult = QuerySolutions | QueryTriples | QueryBoolean
Term = NamedNode | BlankNode | Literal | Triple


class GraphStore(Protocol):
    """What ingest, queries and pages need from a quad store."""

    def query(
        self,
        sparql: str,
        *,
        substitutions: dict[Variable, Term] | None = None,
        default_graph: Sequence[NamedNode] | None = None,
        named_graphs: Sequence[NamedNode] | None = None,
    ) -> QueryResult: ...

    def update(self, sparql: str) -> None: ...

    def replace_graph(self, graph: NamedNode, triples: Sequence[Triple]) -> None:
        """Atomically make `graph` hold exactly `triples`."""
        ...

    def add_to_graph(self, graph: NamedNode, triples: Sequence[Triple]) -> None:
        """Atomically add `triples` to `graph`."""
        ...

    def drop_graph(self, graph: NamedNode) -> None: ...

    def graph_triples(self, graph: NamedNode | DefaultGraph) -> Iterator[Triple]: ...

    def named_graphs(self) -> list[NamedNode]: ...

    def has_graph(self, graph: NamedNode) -> bool: ...

    def quad_count(self) -> int: ...

    def dump(
        self, output: IO[bytes], *, fmt: RdfFormat, graph: NamedNode | None = None
    ) -> None: ...

    @property
    def version(self) -> int:
        """A number that changes on every write (for caches and ETags)."""
        ...

    def close(self) -> None: ...


def nquads(graph: NamedNode, triples: Iterable[Triple]) -> bytes:
    """Serialise triples into `graph` as N-Quads (pyoxigraph terms print as N-Triples)."""
    target = str(graph)
    return "".join(f"{t.subject} {t.predicate} {t.object} {target} .\n" for t in triples).encode()


class StoreReads:
    """The reads of `GraphStore` over a pyoxigraph store, whichever `_handle` gives."""

    def _handle(self) -> Store:
        raise NotImplementedError

    def query(
        self,
        sparql: str,
        *,
        substitutions: dict[Variable, Term] | None = None,
        default_graph: Sequence[NamedNode] | None = None,
        named_graphs: Sequence[NamedNode] | None = None,
    ) -> QueryResult:
        return self._handle().query(
            sparql,
            substitutions=substitutions,
            default_graph=list(default_graph) if default_graph is not None else None,
            named_graphs=list(named_graphs) if named_graphs is not None else None,
            use_default_graph_as_union=default_graph is None,
        )

    def graph_triples(self, graph: NamedNode | DefaultGraph) -> Iterator[Triple]:
        for quad in self._handle().quads_for_pattern(None, None, None, graph):
            yield quad.triple

    def named_graphs(self) -> list[NamedNode]:
        graphs = self._handle().named_graphs()
        return sorted((g for g in graphs if isinstance(g, NamedNode)), key=str)

    def has_graph(self, graph: NamedNode) -> bool:
        return bool(self._handle().contains_named_graph(graph))

    def quad_count(self) -> int:
        return len(self._handle())

    def dump(self, output: IO[bytes], *, fmt: RdfFormat, graph: NamedNode | None = None) -> None:
        store = self._handle()
        if graph is None:
            store.dump(output, format=fmt)
        else:
            serialize(store.quads_for_pattern(None, None, None, graph), output, format=fmt)


class EmbeddedStore(StoreReads):
    """pyoxigraph on disk (or in memory), opened by one writing process at a time.

    A lock file in the store directory makes a second writer fail fast with a
    clear message instead of RocksDB's lock error.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock: IO[str] | None = None
        if path is None:
            self._store = Store()
        else:
            path.mkdir(parents=True, exist_ok=True)
            self._lock = _take_lock(path)
            self._store = Store(str(path))
        self._version = 0

    @property
    def raw(self) -> Store:
        return self._store

    def _handle(self) -> Store:
        return self._store

    @property
    def version(self) -> int:
        return self._version

    def _written(self) -> None:
        self._version += 1

    def update(self, sparql: str) -> None:
        self._store.update(sparql)
        self._written()

    def replace_graph(self, graph: NamedNode, triples: Sequence[Triple]) -> None:
        if not self._store.contains_named_graph(graph):
            self._store.load(nquads(graph, triples), format=RdfFormat.N_QUADS)
        else:
            # One SPARQL Update is one transaction: what it removes and adds commit together.
            change = _replacement(graph, set(self.graph_triples(graph)), set(triples))
            if change:
                self._store.update(change)
        self._written()

    def add_to_graph(self, graph: NamedNode, triples: Sequence[Triple]) -> None:
        self._store.load(nquads(graph, triples), format=RdfFormat.N_QUADS)
        self._written()

    def drop_graph(self, graph: NamedNode) -> None:
        self._store.update(f"DROP SILENT GRAPH {graph}")
        self._written()

    def flush(self) -> None:
        if self.path is not None:
            self._store.flush()

    def close(self) -> None:
        """Flush and release the store; RocksDB's own lock goes with the last reference."""
        if not hasattr(self, "_store"):
            return
        self.flush()
        del self._store
        # Query results can sit in reference cycles that keep the RocksDB handle (and its
        # lock) alive until a collection: collect now, so the store can be opened again.
        gc.collect()
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def _replacement(graph: NamedNode, old: set[Triple], new: set[Triple]) -> str:
    """The update that turns `old` into `new`: only the difference when it is small (a
    re-upload with a few rows edited parses and writes that much), else drop and insert.
    Blank nodes cannot be matched across parses, nor stand in DELETE DATA: drop and insert."""
    removed, added = old - new, new - old
    blank = any(
        isinstance(term, BlankNode) for t in (*removed, *added) for term in (t.subject, t.object)
    )
    if blank or len(removed) > len(old) // 2:
        return f"DROP SILENT GRAPH {graph} ;\n" + _insert(graph, new)
    operations = [f"DELETE DATA {{ GRAPH {graph} {{\n{_lines(removed)}}} }}"] if removed else []
    if added:
        operations.append(_insert(graph, added))
    return " ;\n".join(operations)  # "" when nothing changed


def _insert(graph: NamedNode, triples: Iterable[Triple]) -> str:
    return f"INSERT DATA {{ GRAPH {graph} {{\n{_lines(triples)}}} }}"


def _lines(triples: Iterable[Triple]) -> str:
    return "".join(f"{t.subject} {t.predicate} {t.object} .\n" for t in triples)


def _take_lock(path: Path) -> IO[str]:
    handle = open(path / "citytools.lock", "w")  # noqa: SIM115 - held for the store's lifetime
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise StoreBusy(
            f"the store at {path} is in use by another process (is `citytools serve` running?); "
            "load through the running service's /store route, or stop the server first"
        ) from None
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def open_store(path: Path | None) -> EmbeddedStore:
    return EmbeddedStore(path)
