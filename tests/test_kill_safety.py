"""Data never lost (issue 9): `kill -9` in the middle of a write leaves every graph as it
was before the write or as it is after it.

Three writes of one inventory graph, each killed at 10 moments spread over it: `citytools
load --replace` of a second version of the inventory, and a server (`citytools serve`)
during a `PUT /store` of it and during a `POST /update` that rewrites thousands of its
triples and adds blank nodes. Each kill gets a fresh copy of a prepared store. Afterwards
the store must open and the whole store must be exactly its content before the write or
after it: the written graph, the reference graphs, the provenance graph, every graph, all
on the same side. The content after is that of the same write unkilled (the server
killed once it answered).

A store is read by opening it as the product does (pyoxigraph over RocksDB, for writing:
what a killed writer left in RocksDB's log is replayed); when that is neither side, by
`citytools export`, whose open also clears what a killed write may leave (the staging
graphs of blank nodes). Once per write the product itself reopens a killed store
(`citytools export`, or the server restarted) and must read the graph the same.

The moments are CPU time of the writing process, counted from when it opens the store (a
load) or is sent the request (a server), at fractions of what the same write took
unkilled: a busy machine stretches the wall clock, not the work done. A run that ends
before its moment is checked too (the server killed just after it answered), and the
moment is tried again.

Compared as N-Triples lines per graph, without the statements about the written graph
itself (its provenance: time, checksum); triples with blank nodes are counted per graph;
in the provenance graph, names and times minted by each write (`{base}change/…`,
`xsd:dateTime`) are masked.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from http_support import AUTH, TOKEN, free_port
from pyoxigraph import BlankNode, DefaultGraph, NamedNode, Quad, RdfFormat, Store, Triple, parse
from serve_support import CITYTOOLS, cpu_ticks

from citytools.vocab import DEFAULT_BASE_IRI

pytestmark = pytest.mark.slow

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
GRAPH = "https://example.org/graph/kill-safety"
PROVENANCE = DEFAULT_BASE_IRI + "graph/provenance"
ROWS = 600  # about 12k triples: the load takes 1-2 s
MOMENTS = 10  # per write, spread over 5% … 90% of it
RETRIES = 5  # rounds more, at most, for moments the write ended before
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Rewrites every label and every satisfaction score of the graph, and gives every
# deployment a note that is a blank node (the write path stages those in graphs of its own
# and moves them in: a kill must not leave them half there). About 6,000 triples.
UPDATE = f"""PREFIX ct: <https://w3id.org/citytools/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
WITH <{GRAPH}>
DELETE {{ ?x rdfs:label ?l }} INSERT {{ ?x rdfs:label ?m }}
WHERE {{ ?x rdfs:label ?l BIND(CONCAT(?l, " (revised)") AS ?m) }} ;
WITH <{GRAPH}>
DELETE {{ ?d ct:satisfaction ?s }} INSERT {{ ?d ct:satisfaction ?t }}
WHERE {{ ?d ct:satisfaction ?s BIND(6 - ?s AS ?t) }} ;
WITH <{GRAPH}>
INSERT {{ ?d rdfs:seeAlso [ rdfs:label ?l ; rdfs:comment "kill-safety note" ] }}
WHERE {{ ?d a ct:Deployment ; rdfs:label ?l }}
"""
SERVER_ENV = {
    "CITYTOOLS_WRITE_TOKEN": TOKEN,
    "CITYTOOLS_QUERY_WORKERS": "1",
    # No background copy of the store for the inline lane: the server's CPU is the write's.
    "CITYTOOLS_INLINE_MEMORY_QUADS": "0",
}
_MINTED = re.compile(
    "<" + re.escape(DEFAULT_BASE_IRI) + r"change/[^/>]+"
    r'|"[^"]*"\^\^<http://www\.w3\.org/2001/XMLSchema#dateTime>'
)
# Opens the store and dumps it, in a process of its own: a damaged store cannot take the
# test down with it.
_DUMP = (
    "import sys, pyoxigraph as o; "
    "o.Store(sys.argv[1]).dump(open(sys.argv[2], 'wb'), format=o.RdfFormat.N_QUADS)"
)

Snapshot = dict[str, frozenset[str]]  # graph ("" the default graph) -> its N-Triples lines


def snapshot(quads: Iterable[Quad]) -> Snapshot:
    graphs: defaultdict[str, set[str]] = defaultdict(set)
    blank: Counter[str] = Counter()  # blank nodes are named anew by each read: counted
    target = NamedNode(GRAPH)
    for quad in quads:
        name = "" if isinstance(quad.graph_name, DefaultGraph) else str(quad.graph_name.value)
        if quad.subject == target:
            continue
        if BlankNode in (type(quad.subject), type(quad.object)):
            blank[name] += 1
            continue
        line = str(Triple(quad.subject, quad.predicate, quad.object))
        graphs[name].add(_MINTED.sub("…", line) if name == PROVENANCE else line)
    for name, count in blank.items():
        graphs[name].add(f"{count} triples with blank nodes")
    return {name: frozenset(lines) for name, lines in graphs.items()}


def from_nquads(data: bytes) -> Snapshot:
    return snapshot(parse(data, format=RdfFormat.N_QUADS))


def dump(store: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """The store's dump into a file beside it, under way."""
    output = store.with_suffix(".nq")
    command = [sys.executable, "-c", _DUMP, str(store), str(output)]
    return subprocess.Popen(command, stderr=subprocess.PIPE), output


