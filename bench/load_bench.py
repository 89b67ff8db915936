"""Family A: load + validate throughput of the ingest path, against rdflib, pyoxigraph, pySHACL.

    .venv/bin/python bench/load_bench.py [--quick]

Inventories of ~10k, ~100k and ~1M triples come from `generate.py` (one row is ~19.8
triples, plus ~850 shared ones: systems, vendors, service areas). Each stage of the
product's one ingest path is timed on its own, then the whole `Ingestor.load`:

* parse: the inventory loader (`Ingestor.parse`: CSV bytes → triples + line map);
* validate: the SHACL engine compiled to SPARQL (`Validator.validate`, as `check` and
  `load` call it), its context being the product's reference graphs;
* store write: `EmbeddedStore.apply` into an on-disk store in a temporary
  directory, into a new graph and replacing a graph of the same size;
* load: `Ingestor.load` of the CSV bytes (parse + validate + provenance + write), into a
  new graph, and replacing the previous load with a different inventory of the same size.

In the same run the same triples, as N-Triples, go through `rdflib.Graph().parse`,
`pyoxigraph.Store.load` / `bulk_load` (in memory and on disk), and pySHACL (the same
data plus the same context) on the sizes where it finishes in reasonable time.
"""

from __future__ import annotations

import argparse
import gc
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import rdflib
from pyoxigraph import NamedNode, Quad, RdfFormat, Store, Triple

BENCH = Path(__file__).resolve().parent
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import generate  # noqa: E402
import validate_bench  # noqa: E402
from common import Section, count, log, rate, seconds, timed  # noqa: E402

from citytools.loaders.base import Parsed  # noqa: E402
from citytools.loaders.iris import Minter  # noqa: E402
from citytools.resources import shapes_file  # noqa: E402
from citytools.service.runtime import bootstrap  # noqa: E402
from citytools.service.store.embedded import EmbeddedStore, nquads  # noqa: E402
from citytools.service.store.interface import GraphChange  # noqa: E402
from citytools.service.validation.validator import Validator  # noqa: E402
from citytools.service.writes.ingest import Ingestor, Source  # noqa: E402
from citytools.settings import Settings  # noqa: E402

# Inventory rows giving ~10k, ~100k and ~1M loader triples (measured: 19.84 per row + 835).
SIZES = {"10k": 462, "100k": 4997, "1M": 50350}
QUICK_SIZES = ("10k", "100k")
SEED, OTHER_SEED = 7, 8
GOAL_WRITE = 300_000  # triples/s, issue 3
GOAL_VALIDATE_100K = 2.0  # seconds, issue 3
REPLACE_LIMIT = 500_000  # replacing writes are not timed above this size (run time)
EDIT_EVERY = 100
PYSHACL_BUDGET = 30.0  # seconds: pySHACL runs on a size only if its estimate is under this
GRAPH = "https://w3id.org/citytools/id/graph/bench"


@dataclass
class Inventory:
    label: str
    rows: int
    data: bytes
    other: bytes  # a different inventory of the same size: what a replacing reload brings
    parsed: Parsed

    @property
    def triples(self) -> list[Triple]:
        return self.parsed.triples

    def ntriples(self) -> bytes:
        return "".join(f"{t} .\n" for t in self.triples).encode()


@dataclass
class Measure:
    size: str
    what: str
    triples: int
    seconds: float | None  # None: skipped
    note: str = ""

    def row(self) -> list[str]:
        if self.seconds is None:
            return [self.size, f"{self.what}: skipped, {self.note}", count(self.triples), "—", "—"]
        return [
            self.size,
            self.what,
            count(self.triples),
            seconds(self.seconds),
            rate(self.triples, self.seconds),
        ]


