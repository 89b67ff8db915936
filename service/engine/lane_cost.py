"""The worst-case cost of a query of known shape, from statistics of the store.

`StoreStats` are computed once per store version (after each write, in the background):
quads in all; per predicate, its quads (`count`), the most quads one subject has with it
(`max_out`) and the most one object has (`max_in`); over all predicates, the most quads
of one subject and of one object. Quads are counted in every graph, so a triple held by
two graphs counts twice: the figures stay upper bounds for any dataset a query reads.

From these, for a query shape (`query_shape.py`):

* the *degree* of a pattern once some of its variables have values: the most quads it
  can then match (its *card* when only its constants are fixed);
* rows: patterns linked by shared variables form sets; a join of a linked subset S has
  at most rows(S - p) * degree(p, the variables of S - p) rows, for any p whose removal
  leaves S linked; the least such bound is taken, subset by subset; sets that share no
  variable multiply (a cartesian product); an OPTIONAL group keeps every row it extends;
* work, as pyoxigraph 0.5 evaluates a join (sparopt + spareval with SEP-0006): its
  optimizer starts each linked set from a pattern its heuristic estimates smallest
  (`_PLANNER_SIZES`: by which positions are fixed), then joins each next pattern by a
  lookup per row so far. Which next pattern it picks is not assumed: the k-th step costs
  at most as many lookups as the widest linked subset of k patterns holding the start;
  ties between starts take the worst; every pattern may also be read whole once.

The cost in microseconds weighs the query itself, quads scanned, lookups, rows built and
rows written by constants measured with pyoxigraph 0.5 (`bench/lane_bench.py` checks on
thousands of generated queries that the time taken stays under the estimate).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

from pyoxigraph import Literal, NamedNode, QuerySolutions, Store

from citytools.service.engine.lane_shape import Shape, Template, Variable

# Microseconds per query, per quad scanned, per index lookup, per row built by a join,
# per row written as SPARQL JSON: measured on the benchmark VM (`bench/lane_bench.py`) at
# about 250, 0.2, 10, 0.5 and 13; the constants leave a margin.
QUERY_US = 500.0  # every query: parsing, planning, the dataset, the writer
SCAN_US = 0.5
PROBE_US = 15.0
JOIN_US = 1.0
ROW_US = 20.0
_RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
# (subject, predicate, object fixed?) -> size, as sparopt estimates a triple pattern.
_PLANNER_SIZES = {
    (True, True, True): 1,
    (True, True, False): 10,
    (True, False, True): 2,
    (False, True, True): 1_000,
    (True, False, False): 100,
    (False, False, False): 1_000_000_000,
    (False, True, False): 1_000_000,
    (False, False, True): 10_000,
}

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
    scanned: int  # quads read by scans
    probes: int  # index lookups
    built: int  # rows made by joins
    rows: int  # rows (or triples) written

    @property
    def microseconds(self) -> float:
        return (
            QUERY_US
            + SCAN_US * self.scanned
            + PROBE_US * self.probes
            + JOIN_US * self.built
            + ROW_US * self.rows
        )


def cost_of(shape: Shape, stats: StoreStats, *, in_memory: bool = False) -> Cost:
    """The bound over the on-disk store, or over pyoxigraph's in-memory store, which walks
    past more quads at a lookup (`_memory_walks`)."""
    return _cost(shape.template, shape.predicate_iris, stats, in_memory)


@lru_cache(maxsize=4096)
def _cost(
    template: Template, iris: tuple[str | None, ...], stats: StoreStats, in_memory: bool
) -> Cost:
    patterns = [
        _Bound(p.subject, p.predicate, iri, p.object)
        for p, iri in zip(template.patterns, iris, strict=True)
    ]
    groups = [p.optional for p in template.patterns]
    # Any pattern may be read whole: the start of a join, or one side of a hash join.
    scanned = sum(max(1, p.card(stats)) for p in patterns)
    mandatory = [p for p, group in zip(patterns, groups, strict=True) if group == 0]
    plan = _evaluate(mandatory, stats, frozenset())
    probes, built, rows = plan.probes, plan.built, plan.rows
    # Each OPTIONAL group is a left join of what comes before it, which may be any part of
    # the mandatory patterns (at most `base` rows) extended by the groups before it:
    # every row is kept, extended at most `fanout` ways.
    base = max(plan.widest, 1)
    factor = 1
    for group in sorted(set(groups) - {0}):
        first = groups.index(group)
        members = [p for p, g in zip(patterns, groups, strict=True) if g == group]
        before = frozenset().union(*(p.variables() for p in patterns[:first]))
        # The mandatory patterns before the group may be joined on their own first.
        ahead = _evaluate(
            [p for p, g in zip(patterns[:first], groups, strict=False) if g == 0],
            stats,
            frozenset(),
        )
        probes += ahead.probes
        built += ahead.built
        base = max(base, ahead.rows, ahead.widest)
        fanout = max(1, _evaluate(members, stats, before).rows)
        incoming = base * factor
        if len(members) == 1:  # looked up once per incoming row
            probes += incoming
        else:  # evaluated on its own, then matched row by row (a hash join)
            alone = _evaluate(members, stats, frozenset())
            probes += alone.probes
            built += alone.built
        factor *= fanout
        built += base * factor
    if factor > 1:  # mandatory patterns after an OPTIONAL are looked up per row of it
        later = [i for i, g in enumerate(groups) if g == 0 and i > groups.index(1)]
        probes += len(later) * base * factor
    rows *= factor
    written = 1 if template.form == "ASK" else rows * max(1, template.construct_triples)
    if in_memory:
        reads, per_probe = _memory_walks(patterns, stats)
        scanned += reads + probes * per_probe
    return Cost(scanned, probes, built, written)


def _memory_walks(patterns: list[_Bound], stats: StoreStats) -> tuple[int, int]:
    """What pyoxigraph's in-memory store may walk past, beyond what matches: reading each
    pattern once, and at each lookup (the worst pattern's).

    It keeps a list of quads per term and position, and matches a pattern by walking the
    shortest list among its fixed positions, checking the others (measured on 0.5: a
    lookup of `?s p o` takes time in min(quads with p, quads with o), however few match;
    RocksDB seeks the matches at once). At a lookup, one of the pattern's variables shared
    with the other patterns is fixed too, the worst of them assumed."""
    shared: Counter[Variable] = Counter(v for p in patterns for v in p.variables())
    reads = per_probe = 0
    for pattern in patterns:
        fixed = pattern.constant_lists(stats)
        reads += min(fixed, default=stats.quads)
        linked = [n for v, n in pattern.variable_lists(stats) if shared[v] > 1]
        per_probe = max(per_probe, min([*fixed, max(linked, default=stats.quads)]))
    return reads, per_probe


@dataclass(frozen=True)
class _Plan:
    """What evaluating a join can cost: its rows, the index lookups it makes, the rows it
    builds on the way, and the most rows of any part of it."""

    rows: int
    probes: int
    built: int
    widest: int


def _evaluate(patterns: list[_Bound], stats: StoreStats, fixed: frozenset[Variable]) -> _Plan:
    """The join of `patterns` once the `fixed` variables have values, evaluated as
    pyoxigraph does: each set linked by shared variables from a start pattern, then a
    lookup per row so far of each next one; sets that share no variable multiply."""
    rows, probes, built, widest = 1, 0, 0, 0
    components = _connected(patterns, fixed)
    for component in components:
        part = _evaluate_linked(component, stats, fixed)
        rows *= part.rows
        probes += part.probes
        built += part.built
        widest = max(widest, part.widest)
    if len(components) > 1:  # a cartesian product of the sets
        built += (len(components) - 1) * rows
        widest = max(widest, rows)
    return _Plan(rows, probes, built, widest)


def _evaluate_linked(
    patterns: list[_Bound], stats: StoreStats, fixed: frozenset[Variable]
) -> _Plan:
    """A set of patterns linked by shared variables.

    Rows, by subsets, smallest first: rows(S) <= rows(S - p) * degree(p, variables of
    S - p) for each p that shares a variable with a linked S - p; the least bound holds.
    The plan: pyoxigraph's optimizer starts from a pattern its heuristic estimates
    smallest (`planner_estimate`) and joins each next pattern by a lookup per row so far;
    which next one it picks is not assumed: for each size k, the largest linked subset of
    k patterns holding the start bounds the k-th step. Ties between starts take the worst."""
    count = len(patterns)
    names = [p.variables() - fixed for p in patterns]
    rows = {1 << i: max(1, p.degree(stats, fixed)) for i, p in enumerate(patterns)}
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
    estimates = [p.planner_estimate(fixed) for p in patterns]
    starts = [i for i, e in enumerate(estimates) if e == min(estimates)]
    probes = built = 0
    for start in starts:
        steps = [
            max(n for subset, n in rows.items() if subset >> start & 1 and subset.bit_count() == k)
            for k in range(1, count + 1)
        ]
        probes = max(probes, sum(steps[:-1]))
        built = max(built, sum(steps[1:]))
    return _Plan(rows[(1 << count) - 1], probes, built, max(rows.values()))


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

    def constant_lists(self, stats: StoreStats) -> list[int]:
        """The longest list of quads the in-memory store keeps for each constant here."""
        lists = []
        if self.subject is None:
            lists.append(stats.subject_max)
        if self.predicate is None:
            predicates = max(stats.count.values(), default=0)
            known = self.predicate_iri
            lists.append(stats.count.get(known, 0) if known is not None else predicates)
        if self.object is None:
            lists.append(stats.object_max)
        return lists

    def variable_lists(self, stats: StoreStats) -> list[tuple[Variable, int]]:
        """Each variable here, with the longest list of quads its value can have there."""
        positions = (
            (self.subject, stats.subject_max),
            (self.predicate, max(stats.count.values(), default=0)),
            (self.object, stats.object_max),
        )
        return [(variable, n) for variable, n in positions if variable is not None]

    def planner_estimate(self, fixed: frozenset[Variable]) -> int:
        """pyoxigraph 0.5's estimate of this pattern's size (sparopt's
        `estimate_triple_pattern_size`): it starts a join from the smallest."""
        subject = self.subject is None or self.subject in fixed
        predicate = self.predicate is None or self.predicate in fixed
        object_ = self.object is None or self.object in fixed
        size = _PLANNER_SIZES[(subject, predicate, object_)]
        return size + 1 if self.predicate_iri == _RDF_TYPE else size

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
