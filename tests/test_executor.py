"""Query executors over a real on-disk store: answers in every format, bound parameters,
truncation, a deadline that really stops the query, the SERVICE allow-list, writes and
clean shutdown. The writer is a `pyoxigraph.Store` in the test process."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import multiprocessing.resource_tracker
import os
import signal
import socket
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from pyoxigraph import DefaultGraph, Literal, NamedNode, Quad, RdfFormat, Store, Triple, parse

from citytools.errors import CityToolsError, FederationRefused, InputError, QueryTimeout
from citytools.service.engine.execution import QueryAnswer, QueryExecutor, QueryRequest
from citytools.service.engine.pool import InlineExecutor, ProcessExecutor
from citytools.settings import Settings

T = TypeVar("T")
EX = "http://example.org/"
G1, G2 = NamedNode(EX + "graph/things"), NamedNode(EX + "graph/filler")
LABEL = NamedNode("http://www.w3.org/2000/01/rdf-schema#label")
N = NamedNode(EX + "n")
XSD_INTEGER = "http://www.w3.org/2001/XMLSchema#integer"
SPECIAL = 'Thing 0, "quoted"\nsecond line é'  # CSV quoting, escapes, non-ASCII
PREFIXES = f"PREFIX ex: <{EX}> PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
FIRST_THREE = (
    PREFIXES + "SELECT ?thing ?label ?n WHERE { ?thing ex:n ?n ; rdfs:label ?label } "
    "ORDER BY ?n LIMIT 3"
)
THREE_LABELS = (
    PREFIXES + "CONSTRUCT { ?thing rdfs:label ?label } "
    "WHERE { ?thing ex:n ?n ; rdfs:label ?label FILTER(?n < 3) }"
)
# 2,080 triples to the 5th power: no answer in this lifetime, and no row before the end.
RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?n ?o }"
# 40 things to the 4th power: ~0.4 s, long enough to miss a short deadline, then it ends.
SLOW = (
    PREFIXES + "SELECT (COUNT(*) AS ?c) WHERE { ?a ex:n ?b . ?c ex:n ?d . ?e ex:n ?f . ?g ex:n ?h }"
)
RESULTS = "{http://www.w3.org/2005/sparql-results#}"
RDF_FORMATS = [
    RdfFormat.TURTLE,
    RdfFormat.N_TRIPLES,
    RdfFormat.RDF_XML,
    RdfFormat.JSON_LD,
    RdfFormat.N_QUADS,
    RdfFormat.TRIG,
]


def thing(i: int) -> NamedNode:
    return NamedNode(f"{EX}thing/{i}")


def label_of(i: int) -> str:
    return SPECIAL if i == 0 else f"Thing {i}"


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def ask(executor: QueryExecutor, sparql: str, timeout: float = 20, **fields: Any) -> QueryAnswer:
    return run_async(executor.run(QueryRequest(sparql, **fields), timeout=timeout))


def settings(allow: str = "") -> Settings:
    return Settings(_env_file=None, federation_allow=allow)  # type: ignore[call-arg]


def json_rows(answer: QueryAnswer) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(answer.body)["results"]["bindings"]
    return rows


@contextmanager
def listening() -> Iterator[tuple[str, list[str]]]:
    """A local endpoint that records and drops every connection made to it."""
    connections: list[str] = []
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def accept() -> None:
            while True:
                try:
                    connection, peer = listener.accept()
                except OSError:
                    return
                connections.append(f"{peer[0]}:{peer[1]}")
                connection.close()

        threading.Thread(target=accept, daemon=True).start()
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/sparql", connections


def children() -> set[int]:
    """Process ids whose parent is this process (zombies included)."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid():
                found.add(int(entry))
    return found


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("executor") / "store"


@pytest.fixture(scope="module")
def writer(store_path: Path) -> Store:
    store = Store(str(store_path))
    quads = [Quad(thing(i), LABEL, Literal(label_of(i), language="en"), G1) for i in range(40)]
    quads += [Quad(thing(i), N, Literal(i), G1) for i in range(40)]
    filler = [NamedNode(f"{EX}filler/{i}") for i in range(2000)]
    quads += [Quad(f, LABEL, Literal(f"Filler {i}"), G2) for i, f in enumerate(filler)]
    store.extend(quads)
    store.flush()
    return store


@pytest.fixture(scope="module")
def pool(writer: Store, store_path: Path) -> Iterator[ProcessExecutor]:
    executor = ProcessExecutor(writer, store_path / "snapshots", workers=2, settings=settings())
    assert run_async(executor.ready(60))
    yield executor
    run_async(executor.close())


