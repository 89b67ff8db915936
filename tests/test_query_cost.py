"""Store statistics and worst-case bounds: the figures are checked against counts made in
plain Python, and every bound against the real answer of many generated queries."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest
from pyoxigraph import Literal, NamedNode, Quad, QuerySolutions, Store

from citytools.service.engine.lane_cost import StoreStats, cost_of
from citytools.service.engine.lane_shape import MAX_PATTERNS, shape_of

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


def most(counts: Counter[tuple[str, object]], predicate: str) -> int:
    return max(n for (p, _), n in counts.items() if p == predicate)


def test_statistics_match_counts_made_in_python(stats: StoreStats) -> None:
    quads = dataset()
    per_predicate = Counter(q.predicate.value for q in quads)
    out = Counter((q.predicate.value, q.subject) for q in quads)
    into = Counter((q.predicate.value, q.object) for q in quads)
    assert stats.quads == len(quads) == 300 * 4 + 12 * 4 + 33
    assert stats.count == dict(per_predicate)
    assert stats.max_out == {
        p: max(n for (q, _), n in out.items() if q == p) for p in per_predicate
    }
    assert stats.max_in == {
        p: max(n for (q, _), n in into.items() if q == p) for p in per_predicate
    }
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
    assert not path.with_suffix(".partial").exists()


def cost(sparql: str, stats: StoreStats) -> tuple[int, float]:
    shape = shape_of(sparql)
    assert shape is not None, sparql
    found = cost_of(shape, stats)
    return found.rows, found.microseconds


def test_a_lookup_by_iri_is_cheap_and_a_cross_product_is_not(stats: StoreStats) -> None:
    lookup = PREFIXES + f"SELECT ?l WHERE {{ <{EX}deployment/7> ex:system ?s . ?s rdfs:label ?l }}"
    rows, microseconds = cost(lookup, stats)
    assert rows == 2  # one system, whose label two graphs hold
    cross = PREFIXES + "SELECT * WHERE { ?a ex:system ?b . ?c ex:authority ?d }"
    cross_rows, cross_microseconds = cost(cross, stats)
    assert cross_rows == 300 * 300
    assert cross_microseconds > 1000 * microseconds


def test_a_join_through_the_hub_is_bounded_by_the_hub(stats: StoreStats) -> None:
    users = PREFIXES + f"SELECT ?d WHERE {{ ?d ex:system <{EX}system/0> ; ex:authority ?a }}"
    assert cost(users, stats)[0] == 200


def test_the_in_memory_bound_counts_the_lists_the_copy_walks(stats: StoreStats) -> None:
    """pyoxigraph's in-memory store matches `?s p o` by walking the shorter of the quads
    with p and the quads with o: 300 typed deployments to find none with a label."""
    none_labelled = PREFIXES + f"SELECT ?d WHERE {{ ?d rdfs:label <{EX}Deployment> }}"
    shape = shape_of(none_labelled)
    assert shape is not None
    on_disk, in_memory = cost_of(shape, stats), cost_of(shape, stats, in_memory=True)
    labels = stats.count[str(LABEL.value)]
    assert in_memory.scanned - on_disk.scanned == min(labels, stats.object_max) == 300
    # A lookup walks the subject's quads (at most `subject_max`) at each probe.
    lookup = PREFIXES + f"SELECT ?l WHERE {{ <{EX}deployment/7> ex:system ?s . ?s rdfs:label ?l }}"
    shape = shape_of(lookup)
    assert shape is not None
    on_disk, in_memory = cost_of(shape, stats), cost_of(shape, stats, in_memory=True)
    extra = in_memory.scanned - on_disk.scanned
    reads = stats.subject_max + labels  # each pattern read once, by its shortest list
    assert extra == reads + on_disk.probes * stats.subject_max
    assert in_memory.rows == on_disk.rows == 2


def rows_of(store: Store, sparql: str) -> int:
    result = store.query(sparql, use_default_graph_as_union=True)
    if isinstance(result, QuerySolutions):
        return sum(1 for _ in result)
    return 1


TERMS = {
    "subject": ["?a", "?b", *(f"<{EX}{n}>" for n in ("deployment/3", "system/0", "authority/2"))],
    "predicate": ["ex:system", "ex:authority", "ex:vendor", "rdfs:label", "a", "?p", "?q"],
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


def random_pattern(rng: random.Random) -> str:
    return " ".join(rng.choice(TERMS[position]) for position in TERMS)


def random_query(rng: random.Random) -> tuple[str, int]:
    """Up to 3 mandatory patterns with OPTIONAL groups of 1 or 2 patterns between them;
    and how many patterns there are."""
    parts, count = [], 0
    for _ in range(rng.randint(1, 3)):
        if rng.random() < 0.3:
            optional = [random_pattern(rng) for _ in range(rng.randint(1, 2))]
            parts.append(f"OPTIONAL {{ {' . '.join(optional)} }}")
            count += len(optional)
        parts.append(random_pattern(rng) + " .")
        count += 1
    return PREFIXES + f"SELECT * WHERE {{ {' '.join(parts)} }}", count


@pytest.mark.parametrize("seed", range(12))
def test_no_answer_is_longer_than_its_bound(store: Store, stats: StoreStats, seed: int) -> None:
    rng = random.Random(seed)
    checked = 0
    for _ in range(60):
        sparql, patterns = random_query(rng)
        if patterns > MAX_PATTERNS:
            assert shape_of(sparql) is None
            continue
        bound, _ = cost(sparql, stats)
        if bound > 50_000:
            continue  # too long to list here; the bound is an upper bound anyway
        assert rows_of(store, sparql) <= bound, sparql
        checked += 1
    assert checked >= 20
