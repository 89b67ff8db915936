"""Store statistics and the lane's bound: the figures are checked against counts made in
plain Python (after a delta too), and the bound against the work of generated queries,
counted in rows, lookups and index entries for every join order, not timed."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from pyoxigraph import BlankNode, Literal, NamedNode, Quad, QuerySolutions, Store

from citytools.service.engine.lane_cost import MAX_WALKED, Bound, StoreStats, bound_of
from citytools.service.engine.lane_shape import Shape, shape_of
from citytools.service.store.snapshots import Delta

EX = "http://example.org/"
LABEL = NamedNode("http://www.w3.org/2000/01/rdf-schema#label")
TYPE = NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
SYSTEM, AUTHORITY, VENDOR = (NamedNode(EX + n) for n in ("system", "authority", "vendor"))
G1, G2 = NamedNode(EX + "graph/one"), NamedNode(EX + "graph/two")
PREFIXES = f"PREFIX ex: <{EX}> PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"


def node(kind: str, i: int) -> NamedNode:
    return NamedNode(f"{EX}{kind}/{i}")


def dataset() -> list[Quad]:
    """300 deployments of 12 systems (one system a hub of 200), 33 authorities, 5 vendors;
    labels everywhere; the systems' facts held by two graphs at once."""
    rng = random.Random(3)
    quads = []
    for i in range(300):
        deployment = node("deployment", i)
        system = node("system", 0 if i < 200 else rng.randrange(1, 12))
        quads += [
            Quad(deployment, TYPE, NamedNode(EX + "Deployment"), G1),
            Quad(deployment, SYSTEM, system, G1),
            Quad(deployment, AUTHORITY, node("authority", rng.randrange(33)), G1),
            Quad(deployment, LABEL, Literal(f"deployment {i}"), G1),
        ]
    for i in range(12):
        for graph in (G1, G2):
            quads += [
                Quad(node("system", i), LABEL, Literal(f"system {i}"), graph),
                Quad(node("system", i), VENDOR, node("vendor", i % 5), graph),
            ]
    quads += [Quad(node("authority", i), LABEL, Literal(f"authority {i}"), G1) for i in range(33)]
    return quads


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    path: Path = tmp_path_factory.mktemp("cost") / "store"
    store = Store(str(path))
    store.extend(dataset())
    store.flush()
    return store


@pytest.fixture(scope="module")
def stats(store: Store) -> StoreStats:
    return StoreStats.of(store)


def figures(quads: list[Quad]) -> tuple[int, dict[str, int], dict[str, int], dict[str, int]]:
    """Quads, per-predicate counts, and the most per subject and per object, in Python."""
    per_predicate = Counter(q.predicate.value for q in quads)
    out = Counter((q.predicate.value, q.subject) for q in quads)
    into = Counter((q.predicate.value, q.object) for q in quads)
    most_out = {p: max(n for (q, _), n in out.items() if q == p) for p in per_predicate}
    most_in = {p: max(n for (q, _), n in into.items() if q == p) for p in per_predicate}
    return len(quads), dict(per_predicate), most_out, most_in


def test_statistics_match_counts_made_in_python(stats: StoreStats) -> None:
    quads = dataset()
    assert (stats.quads, stats.count, stats.max_out, stats.max_in) == figures(quads)
    assert stats.quads == 300 * 4 + 12 * 4 + 33
    assert stats.max_in[SYSTEM.value] == 200  # the hub
    assert stats.max_out[LABEL.value] == 2  # a system's label is in two graphs
    assert stats.subject_max == max(Counter(q.subject for q in quads).values())
    assert stats.object_max == max(Counter(q.object for q in quads).values())


def test_statistics_survive_a_round_trip_through_their_file(
    stats: StoreStats, tmp_path: Path
) -> None:
    path = tmp_path / "v1.stats.json"
    stats.save(path)
    again = StoreStats.load(path)
    assert (again.quads, again.count, again.max_in) == (stats.quads, stats.count, stats.max_in)
    assert [p.name for p in tmp_path.iterdir()] == ["v1.stats.json"]


