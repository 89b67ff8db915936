"""The embedded pyoxigraph backend of `GraphStore` (on disk, or in memory).

Writes that replace a source graph are one transaction: a kill during a load
leaves the store as it was before or after, never half.
"""

from __future__ import annotations

import fcntl
import gc
import os
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import islice
from pathlib import Path
from typing import IO

from pyoxigraph import (
    BlankNode,
    DefaultGraph,
    NamedNode,
    Quad,
    RdfFormat,
    Store,
    Triple,
    Variable,
    serialize,
)

from citytools.errors import StoreBusy
from citytools.service.store.interface import (
    GraphChange,
    GraphName,
    QueryResult,
    Term,
)
from citytools.service.store.snapshots import Delta

STAGING = "urn:x-citytools:staging/"  # private graphs a write fills before it commits
MAX_DELTA_QUADS = 50_000  # a write changing more quads keeps no delta (copies are remade)
_PATTERN = "?s ?p ?o"
_OWNERS: weakref.WeakValueDictionary[int, EmbeddedStore] = weakref.WeakValueDictionary()


def nquads(graph: GraphName, triples: Iterable[Triple]) -> bytes:
    """Serialise triples into `graph` as N-Quads (pyoxigraph terms print as N-Triples)."""
    suffix = " ." if isinstance(graph, DefaultGraph) else f" {graph} ."
    return "".join(f"{t.subject} {t.predicate} {t.object}{suffix}\n" for t in triples).encode()