@pytest.fixture(params=["process", "inline"])
def executor(request: pytest.FixtureRequest, pool: ProcessExecutor, writer: Store) -> QueryExecutor:
    if request.param == "process":
        return pool
    return InlineExecutor(writer, settings())


def test_select_as_sparql_json(executor: QueryExecutor) -> None:
    answer = ask(executor, FIRST_THREE)
    assert (answer.kind, answer.rows, answer.truncated) == ("select", 3, False)
    assert answer.media_type == "application/sparql-results+json"
    document = json.loads(answer.body)
    assert document["head"]["vars"] == ["thing", "label", "n"]
    assert document["results"]["bindings"][0] == {
        "thing": {"type": "uri", "value": thing(0).value},
        "label": {"type": "literal", "value": SPECIAL, "xml:lang": "en"},
        "n": {"type": "literal", "value": "0", "datatype": XSD_INTEGER},
    }
    assert [row["label"]["value"] for row in json_rows(answer)] == [label_of(i) for i in range(3)]


def test_select_as_sparql_xml(executor: QueryExecutor) -> None:
    answer = ask(executor, FIRST_THREE, solutions_format="application/sparql-results+xml")
    root = ET.fromstring(answer.body)
    names = [v.get("name") for v in root.iter(RESULTS + "variable")]
    assert names == ["thing", "label", "n"]
    rows = []
    for result in root.iter(RESULTS + "result"):
        cells = {b.get("name"): b[0] for b in result.iter(RESULTS + "binding")}
        rows.append((cells["thing"].text, cells["label"].text, cells["n"].text))
        assert cells["label"].get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
        assert cells["n"].get("datatype") == XSD_INTEGER
    assert rows == [(thing(i).value, label_of(i), str(i)) for i in range(3)]


def test_select_as_csv(executor: QueryExecutor) -> None:
    answer = ask(executor, FIRST_THREE, solutions_format="text/csv")
    assert answer.media_type.startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.body.decode(), newline="")))
    assert rows == [["thing", "label", "n"]] + [
        [thing(i).value, label_of(i), str(i)] for i in range(3)
    ]


def test_select_as_tsv(executor: QueryExecutor) -> None:
    answer = ask(executor, FIRST_THREE, solutions_format="text/tab-separated-values")
    rows = list(
        csv.reader(io.StringIO(answer.body.decode()), delimiter="\t", quoting=csv.QUOTE_NONE)
    )
    assert rows[0] == ["?thing", "?label", "?n"]
    # TSV cells are RDF terms in Turtle syntax: the newline inside the label stays escaped
    assert rows[1] == [f"<{thing(0).value}>", '"Thing 0, \\"quoted\\"\\nsecond line é"@en', "0"]
    assert rows[2:] == [[f"<{thing(i).value}>", f'"Thing {i}"@en', str(i)] for i in (1, 2)]


def boolean_of(body: bytes, media_type: str) -> bool:
    if media_type.endswith("+json"):
        return bool(json.loads(body)["boolean"])
    if media_type.endswith("+xml"):
        return [e.text for e in ET.fromstring(body).iter(RESULTS + "boolean")] == ["true"]
    return body.decode().strip() == "true"  # CSV and TSV: the bare value


@pytest.mark.parametrize(
    "media_type",
    [
        "application/sparql-results+json",
        "application/sparql-results+xml",
        "text/csv",
        "text/tab-separated-values",
    ],
)
def test_ask_in_each_format(executor: QueryExecutor, media_type: str) -> None:
    yes = ask(executor, PREFIXES + "ASK { ?s ex:n 5 }", solutions_format=media_type)
    no = ask(executor, PREFIXES + "ASK { ?s ex:n 500 }", solutions_format=media_type)
    assert (yes.kind, yes.rows, yes.truncated) == ("ask", 1, False)
    assert (boolean_of(yes.body, media_type), boolean_of(no.body, media_type)) == (True, False)


@pytest.mark.parametrize("fmt", RDF_FORMATS, ids=lambda f: f.file_extension)
def test_construct_in_each_rdf_format(pool: ProcessExecutor, fmt: RdfFormat) -> None:
    answer = ask(pool, THREE_LABELS, graph_format=fmt.media_type)
    assert (answer.kind, answer.rows, answer.truncated) == ("construct", 3, False)
    assert answer.media_type == fmt.media_type
    quads = list(parse(answer.body, format=fmt))
    expected = {Triple(thing(i), LABEL, Literal(label_of(i), language="en")) for i in range(3)}
    assert {q.triple for q in quads} == expected
    assert {q.graph_name for q in quads} == {DefaultGraph()}  # TriG/N-Quads: the default graph


