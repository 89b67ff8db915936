"""The inline lane: a query whose worst case is provably small is answered in the HTTP
process, without the round trip to a worker process.

Evaluation in the HTTP process cannot be stopped (pyoxigraph has no cancellation), so the
lane takes only a query of a closed set of shapes (`lane_shape.py`: up to three triple
patterns, anchored on a constant, FILTER, ORDER BY, LIMIT) whose work the store's
statistics bound under fixed counts, whatever plan pyoxigraph picks (`lane_cost.py`). And
it does not take the bound on trust: every evaluation is timed, and a shape (its skeleton)
that ever takes longer than `BUDGET_SECONDS` is never admitted again by this process. A
bound that some pyoxigraph release makes wrong costs one slow query per shape, and then
the lane corrects itself; anything else goes to the killable workers, as before.

The lane reads the checkpoint of the current store version, the one the workers read,
and only with statistics of that very checkpoint: figures of another version could let a
query through that the new data make costly. The first process that needs a version's
statistics computes them in a background thread (a lock file keeps the others from doing
the same work) and saves them beside the checkpoint, where every process finds them.

A checkpoint of at most `memory_quads` quads (`CITYTOOLS_INLINE_MEMORY_QUADS`) is also
read into an in-memory store: pyoxigraph answers a lookup there in about half the time it
takes over RocksDB, but walks past more quads at some lookups, so a query goes to the copy
when its bound over the copy fits, else to the checkpoint when its bound there does.

After a write, a lane at the version before applies the write's delta (`snapshots.Delta`,
kept beside the new checkpoint) to its copy and to its statistics, in a background thread,
instead of making both again (seconds of CPU per process for a large store). The copy is
changed in place, so the lane's lock is held meanwhile and the new version is switched to
before it is released: a query (which takes the lock too, without waiting for it) never
sees half a delta. A lane further behind, a write without a delta, or one larger than
`DELTA_FRACTION` of the store, makes the copy and the statistics again; until the new
version is ready, queries go to the workers.
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
from citytools.service.engine.lane_cost import StoreStats, bound_of
from citytools.service.engine.lane_shape import Shape, shape_of
from citytools.service.store.snapshots import Delta, delta_path, snapshot_path, stats_path

BUDGET_SECONDS = 0.1  # an inline evaluation longer than this bars its shape for good
DELTA_FRACTION = 0.25  # a delta of more than this share of the store's quads: rebuild
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
    def __init__(
        self, snapshots: Path, memory_quads: int, *, budget_seconds: float = BUDGET_SECONDS
    ) -> None:
        self._snapshots = snapshots
        self._memory_quads = memory_quads
        self._budget = budget_seconds
        self._lock = threading.Lock()  # held by a query, and while a delta is applied
        self._view: _View | None = None
        self._opening: int | None = None  # the version a background thread is opening
        self._next_try = 0.0
        self._barred: set[str] = set()  # skeletons that once took longer than the budget
        self.answered = 0
        self.answered_in_memory = 0
        self.rebuilds = 0  # versions opened whole: statistics read or computed, copy made
        self.deltas = 0  # versions reached by applying a delta

    def answer(self, request: QueryRequest, version: int) -> QueryAnswer | None:
        """The answer, if this query is cheap enough to give here; None sends it to a worker."""
        view = self._view
        if view is None or view.version != version:
            self._open(version)
            return None
        shape = shape_of(request.sparql)
        if shape is None or shape.template.skeleton in self._barred:
            return None
        if not self._lock.acquire(blocking=False):
            return None  # a delta is being applied
        try:
            view = self._view
            if view is None or view.version != version:
                return None
            # The copy in memory is faster at most lookups and slower at a few (`lane_cost`).
            for store, in_memory in ((view.in_memory, True), (view.on_disk, False)):
                if store is not None and bound_of(shape, view.stats, in_memory=in_memory).fits(
                    request.max_results
                ):
                    return self._timed(store, request, shape, in_memory)
            return None
        finally:
            self._lock.release()

    def _timed(
        self, store: Store, request: QueryRequest, shape: Shape, in_memory: bool
    ) -> QueryAnswer:
        started = time.perf_counter()
        try:
            answer = evaluate_small(store, request, reads_from=False)
        finally:
            if time.perf_counter() - started > self._budget:
                self._barred.add(shape.template.skeleton)
        self.answered += 1
        self.answered_in_memory += in_memory
        return answer

    def health(self) -> dict[str, object]:
        view = self._view
        return {
            "open": view is not None,
            "version": view.version if view else None,
            "in_memory": view.in_memory is not None if view else None,
            "answered": self.answered,
            "answered_in_memory": self.answered_in_memory,
            "rebuilds": self.rebuilds,
            "deltas": self.deltas,
            "barred_shapes": len(self._barred),
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
            view = self._view
            if view is None or view.version != version - 1 or not self._advance(view, version):
                self._rebuild(version)
        except (OSError, RuntimeError, ValueError, SyntaxError):  # gone (a newer write), or
            self._next_try = time.monotonic() + RETRY_SECONDS  # being made
        finally:
            self._opening = None

    def _advance(self, view: _View, version: int) -> bool:
        """Bring `view` to `version` by that version's delta; False when there is none to
        apply (the write kept none, or it is too large)."""
        path = delta_path(self._snapshots, version)
        if not path.exists():
            return False
        delta = Delta.load(path)
        if len(delta) > DELTA_FRACTION * view.stats.quads:
            return False
        on_disk = Store.read_only(str(snapshot_path(self._snapshots, version)))
        path = stats_path(self._snapshots, version)
        if path.exists():  # another process came first
            stats = StoreStats.load(path)
        else:
            stats = view.stats.after(delta, on_disk)
            stats.save(path)
        with self._lock:
            try:
                if view.in_memory is not None:
                    delta.apply_to(view.in_memory)
            except BaseException:
                self._view = None  # half applied: made again from the checkpoint
                raise
            self._view = _View(version, on_disk, view.in_memory, stats)
        self.deltas += 1
        return True

    def _rebuild(self, version: int) -> None:
        store = Store.read_only(str(snapshot_path(self._snapshots, version)))
        stats = _statistics(store, stats_path(self._snapshots, version))
        if stats is None:
            self._next_try = time.monotonic() + RETRY_SECONDS
            return
        copy = in_memory_copy(store) if stats.quads <= self._memory_quads else None
        with self._lock:
            self._view = _View(version, store, copy, stats)
        self.rebuilds += 1


def in_memory_copy(store: Store) -> Store:
    """A copy of `store` in memory, blank nodes named as in `store` (answers from the copy
    are the same bytes as from disk, and a delta's blank nodes are found in it), empty
    named graphs included."""
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
    for graph in store.named_graphs():
        copy.add_graph(graph)
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
