"""The inline lane in front of the worker processes: cheap queries are answered in this
process (even while every worker is busy), costly ones still go to a worker that is
killed at the deadline, and after a write the lane answers only from the new data."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyoxigraph import BlankNode, Literal, NamedNode, Quad, Store

from citytools.errors import QueryTimeout
from citytools.service.engine.execution import QueryRequest
from citytools.service.engine.lane import STALE_LOCK_SECONDS, InlineLane
from citytools.service.engine.lane_cost import StoreStats
from citytools.service.engine.pool import ProcessExecutor
from citytools.service.store.snapshots import Snapshots, snapshot_path, stats_path
from citytools.settings import Settings

EX = "http://example.org/"
G = NamedNode(EX + "graph/things")
LABEL = NamedNode("http://www.w3.org/2000/01/rdf-schema#label")
N = NamedNode(EX + "n")
XSD_DATE = NamedNode("http://www.w3.org/2001/XMLSchema#date")
PREFIXES = f"PREFIX ex: <{EX}> PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
# 60 things to the 4th power: ~13 million rows to count, seconds of work.
SLOW = (
    PREFIXES + "SELECT (COUNT(*) AS ?c) WHERE { ?a ex:n ?b . ?c ex:n ?d . ?e ex:n ?f . ?g ex:n ?h }"
)
RUNAWAY = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"


def thing(i: int) -> NamedNode:
    return NamedNode(f"{EX}thing/{i}")


def lookup(i: int) -> str:
    return PREFIXES + f"SELECT ?label WHERE {{ <{EX}thing/{i}> rdfs:label ?label }}"


def label(answer_body: bytes) -> list[str]:
    rows: list[dict[str, Any]] = json.loads(answer_body)["results"]["bindings"]
    return [row["label"]["value"] for row in rows]


@pytest.fixture
def writer(tmp_path: Path) -> Store:
    store = Store(str(tmp_path / "store"))
    store.extend(Quad(thing(i), LABEL, Literal(f"Thing {i}"), G) for i in range(60))
    store.extend(Quad(thing(i), N, Literal(i), G) for i in range(60))
    store.flush()
    return store


@pytest.fixture
def pool(writer: Store, tmp_path: Path) -> Iterator[ProcessExecutor]:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    executor = ProcessExecutor(
        writer, tmp_path / "snapshots", workers=2, settings=settings, inline=True
    )
    assert asyncio.run(executor.ready(60))
    yield executor
    asyncio.run(executor.close())


def lane_of(pool: ProcessExecutor) -> dict[str, Any]:
    found: dict[str, Any] = pool.health()["inline"]  # type: ignore[assignment]
    return found


async def until_open(pool: ProcessExecutor, version: int) -> None:
    """Ask until the lane has opened `version` (its statistics take a moment)."""
    deadline = time.monotonic() + 30
    while lane_of(pool)["version"] != version:
        assert time.monotonic() < deadline, lane_of(pool)
        await pool.run(QueryRequest(lookup(0)), timeout=10)
        await asyncio.sleep(0.05)


def test_a_lookup_is_answered_inline_once_the_statistics_are_ready(
    pool: ProcessExecutor, tmp_path: Path
) -> None:
    async def scenario() -> tuple[list[str], int]:
        await until_open(pool, 0)
        before = lane_of(pool)["answered"]
        answer = await pool.run(QueryRequest(lookup(7)), timeout=10)
        return label(answer.body), lane_of(pool)["answered"] - before

    labels, answered = asyncio.run(scenario())
    assert labels == ["Thing 7"]
    assert answered == 1
    assert stats_path(tmp_path / "snapshots", 0).exists()


def test_lookups_are_answered_while_every_worker_is_busy(pool: ProcessExecutor) -> None:
    async def scenario() -> tuple[list[list[str]], int, bool]:
        await until_open(pool, 0)
        busy = [asyncio.create_task(pool.run(QueryRequest(SLOW), timeout=30)) for _ in range(2)]
        deadline = time.monotonic() + 30
        while pool.health()["busy"] != 2:  # until both workers are counting
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        before = lane_of(pool)["answered"]
        answers = [await pool.run(QueryRequest(lookup(i)), timeout=10) for i in range(5)]
        answered = lane_of(pool)["answered"] - before
        still_busy = not any(task.done() for task in busy)
        for task in busy:
            task.cancel()
        await asyncio.gather(*busy, return_exceptions=True)
        return [label(a.body) for a in answers], answered, still_busy

    labels, answered, still_busy = asyncio.run(scenario())
    assert labels == [[f"Thing {i}"] for i in range(5)]
    assert answered == 5
    assert still_busy


def test_a_costly_query_still_goes_to_a_worker_and_is_stopped(pool: ProcessExecutor) -> None:
    async def scenario() -> tuple[float, int]:
        await until_open(pool, 0)
        before = lane_of(pool)["answered"]
        started = time.perf_counter()
        with pytest.raises(QueryTimeout):
            await pool.run(QueryRequest(RUNAWAY), timeout=0.5)
        return time.perf_counter() - started, lane_of(pool)["answered"] - before

    elapsed, answered = asyncio.run(scenario())
    assert answered == 0
    assert 0.5 <= elapsed < 3


def test_after_a_write_the_lane_answers_only_from_the_new_data(
    pool: ProcessExecutor, writer: Store, tmp_path: Path
) -> None:
    async def scenario() -> tuple[list[str], list[str], int]:
        await until_open(pool, 0)
        async with pool.writing():
            writer.remove(Quad(thing(3), LABEL, Literal("Thing 3"), G))
            writer.add(Quad(thing(3), LABEL, Literal("Renamed"), G))
        first = label((await pool.run(QueryRequest(lookup(3)), timeout=10)).body)
        await until_open(pool, 1)
        before = lane_of(pool)["answered"]
        inline = label((await pool.run(QueryRequest(lookup(3)), timeout=10)).body)
        return first, inline, lane_of(pool)["answered"] - before

    first, inline, answered = asyncio.run(scenario())
    assert first == inline == ["Renamed"]
    assert answered == 1
    # A write to the pyoxigraph store itself leaves no delta: the lane opened it whole.
    assert (lane_of(pool)["rebuilds"], lane_of(pool)["deltas"]) == (2, 0)
    snapshots = tmp_path / "snapshots"
    assert stats_path(snapshots, 1).exists()
    assert not stats_path(snapshots, 0).exists()  # removed with its checkpoint


def test_statistics_are_computed_once_and_a_dead_computers_lock_expires(
    writer: Store, tmp_path: Path
) -> None:
    snapshots = tmp_path / "lane-snapshots"
    Snapshots(writer, snapshots).take(0)
    lock = stats_path(snapshots, 0).with_suffix(".lock")
    lock.touch()  # another process is computing them
    lane = InlineLane(snapshots, memory_quads=0)
    request = QueryRequest(lookup(1))

    def opened_after(seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if lane.answer(request, 0) is not None:
                return True
            time.sleep(0.05)
        return False

    assert not opened_after(1.0)  # waits for the other process
    old = time.time() - STALE_LOCK_SECONDS - 1
    os.utime(lock, (old, old))  # ... which died long ago
    assert opened_after(10.0)
    assert stats_path(snapshots, 0).exists()
    assert not lock.exists()
    assert snapshot_path(snapshots, 0).is_dir()


def _opened(lane: InlineLane, request: QueryRequest) -> bytes:
    deadline = time.monotonic() + 30
    while (answer := lane.answer(request, 0)) is None:
        assert time.monotonic() < deadline, lane.health()
        time.sleep(0.05)
    return answer.body


def _rows(body: bytes) -> list[str]:
    return sorted(
        json.dumps(row, sort_keys=True) for row in json.loads(body)["results"]["bindings"]
    )


def test_a_small_store_is_read_from_memory_with_the_same_answers_as_from_disk(
    writer: Store, tmp_path: Path
) -> None:
    part = BlankNode("part1")
    writer.add(Quad(thing(1), NamedNode(EX + "part"), part, G))
    writer.add(Quad(part, LABEL, Literal("Teil", language="de"), G))
    writer.add(Quad(thing(1), NamedNode(EX + "since"), Literal("2024-04-01", datatype=XSD_DATE), G))
    writer.flush()
    snapshots = tmp_path / "lane-snapshots"
    Snapshots(writer, snapshots).take(0)
    in_memory = InlineLane(snapshots, memory_quads=len(writer))
    on_disk = InlineLane(snapshots, memory_quads=len(writer) - 1)
    queries = [
        lookup(7),
        PREFIXES + f"SELECT ?p ?o WHERE {{ <{EX}thing/1> ?p ?o }}",
        PREFIXES + f"SELECT ?part ?l WHERE {{ <{EX}thing/1> ex:part ?part . ?part rdfs:label ?l }}",
    ]
    for query in queries:
        request = QueryRequest(query)
        memory_rows, disk_rows = (
            _rows(_opened(in_memory, request)),
            _rows(_opened(on_disk, request)),
        )
        assert memory_rows == disk_rows
        assert memory_rows, query
    assert in_memory.health()["in_memory"] is True
    assert on_disk.health()["in_memory"] is False
    assert in_memory.health()["answered_in_memory"] == in_memory.health()["answered"] == 3
    assert on_disk.health()["answered_in_memory"] == 0
    assert _rows(_opened(in_memory, QueryRequest(queries[2]))) == [
        json.dumps(
            {
                "l": {"type": "literal", "value": "Teil", "xml:lang": "de"},
                "part": {"type": "bnode", "value": "part1"},
            },
            sort_keys=True,
        )
    ]


def test_a_query_the_copy_would_walk_long_for_is_answered_from_disk(
    writer: Store, tmp_path: Path
) -> None:
    """Statistics as of a store where one label is shared by millions of quads: finding
    who bears it is one seek on disk, but a walk of millions in memory (`lane_cost`)."""
    snapshots = tmp_path / "lane-snapshots"
    Snapshots(writer, snapshots).take(0)
    labels, n = str(LABEL.value), str(N.value)
    StoreStats(
        quads=len(writer),
        count={labels: 5_000_000, n: 60},
        max_out={labels: 1, n: 1},
        max_in={labels: 1, n: 1},
        subject_max=2,
        object_max=5_000_000,
    ).save(stats_path(snapshots, 0))
    lane = InlineLane(snapshots, memory_quads=10_000)
    by_label = QueryRequest(PREFIXES + 'SELECT ?x WHERE { ?x rdfs:label "Thing 3" }')
    assert json.loads(_opened(lane, by_label))["results"]["bindings"] == [
        {"x": {"type": "uri", "value": f"{EX}thing/3"}}
    ]
    assert (lane.health()["answered"], lane.health()["answered_in_memory"]) == (1, 0)
    assert label(_opened(lane, QueryRequest(lookup(7)))) == ["Thing 7"]
    assert (lane.health()["answered"], lane.health()["answered_in_memory"]) == (2, 1)


def test_a_shape_that_took_longer_than_its_budget_is_no_longer_admitted(
    writer: Store, tmp_path: Path
) -> None:
    """The bound admits the lookup; the lane times it against its budget (here none at
    all), and from then on sends every query of that shape to the workers."""
    snapshots = tmp_path / "lane-snapshots"
    Snapshots(writer, snapshots).take(0)
    lane = InlineLane(snapshots, memory_quads=len(writer), budget_seconds=0.0)
    assert label(_opened(lane, QueryRequest(lookup(1)))) == ["Thing 1"]
    assert lane.health()["barred_shapes"] == 1
    assert lane.answer(QueryRequest(lookup(2)), 0) is None  # the same skeleton
    other = QueryRequest(PREFIXES + f"SELECT ?n WHERE {{ <{EX}thing/2> ex:n ?n }}")
    assert lane.answer(other, 0) is not None  # another shape: admitted, once
    assert lane.answer(other, 0) is None
    assert (lane.health()["answered"], lane.health()["barred_shapes"]) == (2, 2)


def test_within_its_budget_a_shape_stays_admitted(writer: Store, tmp_path: Path) -> None:
    snapshots = tmp_path / "lane-snapshots"
    Snapshots(writer, snapshots).take(0)
    lane = InlineLane(snapshots, memory_quads=len(writer), budget_seconds=3600.0)
    _opened(lane, QueryRequest(lookup(0)))
    assert all(lane.answer(QueryRequest(lookup(i)), 0) is not None for i in range(1, 20))
    assert (lane.health()["answered"], lane.health()["barred_shapes"]) == (20, 0)
