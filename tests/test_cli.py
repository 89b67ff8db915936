"""The `citytools` command line: load, validate, export and ad-hoc query, on a store in tmp_path.

Most commands run in-process through Typer's CliRunner (`CITYTOOLS_STORE` in its
environment); the single-writer lock and the one-line SPARQL error run the installed
console script in a subprocess, as a user would. After each command the store is opened
again and read directly, so every claim a command prints is checked against the data.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pyoxigraph import NamedNode, Quad, RdfFormat, parse
from serve_support import cleanup, start, stop
from typer.testing import CliRunner, Result

from citytools.loaders.iris import Minter
from citytools.service.cli.main import app
from citytools.service.runtime import bootstrap
from citytools.service.store.embedded import EmbeddedStore

DATA = Path(__file__).parent / "data" / "loaders"
ID = "https://w3id.org/citytools/id/"
INVENTORY_GRAPH = ID + "graph/inventory"
ONTOLOGY = NamedNode("https://w3id.org/citytools/ontology")
PROVENANCE = NamedNode(ID + "graph/provenance")
CHECKSUM = NamedNode("https://w3id.org/citytools/ontology#checksum")
CITYTOOLS = Path(sys.executable).with_name("citytools")
Run = Callable[..., Result]


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def files(tmp_path: Path) -> Path:
    """The loader fixtures, copied next to the store (the CLI reads them by path)."""
    folder = tmp_path / "in"
    shutil.copytree(DATA, folder)
    return folder


@pytest.fixture
def cli(tmp_path: Path, store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.chdir(tmp_path)  # no stray .env file is read
    for name in list(os.environ):
        if name.startswith("CITYTOOLS_"):
            monkeypatch.delenv(name)
    # a wide console, so that rich does not fold the long tmp_path names
    env = {"CITYTOOLS_STORE": str(store_dir), "COLUMNS": "1000"}

    def run(*args: str | Path) -> Result:
        return CliRunner().invoke(app, [str(a) for a in args], env=env)

    return run


@contextmanager
def opened(path: Path) -> Iterator[EmbeddedStore]:
    store = EmbeddedStore(path)
    try:
        yield store
    finally:
        store.close()


def all_quads(path: Path) -> set[Quad]:
    with opened(path) as store:
        return set(store.raw.quads_for_pattern(None, None, None, None))


def quads(path: Path) -> tuple[set[Quad], int]:
    """The store's quads, but the ontology graph only by its size.

    Every command that opens the store rewrites the ontology graph with fresh blank-node
    ids (see test_a_read_only_command_writes_nothing), so its quads are not comparable
    from one command to the next; everything else must be exactly as it was.
    """
    every = all_quads(path)
    ontology = {q for q in every if q.graph_name == ONTOLOGY}
    return every - ontology, len(ontology)


def graph_subjects(path: Path, graph: str) -> set[str]:
    with opened(path) as store:
        return {str(t.subject) for t in store.graph_triples(NamedNode(graph))}


def loaded_line(stdout: str) -> tuple[str, str, str, int]:
    match = re.fullmatch(r"(loaded|unchanged) (\S+) → <(\S+)> \((\d+) triples\)", stdout.strip())
    assert match, stdout
    return match[1], match[2], match[3], int(match[4])


# --- load --------------------------------------------------------------------------------


def test_load_prints_the_graph_it_wrote(cli: Run, files: Path, store_dir: Path) -> None:
    result = cli("load", files / "inventory.csv")
    assert result.exit_code == 0, result.output
    verb, path, graph, triples = loaded_line(result.stdout)
    assert (verb, path, graph) == ("loaded", str(files / "inventory.csv"), INVENTORY_GRAPH)
    with opened(store_dir) as store:
        assert sum(1 for _ in store.graph_triples(NamedNode(graph))) == triples == 232
    # warnings are shown, on stderr, with the file and line
    assert (
        f"{files / 'inventory.csv'}:8: Warning: unknown standard "
        "'Borough Case Interchange 1.0'" in result.stderr
    )


def test_a_rejected_file_exits_1_and_changes_nothing(
    cli: Run, files: Path, store_dir: Path
) -> None:
    assert cli("load", files / "inventory.csv").exit_code == 0
    before = quads(store_dir)
    result = cli("load", files / "inventory_bad.csv")
    assert result.exit_code == 1
    bad = files / "inventory_bad.csv"
    errors = result.stderr.splitlines()
    assert f"{bad}:3: Violation: unknown authority 'Narnia'" in errors
    assert f"{bad}:7: Violation: Satisfaction must be a whole number from 1 to 5" in errors
    assert errors[-1] == "error: 1 file(s) rejected; nothing was written for them"
    assert result.stdout == ""
    assert quads(store_dir) == before
    # malformed input is rejected the same way
    broken = files / "broken.csv"
    header = (files / "inventory.csv").read_bytes().splitlines(keepends=True)[0]
    broken.write_bytes(header + b'Hackney,"Adult" social care,,,Mosaic,Servelec,,,,,,,,\n')
    result = cli("load", broken)
    assert result.exit_code != 0
    assert f"rejected {broken}: {broken}: line 2: malformed CSV" in result.stderr
    assert quads(store_dir) == before


def test_of_several_files_only_the_rejected_ones_are_not_written(
    cli: Run, files: Path, store_dir: Path
) -> None:
    result = cli("load", files / "region.ttl", files / "inventory_bad.csv")
    assert result.exit_code == 1
    assert loaded_line(result.stdout)[2] == ID + "graph/region"
    with opened(store_dir) as store:
        assert store.has_graph(NamedNode(ID + "graph/region"))
        assert not store.has_graph(NamedNode(ID + "graph/inventory-bad"))


def without_spydus(inventory: Path) -> None:
    lines = inventory.read_text(encoding="utf-8").splitlines(keepends=True)
    inventory.write_text("".join(li for li in lines if "Spydus" not in li), encoding="utf-8")


SPYDUS = f"<{ID}deployment/E09000012/libraries/spydus>"


def test_load_replace_swaps_the_graph(cli: Run, files: Path, store_dir: Path) -> None:
    inventory = files / "inventory.csv"
    assert cli("load", inventory).exit_code == 0
    assert SPYDUS in graph_subjects(store_dir, INVENTORY_GRAPH)
    without_spydus(inventory)
    result = cli("load", "--replace", inventory)
    assert result.exit_code == 0, result.output
    assert loaded_line(result.stdout)[0] == "loaded"
    assert SPYDUS not in graph_subjects(store_dir, INVENTORY_GRAPH)
    checksum = "sha256:" + hashlib.sha256(inventory.read_bytes()).hexdigest()
    with opened(store_dir) as store:
        stamps = {
            str(getattr(q.object, "value", ""))
            for q in store.raw.quads_for_pattern(
                NamedNode(INVENTORY_GRAPH), CHECKSUM, None, PROVENANCE
            )
        }
    assert stamps == {checksum}
    before = quads(store_dir)
    again = cli("load", "--replace", inventory)
    assert again.exit_code == 0
    assert loaded_line(again.stdout)[0] == "unchanged"
    assert quads(store_dir) == before


def test_load_without_replace_adds_to_the_graph(cli: Run, files: Path, store_dir: Path) -> None:
    inventory = files / "inventory.csv"
    assert cli("load", inventory).exit_code == 0
    without_spydus(inventory)
    result = cli("load", inventory)
    assert result.exit_code == 0
    assert loaded_line(result.stdout)[0] == "loaded"
    assert SPYDUS in graph_subjects(store_dir, INVENTORY_GRAPH)  # kept from the first load


def test_load_replace_after_adding_drops_what_the_file_no_longer_has(
    cli: Run, files: Path, store_dir: Path
) -> None:
    inventory = files / "inventory.csv"
    assert cli("load", inventory).exit_code == 0
    without_spydus(inventory)
    assert cli("load", inventory).exit_code == 0  # adds: Spydus stays
    assert cli("load", "--replace", inventory).exit_code == 0
    assert SPYDUS not in graph_subjects(store_dir, INVENTORY_GRAPH)


def test_load_graph_puts_every_file_into_that_graph(cli: Run, files: Path, store_dir: Path) -> None:
    extra = files / "vendor.ttl"
    extra.write_text(
        "@prefix ct: <https://w3id.org/citytools/ontology#> .\n"
        "<https://example.org/gm/id/vendor/initech> a ct:Vendor ;\n"
        '    <http://www.w3.org/2000/01/rdf-schema#label> "Initech" .\n',
        encoding="utf-8",
    )
    graph = "https://example.org/graph/gm"
    result = cli("load", "--graph", graph, files / "region.ttl", extra)
    assert result.exit_code == 0, result.output
    assert [loaded_line(line)[2] for line in result.stdout.splitlines()] == [graph, graph]
    subjects = graph_subjects(store_dir, graph)
    assert "<https://example.org/gm/id/vendor/acme>" in subjects  # from region.ttl
    assert "<https://example.org/gm/id/vendor/initech>" in subjects  # from vendor.ttl
    with opened(store_dir) as store:
        assert not store.has_graph(NamedNode(ID + "graph/region"))
        assert not store.has_graph(NamedNode(ID + "graph/vendor"))


def test_load_format_names_the_kind(cli: Run, files: Path, store_dir: Path) -> None:
    text = files / "region.txt"
    shutil.copy(files / "region.ttl", text)
    result = cli("load", text)
    assert result.exit_code != 0
    assert "cannot tell the input kind from the file name" in result.stderr
    assert "--format" in result.stderr
    result = cli("load", "--format", "turtle", text)
    assert result.exit_code == 0, result.output
    assert loaded_line(result.stdout)[2:] == (ID + "graph/region", 28)
    result = cli("load", "--format", "spreadsheet", text)
    assert result.exit_code != 0
    assert "unknown input kind 'spreadsheet'; use one of: inventory-csv" in result.stderr


# --- validate ----------------------------------------------------------------------------


def test_validate_reports_and_changes_nothing(cli: Run, files: Path, store_dir: Path) -> None:
    good = cli("validate", files / "inventory.csv")
    assert good.exit_code == 0
    assert good.stdout.strip() == f"{files / 'inventory.csv'}: conforms (4 warning(s))"
    assert not store_dir.exists()  # validate never opens the store
    bad = cli("validate", files / "inventory_bad.csv")
    assert bad.exit_code == 1
    path = files / "inventory_bad.csv"
    assert re.fullmatch(
        rf"{re.escape(str(path))}: {re.escape(str(path))}:3: Violation: unknown "
        r"authority 'Narnia' \(and \d+ more violation\(s\)\)",
        bad.stdout.strip(),
    )
    assert f"{path}:4: Violation: unknown LGSL id '99999'" in bad.stderr.splitlines()
    assert not store_dir.exists()
    # with a store in place, it stays as it was
    assert cli("load", files / "inventory.csv").exit_code == 0
    before = quads(store_dir)
    assert cli("validate", files / "inventory_bad.csv", files / "projects.csv").exit_code == 1
    assert quads(store_dir) == before
    malformed = cli("validate", "--format", "turtle", files / "inventory.csv")
    assert malformed.exit_code == 2
    assert "Turtle syntax error" in malformed.stderr


# --- export ------------------------------------------------------------------------------


def test_export_dumps_every_quad(cli: Run, files: Path, store_dir: Path, tmp_path: Path) -> None:
    assert cli("load", files / "inventory.csv", files / "region.ttl").exit_code == 0
    with opened(store_dir) as store:
        count = store.quad_count()
        in_inventory = sum(1 for _ in store.graph_triples(NamedNode(INVENTORY_GRAPH)))
    nq = cli("export", "--format", "nq")
    assert nq.exit_code == 0
    exported = list(parse(nq.stdout_bytes, format=RdfFormat.N_QUADS))
    assert len(exported) == count > 17_000
    assert {q.graph_name.value for q in exported if isinstance(q.graph_name, NamedNode)} >= {
        INVENTORY_GRAPH,
        ID + "graph/region",
        ID + "graph/reference/london-authorities",
    }
    out = tmp_path / "dump.trig"
    trig = cli("export", "--format", "trig", "-o", out)
    assert trig.exit_code == 0
    assert trig.stdout == ""
    from_file = list(parse(out.read_bytes(), format=RdfFormat.TRIG))
    assert len(from_file) == count
    # each command rewrites the ontology graph (see test_a_read_only_command_writes_nothing)
    assert {q for q in from_file if q.graph_name != ONTOLOGY} == {
        q for q in exported if q.graph_name != ONTOLOGY
    }
    one = cli("export", "--format", "nq", "--graph", INVENTORY_GRAPH)
    assert one.exit_code == 0
    graph_quads = list(parse(one.stdout_bytes, format=RdfFormat.N_QUADS))
    assert len(graph_quads) == in_inventory == 232
    assert {q.graph_name for q in graph_quads} == {NamedNode(INVENTORY_GRAPH)}


def test_export_refuses_unknown_formats_and_graphs(cli: Run, store_dir: Path) -> None:
    EmbeddedStore(store_dir).close()
    result = cli("export", "--format", "xml")
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: --format must be one of trig, nq"
    result = cli("export", "--graph", "https://example.org/no-such-graph")
    assert result.exit_code == 2
    assert (
        result.stderr.strip() == "error: no graph <https://example.org/no-such-graph> in the store"
    )


# --- query -------------------------------------------------------------------------------

LABEL_QUERY = (
    "SELECT ?label WHERE { "
    f"<{ID}deployment/E09000012/adult-social-care/mosaic> "
    "<http://www.w3.org/2000/01/rdf-schema#label> ?label }"
)
SUPPLIER_QUERY = """PREFIX ct: <https://w3id.org/citytools/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?vendor (COUNT(?c) AS ?contracts) WHERE {
  GRAPH <https://w3id.org/citytools/id/graph/inventory> {
    ?c ct:supplier ?v . ?v rdfs:label ?vendor
  }
} GROUP BY ?vendor ORDER BY DESC(?contracts) ?vendor"""


def test_query_sparql_in_each_format(cli: Run, files: Path) -> None:
    assert cli("load", files / "inventory.csv").exit_code == 0
    as_json = cli("query", "--sparql", LABEL_QUERY, "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    document = json.loads(as_json.stdout)
    assert document["head"]["vars"] == ["label"]
    assert [b["label"]["value"] for b in document["results"]["bindings"]] == [
        "Mosaic — Hackney — Adult social care"
    ]
    as_csv = cli("query", "--sparql", SUPPLIER_QUERY, "--format", "csv")
    assert as_csv.exit_code == 0, as_csv.output
    assert list(csv.reader(io.StringIO(as_csv.stdout))) == [
        ["vendor", "contracts"],
        ["Civica UK Ltd", "3"],  # Revenues Online twice, Spydus (its manufacturer)
        ["Idox plc", "2"],
        ["Servelec Ltd", "2"],
        ["Bartec Auto ID Ltd", "1"],
        ["Capita Business Services Ltd", "1"],
    ]
    table = cli("query", "--sparql", LABEL_QUERY, "--format", "table")
    assert table.exit_code == 0
    assert "Mosaic — Hackney — Adult social care" in table.stdout
    assert table.stdout.strip().endswith("1 row(s)")
    ask = cli("query", "--sparql", f"ASK {{ GRAPH <{INVENTORY_GRAPH}> {{ ?s ?p ?o }} }}")
    assert ask.exit_code == 0
    assert ask.stdout.strip() == "true"


# --- as a separate process -----------------------------------------------------------------


def console(tmp_path: Path, store_dir: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYTOOLS_")}
    env.pop("COLUMNS", None)
    env["CITYTOOLS_STORE"] = str(store_dir)
    return subprocess.run(
        [str(CITYTOOLS), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "query",
    [
        "SELEC ?s WHERE { ?s ?p ?o }",
        "SELECT ?s WHERE { ?s ?p }",
        "SELECT ?s WHERE {",
    ],
)
def test_malformed_sparql_is_one_clear_line(tmp_path: Path, store_dir: Path, query: str) -> None:
    EmbeddedStore(store_dir).close()
    result = console(tmp_path, store_dir, "query", "--sparql", query)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert re.fullmatch(r"error: malformed (SPARQL )?query: .*1:\d+.*", lines[0]), lines[0]
    assert len(lines) == 1, result.stderr


def test_load_says_clearly_when_another_process_holds_the_store(
    tmp_path: Path, store_dir: Path
) -> None:
    holder = EmbeddedStore(store_dir)
    try:
        bootstrap.ensure_reference(holder, Minter())
        holder.flush()
        count = holder.quad_count()
        result = console(tmp_path, store_dir, "load", DATA / "inventory.csv")
        assert result.returncode == 2
        message = " ".join(result.stderr.split())
        assert f"error: the store at {store_dir} is in use by another process" in message
        assert "Traceback" not in result.stderr
        assert holder.quad_count() == count
        assert not holder.has_graph(NamedNode(INVENTORY_GRAPH))
    finally:
        holder.close()
    # once the other process lets go, the same command works
    result = console(tmp_path, store_dir, "load", DATA / "inventory.csv")
    assert result.returncode == 0, result.stderr
    assert INVENTORY_GRAPH in " ".join(result.stdout.split())


def test_a_read_only_command_writes_nothing(cli: Run, files: Path, store_dir: Path) -> None:
    assert cli("load", files / "region.ttl").exit_code == 0
    before = all_quads(store_dir)
    assert cli("query", "--sparql", "ASK { ?s ?p ?o }").exit_code == 0
    assert all_quads(store_dir) == before


def test_serve_says_where_its_store_is_and_how_to_enable_writes(
    tmp_path: Path, store_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CITYTOOLS_WRITE_TOKEN", raising=False)
    server = start(tmp_path, "--store", str(store_dir), processes=1)
    try:
        assert stop(server) == 0
        assert server.process.stdout is not None
        said = server.process.stdout.read().decode().splitlines()
    finally:
        cleanup(server)
    at = next(i for i, line in enumerate(said) if line.startswith("City Tools Graph on "))
    assert said[at].endswith(f"{server.url}/ in 1 HTTP process (store: {store_dir})")
    assert said[at + 1] == (
        "writes are disabled; set CITYTOOLS_WRITE_TOKEN=… to enable /update and /store writes "
        "(with the header Authorization: Bearer <token>)"
    )
