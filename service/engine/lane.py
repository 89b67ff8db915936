"""The inline lane: a query whose worst case is provably small is answered in the HTTP
process, without the round trip to a worker process.

Evaluation in the HTTP process cannot be stopped (pyoxigraph has no cancellation), so the
lane takes a query only when its shape (`query_shape.py`) and the store's statistics
(`query_cost.py`) bound its work below `BUDGET_US`, for any plan pyoxigraph's optimizer
can choose, and its answer within `max_results`: a lookup by IRI, the triples of one
resource, a join anchored on a constant. Such a query can hold the event loop for at most
about that long; anything else goes to the killable workers, as before.

The lane reads the checkpoint of the current store version, the one the workers read,
and only with the statistics of that very checkpoint: figures from another version could
let a query through that the new data make costly. After a write the lane stays shut
until the new checkpoint's statistics exist; the first process that needs them computes
them in a background thread (a lock file keeps the others from doing the same work) and
saves them beside the checkpoint, where every process of the service finds them.

A checkpoint of at most `memory_quads` quads (`CITYTOOLS_INLINE_MEMORY_QUADS`) is also
read into an in-memory store: pyoxigraph answers a lookup there in about half the time it
takes over RocksDB (`docs/benchmarks.md`), but walks past more quads at some lookups, so
a query goes to the copy when its bound over the copy (`query_cost`, `in_memory=True`)
fits the budget, else to the checkpoint when its bound there does. The copy is made in
the same background thread, through N-Quads, whose writing and reading run in Rust
without holding the GIL for long; the lane stays shut meanwhile, as it does until the
statistics exist.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from pyoxigraph import DefaultGraph, Quad, QuerySolutions, RdfFormat, Store

from citytools.service.engine.evaluate import evaluate_small
from citytools.service.engine.execution import QueryAnswer, QueryRequest
from citytools.service.engine.lane_cost import StoreStats, cost_of
from citytools.service.engine.lane_shape import shape_of
from citytools.service.store.snapshots import snapshot_path, stats_path

BUDGET_US = 100_000.0  # the most a query answered inline may cost by its bound: 0.1 s
_BLANK = "FILTER(isBlank(?s) || isBlank(?o))"
_BLANK_QUADS = f"SELECT * WHERE {{ {{ ?s ?p ?o }} UNION {{ GRAPH ?g {{ ?s ?p ?o }} }} {_BLANK} }}"
_DELETE_BLANK_QUADS = (
    f"DELETE {{ ?s ?p ?o }} WHERE {{ ?s ?p ?o {_BLANK} }};"
    f"DELETE {{ GRAPH ?g {{ ?s ?p ?o }} }} WHERE {{ GRAPH ?g {{ ?s ?p ?o {_BLANK} }} }}"
)
RETRY_SECONDS = 0.25  # between attempts to open a version whose statistics are not ready
STALE_LOCK_SECONDS = 300.0  # a lock this old was left by a process that died computing


@dataclass(frozen=True)
class _View:
    version: int
    on_disk: Store
    in_memory: Store | None  # a copy, when the store is small enough
    stats: StoreStats


class InlineLane:
    def __init__(self, snapshots: Path, memory_quads: int) -> None:
        self._snapshots = snapshots
        self._memory_quads = memory_quads
        self._view: _View | None = None
        self._opening: int | None = None  # the version a background thread is opening
        self._next_try = 0.0
        self.answered = 0
        self.answered_in_memory = 0

    def answer(self, request: QueryRequest, version: int) -> QueryAnswer | None:
        """The answer, if this query is cheap enough to give here; None sends it to a worker."""
        view = self._view
        if view is None or view.version != version:
            self._open(version)
            return None
        shape = shape_of(request.sparql)
        if shape is None:
            return None
        # The copy in memory is faster at most lookups and slower at a few (`query_cost`).
        for store, in_memory in ((view.in_memory, True), (view.on_disk, False)):
            if store is None:
                continue
            cost = cost_of(shape, view.stats, in_memory=in_memory)
            if cost.microseconds <= BUDGET_US and cost.rows <= request.max_results:
                answer = evaluate_small(store, request, reads_from=shape.template.reads_from)
                self.answered += 1
                self.answered_in_memory += in_memory
                return answer
        return None

    def health(self) -> dict[str, object]:
        view = self._view
        return {
            "open": view is not None,
            "version": view.version if view else None,
            "in_memory": view.in_memory is not None if view else None,
            "answered": self.answered,
            "answered_in_memory": self.answered_in_memory,
        }

    def close(self) -> None:
        self._view = None

    def _open(self, version: int) -> None:
        """Start opening `version` in the background, unless that is under way or failed
        just now (its checkpoint or statistics are not there yet)."""
        if self._opening is not None or time.monotonic() < self._next_try:
            return
        self._opening = version
        threading.Thread(target=self._load, args=(version,), daemon=True).start()

    def _load(self, version: int) -> None:
        try:
            store = Store.read_only(str(snapshot_path(self._snapshots, version)))
            stats = _statistics(store, stats_path(self._snapshots, version))
        except (OSError, RuntimeError, ValueError):  # gone (a newer write), or being made
            self._next_try = time.monotonic() + RETRY_SECONDS
        else:
            if stats is None:
                self._next_try = time.monotonic() + RETRY_SECONDS
            elif stats.quads <= self._memory_quads:
                self._view = _View(version, store, in_memory_copy(store), stats)
            else:
                self._view = _View(version, store, None, stats)
        finally:
            self._opening = None


def in_memory_copy(store: Store) -> Store:
    """A copy of `store` in memory, blank nodes named as in `store`: answers from the copy
    are the same bytes as from disk (an ETag names the same answer in every process)."""
    copy = Store()
    copy.bulk_load(store.dump(format=RdfFormat.N_QUADS), format=RdfFormat.N_QUADS)
    # Loading names blank nodes anew: their quads (few: OWL lists and restrictions, say)
    # are put back as they are.
    blank = store.query(_BLANK_QUADS)
    assert isinstance(blank, QuerySolutions)
    originals = [Quad(r["s"], r["p"], r["o"], r["g"] or DefaultGraph()) for r in blank]
    if originals:
        copy.update(_DELETE_BLANK_QUADS)
        copy.extend(originals)
    return copy


def _statistics(store: Store, path: Path) -> StoreStats | None:
    """The checkpoint's statistics: read from `path`, or computed and saved there by the
    one process that wins the lock file; None while another process computes them."""
    if path.exists():
        return StoreStats.load(path)
    lock = path.with_suffix(".lock")
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        if time.time() - lock.stat().st_mtime > STALE_LOCK_SECONDS:
            lock.unlink(missing_ok=True)
        return None
    try:
        stats = StoreStats.of(store)
        stats.save(path)
        return stats
    finally:
        os.close(fd)
        lock.unlink(missing_ok=True)