def dumped(process: subprocess.Popen[bytes], output: Path) -> Snapshot:
    _, errors = process.communicate(timeout=120)
    assert process.returncode == 0, f"the store does not open: {errors.decode()}"
    return from_nquads(output.read_bytes())


def read(store: Path) -> Snapshot:
    return dumped(*dump(store))


def side(found: Snapshot, before: Snapshot, after: Snapshot) -> str:
    """Which side of the write `found` is on; fails naming the graphs on neither."""
    if found == before:
        return "before"
    if found == after:
        return "after"
    neither = {
        name: (len(found.get(name, ())), len(before.get(name, ())), len(after.get(name, ())))
        for name in found.keys() | before.keys() | after.keys()
        if found.get(name) not in (before.get(name), after.get(name))
    }
    mixed = "" if neither else " (each graph is one or the other, but not all on one side)"
    raise AssertionError(f"data lost{mixed}: graph -> (triples found, before, after) {neither}")


def strike(pid: int, target: int, ended: Callable[[], bool]) -> int | None:
    """SIGKILL the process group of `pid` once `pid` has used `target` CPU ticks: None; or,
    when the write `ended` first, the CPU ticks `pid` had used."""
    while not ended():
        if cpu_ticks(pid) >= target:
            os.killpg(pid, signal.SIGKILL)
            return None
        time.sleep(0.002)
    return cpu_ticks(pid)


Attempt = Callable[[int, int, bool], int | None]


def spread(length: int, attempt: Attempt) -> int:
    """Kill rounds at MOMENTS fractions of a write that took `length` CPU ticks; how many.

    `attempt(round, offset, last)` kills the write `offset` ticks into it (None) or tells
    how long it took when it ended first. The same work takes more or less CPU time from
    one run to the next (other processes share the caches), so such a moment is tried
    again, at its fraction of the shorter length."""
    fractions = [0.05 + 0.85 * i / (MOMENTS - 1) for i in range(MOMENTS)]
    rounds = 0
    while fractions:
        assert rounds < MOMENTS + RETRIES, "the write kept ending before its moments"
        took = attempt(rounds, round(length * fractions[0]), len(fractions) == 1)
        rounds += 1
        if took is None:
            fractions.pop(0)
        else:
            length = min(length, took)
    return rounds


@dataclass
class Outcomes:
    """The stores of one write's kill rounds, dumped while the next round runs."""

    before: Snapshot
    after: Snapshot
    stores: list[Path] = field(default_factory=list)
    dumps: list[tuple[subprocess.Popen[bytes], Path]] = field(default_factory=list)
    cleared: int = 0  # stores that held leftovers of the killed write until the product opened them

    def check(self, store: Path) -> None:
        self.stores.append(store)
        self.dumps.append(dump(store))

    def sides(self, reopened: Callable[[Path], frozenset[str]]) -> Counter[str]:
        """Which side each store is on; `reopened` reads the graph as the product does
        once it reopens a killed store (the last one)."""
        for process, _ in self.dumps:  # all ended, whichever fails
            process.wait(timeout=120)
        found = [dumped(*d) for d in self.dumps]
        assert reopened(self.stores[-1]) == found[-1][GRAPH]
        for index, store in enumerate(self.stores):
            if found[index] not in (self.before, self.after):
                # What the product's open makes of it (it clears a killed write's leftovers).
                found[index] = exported(store)
                self.cleared += 1
        sides = Counter(side(f, self.before, self.after) for f in found)
        for store, (_, output) in zip(self.stores, self.dumps, strict=True):
            shutil.rmtree(store)
            output.unlink()
        return sides


