"""Family B: HTTP throughput and latency of the service against rdflib-endpoint and Oxigraph.

    .venv/bin/python bench/http_bench.py [--quick] [--profile]

For each dataset (inventories of ~20k and ~230k triples from `generate.py`, loaded with
`citytools load FILE --store DIR` next to the ~17k reference quads every store holds):

* the store is exported (`citytools export --format nq`) and given to the peers: Oxigraph
  server loads the N-Quads (`oxigraph load`) and serves them read-only with
  `--union-default-graph` (the product's default graph is the union of its graphs too);
  rdflib-endpoint serves the same statements as one N-Triples file;
* each server is started, warmed up, measured with `wrk` on 127.0.0.1, then stopped before
  the next one starts, so they never compete for the two cores;
* queries: a lookup SELECT (the label of the system one given deployment uses) and the
  `vendor-concentration` saved query (on our service by its route; its SPARQL text with the
  default parameters inlined, via the SPARQL protocol, everywhere). Every server is first
  asked each query once and must give the same number of rows.

Modes: *distinct* = every request is a SPARQL text the server has not seen (lookups of
different deployments, and a `#` comment with a counter at the end), so no answer cache
can serve it; *repeated* = the same request again and again (our service answers from its
cache keyed by store version; rdflib-endpoint reuses its parsed query); *304* = the
repeated request with `If-None-Match` (our service only). Lookups are sent by GET
(`?query=`) and by POST (the same query as a form body), each measured on its own.

`--profile` also records our service with py-spy during a distinct lookup run and prints
where its time goes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httpx
from pyoxigraph import NamedNode, RdfFormat, parse

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import generate  # noqa: E402
from common import Section, count, log  # noqa: E402

ROOT = BENCH.parent
BIN = Path(sys.executable).parent
LUA = BENCH / "wrk" / "requests.lua"
QUERY_FILE = ROOT / "queries" / "vendor-concentration.rq"
SAVED = "vendor-concentration"
CT = "https://w3id.org/citytools/ontology#"
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
JSON_RESULTS = "application/sparql-results+json"

# Inventory rows giving ~20k and ~230k inventory triples (19.84 per row + ~430 shared).
DATASETS = {"20k": 965, "230k": 11_550}
SEED = 7
LOOKUP_PATHS = 2000  # distinct deployments cycled through (more than the 512-entry cache)
RDFLIB_AGGREGATE_LIMIT = 60.0  # seconds: beyond this rdflib-endpoint is skipped
GOALS = {  # (query, mode, peer) -> minimum ratio ours / peer (issues 4 and 10)
    ("lookup", "distinct", "rdflib-endpoint"): 10.0,
    ("lookup", "distinct", "Oxigraph server"): 0.6,
    ("lookup", "repeated", "Oxigraph server"): 0.8,
    ("aggregate", "distinct", "rdflib-endpoint"): 100.0,
}
OURS, OXIGRAPH, RDFLIB = "City Tools Graph", "Oxigraph server", "rdflib-endpoint"
LEAN = "lean Python reference (bench only)"


@dataclass(frozen=True)
class Load:
    """How hard wrk pushes: threads, connections, seconds, per-request timeout."""

    threads: int
    connections: int
    seconds: int
    timeout: int = 10

    def describe(self) -> str:
        return f"-t{self.threads} -c{self.connections} -d{self.seconds}s"


@dataclass
class Result:
    server: str
    query: str  # "lookup" | "aggregate"
    route: str
    mode: str  # "distinct" | "repeated" | "304"
    load: Load | None
    method: str = "GET"
    rows: int | None = None
    requests: int = 0
    duration: float = 0.0
    errors: int = 0
    p50_ms: float | None = None
    p99_ms: float | None = None
    cpu_us: float | None = None  # server CPU time per request
    cpu_main_us: float | None = None  # of which the HTTP processes (ours)
    note: str = ""
    no_answer_within: float | None = None  # skipped: one request alone took longer than this

    def _cpu(self) -> str:
        if self.cpu_us is None:
            return "—"
        total = f"{self.cpu_us / 1000:.2f}"
        if self.server != OURS or self.cpu_main_us is None:
            return total
        workers = self.cpu_us - self.cpu_main_us
        return f"{total} ({self.cpu_main_us / 1000:.2f} + {workers / 1000:.2f})"

    @property
    def rps(self) -> float:
        return self.requests / self.duration if self.duration else 0.0

    def row(self) -> list[str]:
        if self.load is None:
            return [
                self.server,
                self.query,
                f"{self.method} {self.route}",
                self.mode,
                "—",
                "skipped",
                "",
                "",
                "",
                "",
                self.note,
            ]
        return [
            self.server,
            self.query,
            f"{self.method} {self.route}",
            self.mode,
            self.load.describe(),
            _rps(self.rps),
            _ms(self.p50_ms),
            _ms(self.p99_ms),
            str(self.errors) if self.errors else "0",
            self._cpu(),
            self.note,
        ]


HEADER = [
    "server",
    "query",
    "route",
    "mode",
    "wrk",
    "rps",
    "p50",
    "p99",
    "errors",
    "CPU ms/req",
    "note",
]


def _rps(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2f} ms" if value < 100 else f"{value:,.0f} ms"


# ---------------------------------------------------------------------------- queries


def lookup_query(deployment: str) -> str:
    return (
        f"PREFIX ct: <{CT}> PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> "
        f"SELECT ?system ?label WHERE {{ <{deployment}> ct:system ?system . "
        "?system rdfs:label ?label }"
    )


def inline_parameters(text: str, values: dict[str, str]) -> str:
    """A saved query's text with its parameters written in as literals, for servers that
    know nothing of our parameter binding: a parameter is dropped from SELECT and GROUP BY
    lists (a GROUP BY left empty goes) and replaced by its literal everywhere else."""
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#+"))
    variable = re.compile(r"\?(" + "|".join(map(re.escape, values)) + r")\b")

    def without(match: re.Match[str]) -> str:
        kept = variable.sub("", match.group(0))
        return "" if kept.split() == ["GROUP", "BY"] else kept

    body = re.sub(r"SELECT\b.*?\bWHERE\b", without, body, flags=re.S)
    body = re.sub(r"GROUP BY\b[^{}]*?(?=ORDER BY|\}|$)", without, body, flags=re.S)
    return variable.sub(lambda m: values[m.group(1)], body)


def aggregate_query() -> str:
    return inline_parameters(
        QUERY_FILE.read_text(encoding="utf-8"), {"by": '"supplier"', "top": "15"}
    )


def query_path(endpoint: str, sparql: str) -> str:
    return f"{endpoint}?query={quote(sparql, safe='')}"


# ---------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    name: str
    command: list[str]
    endpoint: str  # SPARQL query path
    port: int
    ready_path: str
    cwd: Path
    log_file: Path
    env: dict[str, str] = field(default_factory=dict)
    startup_timeout: float = 180.0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    http_pids: set[int] = field(default_factory=set)  # ours: the processes that serve HTTP

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> float:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CITYTOOLS_")}
        env.update(self.env)
        started = time.perf_counter()
        with self.log_file.open("wb") as out:
            self.process = subprocess.Popen(
                self.command,
                cwd=self.cwd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stopped with its workers
            )
        deadline = started + self.startup_timeout
        with httpx.Client(timeout=10) as client:
            while time.perf_counter() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited at start-up: {self._tail()}")
                try:
                    response = client.get(self.base + self.ready_path)
                    if response.status_code == 200 and self._ready(response):
                        return time.perf_counter() - started
                    if response.status_code in (400, 404, 405):
                        self.stop()
                        raise RuntimeError(
                            f"{self.name}: {self.ready_path} answers {response.status_code}"
                        )
                    if response.status_code >= 500 and time.perf_counter() - started > 30:
                        self.stop()
                        raise RuntimeError(
                            f"{self.name} answers {response.status_code}: "
                            f"{response.text[:300]} {self._tail()}"
                        )
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(
            f"{self.name} not ready after {self.startup_timeout:.0f} s: {self._tail()}"
        )

    def _ready(self, response: httpx.Response) -> bool:
        if self.name != OURS:
            return True
        executor = response.json().get("executor") or {}
        return bool(executor.get("ready")) and executor.get("booted") == executor.get("workers")

    def warm_every_process(self, limit: float = 120.0) -> None:
        """Ours: wait until each HTTP process has its inline lane open (the statistics of
        the store are computed once, in the background, after start-up), and note which
        processes serve HTTP, for the CPU split."""
        if self.name != OURS:
            return
        opened: dict[int, bool] = {}
        wanted = None
        deadline = time.perf_counter() + limit
        while time.perf_counter() < deadline:
            httpx.get(self.base + "/sparql", params={"query": "ASK {}"}, timeout=30)
            health = httpx.get(self.base + "/health", timeout=30).json()
            process = health["process"]
            opened[process["pid"]] = bool((health["executor"].get("inline") or {}).get("open"))
            if process["role"] != "replica":
                wanted = 1 + int((process.get("replicas") or {}).get("wanted", 0))
            if wanted is not None and sum(opened.values()) == wanted:
                self.http_pids = set(opened)
                return
            time.sleep(0.05)
        raise RuntimeError(f"{self.name}: inline lanes not open after {limit:.0f} s: {opened}")

    def _tail(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def pids(self) -> list[int]:
        """The server and its children (same process group)."""
        if self.process is None:
            return []
        group, found = self.process.pid, []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == group:  # field 5 of stat: the process group
                found.append(int(entry.name))
        return found

    def cpu_ticks(self) -> dict[int, int]:
        """User + system CPU (clock ticks) so far of each of the server's processes."""
        found = {}
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            found[pid] = int(fields[11]) + int(fields[12])  # utime, stime
        return found

    def cpu_since(
        self, before: dict[int, int], seen: dict[int, int] | None = None
    ) -> tuple[float, float]:
        """CPU seconds used since `before` by the HTTP processes (ours; else the main
        process) and by all the processes; `seen` holds the last ticks sampled of processes
        that may have ended meanwhile (a query worker is killed when its client hangs up)."""
        ticks = os.sysconf("SC_CLK_TCK")
        now = {**(seen or {}), **self.cpu_ticks()}
        used = {pid: t - before.get(pid, 0) for pid, t in now.items()}
        http = self.http_pids or ({self.process.pid} if self.process is not None else set())
        main = sum(used.get(pid, 0) for pid in http)
        return main / ticks, sum(used.values()) / ticks

    def settle(self, limit: float = 30.0) -> None:
        """Wait until the server is idle (abandoned requests done, workers restarted)."""
        deadline = time.perf_counter() + limit
        while time.perf_counter() < deadline:
            before = self.cpu_ticks()
            time.sleep(0.3)
            _, busy = self.cpu_since(before)
            if busy < 0.03 and self._idle():
                return

    def _idle(self) -> bool:
        if self.name != OURS:
            return True
        try:
            health = httpx.get(self.base + "/health", timeout=5).json()
        except (httpx.HTTPError, ValueError):
            return False
        # A worker started after a kill reports "booted" only once a query uses it.
        return not (health.get("executor") or {}).get("busy")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        except ProcessLookupError:
            pass