class Workspace:
    """Temporary on-disk stores, all removed at the end."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="citytools-bench-load-"))
        self._n = 0

    def new_dir(self) -> Path:
        self._n += 1
        return self.root / f"store-{self._n}"

    def store(self) -> tuple[EmbeddedStore, Settings]:
        """A fresh on-disk store seeded with the reference graphs, as the product opens one."""
        path = self.new_dir()
        settings = settings_for(path)
        store = EmbeddedStore(path)
        bootstrap.ensure_reference(store, Minter(settings.base_iri))
        store.flush()
        return store, settings

    def discard(self, store: EmbeddedStore) -> None:
        store.close()
        if store.path is not None:
            shutil.rmtree(store.path, ignore_errors=True)

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def settings_for(path: Path) -> Settings:
    return Settings(_env_file=None, store=path)  # type: ignore[call-arg]


def _source(data: bytes) -> Source:
    return Source(data, name="inventory.csv")


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _in_fresh_stores(
    ws: Workspace, repeat: int, action: Callable[[EmbeddedStore, Settings], tuple[float, ...]]
) -> tuple[float, ...]:
    """Run `action` (which returns timings) in `repeat` fresh stores; the median of each."""
    runs = []
    for _ in range(repeat):
        store, settings = ws.store()
        try:
            runs.append(action(store, settings))
        finally:
            ws.discard(store)
        gc.collect()
    return tuple(_median(list(column)) for column in zip(*runs, strict=True))


def stage_measures(inv: Inventory, ingestor: Ingestor, ws: Workspace, repeat: int) -> list[Measure]:
    """Each stage of the product's ingest path on `inv`, timed alone, then the whole load."""
    n, label = len(inv.triples), inv.label
    out: list[Measure] = []
    t, _ = timed(lambda: ingestor.parse(_source(inv.data)), repeat)
    out.append(Measure(label, "parse (inventory loader)", n, t))

    validator = ingestor.validator
    t, report = timed(
        lambda: validator.validate(inv.triples, lines=inv.parsed.lines, source="inventory.csv"),
        repeat,
    )
    found = f"{len(report.violations)} violations, {len(report.findings)} warnings"
    out.append(Measure(label, f"validate (SHACL→SPARQL engine; {found})", n, t))

    graph = NamedNode(GRAPH)
    replacing = n <= REPLACE_LIMIT
    other = ingestor.parse(_source(inv.other)).triples if replacing else []

    def writes(store: EmbeddedStore, _settings: Settings) -> tuple[float, float]:
        new = set(inv.triples)
        t_new, _ = timed(lambda: store.apply({graph: GraphChange(added=new)}))
        replacement = GraphChange(added=set(other) - new, removed=new - set(other))
        t_replace = timed(lambda: store.apply({graph: replacement}))[0] if replacing else 0.0
        return t_new, t_replace

    writes_repeat = min(repeat, 2) if n >= 50_000 else repeat  # the slow ones: bound the run
    t_new, t_replace = _in_fresh_stores(ws, writes_repeat, writes)
    out.append(Measure(label, "store write: `apply`, new graph", n, t_new))
    if replacing:
        out.append(Measure(label, "store write: `apply`, replacing a graph", len(other), t_replace))

    stored = [0, 0, 0]
    edited = edit_rows(inv.data, EDIT_EVERY)

    def loads(store: EmbeddedStore, settings: Settings) -> tuple[float, float, float]:
        ing = bootstrap.build_ingestor(store, settings)
        t_load, first = timed(lambda: ing.load(_source(inv.data), replace=True))
        if not replacing:
            stored[0] = first.triples
            return t_load, 0.0, 0.0
        t_edit, second = timed(lambda: ing.load(_source(edited), replace=True))
        t_reload, third = timed(lambda: ing.load(_source(inv.other), replace=True))
        stored[:] = [first.triples, second.triples, third.triples]
        return t_load, t_edit, t_reload

    t_load, t_edit, t_reload = _in_fresh_stores(ws, writes_repeat, loads)
    out.append(Measure(label, "**`Ingestor.load`, new graph** (whole path)", stored[0], t_load))
    if replacing:
        what = f"`Ingestor.load`, reload with 1 row in {EDIT_EVERY} edited"
        out.append(Measure(label, what, stored[1], t_edit))
        out.append(
            Measure(label, "`Ingestor.load`, reload of a different inventory", stored[2], t_reload)
        )
    return out


def edit_rows(data: bytes, every: int) -> bytes:
    """The inventory with the annual cost of one row in `every` changed (a typical re-upload)."""
    lines = data.decode().split("\n")
    cost = generate.INVENTORY_COLUMNS.index("annual_cost_gbp")
    for i in range(1, len(lines), every):
        cells = lines[i].split(",")
        if len(cells) > cost:
            cells[cost] = "123456.00" if cells[cost] != "123456.00" else "654321.00"
            lines[i] = ",".join(cells)
    return "\n".join(lines).encode()


