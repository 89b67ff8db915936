"""Family E (issue 13): every saved query on London-, UK- and four-country-shaped stores.

    .venv/bin/python bench/run.py --only queries [--quick]
    .venv/bin/python bench/queries_bench.py [--quick] [--size 20k …]

Stores (from `generate.py`, loaded with one `citytools load` of every file, beside the ~17k
reference quads every store holds; `--quick`: the two smaller):

* **20k**: the London inventory and projects (`generate_inventory`, `generate_projects`);
* **240k**: every UK authority (`generate_uk_inventory(UK_ROWS)`, `generate_uk_projects`);
* **1M**: the UK and three fictional countries of as many rows, which come as N-Triples
  graphs (the inventory loader refuses authorities outside the shipped UK list).

Per store: the load's wall time and its peak RSS (`ru_maxrss` of the `citytools load`
process, from `os.wait4`); then every saved query of the catalogue, with its default
parameters and once with a parameter where it has one (a required parameter gets a value
drawn from the data), bound as the catalogue binds them (`Catalogue.request` over the
store, before the servers start). Ours (`citytools serve` on the store, its defaults but a
query timeout of `TIMEOUT` s) is asked each query's text, served by `GET /queries/{name}.rq`
with the bound parameters written in (`http_bench.inline_parameters`), through `POST
/sparql`, `RUNS` times after one warm-up, each text made new by a `#` comment so that no
answer cache serves it; its saved-query route `GET /queries/{name}?…` is timed once, the
first (uncached) time. Oxigraph server (`serve-read-only --union-default-graph` over the
store's N-Quads) is asked the same texts the same way: the floor. Latency = request to
last byte of the JSON answer; p50 of the runs (a query whose warm-up took over
`SLOW` s gets one timed run). Row counts are compared (ours cuts answers at
`CITYTOOLS_MAX_RESULTS`, 100,000 rows by default).

Goals: every saved query ≤ 1 s at 240k and ≤ 3 s at 1M through HTTP, each within 2x of the
same text on Oxigraph server; load ≥ 100k triples/s at 1M with peak RSS ≤ 1 GB. The table
also goes to `docs/benchmarks-queries.svg` (latency against store size, log scales).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from pyoxigraph import Store

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import generate  # noqa: E402
import http_bench  # noqa: E402
from common import Section, count, log, rate, seconds  # noqa: E402
from http_bench import BIN, JSON_RESULTS, OURS, OXIGRAPH, Server  # noqa: E402

from citytools.resources import queries_dir  # noqa: E402
from citytools.service.catalogue.resolver import StoreResolver  # noqa: E402
from citytools.service.catalogue.saved import Catalogue  # noqa: E402
from citytools.service.store.embedded import EmbeddedStore  # noqa: E402

SIZES = ("20k", "240k", "1M")
QUICK_SIZES = ("20k", "240k")
SEED = 7
LONDON_ROWS = 965  # ~20k inventory triples (http_bench's 20k)
PROJECTS = {"20k": 20, "240k": 60, "1M": 60}
RUNS = 5
SLOW = 30.0  # seconds: a warm-up this slow gets one timed run, not RUNS
TIMEOUT = 300  # seconds a query may take, ours (CITYTOOLS_QUERY_TIMEOUT) and Oxigraph's
GOAL_SECONDS = {"240k": 1.0, "1M": 3.0}
GOAL_RATIO = 2.0
GOAL_LOAD_RATE = 100_000  # triples/s at 1M
GOAL_LOAD_RSS = 1 << 30  # bytes
SVG = BENCH.parent / "docs" / "benchmarks-queries.svg"
_LOADED = re.compile(r"^loaded .* \((\d+) triples\)", re.M)
_TOKENS = re.compile(
    r'"(?:[^"\\]|\\.)*"|<[^<>\s]*>|\?(\w+)|[(){}]'
    r"|\b(SELECT|WHERE|GROUP\s+BY|ORDER\s+BY|HAVING|LIMIT|OFFSET)\b",
    re.I,
)


@dataclass
class Data:
    """One store and what the queries are asked about it."""

    label: str
    store: Path
    oxigraph: Path
    files: list[Path]
    triples: int  # written by the load, as `citytools load` reports them
    quads: int  # in the store, reference data and provenance included
    load_seconds: float
    peak_rss: int  # bytes
    authorities: tuple[str, str]  # two authority cells with rows
    systems: tuple[str, str]  # the most and a middling used product
    project: str


@dataclass
class Timing:
    """One query variant on one store: our route's first answer, then p50s."""

    query: str
    variant: str  # "default" or the parameters
    rows: dict[str, int] = field(default_factory=dict)  # by server
    p50: dict[str, float] = field(default_factory=dict)  # seconds, by server
    runs: dict[str, int] = field(default_factory=dict)
    route_first: float | None = None
    truncated: bool = False
    errors: dict[str, str] = field(default_factory=dict)  # by server