class StoreReads:
    """The reads of `GraphStore` over a pyoxigraph store, whichever `_handle` gives."""

    def _handle(self) -> Store:
        raise NotImplementedError

    def query(
        self,
        sparql: str,
        *,
        substitutions: dict[Variable, Term] | None = None,
        default_graph: Sequence[GraphName] | None = None,
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

    def dump(self, output: IO[bytes], *, fmt: RdfFormat, graph: GraphName | None = None) -> None:
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
            self._drop_staging()
        self._version = 0
        # Writes begun, and the delta of the last one that committed (its number; None
        # when it changed more than MAX_DELTA_QUADS quads): the query executor keeps it
        # beside the next checkpoint (`snapshots.py`).
        self.writes = 0
        self.last_delta: tuple[int, Delta | None] | None = None
        _OWNERS[id(self._store)] = self

    @classmethod
    def owning(cls, store: Store) -> EmbeddedStore | None:
        """The EmbeddedStore that writes `store`, if any: the query executor is handed the
        pyoxigraph store and finds each write's delta here."""
        owner = _OWNERS.get(id(store))
        return owner if owner is not None and getattr(owner, "_store", None) is store else None

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

    def apply(self, changes: Mapping[GraphName, GraphChange]) -> None:
        self.writes += 1
        delta = _delta(self._store, changes)
        additions_only = all(
            not c.removed and c.exists_after is not False for c in changes.values()
        )
        if additions_only and not any(c.exists_after for c in changes.values()):
            if any(_has_blank(t) for c in changes.values() for t in c.added):
                # A parse would rename blank nodes; keep their identity (still one transaction).
                self._store.extend(
                    Quad(t.subject, t.predicate, t.object, graph)
                    for graph, change in changes.items()
                    for t in change.added
                )
            else:  # one load is one transaction, and much faster than a SPARQL text to parse
                self._store.load(
                    b"".join(nquads(g, c.added) for g, c in changes.items()),
                    format=RdfFormat.N_QUADS,
                )
        else:
            staged = _staged(changes)
            if staged:  # a kill now leaves only staging graphs, dropped at the next open
                self._store.extend(
                    Quad(t.subject, t.predicate, t.object, stage)
                    for stage, (_, _, triples) in staged.items()
                    for t in triples
                )
            self._store.update(_update_text(changes, staged))  # one request, one transaction
        self._written()
        self.last_delta = (self.writes, delta)

    def _drop_staging(self) -> None:
        """Staging graphs left by a write killed before it committed: never published."""
        for graph in self._store.named_graphs():
            if isinstance(graph, NamedNode) and graph.value.startswith(STAGING):
                self._store.remove_graph(graph)

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


def _delta(store: Store, changes: Mapping[GraphName, GraphChange]) -> Delta | None:
    """What `changes` will do to `store`, quad for quad, read before they are applied;
    None when that is more than MAX_DELTA_QUADS quads."""
    if sum(len(c.added) + len(c.removed) for c in changes.values()) > MAX_DELTA_QUADS:
        return None
    delta = Delta([], [])
    for graph, change in changes.items():
        if change.exists_after is False:  # dropped, or emptied (the default graph)
            held = store.quads_for_pattern(None, None, None, graph)
            delta.removed.extend(islice(held, MAX_DELTA_QUADS + 1 - len(delta)))
            if isinstance(graph, NamedNode) and store.contains_named_graph(graph):
                delta.dropped.append(graph)
        else:
            _changed(store, graph, change, delta)
        if len(delta) > MAX_DELTA_QUADS:
            return None
    return delta


def _changed(store: Store, graph: GraphName, change: GraphChange, delta: Delta) -> None:
    """What `change` really does to `graph`: not a removal of what is not there, nor an
    addition of what is; what it both removes and adds stays (`apply` writes removals
    first)."""
    removed = (Quad(t.subject, t.predicate, t.object, graph) for t in change.removed - change.added)
    delta.removed.extend(q for q in removed if q in store)
    added = (Quad(t.subject, t.predicate, t.object, graph) for t in change.added)
    delta.added.extend(q for q in added if q not in store)
    if (
        change.exists_after
        and isinstance(graph, NamedNode)
        and not store.contains_named_graph(graph)
    ):
        delta.created.append(graph)


Staged = dict[NamedNode, tuple[str, GraphName, set[Triple]]]  # stage -> (op, graph, triples)


def _staged(changes: Mapping[GraphName, GraphChange]) -> Staged:
    """The triples with blank nodes of each change, each set in a staging graph of its own.

    SPARQL Update text cannot name a stored blank node (`_:b` in DELETE DATA matches
    nothing, in INSERT DATA it is a fresh node), but a pattern can match one: the update
    then moves the staged triples into (or out of) their graph by `INSERT { … } WHERE`
    (`DELETE { … } WHERE`) over the staging graph, keeping every blank node's identity."""
    staged: Staged = {}
    for index, (graph, change) in enumerate(changes.items()):
        if change.exists_after is False:
            continue
        for op, triples in (("DELETE", change.removed), ("INSERT", change.added)):
            blank = {t for t in triples if _has_blank(t)}
            if blank:
                staged[NamedNode(f"{STAGING}{op.lower()}/{index}")] = (op, graph, blank)
    return staged


def _update_text(changes: Mapping[GraphName, GraphChange], staged: Staged) -> str:
    """One SPARQL Update doing every change: drops and creations, one DELETE DATA, the
    staged deletions, one INSERT DATA, the staged insertions, then the staging graphs go."""
    first: list[str] = []
    removed: dict[GraphName, set[Triple]] = {}
    added: dict[GraphName, set[Triple]] = {}
    for graph, change in changes.items():
        if change.exists_after is False:
            first.append(f"DROP SILENT {_target(graph)}")
            continue
        removed[graph] = {t for t in change.removed if not _has_blank(t)}
        added[graph] = {t for t in change.added if not _has_blank(t)}
        if change.exists_after and isinstance(graph, NamedNode):
            first.append(f"CREATE SILENT GRAPH {graph}")
    moves = {
        op: [
            f"{op} {{ {_blocks({graph: {_PATTERN}})} }} WHERE {{ GRAPH {stage} {{ ?s ?p ?o }} }}"
            for stage, (kind, graph, _) in staged.items()
            if kind == op
        ]
        for op in ("DELETE", "INSERT")
    }
    operations = list(first)
    if any(removed.values()):
        operations.append(f"DELETE DATA {{ {_blocks(removed)} }}")
    operations += moves["DELETE"]
    if any(added.values()):
        operations.append(f"INSERT DATA {{ {_blocks(added)} }}")
    operations += moves["INSERT"]
    operations += [f"DROP SILENT GRAPH {stage}" for stage in staged]
    return " ;\n".join(operations)


def _target(graph: GraphName) -> str:
    return "DEFAULT" if isinstance(graph, DefaultGraph) else f"GRAPH {graph}"


def _has_blank(triple: Triple) -> bool:
    return isinstance(triple.subject, BlankNode) or isinstance(triple.object, BlankNode)


def _blocks(triples: Mapping[GraphName, set[Triple] | set[str]]) -> str:
    parts = []
    for graph, some in triples.items():
        if some:
            body = "".join(f"{_statement(t)} .\n" for t in some)
            parts.append(body if isinstance(graph, DefaultGraph) else f"GRAPH {graph} {{\n{body}}}")
    return "\n".join(parts)


def _statement(triple: Triple | str) -> str:
    if isinstance(triple, str):
        return triple
    return f"{triple.subject} {triple.predicate} {triple.object}"


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