def peer_measures(inv: Inventory, ws: Workspace, repeat: int) -> list[Measure]:
    """The same triples, as N-Triples, through rdflib and pyoxigraph directly."""
    n, label = len(inv.triples), inv.label
    nt = inv.ntriples()
    out: list[Measure] = []

    def rdflib_parse() -> int:
        graph = rdflib.Graph()
        graph.parse(data=nt, format="nt")
        return len(graph)

    t, _ = timed(rdflib_parse, repeat if n <= 200_000 else 1)
    gc.collect()
    out.append(Measure(label, "rdflib `Graph().parse(format='nt')`", n, t))
    t, _ = timed(lambda: Store().load(nt, format=RdfFormat.N_TRIPLES), repeat)
    out.append(Measure(label, "pyoxigraph `Store().load` (in memory)", n, t))
    t, _ = timed(lambda: Store().bulk_load(nt, format=RdfFormat.N_TRIPLES), repeat)
    out.append(Measure(label, "pyoxigraph `Store().bulk_load` (in memory)", n, t))
    nq = nquads(NamedNode(GRAPH), inv.triples)
    for method, kind in (("load", "transactional"), ("bulk_load", "not atomic")):
        for data, fmt, into in (
            (nt, RdfFormat.N_TRIPLES, "default graph"),
            (nq, RdfFormat.N_QUADS, "a named graph"),
        ):
            times = []
            for _ in range(repeat):
                path = ws.new_dir()
                store = Store(str(path))
                t, _ = timed(lambda s=store, m=method, d=data, f=fmt: getattr(s, m)(d, format=f))
                times.append(t)
                del store
                gc.collect()
                shutil.rmtree(path, ignore_errors=True)
            what = f"pyoxigraph `Store(dir).{method}` (on disk, {kind}, into {into})"
            out.append(Measure(label, what, n, _median(times)))
    return out


def pyshacl_measure(inv: Inventory, context_nt: bytes, shapes: rdflib.Graph) -> Measure:
    data = rdflib.Graph()
    data.parse(data=context_nt + inv.ntriples(), format="nt")
    t, results = timed(lambda: validate_bench.pyshacl_run(data, shapes))
    return Measure(
        inv.label, f"pySHACL (same data + context; {results} results)", len(inv.triples), t
    )


def build_inventories(labels: tuple[str, ...], ingestor: Ingestor) -> list[Inventory]:
    inventories = []
    for label in labels:
        rows = SIZES[label]
        data = generate.generate_inventory(rows, SEED).encode()
        other = generate.generate_inventory(rows, OTHER_SEED).encode()
        inventories.append(Inventory(label, rows, data, other, ingestor.parse(_source(data))))
    return inventories


def run(quick: bool = False) -> list[Section]:
    labels = QUICK_SIZES if quick else tuple(SIZES)
    ws = Workspace()
    try:
        return _run(labels, ws, quick)
    finally:
        ws.cleanup()