@contextmanager
def running(server: Server) -> Iterator[Server]:
    seconds = server.start()
    server.warm_every_process()
    log(f"http: {server.name} ready on {server.base} in {seconds:.1f} s")
    try:
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------------------- wrk


def wrk_run(
    server: Server,
    paths: Sequence[str],
    load: Load,
    work: Path,
    *,
    nonce: bool,
    if_none_match: str | None = None,
    method: str = "GET",
) -> dict[str, float]:
    paths_file = work / "paths.txt"
    paths_file.write_text("\n".join(paths) + "\n", encoding="utf-8")
    out = work / "wrk.json"
    out.unlink(missing_ok=True)
    env = {
        **os.environ,
        "BENCH_PATHS": str(paths_file),
        "BENCH_NONCE": "1" if nonce else "0",
        "BENCH_RUN": secrets.token_hex(6),
        "BENCH_THREADS": str(load.threads),
        "BENCH_ACCEPT": JSON_RESULTS,
        "BENCH_IF_NONE_MATCH": if_none_match or "",
        "BENCH_OUT": str(out),
        "BENCH_METHOD": method,
    }
    command = [
        "wrk",
        f"-t{load.threads}",
        f"-c{load.connections}",
        f"-d{load.seconds}s",
        f"--timeout={load.timeout}s",
        "-s",
        str(LUA),
        server.base,
    ]
    subprocess.run(
        command, env=env, check=True, capture_output=True, timeout=load.seconds + load.timeout + 30
    )
    return json.loads(out.read_text())