def test_statistics_after_a_delta_count_exactly_and_bound_the_most(tmp_path: Path) -> None:
    """Counts follow the delta exactly; a most-per-term figure is exact after additions
    and stays an upper bound after removals (the hub loses 150 deployments)."""
    quads = dataset()
    store = Store(str(tmp_path / "store"))
    store.extend(quads)
    before = StoreStats.of(store)
    hub = [q for q in quads if q.predicate == SYSTEM and q.object == node("system", 0)]
    part = BlankNode("part")
    added = [
        *(Quad(node("deployment", 900 + i), SYSTEM, node("system", 5), G2) for i in range(40)),
        Quad(node("system", 5), LABEL, Literal("five", language="en"), G2),
        Quad(part, LABEL, Literal("a part"), G2),
        Quad(node("system", 5), NamedNode(EX + "new"), part, G2),
    ]
    delta = Delta(hub[:150], added)
    delta.apply_to(store)
    after = before.after(delta, store)
    fresh = StoreStats.of(store)
    assert (after.quads, after.count) == (fresh.quads, fresh.count)
    assert after.quads == len(quads) - 150 + len(added)
    for mine, truth in ((after.max_out, fresh.max_out), (after.max_in, fresh.max_in)):
        assert set(mine) == set(truth)
        assert all(mine[p] >= truth[p] for p in truth)
    assert fresh.max_in[SYSTEM.value] == 50 < after.max_in[SYSTEM.value] == 200  # kept
    assert after.max_out[LABEL.value] == fresh.max_out[LABEL.value] == 3  # recounted
    assert after.subject_max >= fresh.subject_max
    assert after.object_max >= fresh.object_max
    gone = Delta([q for q in store if q.predicate.value == EX + "new"], [])
    gone.apply_to(store)
    emptied = after.after(gone, store)
    assert EX + "new" in after.count
    assert EX + "new" not in emptied.count  # a predicate that is gone has no figures


def shape(sparql: str) -> Shape:
    found = shape_of(sparql)
    assert found is not None, sparql
    return found


def test_a_lookup_by_iri_is_admitted_and_its_bound_is_tight(stats: StoreStats) -> None:
    lookup = PREFIXES + f"SELECT ?l WHERE {{ <{EX}deployment/7> ex:system ?s . ?s rdfs:label ?l }}"
    bound = bound_of(shape(lookup), stats, in_memory=False)
    assert bound.rows == 2  # one system, whose label two graphs hold
    assert bound.fits(100_000)
    assert bound_of(shape(lookup), stats, in_memory=True).fits(100_000)


def test_a_join_through_the_hub_is_bounded_by_the_hub(stats: StoreStats) -> None:
    users = PREFIXES + f"SELECT ?d WHERE {{ ?d ex:system <{EX}system/0> ; ex:authority ?a }}"
    bound = bound_of(shape(users), stats, in_memory=False)
    assert bound.rows == 200
    assert not bound.fits(199)  # more than the caller's cap on answers


def test_the_in_memory_bound_counts_the_lists_the_copy_walks(stats: StoreStats) -> None:
    """pyoxigraph's in-memory store matches `?s p o` by walking the shorter of the quads
    with p and the quads with o: 300 typed deployments, to find none with a label."""
    none_labelled = PREFIXES + f"SELECT ?d WHERE {{ ?d rdfs:label <{EX}Deployment> }}"
    on_disk = bound_of(shape(none_labelled), stats, in_memory=False)
    in_memory = bound_of(shape(none_labelled), stats, in_memory=True)
    assert on_disk.walked == stats.max_in[LABEL.value] == 2  # a label shared by two graphs
    assert in_memory.walked == min(stats.count[LABEL.value], stats.object_max) == 300


# ---------------------------------------------------------------- counted work

Term = NamedNode | Literal | str  # a str is a variable's name


@dataclass
class Work:
    rows: int = 0
    built: int = 0
    lookups: int = 0
    walked: int = 0


def term(text: str) -> Term:
    if text.startswith("?"):
        return text[1:]
    if text.startswith("<"):
        return NamedNode(text[1:-1])
    if text.startswith("ex:"):
        return NamedNode(EX + text[3:])
    if text == "a":
        return TYPE
    if text == "rdfs:label":
        return LABEL
    return Literal(text.strip("'"))


LISTS: dict[tuple[int, Term], int] = {}  # (position, term) -> quads with it there


def walked(store: Store, fixed: list[Term | None], matches: int, in_memory: bool) -> int:
    """Index entries a lookup walks past: on disk its matches; in memory the shortest of
    the lists of quads of its fixed terms (`lane_cost`)."""
    if not in_memory:
        return matches
    lists = []
    for position, value in enumerate(fixed):
        if value is not None:
            if (position, value) not in LISTS:
                pattern: list[Term | None] = [None, None, None]
                pattern[position] = value
                quads = store.quads_for_pattern(*pattern, None)  # type: ignore[arg-type]
                LISTS[position, value] = sum(1 for _ in quads)
            lists.append(LISTS[position, value])
    return min(lists, default=len(store))