def test_describe_is_told_apart_from_construct(executor: QueryExecutor) -> None:
    answer = ask(executor, f"DESCRIBE <{thing(7).value}>", graph_format="application/n-triples")
    assert (answer.kind, answer.rows) == ("describe", 2)
    triples = {q.triple for q in parse(answer.body, format=RdfFormat.N_TRIPLES)}
    assert Triple(thing(7), N, Literal(7)) in triples


def test_substitutions_bind_typed_literals_and_iris(executor: QueryExecutor) -> None:
    by_number = PREFIXES + "SELECT ?label ?n WHERE { ?thing ex:n ?n ; rdfs:label ?label }"
    typed = ask(executor, by_number, substitutions={"n": f'"7"^^<{XSD_INTEGER}>'})
    assert [r["label"]["value"] for r in json_rows(typed)] == ["Thing 7"]
    untyped = ask(executor, by_number, substitutions={"n": '"7"'})  # a string is not 7
    assert json_rows(untyped) == []
    with pytest.raises(InputError, match=r"cannot run as asked: .*\?n"):
        ask(executor, by_number.replace("?label ?n", "?label"), substitutions={"n": '"1"'})
    by_iri = PREFIXES + "SELECT ?thing ?label WHERE { ?thing rdfs:label ?label }"
    iri = ask(executor, by_iri, substitutions={"thing": f"<{thing(9).value}>"})
    assert [r["label"]["value"] for r in json_rows(iri)] == ["Thing 9"]


def test_an_injection_attempt_in_a_substitution_is_just_a_literal(
    executor: QueryExecutor,
) -> None:
    attempt = '"x\\" } ?s ?p ?o . FILTER(true) } #"'
    query = PREFIXES + "SELECT ?label ?thing WHERE { OPTIONAL { ?thing rdfs:label ?label } }"
    answer = ask(executor, query, substitutions={"label": attempt})
    assert json_rows(answer) == [
        {"label": {"type": "literal", "value": 'x" } ?s ?p ?o . FILTER(true) } #'}}
    ]
    for not_one_term in ('"x" . <urn:a> <urn:b> <urn:c>', "<urn:a> } ; DROP ALL #", ""):
        with pytest.raises(InputError, match=r"\?label is not one RDF term"):
            ask(executor, query, substitutions={"label": not_one_term})


def test_max_results_truncates_and_says_so(executor: QueryExecutor) -> None:
    things = PREFIXES + "SELECT ?thing WHERE { ?thing ex:n ?n } ORDER BY ?n"
    cut = ask(executor, things, max_results=5)
    assert (cut.rows, cut.truncated) == (5, True)
    assert [r["thing"]["value"] for r in json_rows(cut)] == [thing(i).value for i in range(5)]
    exact = ask(executor, things, max_results=40, solutions_format="text/csv")
    assert (exact.rows, exact.truncated) == (40, False)
    assert len(exact.body.decode().splitlines()) == 41
    graph = ask(executor, PREFIXES + "CONSTRUCT WHERE { ?s ex:n ?o }", max_results=7)
    assert (graph.rows, graph.truncated) == (7, True)
    assert len(list(parse(graph.body, format=RdfFormat.TURTLE))) == 7


def test_a_long_answer_is_cut_exactly_across_serialiser_chunks(pool: ProcessExecutor) -> None:
    query = f"SELECT ?s ?o WHERE {{ GRAPH <{G2.value}> {{ ?s ?p ?o }} }} ORDER BY ?o"
    answer = ask(pool, query, max_results=1500, solutions_format="application/sparql-results+xml")
    assert (answer.rows, answer.truncated) == (1500, True)
    values = [e.text for e in ET.fromstring(answer.body).iter(RESULTS + "literal")]
    assert values == sorted(f"Filler {i}" for i in range(2000))[:1500]


def test_the_dataset_is_the_union_unless_narrowed(executor: QueryExecutor) -> None:
    count = (
        "SELECT (COUNT(*) AS ?n) %s WHERE { ?s <http://www.w3.org/2000/01/rdf-schema#label> ?o }"
    )

    def labels(answer: QueryAnswer) -> int:
        return int(json_rows(answer)[0]["n"]["value"])

    assert labels(ask(executor, count % "")) == 2040
    assert labels(ask(executor, count % "", default_graph=(G1.value,))) == 40
    assert labels(ask(executor, count % f"FROM <{G2.value}>")) == 2000