def measure(
    server: Server,
    query: str,
    route: str,
    mode: str,
    paths: Sequence[str],
    load: Load,
    work: Path,
    *,
    warm: Load | None,
    nonce: bool,
    rows: int | None,
    if_none_match: str | None = None,
    note: str = "",
    method: str = "GET",
) -> Result:
    if warm is not None:
        wrk_run(server, paths, warm, work, nonce=nonce, if_none_match=if_none_match, method=method)
    server.settle()
    before = server.cpu_ticks()
    machine_before = _machine_busy()
    wrk_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    log_offset = server.log_file.stat().st_size if server.log_file.exists() else 0
    seen: dict[int, int] = {}
    stop = threading.Event()

    def sample() -> None:  # keeps the CPU of processes that end during the run
        while not stop.wait(0.25):
            seen.update(server.cpu_ticks())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        stats = wrk_run(
            server, paths, load, work, nonce=nonce, if_none_match=if_none_match, method=method
        )
    finally:
        stop.set()
        sampler.join()
    main, cpu = server.cpu_since(before, seen)
    wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = (wrk_after.ru_utime - wrk_before.ru_utime) + (
        wrk_after.ru_stime - wrk_before.ru_stime
    )
    busy, steal = (a - b for a, b in zip(_machine_busy(), machine_before, strict=True))
    others = max(0.0, busy - cpu - wrk_cpu)
    errors = int(sum(stats[k] for k in ("connect", "read", "write", "status", "timeout")))
    done = int(stats["requests"])
    seconds = stats["duration_us"] / 1e6
    remarks = [note] if note else []
    if errors:
        remarks.append(_errors(stats, server, log_offset))
    if seconds and (others + steal) / seconds > 0.1:
        remarks.append(
            f"other load on the machine during the run: {100 * others / seconds:.0f}% of a core"
            + (f", steal {100 * steal / seconds:.0f}%" if steal / seconds > 0.02 else "")
        )
    result = Result(
        server.name,
        query,
        route,
        mode,
        load,
        rows=rows,
        requests=done,
        duration=stats["duration_us"] / 1e6,
        errors=errors,
        p50_ms=stats["p50_us"] / 1000 if done else None,
        p99_ms=stats["p99_us"] / 1000 if done else None,
        cpu_us=cpu * 1e6 / done if done else None,
        cpu_main_us=main * 1e6 / done if done else None,
        note="; ".join(remarks),
        method=method,
    )
    log(
        f"http:   {server.name} {query} {method} {mode}: {_rps(result.rps)} rps, "
        f"p50 {_ms(result.p50_ms)}, "
        f"p99 {_ms(result.p99_ms)}, errors {errors}"
    )
    return result


