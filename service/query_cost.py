"""The worst-case cost of a query of known shape, from statistics of the store.

`StoreStats` are computed once per store version (after each write, in the background):
quads in all; per predicate, its quads (`count`), the most quads one subject has with it
(`max_out`) and the most one object has (`max_in`); over all predicates, the most quads
of one subject and of one object. Quads are counted in every graph, so a triple held by
two graphs counts twice: the figures stay upper bounds for any dataset a query reads.

From these, for a query shape (`query_shape.py`):

* the *degree* of a pattern once some of its variables have values: the most quads it
  can then match (its *card* when only its constants are fixed);
* patterns linked by shared variables form sets; in each set, a join of a linked subset
  S has at most rows(S - p) * degree(p, the variables of S - p) rows, for any p whose
  removal leaves S linked; `_join_bounds` takes the least such bound, subset by subset;
* the answer is the product of the sets' joins (sets that share no variable make a
  cartesian product); the *work* is every pattern scanned once whole (as a hash join
  would) plus each join step at most the widest join of two or more patterns, so it
  holds for any plan that joins patterns through shared variables.

Cost in microseconds weighs quads scanned, rows joined and rows written by costs per
row measured with pyoxigraph 0.5 (`bench/`), with a margin. Every factor is at least 1:
OPTIONAL keeps rows its pattern does not match.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from pyoxigraph import Literal, NamedNode, QuerySolutions, Store

from citytools.service.query_shape import Shape, Template, Variable

# Microseconds per quad scanned, per row joined, per row written (measured: 0.1, 0.2-0.3,
# 5-8 on the benchmark machine; the constants are about twice that).
SCAN_US = 0.2
JOIN_US = 0.5
ROW_US = 10.0

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

    def save(self, path: Path) -> None:
        """Written whole under another name, then renamed: readers never see half a file."""
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(asdict(self)), encoding="utf-8")
        partial.replace(path)

    @classmethod
    def load(cls, path: Path) -> StoreStats:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(**data)

    def degree(self, predicate: str | None, state: str, subject: bool, object_: bool) -> int:
        """Quads matching one pattern when the marked positions are fixed. `state` says
        what the predicate is: "iri" (known), "fixed" (fixed but unknown here: any
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
class Cost:
    scanned: int
    joined: int
    rows: int

    @property
    def microseconds(self) -> float:
        return SCAN_US * self.scanned + JOIN_US * self.joined + ROW_US * self.rows


def cost_of(shape: Shape, stats: StoreStats) -> Cost:
    return _cost(shape.template, shape.predicate_iris, stats)


@lru_cache(maxsize=4096)
def _cost(template: Template, iris: tuple[str | None, ...], stats: StoreStats) -> Cost:
    patterns = [
        _Bound(p.subject, p.predicate, iri, p.object)
        for p, iri in zip(template.patterns, iris, strict=True)
    ]
    groups = [p.optional for p in template.patterns]
    scanned = sum(max(1, p.card(stats)) for p in patterns)
    mandatory = [p for p, group in zip(patterns, groups, strict=True) if group == 0]
    rows, widest = _join(mandatory, stats, frozenset())
    joined = len(mandatory) * widest
    # Each OPTIONAL group is a left join of what comes before it: every row of that is
    # kept, extended at most `fanout` ways. What comes before may be any part of the
    # mandatory patterns, so an intermediate holds at most `base` times the fanouts.
    base = max([widest, *(p.card(stats) for p in mandatory), 1])
    factor = 1
    for group in sorted(set(groups) - {0}):
        first = groups.index(group)
        members = [p for p, g in zip(patterns, groups, strict=True) if g == group]
        before = frozenset().union(*(p.variables() for p in patterns[:first]))
        fanout, _ = _join(members, stats, before)
        _, alone = _join(members, stats, frozenset())  # as a hash join would make it
        factor *= max(1, fanout)
        joined += len(members) * (base * factor + alone)
    rows *= factor
    written = 1 if template.form == "ASK" else rows * max(1, template.construct_triples)
    return Cost(scanned, joined, written)


def _join(patterns: list[_Bound], stats: StoreStats, fixed: frozenset[Variable]) -> tuple[int, int]:
    """Rows of the join of `patterns` once the `fixed` variables have values, and the most
    rows of any join within it: sets of patterns that share no other variable multiply."""
    rows, widest = 1, 0
    components = _connected(patterns, fixed)
    for component in components:
        size, width = _join_bounds(component, stats, fixed)
        rows *= size
        widest = max(widest, width)
    if len(components) > 1:  # a cartesian product of the sets
        widest = max(widest, rows)
    return rows, widest


def _join_bounds(
    patterns: list[_Bound], stats: StoreStats, fixed: frozenset[Variable]
) -> tuple[int, int]:
    """Rows of the join of all `patterns` (linked by shared variables), and the most rows
    of any join of two or more of them.

    By subsets, smallest first: rows(S) <= rows(S - p) * degree(p, variables of S - p)
    for each p that shares a variable with a linked S - p; the least bound holds."""
    count = len(patterns)
    names = [p.variables() - fixed for p in patterns]
    rows = {1 << i: max(1, p.degree(stats, fixed)) for i, p in enumerate(patterns)}
    widest = 0
    for subset in sorted(range(1, 1 << count), key=int.bit_count):
        if subset.bit_count() < 2:
            continue
        best = None
        for i in range(count):
            rest = subset & ~(1 << i)
            if not subset >> i & 1 or rest not in rows:
                continue
            bound_names = frozenset().union(*(names[j] for j in range(count) if rest >> j & 1))
            if not bound_names & names[i]:
                continue  # p shares no variable with the rest
            bound = rows[rest] * max(1, patterns[i].degree(stats, fixed | bound_names))
            best = bound if best is None else min(best, bound)
        if best is not None:
            rows[subset] = best
            widest = max(widest, best)
    return rows[(1 << count) - 1], widest


@dataclass(frozen=True)
class _Bound:
    subject: Variable | None
    predicate: Variable | None
    predicate_iri: str | None
    object: Variable | None

    def variables(self) -> frozenset[Variable]:
        return frozenset(v for v in (self.subject, self.predicate, self.object) if v is not None)

    def card(self, stats: StoreStats) -> int:
        return self.degree(stats, frozenset())

    def degree(self, stats: StoreStats, fixed: frozenset[Variable]) -> int:
        """The most quads this pattern matches once the `fixed` variables have values."""
        if self.predicate is None:
            state = "iri" if self.predicate_iri is not None else "fixed"
        else:
            state = "fixed" if self.predicate in fixed else "free"
        return stats.degree(
            self.predicate_iri,
            state,
            self.subject is None or self.subject in fixed,
            self.object is None or self.object in fixed,
        )


def _connected(patterns: list[_Bound], fixed: frozenset[Variable]) -> list[list[_Bound]]:
    """The patterns grouped into sets linked by shared variables (not `fixed` ones)."""
    groups: list[tuple[frozenset[Variable], list[_Bound]]] = []
    for pattern in patterns:
        names = pattern.variables() - fixed
        linked = [i for i, (seen, _) in enumerate(groups) if seen & names]
        members = [p for i in linked for p in groups[i][1]] + [pattern]
        merged = names.union(*(groups[i][0] for i in linked))
        groups = [g for i, g in enumerate(groups) if i not in linked] + [(merged, members)]
    return [members for _, members in groups]


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