def _run(labels: tuple[str, ...], ws: Workspace, quick: bool) -> list[Section]:
    settings = settings_for(ws.new_dir())
    context = [
        Quad(t.subject, t.predicate, t.object, g)
        for g, ts in bootstrap.reference_graphs(Minter(settings.base_iri)).items()
        for t in ts
    ]
    t_validator, validator = timed(lambda: Validator(shapes_file(), context))
    ingestor = bootstrap.build_ingestor(EmbeddedStore(None), settings)
    log(f"load: validator set-up {seconds(t_validator)}, {len(validator.constraints)} constraints")
    inventories = build_inventories(labels, ingestor)
    shapes = rdflib.Graph().parse(data=shapes_file().read_bytes(), format="turtle")
    context_nt = "".join(f"{q.triple} .\n" for q in context).encode()

    stages: list[Measure] = []
    peers: list[Measure] = []
    pyshacl_per_triple: float | None = None
    for inv in inventories:
        n = len(inv.triples)
        repeat = 1 if n > 500_000 else (2 if quick else 3)
        log(f"load: {inv.label} ({count(inv.rows)} rows, {count(n)} triples): product stages")
        stages += stage_measures(inv, ingestor, ws, repeat)
        log(f"load: {inv.label}: peers")
        peers += peer_measures(inv, ws, repeat)
        if pyshacl_per_triple is None or pyshacl_per_triple * n < PYSHACL_BUDGET:
            log(f"load: {inv.label}: pySHACL")
            measure = pyshacl_measure(inv, context_nt, shapes)
            assert measure.seconds is not None
            pyshacl_per_triple = measure.seconds * 1.3 / n  # it grows faster than linearly
        else:
            estimate = (
                f"estimated {pyshacl_per_triple * n:.0f} s, over the {PYSHACL_BUDGET:.0f} s budget"
            )
            measure = Measure(inv.label, "pySHACL (same data + context)", n, None, estimate)
        peers.append(measure)
        gc.collect()

    repeats = "2" if quick else "3"
    stage_section = Section(
        "Load + validate: the product's ingest path (on-disk store)",
        ["size", "stage", "triples", "time", "triples/s"],
        [m.row() for m in stages],
        [
            f"Validator set-up (shapes compiled to {len(validator.constraints)} SPARQL "
            f"queries, {count(len(context))} context quads loaded): {seconds(t_validator)}, "
            "once per process.",
            "Store write = `EmbeddedStore.apply` alone (no flush) into a fresh on-disk "
            "store holding the reference graphs. A new graph is written with `Store.load` "
            "(N-Quads, one transaction); replacing = a second write of a different inventory of "
            "the same size into the same graph: one SPARQL Update `DROP SILENT GRAPH` + "
            "`INSERT DATA`.",
            "`Ingestor.load` = parse + validate + PROV-O + `apply`, from the CSV bytes; "
            "triples counted as written, provenance included. Reloads replace the previous load "
            f"of the same graph: once with the annual cost of 1 row in {EDIT_EVERY} edited (a "
            "typical re-upload; only what changed is validated), once with a different inventory "
            "of the same size.",
            f"Times are medians of {repeats} runs (store writes and loads: at most 2 from 50k "
            "triples, 1 at 1M). Replacing writes and reloads are not timed above "
            f"{count(REPLACE_LIMIT)} triples, to bound the run time.",
        ],
    )
    peer_section = Section(
        "Load: the same triples through the peers, same run",
        ["size", "tool", "triples", "time", "triples/s"],
        [m.row() for m in peers],
        [
            "The N-Triples are the loader's own triples, serialised once; each tool parses and "
            "inserts them. 'into a named graph' = the same triples as N-Quads in one named graph, "
            "which is what the product stores (Oxigraph keeps 6 indexes for named-graph quads, 3 "
            "for the default graph).",
            "pySHACL gets the same triples plus the same context (ontology + reference graphs) "
            "in one rdflib graph and validates every focus node in it "
            "(`pyshacl.validate(inference='none')`, via `validate_bench.pyshacl_run`); our "
            "engine validates only the new resources, against the context.",
        ],
    )
    goal = Section("Load + validate: goals of issue 3", ["goal", "measured", "met?"])
    by_size = {(m.size, m.what.split(" ")[0]): m for m in stages}
    if ("100k", "validate") in by_size:
        m = by_size[("100k", "validate")]
        assert m.seconds is not None
        met = "yes" if m.seconds <= GOAL_VALIDATE_100K else "**no**"
        goal.rows.append(
            [
                "validate a 100k-triple inventory in ≤ 2 s",
                f"{seconds(m.seconds)} ({count(m.triples)} triples)",
                met,
            ]
        )
    for m in stages:
        if m.what.startswith("store write") and m.seconds:
            met = "yes" if m.triples / m.seconds >= GOAL_WRITE else "**no**"
            what = m.what.split(", ", 1)[1]
            goal.rows.append(
                [
                    f"store write ≥ 300k triples/s ({m.size}, {what})",
                    f"{rate(m.triples, m.seconds)} triples/s",
                    met,
                ]
            )
    return [stage_section, peer_section, goal]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="10k and 100k only, 2 repeats")
    args = parser.parse_args()
    for section in run(quick=args.quick):
        print(section.markdown())


if __name__ == "__main__":
    main()