def _machine_busy() -> tuple[float, float]:
    """CPU seconds the whole machine has been busy (all but idle and iowait), and stolen."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(f) for f in fields]
    ticks_per_second = os.sysconf("SC_CLK_TCK")
    idle = ticks[3] + ticks[4]
    steal = ticks[7] if len(ticks) > 7 else 0
    guest = sum(ticks[8:10]) if len(ticks) > 9 else 0  # already counted in user and nice
    return (sum(ticks) - idle - steal - guest) / ticks_per_second, steal / ticks_per_second


def _errors(stats: dict[str, float], server: Server, log_offset: int) -> str:
    """What wrk counted as errors; for our service, the statuses its request log shows."""
    kinds = {k: int(stats[k]) for k in ("connect", "read", "write", "status", "timeout")}
    text = ", ".join(f"{n} {k}" for k, n in kinds.items() if n)
    if server.name != OURS or not server.log_file.exists():
        return f"errors: {text}"
    statuses: Counter[int] = Counter()
    with server.log_file.open("rb") as f:
        f.seek(log_offset)
        for line in f:
            if line.startswith(b"{"):
                try:
                    status = int(json.loads(line)["status"])
                except (ValueError, KeyError):
                    continue
                if status >= 400:
                    statuses[status] += 1
    logged = ", ".join(f"HTTP {code} x{n}" for code, n in sorted(statuses.items()))
    return f"errors: {text}" + (f" (server log: {logged})" if logged else "")


# ---------------------------------------------------------------------------- probes


def rows_of(response: httpx.Response) -> int:
    response.raise_for_status()
    return len(response.json()["results"]["bindings"])


def probe(
    server: Server, path: str, timeout: float = 30.0, method: str = "GET"
) -> tuple[int, float, str | None]:
    """One request (a POST sends the path's query string as a form body): (rows, seconds,
    ETag)."""
    started = time.perf_counter()
    headers = {"Accept": JSON_RESULTS}
    with httpx.Client(timeout=timeout) as client:
        if method == "POST":
            endpoint, _, form = path.partition("?")
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            response = client.post(server.base + endpoint, content=form, headers=headers)
        else:
            response = client.get(server.base + path, headers=headers)
    return rows_of(response), time.perf_counter() - started, response.headers.get("etag")


# ---------------------------------------------------------------------------- datasets


@dataclass
class Dataset:
    label: str
    rows: int
    store: Path  # our store
    nquads: Path
    ntriples: Path
    oxigraph: Path  # Oxigraph server's store
    inventory_triples: int
    quads: int
    triples: int  # distinct statements given to rdflib-endpoint
    deployments: list[str]
    load_seconds: float


def citytools(*args: str, cwd: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYTOOLS_")}
    subprocess.run(
        [str(BIN / "citytools"), *args], cwd=cwd, env=env, check=True, capture_output=True
    )


def prepare(label: str, rows: int, work: Path) -> Dataset:
    here = work / label
    here.mkdir(parents=True)
    csv_file = here / "inventory.csv"
    csv_file.write_text(generate.generate_inventory(rows, SEED), encoding="utf-8")
    store = here / "store"
    started = time.perf_counter()
    citytools("load", str(csv_file), "--store", str(store), cwd=here)
    load_seconds = time.perf_counter() - started
    nq = here / "all.nq"
    citytools("export", "--format", "nq", "--store", str(store), "-o", str(nq), cwd=here)
    statements: dict[str, None] = {}
    deployments: list[str] = []
    graph = f"<{CT[: -len('ontology#')]}id/graph/inventory>"
    inventory_triples = quads = 0
    with nq.open("rb") as f:
        for quad in parse(f, format=RdfFormat.N_QUADS):
            quads += 1
            statements[f"{quad.triple} .\n"] = None
            if str(quad.graph_name) == graph:
                inventory_triples += 1
            if quad.predicate == NamedNode(CT + "system") and isinstance(quad.subject, NamedNode):
                deployments.append(quad.subject.value)
    nt = here / "all.nt"
    nt.write_text("".join(statements), encoding="utf-8")
    oxigraph = here / "oxigraph"
    subprocess.run(
        [str(BIN / "oxigraph"), "load", "--location", str(oxigraph), "--file", str(nq)],
        check=True,
        capture_output=True,
    )
    step = max(1, len(deployments) // LOOKUP_PATHS)
    return Dataset(
        label,
        rows,
        store,
        nq,
        nt,
        oxigraph,
        inventory_triples,
        quads,
        len(statements),
        deployments[::step][:LOOKUP_PATHS],
        load_seconds,
    )


def servers(data: Dataset, work: Path) -> list[Server]:
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    here = data.store.parent
    return [
        Server(
            OURS,
            [str(BIN / "citytools"), "serve", "--store", str(data.store), "--port", "{port}"],
            "/sparql",
            0,
            "/health",
            here,
            logs / f"ours-{data.label}.log",
        ),
        Server(
            LEAN,
            [
                str(BIN / "uvicorn"),
                "lean_server:app",
                "--app-dir",
                str(BENCH),
                "--workers",
                "2",
                "--http",
                "httptools",
                "--loop",
                "uvloop",
                "--no-access-log",
                "--log-level",
                "warning",
                "--host",
                "127.0.0.1",
                "--port",
                "{port}",
            ],
            "/sparql",
            0,
            "/sparql?query=ASK%7B%7D",
            here,
            logs / f"lean-{data.label}.log",
            env={"BENCH_STORE": str(data.store), "BENCH_CACHE": "1"},
        ),
        Server(
            OXIGRAPH,
            [
                str(BIN / "oxigraph"),
                "serve-read-only",
                "--location",
                str(data.oxigraph),
                "--bind",
                "127.0.0.1:{port}",
                "--union-default-graph",
            ],
            "/query",
            0,
            "/query?query=ASK%7B%7D",
            here,
            logs / f"oxigraph-{data.label}.log",
        ),
        Server(
            RDFLIB,
            [
                str(BIN / "rdflib-endpoint"),
                "serve",
                str(data.ntriples),
                "--host",
                "127.0.0.1",
                "--port",
                "{port}",
            ],
            "/",
            0,
            "/?query=ASK%7B%7D",
            here,
            logs / f"rdflib-{data.label}.log",
        ),
    ]


def _with_port(server: Server) -> Server:
    server.port = free_port()
    server.command = [part.replace("{port}", str(server.port)) for part in server.command]
    return server


# ---------------------------------------------------------------------------- the family


@dataclass
class Plan:
    lookup: Load
    aggregate: Load
    slow: Load  # rdflib-endpoint aggregates
    warm: Load

    @classmethod
    def make(cls, quick: bool) -> Plan:
        seconds = 3 if quick else 10
        return cls(
            lookup=Load(2, 16, seconds),
            aggregate=Load(2, 4, seconds, timeout=60),
            slow=Load(1, 2, seconds, timeout=30),
            warm=Load(2, 16, 1),
        )


def bench_server(
    server: Server, data: Dataset, plan: Plan, work: Path
) -> tuple[list[Result], dict[str, int]]:
    """Every measurement on one running server; returns them and the probed row counts."""
    lookups = [query_path(server.endpoint, lookup_query(d)) for d in data.deployments]
    aggregate = query_path(server.endpoint, aggregate_query())
    results: list[Result] = []
    rows: dict[str, int] = {}
    rows["lookup"], _, etag = probe(server, lookups[0])
    route = server.endpoint
    lookup_modes: list[tuple[str, str, list[str], bool, str | None]] = [
        ("GET", "distinct", lookups, True, None),
        ("GET", "repeated", lookups[:1], False, None),
    ]
    if server.name == OURS and etag:  # a revalidation: 304 expected
        lookup_modes.append(("GET", "304", lookups[:1], False, etag))
    if server.name != LEAN:  # the lean reference answers GET only
        rows["lookup by POST"], _, _ = probe(server, lookups[0], method="POST")
        lookup_modes += [
            ("POST", "distinct", lookups, True, None),
            ("POST", "repeated", lookups[:1], False, None),
        ]
    for method, mode, paths, nonce, if_none_match in lookup_modes:
        results.append(
            measure(
                server,
                "lookup",
                route,
                mode,
                paths,
                plan.lookup,
                work,
                warm=plan.warm,
                nonce=nonce,
                rows=rows["lookup"],
                if_none_match=if_none_match,
                method=method,
            )
        )

    limit = RDFLIB_AGGREGATE_LIMIT if server.name == RDFLIB else 30.0
    try:
        rows["aggregate"], took, _ = probe(server, aggregate, timeout=limit)
    except httpx.TimeoutException:
        note = f"no answer within {limit:.0f} s: skipped"
        skipped = Result(server.name, "aggregate", route, "distinct", None, note=note)
        skipped.no_answer_within = limit
        results.append(skipped)
        return results, rows
    if server.name == RDFLIB:
        # Bounded: each request is slow; when very slow, one connection and ~2 requests.
        note = f"one request alone: {took:.1f} s"
        modes = ["distinct", "repeated"]
        slow = Load(plan.slow.threads, plan.slow.connections, plan.slow.seconds, int(limit))
        if took > 5:
            seconds = int(min(max(plan.slow.seconds, 2.2 * took), 60))
            slow = Load(1, 1, seconds, timeout=int(limit))
            modes = ["distinct"]
            note += "; repeated not run (its parsed-query cache saves little here)"
        for mode in modes:
            results.append(
                measure(
                    server,
                    "aggregate",
                    route,
                    mode,
                    [aggregate],
                    slow,
                    work,
                    warm=None,
                    nonce=mode == "distinct",
                    rows=rows["aggregate"],
                    note=note if mode == "distinct" else "",
                )
            )
        return results, rows
    # The probe was the warm-up (a 1-second wrk run would leave aggregates in flight); each
    # run lasts long enough for ~8 sequential answers at least.
    warm = None
    busy = Load(
        plan.aggregate.threads,
        plan.aggregate.connections,
        max(plan.aggregate.seconds, min(40, math.ceil(8 * took))),
        plan.aggregate.timeout,
    )
    results.append(
        measure(
            server,
            "aggregate",
            route,
            "distinct",
            [aggregate],
            busy,
            work,
            warm=warm,
            nonce=True,
            rows=rows["aggregate"],
        )
    )
    if server.name == LEAN:
        return results, rows
    if server.name != OURS:
        results.append(
            measure(
                server,
                "aggregate",
                route,
                "repeated",
                [aggregate],
                busy,
                work,
                warm=warm,
                nonce=False,
                rows=rows["aggregate"],
            )
        )
        return results, rows
    saved = f"/queries/{SAVED}"
    rows["saved"], _, etag = probe(server, saved)
    # Distinct cache keys for the saved route: `top` from 15 up (the ranking work is the same
    # for every top; the answer lists min(top, vendors) rows).
    # From 16 up: the probe has cached top=15 (the default).
    tops = [f"{saved}?top={16 + i}" for i in range(4000)]
    results.append(
        measure(
            server,
            "aggregate",
            saved,
            "distinct",
            tops,
            busy,
            work,
            warm=None,
            nonce=False,
            rows=rows["saved"],
            note="top=16,17,…",
        )
    )
    results.append(
        measure(
            server,
            "aggregate",
            saved,
            "repeated",
            [saved],
            busy,
            work,
            warm=warm,
            nonce=False,
            rows=rows["saved"],
        )
    )
    if etag:
        results.append(
            measure(
                server,
                "aggregate",
                saved,
                "304",
                [saved],
                busy,
                work,
                warm=warm,
                nonce=False,
                rows=rows["saved"],
                if_none_match=etag,
            )
        )
    return results, rows


def dataset_sections(
    data: Dataset, results: list[Result], rows: dict[str, dict[str, int]], plan: Plan
) -> list[Section]:
    table = Section(
        f"HTTP, {data.label} inventory ({count(data.inventory_triples)} inventory triples; "
        f"{count(data.quads)} quads in the store)",
        HEADER,
        [r.row() for r in results],
    )
    per_query = []
    for query in ("lookup", "lookup by POST", "aggregate"):
        found = {name: got[query] for name, got in rows.items() if query in got}
        listed = ", ".join(f"{name} {n}" for name, n in found.items())
        verdict = "the same everywhere" if len(set(found.values())) == 1 else "**they differ**"
        per_query.append(f"{query}: {listed} ({verdict})")
    saved = rows.get(OURS, {}).get("saved", "?")
    table.notes += [
        "Rows per answer, probed once on each server before its runs: "
        + "; ".join(per_query)
        + f"; our saved route: {saved}.",
        f"Data: our store as loaded by `citytools load` ({data.load_seconds:.1f} s for "
        f"{count(data.rows)} rows); Oxigraph server: the same {count(data.quads)} quads (N-Quads "
        f"export), `--union-default-graph`; rdflib-endpoint: the {count(data.triples)} distinct "
        "triples as one N-Triples file.",
        "CPU ms/req = user + system CPU of the server's processes during the run, per "
        "completed request (ours: its HTTP processes, one per core, + their query workers); "
        "wrk itself shares the cores.",
    ]
    ratios = Section(
        f"HTTP, {data.label}: our service against the peers (rps ratio, same requests)",
        [
            "query",
            "mode (our route)",
            "ours rps",
            "vs rdflib-endpoint",
            "goal",
            "vs Oxigraph server",
            "goal",
            "lean Python reference rps",
        ],
    )
    by_key = {
        (r.server, r.query, r.method, r.mode, r.route.startswith("/queries")): r for r in results
    }
    for query, method, mode, saved_route in (
        ("lookup", "GET", "distinct", False),
        ("lookup", "POST", "distinct", False),
        ("lookup", "GET", "repeated", False),
        ("lookup", "POST", "repeated", False),
        ("aggregate", "GET", "distinct", False),
        ("aggregate", "GET", "distinct", True),
        ("aggregate", "GET", "repeated", True),
    ):
        ours = by_key.get((OURS, query, method, mode, saved_route))
        if ours is None or ours.load is None:
            continue
        cells = [query, f"{mode} ({method} {ours.route})", _rps(ours.rps)]
        for peer in (RDFLIB, OXIGRAPH):
            other = by_key.get((peer, query, method, mode, False))
            goal = GOALS.get((query, mode, peer))
            if other is not None and other.no_answer_within is not None and mode == "distinct":
                # It gave no answer in that time: it serves < 1/limit rps, a lower bound.
                bound = ours.rps * other.no_answer_within
                met = "" if goal is None else (" ✔" if bound >= goal else " ?")
                cells += [f"> {bound:,.0f}x (no answer in {other.no_answer_within:.0f} s)"]
                cells.append(_goal_text(goal) + met)
                continue
            if other is None or other.load is None or not other.rps:
                cells += ["skipped" if other is not None else "not run", _goal_text(goal)]
                continue
            ratio = ours.rps / other.rps
            met = "" if goal is None else (" ✔" if ratio >= goal else " ✘")
            cells += [f"{ratio:,.2f}x" if ratio < 10 else f"{ratio:,.0f}x", _goal_text(goal) + met]
        lean = by_key.get((LEAN, query, method, mode, False))
        cells.append(_rps(lean.rps) if lean is not None and lean.load is not None else "—")
        ratios.rows.append(cells)
    ratios.notes.append(
        "Goals (issues 4 and 10): distinct lookups, which no cache can answer, by GET and by "
        "POST ≥ 10x rdflib-endpoint and ≥ 0.6x Oxigraph server; repeated (cached) lookups "
        "≥ 0.8x Oxigraph server; distinct aggregates ≥ 100x rdflib-endpoint. ✔ met, ✘ not "
        "met, on runs minutes apart: the head-to-head table below is steadier for Oxigraph. "
        "The lean Python reference (`bench/lean_server.py`: raw ASGI, 2 uvicorn workers, "
        "pyoxigraph inline, no timeout or checks, GET only) is no product: it shows what "
        "Python on these 2 cores can reach."
    )
    return [table, ratios]


def _goal_text(goal: float | None) -> str:
    return "—" if goal is None else f"≥ {goal:g}x"


def run(
    quick: bool = False, profile: bool = False, datasets: Sequence[str] | None = None
) -> list[Section]:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk (make bench does)")
    plan = Plan.make(quick)
    work = Path(tempfile.mkdtemp(prefix="citytools-bench-http-"))
    sections: list[Section] = []
    try:
        for label, rows in DATASETS.items():
            if datasets and label not in datasets:
                continue
            log(f"http: preparing the {label} dataset ({count(rows)} rows)")
            data = prepare(label, rows, work)
            results: list[Result] = []
            probed: dict[str, dict[str, int]] = {}
            for server in servers(data, work):
                with running(_with_port(server)):
                    found, probed[server.name] = bench_server(server, data, plan, work)
                    results += found
                    if profile and server.name == OURS:
                        sections += profile_ours(server, data, plan, work)
            sections += dataset_sections(data, results, probed, plan)
            sections.append(head_to_head(data, plan, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return sections


# ---------------------------------------------------------------------------- head to head

HEAD_TO_HEAD = (OURS, LEAN, OXIGRAPH)
# (method, mode) of the lookups measured head to head; the lean reference answers GET only.
HEAD_TO_HEAD_CASES = (
    ("GET", "distinct"),
    ("POST", "distinct"),
    ("GET", "repeated"),
    ("POST", "repeated"),
)


def head_to_head(data: Dataset, plan: Plan, work: Path) -> Section:
    """Lookups on ours, the lean reference and Oxigraph server, all started, in alternating
    rounds: this VM's speed drifts by tens of percent within minutes, and a ratio of rounds
    run side by side is steadier than one of runs minutes apart. Only the server measured
    has work; the others idle. Distinct and repeated lookups, by GET and by POST."""
    rounds = 2 if plan.lookup.seconds < 10 else 4
    load = Load(plan.lookup.threads, plan.lookup.connections, 5)
    lean_store = work / f"{data.label}-lean-store"  # ours holds its store for writing
    shutil.copytree(data.store, lean_store, ignore=shutil.ignore_patterns("query-snapshots"))
    chosen = [_with_port(s) for s in servers(data, work) if s.name in HEAD_TO_HEAD]
    for server in chosen:
        if server.name == LEAN:
            server.env["BENCH_STORE"] = str(lean_store)
    rps: dict[tuple[str, str, str], list[float]] = {}
    with ExitStack() as stack:
        for server in chosen:
            stack.enter_context(running(server))
        for round_ in range(rounds):
            order = chosen[round_ % len(chosen) :] + chosen[: round_ % len(chosen)]
            for method, mode in HEAD_TO_HEAD_CASES:
                for server in order:
                    if server.name == LEAN and method != "GET":
                        continue
                    paths = [query_path(server.endpoint, lookup_query(d)) for d in data.deployments]
                    if mode == "repeated":
                        paths = paths[:1]
                    nonce = mode == "distinct"
                    wrk_run(server, paths, plan.warm, work, nonce=nonce, method=method)
                    stats = wrk_run(server, paths, load, work, nonce=nonce, method=method)
                    found = rps.setdefault((method, mode, server.name), [])
                    found.append(stats["requests"] / (stats["duration_us"] / 1e6))
    shutil.rmtree(lean_store, ignore_errors=True)
    table = Section(
        f"HTTP, {data.label}: lookups head to head, {rounds} alternating rounds",
        [
            "lookups",
            "server",
            *(f"round {i + 1}" for i in range(rounds)),
            "median rps",
            "ours / it",
            "goal",
        ],
    )
    for (method, mode, name), found in rps.items():
        ours = rps[(method, mode, OURS)]
        goal = GOALS.get(("lookup", mode, name))
        if name == OURS:
            ratio_cells = ["—", ""]
        else:
            ratio = statistics.median(a / b for a, b in zip(ours, found, strict=True))
            met = "" if goal is None else (" ✔" if ratio >= goal else " ✘")
            ratio_cells = [f"{ratio:.2f}x", _goal_text(goal) + met]
        rounds_rps = [_rps(v) for v in found]
        median = _rps(statistics.median(found))
        table.rows.append([f"{mode} by {method}", name, *rounds_rps, median, *ratio_cells])
    table.notes.append(
        f"wrk {load.describe()} per round, case and server (after 1 s of warm-up), the order "
        "of the servers rotating each round; 'ours / it' is the median of the per-round "
        "ratios. Goals: distinct lookups ≥ 0.6x Oxigraph server, repeated ≥ 0.8x."
    )
    log(
        f"http: head to head {data.label}: "
        + ", ".join(
            f"{method} {mode} {name} {statistics.median(found):,.0f}"
            for (method, mode, name), found in rps.items()
        )
    )
    return table


# ---------------------------------------------------------------------------- profiling


def profile_ours(server: Server, data: Dataset, plan: Plan, work: Path) -> list[Section]:
    """py-spy over our server (all its processes) during a distinct lookup run."""
    py_spy = BIN / "py-spy"
    if not py_spy.exists():
        return [Section("Profile", [], notes=["py-spy is not installed (pip install py-spy)"])]
    assert server.process is not None
    out: list[Section] = []
    lookups = [query_path(server.endpoint, lookup_query(d)) for d in data.deployments]
    cases = [("distinct lookups", lookups, True), ("repeated lookup (cached)", lookups[:1], False)]
    for title, paths, nonce in cases:
        raw = work / "profile.txt"
        seconds = plan.lookup.seconds
        spy = subprocess.Popen(
            [
                str(py_spy),
                "record",
                "--pid",
                str(server.process.pid),
                "--subprocesses",
                "--nonblocking",
                "--rate",
                "250",
                "--duration",
                str(seconds),
                "--format",
                "raw",
                "--output",
                str(raw),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(0.5)
        stats = wrk_run(server, paths, Load(2, 16, seconds), work, nonce=nonce)
        _, err = spy.communicate(timeout=seconds + 60)
        rps = stats["requests"] / (stats["duration_us"] / 1e6)
        if not raw.exists():
            out.append(
                Section(
                    f"Profile of our service: {title}",
                    [],
                    notes=[f"py-spy failed: {err.decode(errors='replace')[-500:]}"],
                )
            )
            continue
        out += summarise_profile(
            raw.read_text(errors="replace"), f"{title}, {data.label}, {_rps(rps)} rps under py-spy"
        )
    return out


# What each sample is spent on, first match wins (a frame is "function (file:line)").
BUCKETS = (
    ("query evaluation (pyoxigraph + result writing)", re.compile(r"engine/evaluate\.py")),
    ("inline lane: query shape + cost bound", re.compile(r"engine/lane_(shape|cost)\.py")),
    ("worker: socket wait + pickle", re.compile(r"engine/worker\.py")),
    ("executor: IPC with workers (pickle, sockets)", re.compile(r"engine/(pool|lane)\.py")),
    ("metrics (prometheus_client)", re.compile(r"prometheus_client/|http/metrics\.py")),
    ("answer cache + ETag", re.compile(r"http/cache\.py|store/versions\.py|cachetools/")),
    ("query string, form + conneg", re.compile(r"http/body\.py|http/conneg\.py|mimeparse")),
    ("SPARQL route handler", re.compile(r"routes/sparql\.py|http/deps\.py")),
    ("our middleware (Observer, BodyLimit)", re.compile(r"http/middleware\.py")),
    ("Starlette / FastAPI routing + middleware", re.compile(r"(starlette|fastapi)/")),
    ("HTTP protocol: uvicorn's (and the socket writes)", re.compile(r"uvicorn/|http/upgrade\.py")),
    ("asyncio / uvloop event loop", re.compile(r"asyncio/|uvloop")),
)


def summarise_profile(raw: str, title: str) -> list[Section]:
    """Collapsed stacks ("frame;frame;... count") into: samples per process, per bucket
    (inclusive: the first bucket a stack touches, innermost frame first) and top leaf frames."""
    per_process: Counter[str] = Counter()
    buckets: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        samples = int(n)
        frames = stack.split(";")
        role = "query worker" if "engine/worker.py" in stack else "HTTP process"
        per_process[role] += samples
        total += samples
        leaves[f"{role}: {frames[-1].strip()}"] += samples
        label = "other"
        for frame in reversed(frames):
            hit = next((name for name, pattern in BUCKETS if pattern.search(frame)), None)
            if hit is not None:
                label = hit
                break
        if role == "HTTP process" and any("logging" in f for f in frames):
            label = "request log line (logging + json)"
        buckets[f"{role}: {label}"] += samples
    if not total:
        return [Section(f"Profile: {title}", [], notes=["no samples"])]
    where = Section(
        f"Profile of our service: {title}",
        ["where (innermost matching frame)", "samples", "share"],
        [[name, count(n), f"{100 * n / total:.1f}%"] for name, n in buckets.most_common(14)],
        [
            "Samples of busy threads only (py-spy --nonblocking, idle threads excluded): "
            + ", ".join(f"{role} {100 * n / total:.0f}%" for role, n in per_process.most_common())
        ],
    )
    top = Section(
        f"Profile: top leaf frames ({title})",
        ["frame", "samples", "share"],
        [
            [name.replace("|", "/"), count(n), f"{100 * n / total:.1f}%"]
            for name, n in leaves.most_common(15)
        ],
    )
    return [where, top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="3-second wrk runs instead of 10")
    parser.add_argument("--profile", action="store_true", help="py-spy our service too")
    parser.add_argument("--dataset", action="append", choices=list(DATASETS), help="only these")
    args = parser.parse_args()
    for section in run(quick=args.quick, profile=args.profile, datasets=args.dataset):
        print(section.markdown())


if __name__ == "__main__":
    main()
