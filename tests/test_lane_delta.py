"""After a write, an inline lane at the version before brings its in-memory copy and its
statistics up to date by the write's delta (kept beside the new checkpoint) instead of
making them again; a lane further behind, or a delta too large, makes them again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from pyoxigraph import BlankNode, DefaultGraph, Literal, NamedNode, Quad, Store, Triple

from citytools.service.engine.execution import QueryRequest
from citytools.service.engine.lane import InlineLane
from citytools.service.engine.lane_cost import StoreStats
from citytools.service.engine.pool import ProcessExecutor
from citytools.service.store import embedded
from citytools.service.store.embedded import EmbeddedStore
from citytools.service.store.interface import GraphChange, GraphName
from citytools.service.store.snapshots import Delta, delta_path, snapshot_path
from citytools.settings import Settings

EX = "http://example.org/"
G, H, K, E = (NamedNode(f"{EX}graph/{n}") for n in ("g", "h", "k", "empty"))
LABEL = NamedNode("http://www.w3.org/2000/01/rdf-schema#label")
PART = NamedNode(EX + "part")
LOOKUP = QueryRequest(f"SELECT ?l WHERE {{ <{EX}thing/0> <{LABEL.value}> ?l }}")


def thing(i: int) -> NamedNode:
    return NamedNode(f"{EX}thing/{i}")


def labels(n: int, start: int = 0) -> set[Triple]:
    return {Triple(thing(i), LABEL, Literal(f"Thing {i}")) for i in range(start, start + n)}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EmbeddedStore]:
    store = EmbeddedStore(tmp_path / "store")
    store.apply({G: GraphChange(added=labels(60)), H: GraphChange(added=labels(40, 100))})
    yield store
    store.close()


@pytest.fixture
def pool(store: EmbeddedStore, tmp_path: Path) -> Iterator[ProcessExecutor]:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    executor = ProcessExecutor(
        store.raw, tmp_path / "store" / "snapshots", workers=1, settings=settings, inline=True
    )
    yield executor
    asyncio.run(executor.close())


def lane(pool: ProcessExecutor) -> InlineLane:
    found = pool._lane
    assert found is not None
    return found


def opened(lane: InlineLane, version: int) -> dict[str, Any]:
    """Ask until the lane answers from `version` (it opens versions in the background)."""
    deadline = time.monotonic() + 60
    while lane.answer(LOOKUP, version) is None:
        assert time.monotonic() < deadline, lane.health()
        time.sleep(0.02)
    return lane.health()


def write(
    pool: ProcessExecutor, store: EmbeddedStore, changes: Mapping[GraphName, GraphChange]
) -> None:
    async def scenario() -> None:
        async with pool.writing():
            store.apply(changes)

    asyncio.run(scenario())


def content(store: Store) -> tuple[set[str], set[str]]:
    """Every quad, blank nodes by label, and every named graph (empty ones too)."""
    return {str(q) for q in store}, {str(g) for g in store.named_graphs()}


def assert_same_as_checkpoint(lane: InlineLane, directory: Path, version: int) -> None:
    view = lane._view
    assert view is not None
    assert view.version == version
    assert view.in_memory is not None
    checkpoint = Store.read_only(str(snapshot_path(directory, version)))
    assert content(view.in_memory) == content(checkpoint)
    fresh = StoreStats.of(checkpoint)
    assert (view.stats.quads, view.stats.count) == (fresh.quads, fresh.count)
    for mine, truth in ((view.stats.max_out, fresh.max_out), (view.stats.max_in, fresh.max_in)):
        assert all(mine[p] >= n for p, n in truth.items())
    assert view.stats.subject_max >= fresh.subject_max
    assert view.stats.object_max >= fresh.object_max


class Failed(Exception):
    """A write refused before it changed anything (validation, say)."""


def test_writes_reach_every_lanes_copy_by_their_deltas(
    pool: ProcessExecutor, store: EmbeddedStore, tmp_path: Path
) -> None:
    directory = tmp_path / "store" / "snapshots"
    replica = InlineLane(directory, memory_quads=1_000_000)  # another process's lane
    lanes = [lane(pool), replica]
    for each in lanes:
        assert opened(each, 0)["rebuilds"] == 1
    part, other = BlankNode("part1"), BlankNode()
    held = Triple(part, LABEL, Literal("Teil", language="de"))

    async def refused() -> None:
        async with pool.writing():
            raise Failed

    steps: list[Mapping[GraphName, GraphChange] | None] = [
        # blank nodes added (the store keeps their labels)
        {K: GraphChange(added={Triple(thing(1), PART, part), held, Triple(other, LABEL, part)})},
        # a blank-node triple removed (the staged path), the default graph written
        {
            K: GraphChange(removed={held}, added={Triple(part, LABEL, Literal("Part"))}),
            DefaultGraph(): GraphChange(added={Triple(thing(0), PART, Literal("a\nb"))}),
        },
        # a graph replaced in part, one removal of a triple that is not there
        {H: GraphChange(added=labels(5, 200), removed=labels(5, 100) | labels(1, 900))},
        # a graph dropped, an empty one made
        {K: GraphChange(exists_after=False), E: GraphChange(exists_after=True)},
        None,  # a write refused before it changed anything
    ]
    for version, changes in enumerate(steps, start=1):
        if changes is None:
            with pytest.raises(Failed):
                asyncio.run(refused())
        else:
            write(pool, store, changes)
        assert delta_path(directory, version).exists()
        assert not delta_path(directory, version - 1).exists()  # kept until the next write
        for each in lanes:
            health = opened(each, version)
            assert (health["rebuilds"], health["deltas"]) == (1, version)
            assert_same_as_checkpoint(each, directory, version)
    assert Delta.load(delta_path(directory, len(steps))) == Delta([], [])


def test_a_lane_two_versions_behind_or_a_large_delta_rebuilds(
    pool: ProcessExecutor, store: EmbeddedStore, tmp_path: Path
) -> None:
    directory = tmp_path / "store" / "snapshots"
    lanes = lane(pool)
    opened(lanes, 0)
    write(pool, store, {H: GraphChange(added=labels(2, 300))})
    write(pool, store, {H: GraphChange(added=labels(2, 400))})  # the lane saw neither
    assert (opened(lanes, 2)["rebuilds"], lanes.deltas) == (2, 0)
    assert_same_as_checkpoint(lanes, directory, 2)
    write(pool, store, {H: GraphChange(added=labels(3, 500))})
    assert (opened(lanes, 3)["rebuilds"], lanes.deltas) == (2, 1)
    write(pool, store, {H: GraphChange(added=labels(60, 600))})  # more than a quarter
    assert (opened(lanes, 4)["rebuilds"], lanes.deltas) == (3, 1)
    assert_same_as_checkpoint(lanes, directory, 4)


def test_a_delta_file_keeps_blank_nodes_and_every_literal(tmp_path: Path) -> None:
    part = BlankNode("b0")
    delta = Delta(
        [Quad(part, LABEL, Literal('line\nbreak "quoted"', language="en-GB"), G)],
        [
            Quad(thing(1), PART, part, DefaultGraph()),
            Quad(thing(2), LABEL, Literal("2.50", datatype=NamedNode(EX + "money")), H),
        ],
        dropped=[G],
        created=[E],
    )
    path = tmp_path / "v3.delta"
    delta.save(path)
    assert Delta.load(path) == delta
    assert [p.name for p in tmp_path.iterdir()] == ["v3.delta"]


def test_the_store_keeps_what_its_last_write_changed_quad_for_quad(
    store: EmbeddedStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only what the write really changed: not a removal of what was not there, nor an
    addition of what was; what it removes and adds again stays."""
    there, kept, absent = (next(iter(labels(1, i))) for i in (0, 1, 999))
    store.apply({G: GraphChange(removed={there, kept, absent}, added={kept, absent})})
    removed, added = (Quad(t.subject, t.predicate, t.object, G) for t in (there, absent))
    assert store.last_delta == (store.writes, Delta([removed], [added]))
    monkeypatch.setattr(embedded, "MAX_DELTA_QUADS", 10)
    store.apply({H: GraphChange(added=labels(11, 700))})
    assert store.last_delta == (store.writes, None)  # too large to keep: copies are remade
