"""Family D: what one small write costs through HTTP, and how that grows with the store.

    .venv/bin/python bench/run.py --only writes [--quick]
    .venv/bin/python bench/write_bench.py [--quick] [--size 60k …]

SPEC (Promises): "a write's cost grows with what it changes, not with the size of the
store". For stores of about 60k, 250k and 1M quads (an inventory from `generate.py`
loaded with `citytools load`, beside the reference data every store holds; `--quick`: the
two smaller), our service (`citytools serve` on the embedded store, with a write token)
and Oxigraph server (`oxigraph serve`, read-write, on the same quads) both run, and each
is sent the same writes:

* **insert**: a one-triple `INSERT DATA` into a graph that does not exist yet;
* **edit**: one contract's `ct:annualValue` changed in the large inventory graph, by a
  `DELETE … INSERT … WHERE` that finds the contract from its deployment and buyer;
* **put**: a Graph Store `PUT` of a 10-triple graph (replacing the last one).

Each write is timed from request to answer, the median of `RUNS` after one warm-up,
the two servers taking turns (the VM's speed drifts over minutes) and each server idle
(CPU quiet, no query in flight) before each timed write, so background work a write
leaves behind is not charged to the next one. Goals: ours ≤ 50 ms per write at 250k, and
ours at 1M ≤ 1.5x ours at 60k.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
from pyoxigraph import QuerySolutions, Store

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import http_bench  # noqa: E402
from common import Section, count, log  # noqa: E402
from http_bench import BIN, CT, OURS, OXIGRAPH, Dataset, Server, running  # noqa: E402

# Inventory rows giving ~60k, ~250k and ~1M quads (~17.9 quads a row + ~17.7k shared).
SIZES = {"60k": 2_365, "250k": 13_000, "1M": 55_000}
QUICK_SIZES = ("60k", "250k")
RUNS = 5
TOKEN = "bench-write-token"
EX = "http://example.org/bench/"
WRITES = ("insert", "edit", "put")
GOAL_MS_250K = 50.0
GOAL_GROWTH = 1.5


@dataclass(frozen=True)
class Contract:
    """The contract the edit changes: its graph, deployment and buyer."""

    graph: str
    deployment: str
    buyer: str


@dataclass(frozen=True)
class Write:
    """One write as both servers take it: method, path on the server, body, media type."""

    method: str
    path: str
    body: str
    media_type: str


def chosen_contract(data: Dataset) -> Contract:
    """A contract with an annual value, read from our store before the servers start."""
    store = Store.read_only(str(data.store))
    found = store.query(
        f"SELECT ?g ?d ?buyer WHERE {{ GRAPH ?g {{ ?d <{CT}contract> ?c . "
        f"?c <{CT}annualValue> ?v ; <{CT}buyer> ?buyer }} }} LIMIT 1"
    )
    assert isinstance(found, QuerySolutions)
    row = next(iter(found))
    return Contract(*(str(row[name].value) for name in ("g", "d", "buyer")))


def edited_value(run: int) -> str:
    return f"{123 + run}.5"


def writes(kind: str, run: int, contract: Contract) -> Write:
    """The `run`-th write of `kind` (a new graph, value or body each time)."""
    if kind == "insert":
        text = f'INSERT DATA {{ GRAPH <{EX}new/{run}> {{ <{EX}s> <{EX}p> "{run}" }} }}'
        return Write("POST", "/update", text, "application/sparql-update")
    if kind == "edit":
        g, value = contract.graph, edited_value(run)
        text = (
            f"DELETE {{ GRAPH <{g}> {{ ?c <{CT}annualValue> ?old }} }} "
            f"INSERT {{ GRAPH <{g}> {{ ?c <{CT}annualValue> {value} }} }} "
            f"WHERE {{ GRAPH <{g}> {{ <{contract.deployment}> <{CT}contract> ?c . "
            f"?c <{CT}annualValue> ?old ; <{CT}buyer> <{contract.buyer}> }} }}"
        )
        return Write("POST", "/update", text, "application/sparql-update")
    body = "".join(f'<{EX}item/{i}> <{EX}value> "{run}-{i}" .\n' for i in range(10))
    return Write("PUT", f"/store?graph={EX}put", body, "application/n-triples")


def bench_servers(data: Dataset, work: Path) -> list[Server]:
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    here = data.store.parent
    ours = Server(
        OURS,
        [str(BIN / "citytools"), "serve", "--store", str(data.store), "--port", "{port}"],
        "/sparql",
        0,
        "/health",
        here,
        logs / f"ours-writes-{data.label}.log",
        env={"CITYTOOLS_WRITE_TOKEN": TOKEN},
    )
    oxigraph = Server(
        OXIGRAPH,
        [
            str(BIN / "oxigraph"),
            "serve",
            "--location",
            str(data.oxigraph),
            "--bind",
            "127.0.0.1:{port}",
        ],
        "/query",
        0,
        "/query?query=ASK%7B%7D",
        here,
        logs / f"oxigraph-writes-{data.label}.log",
    )
    return [http_bench._with_port(ours), http_bench._with_port(oxigraph)]


def timed_write(client: httpx.Client, server: Server, write: Write) -> float | str:
    """Seconds from request to answer, or why the server refused."""
    headers = {"Content-Type": write.media_type}
    if server.name == OURS:
        headers["Authorization"] = f"Bearer {TOKEN}"
    started = time.perf_counter()
    response = client.request(
        write.method, server.base + write.path, content=write.body, headers=headers
    )
    elapsed = time.perf_counter() - started
    if response.status_code >= 300:
        return f"refused {response.status_code}"
    return elapsed


def measure(data: Dataset, work: Path, contract: Contract) -> dict[tuple[str, str], float | str]:
    """Median seconds per write, by (write, server name); a refusal as its text."""
    found: dict[tuple[str, str], float | str] = {}
    servers = bench_servers(data, work)
    with ExitStack() as stack, httpx.Client(timeout=600) as client:
        for server in servers:
            stack.enter_context(running(server))
        for kind in WRITES:
            times: dict[str, list[float]] = {s.name: [] for s in servers}
            for run in range(RUNS + 1):  # run 0 is the warm-up
                order = servers if run % 2 else servers[::-1]
                for server in order:
                    for idle in servers:
                        idle.settle()
                    taken = timed_write(client, server, writes(kind, run, contract))
                    if isinstance(taken, str):
                        found[(kind, server.name)] = taken
                    elif run:
                        times[server.name].append(taken)
            for server in servers:
                if kind == "edit" and (kind, server.name) not in found:  # not refused
                    check_edited(client, server, contract)
            for name, seconds in times.items():
                if (kind, name) not in found:
                    found[(kind, name)] = statistics.median(seconds)
            log(
                f"writes: {data.label} {kind}: "
                + ", ".join(f"{name} {_ms(found[(kind, name)])}" for name in times)
            )
    return found


def check_edited(client: httpx.Client, server: Server, contract: Contract) -> None:
    """The edit changed the value (a WHERE that matched nothing would time a no-op)."""
    ask = (
        f"ASK {{ GRAPH <{contract.graph}> {{ <{contract.deployment}> <{CT}contract> ?c . "
        f"?c <{CT}annualValue> {edited_value(RUNS)} }} }}"
    )
    response = client.get(
        server.base + server.endpoint,
        params={"query": ask},
        headers={"Accept": "application/sparql-results+json"},
    )
    if response.status_code != 200 or response.json().get("boolean") is not True:
        raise RuntimeError(f"{server.name}: the edit did not change the value: {response.text}")


def _ms(value: float | str) -> str:
    return value if isinstance(value, str) else f"{value * 1000:.1f} ms"


def _ratio(a: float | str, b: float | str) -> str:
    return f"{a / b:.2f}x" if isinstance(a, float) and isinstance(b, float) else "—"


def run(quick: bool = False, sizes: list[str] | None = None) -> list[Section]:
    labels = sizes or list(QUICK_SIZES if quick else SIZES)
    work = Path(tempfile.mkdtemp(prefix="citytools-bench-writes-"))
    results: dict[str, dict[tuple[str, str], float | str]] = {}
    quads: dict[str, int] = {}
    try:
        for label in labels:
            log(f"writes: preparing the {label} store ({count(SIZES[label])} inventory rows)")
            data = http_bench.prepare(label, SIZES[label], work)
            quads[label] = data.quads
            results[label] = measure(data, work, chosen_contract(data))
            shutil.rmtree(data.store.parent, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return sections(results, quads)


def sections(
    results: dict[str, dict[tuple[str, str], float | str]], quads: dict[str, int]
) -> list[Section]:
    table = Section(
        f"Writes through HTTP: ms per write (median of {RUNS} after a warm-up)",
        ["write", "store (quads)", "ours", "Oxigraph server", "ours / Oxigraph"],
    )
    for kind in WRITES:
        for label, found in results.items():
            ours, theirs = found[(kind, OURS)], found[(kind, OXIGRAPH)]
            size = f"{label} ({count(quads[label])})"
            table.rows.append([kind, size, _ms(ours), _ms(theirs), _ratio(ours, theirs)])
    table.notes.append(
        "insert: a one-triple INSERT DATA into a new graph; edit: one contract's "
        "ct:annualValue changed in the inventory graph (DELETE/INSERT WHERE, found from its "
        "deployment and buyer); put: a Graph Store PUT of a 10-triple graph over the last one."
    )
    table.notes.append(
        "Both servers run side by side and take turns; each is idle before each timed write."
    )
    smallest, largest = next(iter(results)), list(results)[-1]
    growth = f"ours {largest} ÷ ours {smallest}"
    goals = Section(
        "Writes: the goals (ours ≤ 50 ms at 250k; ours at 1M ≤ 1.5x ours at 60k)",
        ["write", *(f"ours at {label}" for label in results), growth, "goals met"],
    )
    for kind in WRITES:
        by_size = {label: found[(kind, OURS)] for label, found in results.items()}
        met = []
        at_250k = by_size.get("250k")
        if isinstance(at_250k, float):
            met.append(f"250k: {'yes' if at_250k * 1000 <= GOAL_MS_250K else 'no'}")
        first, last = by_size.get("60k"), by_size.get("1M")
        if isinstance(first, float) and isinstance(last, float):
            met.append(f"growth: {'yes' if last / first <= GOAL_GROWTH else 'no'}")
        times = [_ms(v) for v in by_size.values()]
        growth_ratio = _ratio(by_size[largest], by_size[smallest])
        goals.rows.append([kind, *times, growth_ratio, "; ".join(met) or "—"])
    if "1M" not in results:
        goals.notes.append(
            f"The growth goal is judged on a full run (1M); this one stops at {largest}."
        )
    return [table, goals]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK_SIZES)}")
    parser.add_argument("--size", action="append", choices=list(SIZES), help="only these")
    args = parser.parse_args()
    for section in run(quick=args.quick, sizes=args.size):
        print(section.markdown())


if __name__ == "__main__":
    main()