def test_malformed_sparql_is_an_input_error_with_the_parser_position(
    executor: QueryExecutor,
) -> None:
    with pytest.raises(InputError, match=r"^malformed SPARQL query: error at 1:"):
        ask(executor, "SELECT * WHERE { ?s ?p }")
    with pytest.raises(InputError, match=r"error at 2:"):  # mentions service: other path
        ask(executor, "SELECT * WHERE { ?s <urn:service> ?o .\n ?s ?p }")


def test_a_runaway_query_is_killed_at_the_deadline(pool: ProcessExecutor) -> None:
    timeout = 1.0

    async def scenario() -> tuple[float, float, set[int], set[int]]:
        assert await pool.ready(60)
        before = set(pool.pids())
        started = time.perf_counter()
        runaway = asyncio.create_task(pool.run(QueryRequest(RUNAWAY), timeout=timeout))
        await asyncio.sleep(0.2)  # the runaway holds one worker now
        small_started = time.perf_counter()
        small = await pool.run(QueryRequest(PREFIXES + "ASK { ?s ex:n 3 }"), timeout=5)
        small_elapsed = time.perf_counter() - small_started
        assert json.loads(small.body)["boolean"] is True
        with pytest.raises(QueryTimeout, match=r"query stopped after 1 s; narrow it or raise"):
            await runaway
        elapsed = time.perf_counter() - started
        after = set(pool.pids())
        assert await pool.ready(60)  # the replacement is up
        return elapsed, small_elapsed, before, after

    elapsed, small_elapsed, before, after = run_async(scenario())
    assert timeout <= elapsed < timeout + 1.5
    assert small_elapsed < 1.0
    killed = before - after
    assert len(killed) == 1
    assert len(after) == 2
    assert not Path(f"/proc/{killed.pop()}").exists()  # not even a zombie
    ticks = {pid: cpu_ticks(pid) for pid in after}
    time.sleep(1.0)
    growth = {pid: cpu_ticks(pid) - ticks[pid] for pid in after}
    assert max(growth.values()) <= 2, growth  # clock ticks (1/100 s) in one second


def test_service_outside_the_allow_list_is_refused_before_any_connection(
    pool: ProcessExecutor, writer: Store
) -> None:
    with listening() as (endpoint, connections):
        refused = [
            f"SELECT * WHERE {{ SERVICE <{endpoint}> {{ ?s ?p ?o }} }}",
            f"PREFIX r: <{endpoint[:-6]}> ASK {{ SERVICE SILENT r:sparql {{ ?s ?p ?o }} }}",
        ]
        for query in refused:
            with pytest.raises(FederationRefused, match=f"SERVICE <{endpoint}> is not allowed"):
                ask(pool, query)
        time.sleep(0.2)
        assert connections == []
        # The same query from an executor that allows the endpoint does connect.
        allowing = InlineExecutor(writer, settings(allow=endpoint))
        with pytest.raises(CityToolsError, match="query evaluation failed"):
            ask(allowing, refused[0], timeout=5)
        assert len(connections) == 1
    with pytest.raises(FederationRefused, match=r"SERVICE <http://127\.0\.0\.1:9/sparql>"):
        ask(pool, "SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }")
    with pytest.raises(FederationRefused, match="variable endpoint"):
        ask(pool, "SELECT * WHERE { SERVICE ?where { ?s ?p ?o } }")


def test_a_write_through_the_gate_is_seen_by_the_next_query(
    pool: ProcessExecutor, writer: Store
) -> None:
    count = PREFIXES + "SELECT (COUNT(*) AS ?n) WHERE { ?s ex:n ?o }"

    async def scenario() -> tuple[int, int, bool, int]:
        before = int(json_rows(await pool.run(QueryRequest(count), timeout=10))[0]["n"]["value"])
        async with pool.writing():
            held = asyncio.create_task(pool.run(QueryRequest(count), timeout=10))
            await asyncio.sleep(0.3)
            was_held = not held.done()
            writer.add(Quad(thing(100), N, Literal(100), G1))
        during = int(json_rows(await held)[0]["n"]["value"])
        after = int(json_rows(await pool.run(QueryRequest(count), timeout=10))[0]["n"]["value"])
        return before, during, was_held, after

    before, during, was_held, after = run_async(scenario())
    assert was_held
    assert (during, after) == (before + 1, before + 1)