def lookup(
    store: Store, pattern: list[Term], row: dict[str, Term], in_memory: bool, work: Work
) -> list[dict[str, Term]]:
    """The rows extending `row` by the quads (of every graph) `pattern` matches."""
    fixed = [row.get(t) if isinstance(t, str) else t for t in pattern]
    work.lookups += 1
    if isinstance(fixed[0], Literal) or isinstance(fixed[1], Literal):
        return []  # a literal as subject or predicate matches nothing
    quads = list(store.quads_for_pattern(*fixed, None))  # type: ignore[arg-type]
    work.walked += walked(store, fixed, len(quads), in_memory)
    extended = []
    for quad in quads:
        new = dict(row)
        for name, value in zip(pattern, (quad.subject, quad.predicate, quad.object), strict=True):
            if isinstance(name, str) and new.setdefault(name, value) != value:  # ?x p ?x
                break
        else:
            extended.append(new)
    return extended


def nested_loop(store: Store, patterns: list[list[Term]], in_memory: bool) -> Work:
    """Pattern after pattern, each looked up once per row so far, given its values."""
    work, rows = Work(), [{}]
    for pattern in patterns:
        rows = [new for row in rows for new in lookup(store, pattern, row, in_memory, work)]
        work.built += len(rows)
    work.rows = len(rows)
    return work


def hash_join(store: Store, patterns: list[list[Term]], in_memory: bool) -> Work:
    """Each pattern read once, alone; then joined, one after the other."""
    work = Work()
    parts = [lookup(store, pattern, {}, in_memory, work) for pattern in patterns]
    rows = parts[0]
    for part in parts[1:]:
        rows = [
            left | right
            for left in rows
            for right in part
            if all(left[n] == right[n] for n in left.keys() & right.keys())
        ]
        work.built += len(rows)
    work.rows = len(rows)
    return work


TERMS = {
    "subject": ["?a", "?b", *(f"<{EX}{n}>" for n in ("deployment/3", "system/0", "authority/2"))],
    "predicate": ["ex:system", "ex:authority", "ex:vendor", "rdfs:label", "a", "?p"],
    "object": [
        "?a",
        "?b",
        "?c",
        f"<{EX}system/0>",
        f"<{EX}vendor/1>",
        "ex:Deployment",
        "'system 3'",
    ],
}


def random_query(rng: random.Random) -> tuple[str, list[list[Term]]]:
    texts = [[rng.choice(TERMS[p]) for p in TERMS] for _ in range(rng.randint(1, 3))]
    where = " . ".join(" ".join(t) for t in texts)
    return PREFIXES + f"SELECT * WHERE {{ {where} }}", [[term(t) for t in p] for p in texts]


def answered(store: Store, sparql: str) -> int:
    result = store.query(sparql, use_default_graph_as_union=True)
    assert isinstance(result, QuerySolutions)
    return sum(1 for _ in result)


def held(work: Work, bound: Bound) -> bool:
    return (
        work.rows <= bound.rows
        and work.built <= bound.built
        and work.lookups <= bound.lookups
        and work.walked <= bound.walked
    )


@pytest.mark.parametrize("seed", range(6))
def test_the_bound_holds_for_every_join_order(store: Store, stats: StoreStats, seed: int) -> None:
    """Every admitted generated query, evaluated by nested loops and by hash joins in
    every order of its patterns: rows, rows built, lookups and index entries walked past
    (on disk and in memory) never exceed the bound; nor does pyoxigraph's answer."""
    rng = random.Random(seed)
    checked = 0
    for _ in range(50):
        sparql, patterns = random_query(rng)
        found = shape_of(sparql)
        if found is None:
            continue
        for in_memory in (False, True):
            bound = bound_of(found, stats, in_memory=in_memory)
            if bound.walked > MAX_WALKED:
                continue  # too long to count here, and refused by the lane anyway
            assert answered(store, sparql) <= bound.rows, sparql
            for order in itertools.permutations(patterns):
                for evaluation in (nested_loop, hash_join):
                    work = evaluation(store, list(order), in_memory)
                    assert held(work, bound), (sparql, evaluation.__name__, order, work, bound)
            checked += 1
    assert checked >= 40