def inventory_csv(rows: int, seed: int) -> str:
    spec = importlib.util.spec_from_file_location("bench_generate", ROOT / "bench" / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    try:
        spec.loader.exec_module(module)
        text: str = module.generate_inventory(rows, seed)
    finally:
        del sys.modules[spec.name]
    return text


def load(store: Path, csv: Path) -> subprocess.Popen[bytes]:
    command = [CITYTOOLS, "load", "--replace", "--graph", GRAPH, "--store", str(store), str(csv)]
    return subprocess.Popen(
        command,
        cwd=store.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def exited(process: subprocess.Popen[bytes]) -> bool:
    """Whether `process` has ended, without reaping it (its CPU time stays readable)."""
    flags = os.WEXITED | os.WNOHANG | os.WNOWAIT
    return os.waitid(os.P_PID, process.pid, flags) is not None


def exported(store: Path) -> Snapshot:
    """The store as `citytools export` reads it."""
    output = store.with_suffix(".export.nq")
    command = [CITYTOOLS, "export", "--format", "nq", "--store", str(store), "-o", str(output)]
    done = subprocess.run(command, cwd=store.parent, capture_output=True, timeout=120)
    assert done.returncode == 0, f"citytools does not open the store: {done.stderr.decode()}"
    found = from_nquads(output.read_bytes())
    output.unlink()
    return found


@dataclass(frozen=True)
class Prepared:
    root: Path
    store: Path  # v1 loaded
    v2: Path
    before: Snapshot
    loaded: Snapshot  # after the load of v2
    opened: int  # CPU ticks the load of v2 took to open the store
    total: int  # and in all

    def copy(self, name: str) -> Path:
        destination = self.root / name
        shutil.copytree(self.store, destination)
        return destination


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    root = tmp_path_factory.mktemp("kill-safety")
    v1, v2 = root / "v1.csv", root / "v2.csv"
    v1.write_text(inventory_csv(ROWS, seed=1))
    v2.write_text(inventory_csv(ROWS, seed=2))  # other draws: most rows differ
    store = root / "prepared"
    assert load(store, v1).wait(timeout=120) == 0
    before = read(store)
    assert len(before[GRAPH]) > ROWS * 15
    # The load of v2, unkilled and measured.
    loaded = root / "loaded"
    shutil.copytree(store, loaded)
    untouched = loaded.stat().st_mtime_ns
    process = load(loaded, v2)
    opened = None
    while not exited(process):
        if opened is None and loaded.stat().st_mtime_ns != untouched:  # RocksDB opens it
            opened = cpu_ticks(process.pid)
        time.sleep(0.002)
    total = cpu_ticks(process.pid)
    assert process.wait() == 0
    assert opened is not None
    after = read(loaded)
    assert after[GRAPH] != before[GRAPH]
    return Prepared(root, store, v2, before, after, opened, total)


def test_kill_9_of_load_replace_leaves_the_graph_before_or_after(prepared: Prepared) -> None:
    outcomes = Outcomes(prepared.before, prepared.loaded)

    def attempt(index: int, offset: int, _last: bool) -> int | None:
        store = prepared.copy(f"load-{index}")
        process = load(store, prepared.v2)
        target = prepared.opened + offset
        took = strike(process.pid, target, lambda: exited(process))
        process.wait(timeout=120)  # gone, and RocksDB's lock with it
        outcomes.check(store)
        return None if took is None else took - prepared.opened

    rounds = spread(prepared.total - prepared.opened, attempt)
    sides = outcomes.sides(lambda store: exported(store)[GRAPH])
    log.info(
        "load --replace: %d kills inside the write, %d after it ended, %s, %d cleared on open; "
        "CPU ticks %d-%d",
        MOMENTS,
        rounds - MOMENTS,
        dict(sides),
        outcomes.cleared,
        prepared.opened,
        prepared.total,
    )
    assert sides["before"] >= 1


class Served:
    """`citytools serve --store STORE` in its own process group, started at once."""

    def __init__(self, store: Path) -> None:
        self.store = store
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [CITYTOOLS, "serve", "--store", str(store), "--workers", "1", "--port", str(port)],
            cwd=store.parent,
            env={**os.environ, **SERVER_ENV},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    def ready(self) -> Served:
        deadline = time.monotonic() + 60
        while True:
            assert self.process.poll() is None, "the server stopped while starting"
            assert time.monotonic() < deadline, "the server did not start within 60 s"
            with suppress(httpx.TransportError):
                if httpx.get(self.url + "/health", timeout=10).json()["status"] == "ok":
                    return self
            time.sleep(0.05)

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)  # gone, and RocksDB's lock with it


Request = Callable[[str], httpx.Response]


def put_v2(prepared: Prepared) -> Request:
    body = prepared.v2.read_bytes()

    def put(url: str) -> httpx.Response:
        headers = {**AUTH, "Content-Type": "text/csv"}
        return httpx.put(
            url + "/store", params={"graph": GRAPH}, content=body, headers=headers, timeout=120
        )

    return put


def update(url: str) -> httpx.Response:
    headers = {**AUTH, "Content-Type": "application/sparql-update"}
    return httpx.post(url + "/update", content=UPDATE.encode(), headers=headers, timeout=120)


def send(request: Request, url: str) -> None:
    with suppress(httpx.TransportError):  # the server was killed: no answer
        request(url)


def served(store: Path) -> frozenset[str]:
    """The graph as a server restarted on `store` answers it."""
    server = Served(store).ready()
    try:
        answer = httpx.get(
            server.url + "/store",
            params={"graph": GRAPH},
            headers={"Accept": "application/n-triples"},
            timeout=60,
        )
    finally:
        server.kill()
    assert answer.status_code == 200, answer.text
    triples = parse(answer.content, format=RdfFormat.N_TRIPLES)
    quads = (Quad(t.subject, t.predicate, t.object, NamedNode(GRAPH)) for t in triples)
    return snapshot(quads)[GRAPH]


def kill_server_during(prepared: Prepared, name: str, request: Request) -> Snapshot:
    """Kills of a server during `request`; the store after the unkilled request."""
    store = prepared.copy(f"{name}-whole")
    server = Served(store).ready()
    try:
        started = cpu_ticks(server.process.pid)
        answer = request(server.url)
        assert answer.status_code in (200, 204), answer.text
        length = cpu_ticks(server.process.pid) - started
    finally:
        server.kill()  # an answered write survives a kill -9 that follows it
    after = read(store)

    outcomes = Outcomes(prepared.before, after)
    # The next round's server starts during this round (the moments are CPU time).
    servers: list[Served] = []

    def attempt(index: int, offset: int, last: bool) -> int | None:
        if not servers or servers[-1].process.poll() is not None:
            servers.append(Served(prepared.copy(f"{name}-{index}")))
        server = servers[-1].ready()
        if not last:
            servers.append(Served(prepared.copy(f"{name}-{index + 1}")))
        sender = threading.Thread(target=send, args=(request, server.url), daemon=True)
        started = cpu_ticks(server.process.pid)
        sender.start()
        took = strike(server.process.pid, started + offset, lambda: not sender.is_alive())
        server.kill()
        sender.join(timeout=60)  # the connection is gone with the server
        outcomes.check(server.store)
        return None if took is None else took - started

    try:
        rounds = spread(length, attempt)
    finally:
        for each in servers:
            each.kill()
    sides = outcomes.sides(served)
    log.info(
        "serve, %s: %d kills inside the request, %d after its answer, %s, %d cleared on open; "
        "%d CPU ticks",
        name,
        MOMENTS,
        rounds - MOMENTS,
        dict(sides),
        outcomes.cleared,
        length,
    )
    assert sides["before"] >= 1
    return after


def test_kill_9_of_the_server_during_a_put_leaves_the_graph_before_or_after(
    prepared: Prepared,
) -> None:
    after = kill_server_during(prepared, "put", put_v2(prepared))
    assert after[GRAPH] == prepared.loaded[GRAPH]  # the same CSV as `load` read


def test_kill_9_of_the_server_during_an_update_leaves_the_graph_before_or_after(
    prepared: Prepared,
) -> None:
    after = kill_server_during(prepared, "update", update)
    # What the update makes of the graph, worked out apart: in memory, from the dump.
    expected = Store()
    expected.load(prepared.store.with_suffix(".nq").read_bytes(), format=RdfFormat.N_QUADS)
    expected.update(UPDATE)
    assert after[GRAPH] == snapshot(expected)[GRAPH]
    assert after[GRAPH] != prepared.before[GRAPH]