# ---------------------------------------------------------------------------- data


def write_files(label: str, here: Path) -> list[Path]:
    """The generated inputs of a store, written into `here`."""
    files: list[Path] = []

    def put(name: str, text: str) -> None:
        path = here / name
        path.write_text(text, encoding="utf-8")
        files.append(path)

    if label == "20k":
        put("inventory.csv", generate.generate_inventory(LONDON_ROWS, SEED))
        put("projects.csv", generate.generate_projects(PROJECTS[label], SEED))
        return files
    countries = 4 if label == "1M" else 1
    uk = generate.generate_uk_inventory(generate.UK_ROWS, SEED, countries=countries)
    put("uk-inventory.csv", uk.csv)
    put("uk-projects.csv", generate.generate_uk_projects(PROJECTS[label], SEED))
    for number, country in enumerate(uk.countries, start=1):
        put(f"fictional-country-{number}.nt", country.ntriples)
    return files


def timed_load(files: Sequence[Path], store: Path) -> tuple[float, int, int]:
    """`citytools load` of every file into a new store: (seconds, triples, peak RSS bytes)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYTOOLS_")}
    command = [str(BIN / "citytools"), "load", *map(str, files), "--store", str(store)]
    out = store.parent / "load.log"
    started = time.perf_counter()
    with out.open("wb") as f:
        process = subprocess.Popen(command, stdout=f, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    text = out.read_text(encoding="utf-8", errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"citytools load failed ({process.returncode}): {text[-2000:]}")
    return elapsed, sum(int(n) for n in _LOADED.findall(text)), usage.ru_maxrss * 1024


def prepare(label: str, work: Path) -> Data:
    here = work / label
    here.mkdir(parents=True)
    files = write_files(label, here)
    store = here / "store"
    log(f"queries: {label}: loading {', '.join(f.name for f in files)}")
    load_seconds, triples, peak = timed_load(files, store)
    quads = len(Store.read_only(str(store)))
    log(
        f"queries: {label}: {count(triples)} triples loaded in {seconds(load_seconds)} "
        f"({rate(triples, load_seconds)} triples/s), peak RSS {peak / 2**20:.0f} MB; "
        f"{count(quads)} quads in the store"
    )
    nq, oxigraph = here / "all.nq", here / "oxigraph"
    http_bench.citytools("export", "--format", "nq", "--store", str(store), "-o", str(nq), cwd=here)
    subprocess.run(
        [str(BIN / "oxigraph"), "load", "--location", str(oxigraph), "--file", str(nq)],
        check=True,
        capture_output=True,
    )
    nq.unlink()
    inventory = next(f for f in files if f.name.endswith("inventory.csv"))
    rows = list(csv.DictReader(io.StringIO(inventory.read_text(encoding="utf-8"))))
    by_rows = Counter(r["authority"] for r in rows).most_common()
    systems = [name for name, _ in Counter(r["system"] for r in rows).most_common()]
    projects = next(f for f in files if f.name.endswith("projects.csv"))
    project = next(csv.DictReader(io.StringIO(projects.read_text(encoding="utf-8"))))
    return Data(
        label,
        store,
        oxigraph,
        files,
        triples,
        quads,
        load_seconds,
        peak,
        (by_rows[0][0], by_rows[len(by_rows) // 2][0]),
        (systems[0], systems[len(systems) // 2]),
        project["project"],
    )


def variants(data: Data, catalogue: Catalogue) -> list[tuple[str, str, dict[str, str]]]:
    """(query, variant, parameters): each query with its defaults (required parameters drawn
    from the data) and, where it takes one, with a parameter given."""
    first, other = data.authorities
    common, middling = data.systems
    chosen: dict[str, tuple[dict[str, str], dict[str, str]]] = {
        "systems-of-authority": ({"authority": first}, {"authority": other}),
        "authorities-using-system": ({"system": common}, {"system": middling}),
        "shared-systems": ({}, {"min_authorities": "5"}),
        "contract-pipeline": ({}, {"from": "2026-04-01", "to": "2027-03-31"}),
        "joint-procurement": ({}, {"window_months": "3"}),
        "vendor-concentration": ({}, {"by": "manufacturer"}),
        "single-supplier-dependency": ({}, {"threshold": "0.3"}),
        "standards-coverage": ({}, {"standard": "BS 7666"}),
        "reuse-opportunities": ({}, {"project": data.project}),
        "skills-peers": ({"authority": first}, {"authority": other}),
    }
    found = []
    for query in catalogue:
        default, given = chosen.get(query.name, ({}, {}))
        missing = [p.name for p in query.parameters if p.required and p.name not in default]
        if missing:  # e.g. an endpoint to federate with: nothing here to give it
            log(f"queries: {query.name} skipped: no value for {', '.join(missing)}")
            continue
        label = "default" if not default else _describe(default)
        found.append((query.name, label, default))
        if given:
            found.append((query.name, _describe(given), given))
    return found


def _describe(params: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items())


def bound_texts(
    data: Data, catalogue: Catalogue, wanted: list[tuple[str, str, dict[str, str]]]
) -> dict[tuple[str, str], dict[str, str]]:
    """The parameters of each variant as the catalogue binds them (N-Triples terms)."""
    store = EmbeddedStore(data.store)
    try:
        resolver = StoreResolver(store)
        return {
            (name, variant): catalogue.request(name, params, resolver).substitutions
            for name, variant, params in wanted
        }
    finally:
        store.close()


def bind_in_text(text: str, terms: dict[str, str]) -> str:
    """The query text with each bound parameter written in as its term, for a server that
    knows no substitutions. In the top-level SELECT list a parameter becomes `(term AS ?p)`,
    so the answer keeps its columns; it leaves the lists of sub-SELECTs, GROUP BY and ORDER BY
    (a GROUP BY or ORDER BY left empty goes with its keyword); everywhere else, expressions in
    those lists included, it becomes the term."""
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    out: list[str] = []
    state, depth, keyword, at, selects = "body", 0, 0, 0, 0

    def close_list() -> None:
        if state in ("group", "order") and not "".join(out[keyword + 1 :]).strip():
            out[keyword] = ""  # GROUP BY / ORDER BY with nothing left in it

    for match in _TOKENS.finditer(code):
        out.append(code[at : match.start()])
        at = match.end()
        token, word = match.group(0), (match.group(2) or "").upper()
        if word:
            close_list()
            state = {"SELECT": "select", "GROUP": "group", "ORDER": "order"}.get(
                word.split()[0], "body"
            )
            depth, keyword = 0, len(out)
            selects += state == "select"
        elif token in "({":
            state = "body" if state == "select" and token == "{" else state
            depth += 1
        elif token in ")}":
            if token == "}" and state != "body":
                close_list()
                state = "body"
            depth -= 1
        elif (name := match.group(1)) in terms:
            listed = state != "body" and depth == 0
            top = state == "select" and selects == 1
            token = terms[name] if not listed else f"({terms[name]} AS ?{name})" if top else ""
        out.append(token)
    close_list()
    out.append(code[at:])
    return "".join(out)


# ---------------------------------------------------------------------------- timing


def ask(client: httpx.Client, server: Server, text: str) -> tuple[float, int, bool]:
    """POST the query; (seconds to the last byte, rows, truncated)."""
    started = time.perf_counter()
    response = client.post(
        server.base + server.endpoint,
        content=text.encode(),
        headers={"Content-Type": "application/sparql-query", "Accept": JSON_RESULTS},
    )
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"HTTP {response.status_code}: {response.text[:300]}")
    rows = len(json.loads(response.content)["results"]["bindings"])
    return elapsed, rows, response.headers.get("x-citytools-truncated") == "true"


def time_text(client: httpx.Client, server: Server, text: str, timing: Timing) -> None:
    """One warm-up, then RUNS timed runs (one when the warm-up was slow); each text new."""
    nonce = 0

    def once() -> float:
        nonlocal nonce
        nonce += 1
        took, rows, truncated = ask(client, server, f"{text}\n# run {nonce} {time.time_ns()}")
        timing.rows[server.name] = rows
        timing.truncated |= truncated
        return took

    warm = once()
    runs = 1 if warm > SLOW else RUNS
    timing.p50[server.name] = statistics.median(once() for _ in range(runs))
    timing.runs[server.name] = runs


def time_route(
    client: httpx.Client, server: Server, name: str, params: dict[str, str], timing: Timing
) -> None:
    started = time.perf_counter()
    response = client.get(
        f"{server.base}/queries/{name}", params=params, headers={"Accept": JSON_RESULTS}
    )
    if response.status_code == 200:
        timing.route_first = time.perf_counter() - started
    else:
        timing.errors["route"] = f"HTTP {response.status_code}"


def servers(data: Data, work: Path) -> list[Server]:
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
        logs / f"ours-queries-{data.label}.log",
        env={"CITYTOOLS_QUERY_TIMEOUT": str(TIMEOUT)},
    )
    oxigraph = Server(
        OXIGRAPH,
        [
            str(BIN / "oxigraph"),
            "serve-read-only",
            "--location",
            str(data.oxigraph),
            "--bind",
            "127.0.0.1:{port}",
            "--union-default-graph",
            "--timeout-s",
            str(TIMEOUT),
        ],
        "/query",
        0,
        "/query?query=ASK%7B%7D",
        here,
        logs / f"oxigraph-queries-{data.label}.log",
    )
    return [http_bench._with_port(ours), http_bench._with_port(oxigraph)]


def measure(data: Data, work: Path) -> list[Timing]:
    catalogue = Catalogue.load(queries_dir())
    wanted = variants(data, catalogue)
    bound = bound_texts(data, catalogue, wanted)
    timings = [Timing(name, variant) for name, variant, _ in wanted]
    texts: dict[tuple[str, str], str] = {}
    with httpx.Client(timeout=TIMEOUT + 30) as client:
        for server in servers(data, work):
            with http_bench.running(server):
                for timing, (name, variant, params) in zip(timings, wanted, strict=True):
                    if server.name == OURS:
                        served = client.get(f"{server.base}/queries/{name}.rq")
                        served.raise_for_status()
                        texts[(name, variant)] = bind_in_text(served.text, bound[(name, variant)])
                        time_route(client, server, name, params, timing)
                    try:
                        time_text(client, server, texts[(name, variant)], timing)
                    except (RuntimeError, httpx.HTTPError) as exc:
                        timing.errors[server.name] = str(exc)[:200]
                    log(
                        f"queries: {data.label} {name} [{variant}] {server.name}: "
                        + (_s(timing.p50.get(server.name)) or timing.errors[server.name])
                        + f", {timing.rows.get(server.name, '?')} rows"
                    )
    return timings


# ---------------------------------------------------------------------------- report


def _s(value: float | None) -> str:
    return "" if value is None else seconds(value)


def _cell(timing: Timing, server: str) -> str:
    p50 = timing.p50.get(server)
    if p50 is None:
        return timing.errors.get(server, "—")
    return seconds(p50) + (" (1 run)" if timing.runs.get(server) == 1 else "")


def _ratio(timing: Timing) -> float | None:
    ours, theirs = timing.p50.get(OURS), timing.p50.get(OXIGRAPH)
    return ours / theirs if ours is not None and theirs else None


def sections(
    datasets: list[Data], results: dict[str, list[Timing]], load_note: str
) -> list[Section]:
    loads = Section(
        "Saved queries: the stores and their load (`citytools load` of every file, one process)",
        ["size", "files", "triples loaded", "quads in store", "load", "triples/s", "peak RSS"],
    )
    for d in datasets:
        loads.rows.append(
            [
                d.label,
                ", ".join(f.name for f in d.files),
                count(d.triples),
                count(d.quads),
                seconds(d.load_seconds),
                rate(d.triples, d.load_seconds),
                f"{d.peak_rss / 2**20:,.0f} MB",
            ]
        )
    loads.notes.append(load_note)
    table = Section(
        f"Saved queries through HTTP: p50 of {RUNS} after a warm-up (ours: POST /sparql)",
        [
            "size",
            "query",
            "parameters",
            "rows (ours / Oxigraph)",
            "ours, route, first",
            "ours",
            "Oxigraph server",
            "ours / Oxigraph",
            "goal",
        ],
    )
    for label, timings in results.items():
        limit = GOAL_SECONDS.get(label)
        for t in timings:
            ours = t.p50.get(OURS)
            ratio = _ratio(t)
            goal = "—"
            if limit is not None and ours is not None and ratio is not None:
                missed = [
                    w
                    for w, ok in (("time", ours <= limit), ("ratio", ratio <= GOAL_RATIO))
                    if not ok
                ]
                goal = f"no ({', '.join(missed)})" if missed else "yes"
            rows = f"{t.rows.get(OURS, '?')} / {t.rows.get(OXIGRAPH, '?')}"
            if t.truncated:
                rows += " (ours cut)"
            table.rows.append(
                [
                    label,
                    t.query,
                    t.variant,
                    rows,
                    _s(t.route_first) or t.errors.get("route", "—"),
                    _cell(t, OURS),
                    _cell(t, OXIGRAPH),
                    f"{ratio:.2f}x" if ratio is not None else "—",
                    goal,
                ]
            )
    table.notes += [
        "Ours and Oxigraph server are asked the same text: the saved query's "
        "(`GET /queries/{name}.rq`) with the parameters the catalogue binds written in; "
        "every request is a new text (a trailing `#` comment), so no answer cache serves it.",
        "'route, first' = the first `GET /queries/{name}?…` (uncached; later ones come from "
        "the answer cache). Goals: ≤ 1 s at 240k, ≤ 3 s at 1M, ≤ 2x Oxigraph server.",
    ]
    goals = Section("Saved queries: goals", ["goal", "measured", "met?"])
    for label, limit in GOAL_SECONDS.items():
        if label not in results:
            continue
        timings = results[label]
        worst = max(timings, key=lambda t: t.p50.get(OURS, float("inf")))
        ratios = [r for t in timings if (r := _ratio(t)) is not None]
        worst_ours = worst.p50.get(OURS)
        goals.rows.append(
            [
                f"every saved query ≤ {limit:g} s at {label}",
                f"slowest: {worst.query} [{worst.variant}] {_cell(worst, OURS)}",
                "yes" if worst_ours is not None and worst_ours <= limit else "no",
            ]
        )
        goals.rows.append(
            [
                f"each within {GOAL_RATIO:g}x Oxigraph server at {label}",
                f"largest ratio {max(ratios):.2f}x" if ratios else "—",
                "yes" if ratios and max(ratios) <= GOAL_RATIO else "no",
            ]
        )
    for d in datasets:
        if d.label == "1M":
            fast = d.triples / d.load_seconds >= GOAL_LOAD_RATE
            goals.rows.append(
                [
                    "load ≥ 100k triples/s at 1M",
                    f"{rate(d.triples, d.load_seconds)} triples/s",
                    "yes" if fast else "no",
                ]
            )
            goals.rows.append(
                [
                    "peak RSS of the load ≤ 1 GB at 1M",
                    f"{d.peak_rss / 2**20:,.0f} MB",
                    "yes" if d.peak_rss <= GOAL_LOAD_RSS else "no",
                ]
            )
    return [loads, table, goals]


_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#000000",
    "#aec7e8",
)


def svg(datasets: list[Data], results: dict[str, list[Timing]]) -> str:
    """Latency of each query's first variant (its defaults) against the quads in the store,
    both axes logarithmic: ours solid, Oxigraph server dotted, one colour per query."""
    quads = {d.label: d.quads for d in datasets}
    lines: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for label, timings in results.items():
        first = {t.query: t for t in reversed(timings)}  # each query's first variant
        for t in first.values():
            for server in (OURS, OXIGRAPH):
                if (p50 := t.p50.get(server)) is not None:
                    lines.setdefault((t.query, server), []).append((quads[label], p50))
    left, top, plot_w, plot_h = 70, 20, 560, 440
    points = [point for found in lines.values() for point in found] or [(1.0, 1.0)]
    x_low, x_high = _decades(min(x for x, _ in points), max(x for x, _ in points))
    y_low, y_high = _decades(min(y for _, y in points), max(y for _, y in points))

    def px(x: float) -> float:
        return left + plot_w * (math.log10(x) - x_low) / (x_high - x_low)

    def py(y: float) -> float:
        return top + plot_h * (1 - (math.log10(y) - y_low) / (y_high - y_low))

    out = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="900" height="500" '
        'font-family="sans-serif" font-size="12">',
        '<rect width="900" height="500" fill="white"/>',
    ]
    for e in range(y_low, y_high + 1):
        y = py(10.0**e)
        out.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
        )
        out.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{seconds(10.0**e)}</text>'
        )
    for e in range(x_low, x_high + 1):
        x = px(10.0**e)
        out.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + plot_h}" stroke="#ddd"/>'
        )
        out.append(
            f'<text x="{x:.1f}" y="{top + plot_h + 16}" text-anchor="middle">{10**e:,}</text>'
        )
    out += [
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" '
        'fill="none" stroke="#444"/>',
        f'<text x="{left + plot_w / 2}" y="{top + plot_h + 34}" text-anchor="middle">'
        "quads in the store</text>",
        f'<text x="18" y="{top + plot_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 18 {top + plot_h / 2})">latency (p50, default parameters)</text>',
    ]
    names = sorted({name for name, _ in lines})
    for i, name in enumerate(names):
        colour = _COLOURS[i % len(_COLOURS)]
        for server, dash in ((OURS, ""), (OXIGRAPH, ' stroke-dasharray="2 3"')):
            path = " ".join(
                f"{px(x):.1f},{py(y):.1f}" for x, y in sorted(lines.get((name, server), []))
            )
            if path:
                out.append(
                    f'<polyline points="{path}" fill="none" stroke="{colour}" '
                    f'stroke-width="2"{dash}/>'
                )
        y = top + 14 + 18 * i
        out.append(
            f'<line x1="{left + plot_w + 16}" x2="{left + plot_w + 40}" y1="{y - 4}" '
            f'y2="{y - 4}" stroke="{colour}" stroke-width="2"/>'
        )
        out.append(f'<text x="{left + plot_w + 46}" y="{y}">{name}</text>')
    out.append(
        f'<text x="{left + plot_w + 16}" y="{top + 32 + 18 * len(names)}">'
        "solid: ours · dotted: Oxigraph server</text>"
    )
    return "\n".join([*out, "</svg>"]) + "\n"


def _decades(low: float, high: float) -> tuple[int, int]:
    """The powers of ten around [low, high]."""
    return math.floor(math.log10(low)), max(
        math.ceil(math.log10(high)), math.floor(math.log10(low)) + 1
    )


# ---------------------------------------------------------------------------- the family


def _uptime() -> str:
    with open("/proc/loadavg", encoding="utf-8") as f:
        return "load average " + " / ".join(f.read().split()[:3]) + " (1 / 5 / 15 min)"


def run(quick: bool = False, sizes: list[str] | None = None) -> list[Section]:
    labels = sizes or list(QUICK_SIZES if quick else SIZES)
    work = Path(tempfile.mkdtemp(prefix="citytools-bench-queries-"))
    datasets: list[Data] = []
    results: dict[str, list[Timing]] = {}
    loads = []
    try:
        for label in labels:
            loads.append(f"{label}: before the load, {_uptime()}")
            data = prepare(label, work)
            datasets.append(data)
            results[label] = measure(data, work)
            shutil.rmtree(data.store.parent, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    SVG.write_text(svg(datasets, results), encoding="utf-8")
    log(f"queries: plot written to {SVG}")
    return sections(datasets, results, "Machine: " + "; ".join(loads) + f"; after, {_uptime()}.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK_SIZES)}")
    parser.add_argument("--size", action="append", choices=list(SIZES), help="only these")
    args = parser.parse_args()
    for section in run(quick=args.quick, sizes=args.size):
        print(section.markdown())


if __name__ == "__main__":
    main()
