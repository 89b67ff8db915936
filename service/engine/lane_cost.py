"""Store statistics, and the bound on the work of a query of an admitted shape.

`StoreStats` are figures of one checkpoint: quads in all; per predicate its quads
(`count`), the most quads one subject has with it (`max_out`) and the most one object has
(`max_in`); over all predicates the most quads of one subject and of one object. Quads are
counted in every graph, so a triple held by two graphs counts twice: the figures bound any
dataset a query reads. After a write they are brought up to date by the write's delta.

The bound (`bound_of`) does not model pyoxigraph's planner: it holds whichever join order
and join algorithm it picks. For a pattern `i`, let `match(i, B)` be the most quads it can
match once the variables `B` have values: with its subject fixed (a constant, or in `B`)
and a known predicate, `max_out` of the predicate; with its object fixed, `max_in`; and so
on (`StoreStats.degree`). Then, for any set X of the query's patterns:

* rows(X) — the solutions of the join of X alone — are at most rows(X - i) *
  match(i, variables of X - i) for every i in X: each solution of X is one of X - i
  extended by a quad i matches given those values. The least of these bounds holds, and
  for a single pattern it is match(i, {}). The shape (`lane_shape.py`) makes them small:
  a pattern is anchored on a constant, or linked through a variable to one that is.
* Any plan is a tree of joins whose every part is the join of some X, evaluated either
  once or once per row of what it is joined with, given that row's values (a hash join,
  a nested-loop join). So a plan of k patterns builds at most (2k - 1) * max rows(X)
  rows, and looks pattern i up at most max(1, rows(X)) times for the X it is joined with,
  each lookup walking past at most walk(i, variables of X) index entries.
* On disk (RocksDB), a lookup seeks the quads it matches: walk = match. In memory,
  pyoxigraph keeps a list of quads per term and position and walks the shortest list of
  the positions fixed: walk = the least of `subject_max`, the predicate's `count` and
  `object_max` over the fixed positions.

The answer has at most rows(all) solutions (fewer with LIMIT), a CONSTRUCT as many times its
template's triples. The lane admits a query whose bound is under every cap below; these
caps are counts, not times: `lane.py` times each evaluation and stops admitting a shape that
ever takes longer than its budget, so a figure here that is wrong for some pyoxigraph
release costs at most one slow query per shape. `tests/test_query_cost.py` holds the
bound against counted work on generated queries, for every join order.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from pyoxigraph import Literal, NamedNode, Quad, QuerySolutions, Store

from citytools.service.engine.lane_shape import Pattern, Shape, Template
from citytools.service.store.snapshots import Delta

MAX_ROWS = 2_000  # solutions (or triples) the answer may have
MAX_BUILT = 20_000  # rows the joins may build
MAX_LOOKUPS = 2_000  # index lookups
MAX_WALKED = 200_000  # index entries walked past

_QUADS = "{ { ?s ?p ?o } UNION { GRAPH ?g { ?s ?p ?o } } }"  # every graph, the default too
_PER_PREDICATE = f"SELECT ?p (COUNT(*) AS ?n) WHERE {_QUADS} GROUP BY ?p"


def _most(per: str, by_predicate: bool) -> str:
    """The most quads sharing one `per` term (and one predicate, when `by_predicate`)."""
    group = f"?p ?{per}" if by_predicate else f"?{per}"
    inner = f"SELECT {group} (COUNT(*) AS ?n) WHERE {_QUADS} GROUP BY {group}"
    outer = "?p " if by_predicate else ""
    return f"SELECT {outer}(MAX(?n) AS ?m) WHERE {{ {inner} }}" + (
        " GROUP BY ?p" if by_predicate else ""
    )


@dataclass(frozen=True, eq=False)
class StoreStats:
    quads: int
    count: dict[str, int]
    max_out: dict[str, int]
    max_in: dict[str, int]
    subject_max: int
    object_max: int

    @classmethod
    def of(cls, store: Store) -> StoreStats:
        """Read off `store` (a few aggregate queries over every quad)."""
        count = _by_predicate(store, _PER_PREDICATE, "n")
        return cls(
            quads=sum(count.values()),
            count=count,
            max_out=_by_predicate(store, _most("s", True), "m"),
            max_in=_by_predicate(store, _most("o", True), "m"),
            subject_max=_single(store, _most("s", False)),
            object_max=_single(store, _most("o", False)),
        )

    def after(self, delta: Delta, store: Store) -> StoreStats:
        """The statistics of `store`, which is this one's store changed by `delta`.

        Counts are exact. A removal can only lower a most-per-term figure, an addition
        raise it for the terms it adds to: those are recounted in `store`, the rest are
        kept. So after removals a figure may stay above the truth, never below it, which
        only makes the lane admit less (a rebuild, two versions behind, counts afresh)."""
        count = dict(self.count)
        for quad in delta.removed:
            count[quad.predicate.value] -= 1
        for quad in delta.added:
            count[quad.predicate.value] = count.get(quad.predicate.value, 0) + 1
        count = {p: n for p, n in count.items() if n > 0}
        max_out = {p: n for p, n in self.max_out.items() if p in count}
        max_in = {p: n for p, n in self.max_in.items() if p in count}
        subject_max, object_max = self.subject_max, self.object_max
        for s, p in {(q.subject, q.predicate) for q in delta.added}:
            held = _matches(store.quads_for_pattern(s, p, None, None))
            max_out[p.value] = max(max_out.get(p.value, 0), held)
        for o, p in {(q.object, q.predicate) for q in delta.added}:
            held = _matches(store.quads_for_pattern(None, p, o, None))
            max_in[p.value] = max(max_in.get(p.value, 0), held)
        for s in {q.subject for q in delta.added}:
            subject_max = max(subject_max, _matches(store.quads_for_pattern(s, None, None, None)))
        for o in {q.object for q in delta.added}:
            object_max = max(object_max, _matches(store.quads_for_pattern(None, None, o, None)))
        return StoreStats(sum(count.values()), count, max_out, max_in, subject_max, object_max)

    def save(self, path: Path) -> None:
        """Written whole under a name of this process, then renamed: readers never see half
        a file, and two processes saving at once do not mix their bytes."""
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
        partial.write_text(json.dumps(asdict(self)), encoding="utf-8")
        partial.replace(path)

    @classmethod
    def load(cls, path: Path) -> StoreStats:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(**data)

    def degree(self, predicate: str | None, state: str, subject: bool, object_: bool) -> int:
        """Quads matching one pattern when the marked positions are fixed. `state` says
        what the predicate is: "iri" (known), "fixed" (a variable with a value: any
        predicate's figures) or "free"."""
        if state == "iri" and predicate is not None:
            if subject and object_:
                return min(self.max_out.get(predicate, 0), self.max_in.get(predicate, 0))
            if subject:
                return self.max_out.get(predicate, 0)
            if object_:
                return self.max_in.get(predicate, 0)
            return self.count.get(predicate, 0)
        if state == "fixed":
            figures = (self.max_out if subject else self.max_in if object_ else self.count).values()
            return max(figures, default=0)
        if subject and object_:
            return min(self.subject_max, self.object_max)
        if subject:
            return self.subject_max
        if object_:
            return self.object_max
        return self.quads


@dataclass(frozen=True)
class Bound:
    """The most a query can do, whatever plan pyoxigraph picks for it."""

    rows: int  # solutions (1 for ASK) or triples written
    built: int  # rows built by its joins
    lookups: int  # index lookups
    walked: int  # index entries walked past

    def fits(self, max_results: int) -> bool:
        return (
            self.rows <= min(max_results, MAX_ROWS)
            and self.built <= MAX_BUILT
            and self.lookups <= MAX_LOOKUPS
            and self.walked <= MAX_WALKED
        )


def bound_of(shape: Shape, stats: StoreStats, *, in_memory: bool) -> Bound:
    """The bound over the checkpoint on disk, or over its copy in pyoxigraph's memory."""
    return _bound(shape.template, shape.predicates, stats, in_memory)


@lru_cache(maxsize=4096)
def _bound(
    template: Template, predicates: tuple[str | None, ...], stats: StoreStats, in_memory: bool
) -> Bound:
    patterns = list(zip(template.patterns, predicates, strict=True))
    k = len(patterns)
    names = [p.variables() for p, _ in patterns]

    def bound_by(subset: int) -> frozenset[str]:
        return frozenset().union(*(names[i] for i in range(k) if subset >> i & 1))

    # rows[X] for each set X of patterns (a bit mask); X - i < X, so it comes first.
    rows = {0: 1}
    for subset in range(1, 1 << k):
        members = [i for i in range(k) if subset >> i & 1]
        rows[subset] = min(
            rows[subset & ~(1 << i)] * _match(*patterns[i], bound_by(subset & ~(1 << i)), stats)
            for i in members
        )
    del rows[0]
    lookups = walked = 0
    for i, (pattern, predicate) in enumerate(patterns):
        # Joined with X (the empty X: evaluated once, alone), looked up once per row of X.
        joined = [(1, frozenset[str]())]
        joined += [(max(1, rows[x]), bound_by(x)) for x in rows if not x >> i & 1]
        lookups += max(times for times, _ in joined)
        walked += max(t * _walk(pattern, predicate, b, stats, in_memory) for t, b in joined)
    most = max(rows.values())
    solutions = rows[(1 << k) - 1]
    built = (2 * k - 1) * most + (solutions * solutions.bit_length() if template.ordered else 0)
    if template.limit is not None:
        solutions = min(solutions, template.limit)
    written = 1 if template.form == "ASK" else solutions * max(1, template.construct)
    return Bound(written, built, lookups, walked)


def _match(
    pattern: Pattern, predicate: str | None, fixed: frozenset[str], stats: StoreStats
) -> int:
    """The most quads `pattern` matches once its constants and the `fixed` variables have
    values."""
    if pattern.predicate is None:
        state = "iri"
    else:
        state = "fixed" if pattern.predicate in fixed else "free"
    return stats.degree(
        predicate,
        state,
        pattern.subject is None or pattern.subject in fixed,
        pattern.object is None or pattern.object in fixed,
    )


def _walk(
    pattern: Pattern,
    predicate: str | None,
    fixed: frozenset[str],
    stats: StoreStats,
    in_memory: bool,
) -> int:
    """The most index entries one lookup of `pattern` walks past once its constants and
    the `fixed` variables have values."""
    if not in_memory:
        return _match(pattern, predicate, fixed, stats)
    lists = []
    if pattern.subject is None or pattern.subject in fixed:
        lists.append(stats.subject_max)
    if pattern.predicate is None:
        lists.append(stats.count.get(predicate or "", 0))
    elif pattern.predicate in fixed:
        lists.append(max(stats.count.values(), default=0))
    if pattern.object is None or pattern.object in fixed:
        lists.append(stats.object_max)
    return min(lists, default=stats.quads)


def _matches(quads: Iterable[Quad]) -> int:
    return sum(1 for _ in quads)


def _by_predicate(store: Store, sparql: str, column: str) -> dict[str, int]:
    result = store.query(sparql)
    assert isinstance(result, QuerySolutions)
    figures = {}
    for row in result:
        predicate, value = row["p"], row[column]
        if isinstance(predicate, NamedNode) and isinstance(value, Literal):
            figures[predicate.value] = int(value.value)
    return figures


def _single(store: Store, sparql: str) -> int:
    result = store.query(sparql)
    assert isinstance(result, QuerySolutions)
    value = next(iter(result))["m"]
    return int(value.value) if isinstance(value, Literal) else 0