def test_a_write_waits_for_the_queries_in_flight(pool: ProcessExecutor) -> None:
    async def scenario() -> tuple[bool, float]:
        started = time.perf_counter()
        runaway = asyncio.create_task(pool.run(QueryRequest(RUNAWAY), timeout=0.8))
        await asyncio.sleep(0.1)
        async with pool.writing():
            stopped_first = runaway.done()
            waited = time.perf_counter() - started
        with pytest.raises(QueryTimeout):
            await runaway
        return stopped_first, waited

    stopped_first, waited = run_async(scenario())
    assert stopped_first  # the write began only once the query had been stopped
    assert waited >= 0.8


def test_a_dead_worker_is_replaced(pool: ProcessExecutor) -> None:
    victim = pool.pids()[0]
    os.kill(victim, signal.SIGKILL)
    time.sleep(0.2)
    answer = ask(pool, PREFIXES + "ASK { ?s ex:n 1 }")
    assert json.loads(answer.body)["boolean"] is True
    assert victim not in pool.pids()
    assert len(pool.pids()) == 2
    assert pool.health()["workers"] == 2
    assert not Path(f"/proc/{victim}").exists()


def test_the_inline_executor_can_only_abandon_a_query(writer: Store) -> None:
    inline = InlineExecutor(writer, settings())
    started = time.perf_counter()
    with pytest.raises(QueryTimeout, match=r"after 0\.05 s"):
        ask(inline, SLOW, timeout=0.05)
    assert time.perf_counter() - started < 1.5  # includes the abandoned thread's end


def test_close_leaves_no_child_processes(store_path: Path, writer: Store) -> None:
    multiprocessing.resource_tracker.ensure_running()  # shared by every spawn; not ours
    before = children()

    async def scenario() -> list[int]:
        executor = ProcessExecutor(writer, store_path / "closing", workers=2, settings=settings())
        assert await executor.ready(60)
        pids = executor.pids()
        running = asyncio.create_task(executor.run(QueryRequest(RUNAWAY), timeout=30))
        await asyncio.sleep(0.2)
        await executor.close()
        with pytest.raises(CityToolsError, match="closed while the query ran"):
            await running
        with pytest.raises(CityToolsError, match="closed"):
            await executor.run(QueryRequest("ASK {}"), timeout=1)
        assert executor.health()["ready"] is False
        return pids

    pids = run_async(scenario())
    assert children() == before
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)


def test_waiting_queries_are_served_in_arrival_order(writer: Store, store_path: Path) -> None:
    async def scenario() -> tuple[list[int], dict[str, object]]:
        single = ProcessExecutor(writer, store_path / "fifo", workers=1, settings=settings())
        try:
            assert await single.ready(60)
            busy = asyncio.create_task(single.run(QueryRequest(SLOW), timeout=20))
            await asyncio.sleep(0.05)
            finished: list[int] = []

            async def small(number: int) -> None:
                await single.run(QueryRequest(PREFIXES + f"ASK {{ ?s ex:n {number} }}"), timeout=20)
                finished.append(number)

            queued = []
            for number in range(6):
                queued.append(asyncio.create_task(small(number)))
                await asyncio.sleep(0.01)  # each arrives after the one before
            await asyncio.gather(busy, *queued)
            return finished, single.health()
        finally:
            await single.close()

    finished, health = run_async(scenario())
    assert finished == list(range(6))
    assert health["busy"] == 0


def test_a_queued_query_past_its_deadline_gives_its_turn_back(
    writer: Store, store_path: Path
) -> None:
    async def scenario() -> tuple[bool, dict[str, object]]:
        single = ProcessExecutor(writer, store_path / "queued", workers=1, settings=settings())
        try:
            assert await single.ready(60)
            busy = asyncio.create_task(single.run(QueryRequest(SLOW), timeout=20))
            await asyncio.sleep(0.05)
            with pytest.raises(QueryTimeout, match=r"not started within 0\.1 s"):
                await single.run(QueryRequest("ASK {}"), timeout=0.1)
            cancelled = asyncio.create_task(single.run(QueryRequest("ASK {}"), timeout=20))
            await asyncio.sleep(0.05)
            cancelled.cancel()  # a client that went away while queued
            await busy
            answer = await single.run(QueryRequest(PREFIXES + "ASK { ?s ex:n 1 }"), timeout=5)
            return json.loads(answer.body)["boolean"], single.health()
        finally:
            await single.close()

    answered, health = run_async(scenario())
    assert answered is True
    assert health["busy"] == 0
    assert health["workers"] == 1
