"""`citytools query NAME --param k=v` and `citytools queries`, checked against the CSV itself."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from query_support import SPEC_QUERIES
from typer.testing import CliRunner

from citytools.resources import demo_file
from citytools.service.cli.main import app


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("cli-query") / "store"
    inventory = tmp_path_factory.mktemp("input") / "inventory.csv"
    inventory.write_bytes(demo_file("inventory.csv").read_bytes())
    result = CliRunner().invoke(app, ["load", str(inventory), "--store", str(directory)])
    assert result.exit_code == 0, result.output
    return directory


def rows_of_demo(authority: str) -> list[dict[str, str]]:
    text = demo_file("inventory.csv").read_text(encoding="utf-8")
    return [row for row in csv.DictReader(io.StringIO(text)) if row["authority"] == authority]


def invoke(store: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, [*args, "--store", str(store)])
    return result.exit_code, result.output


def test_saved_query_with_a_parameter_as_csv(store: Path) -> None:
    expected = rows_of_demo("Hackney") or rows_of_demo("E09000012")
    code, output = invoke(
        store, "query", "systems-of-authority", "-p", "authority=hackney", "--format", "csv"
    )
    assert code == 0, output
    rows = list(csv.DictReader(io.StringIO(output)))
    assert len(rows) == len(expected) > 0
    assert {r["authority_label"] for r in rows} == {"Hackney"}
    assert sorted(r["system_label"] for r in rows) == sorted(r["system"] for r in expected)


def test_saved_query_as_sparql_json_with_a_default(store: Path) -> None:
    code, output = invoke(store, "query", "vendor-concentration", "--format", "json")
    assert code == 0, output
    bindings = json.loads(output)["results"]["bindings"]
    assert len(bindings) == 15  # the default top
    assert float(bindings[-1]["cumulative_share"]["value"]) <= 1.0
    assert [int(b["rank"]["value"]) for b in bindings] == list(range(1, 16))


def test_saved_query_as_a_table_counts_its_rows(store: Path) -> None:
    code, output = invoke(store, "query", "region-comparison")
    assert code == 0, output
    assert "London" in output
    assert "1 row(s)" in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["systems-of-authority", "-p", "authority=Atlantis"], "parameter 'authority'"),
        (["shared-systems", "-p", "min_authorities=two"], "parameter 'min_authorities'"),
        (["shared-systems", "-p", "colour=blue"], "colour"),
        (["shared-systems", "-p", "novalue"], "--param takes k=v"),
        (["no-such-query"], "no saved query 'no-such-query'"),
    ],
)
def test_bad_parameters_exit_non_zero_with_one_clear_line(
    store: Path, args: list[str], message: str
) -> None:
    code, output = invoke(store, "query", *args)
    assert code == 2
    assert message in output
    assert "Traceback" not in output


def test_an_injection_attempt_is_only_a_value(store: Path) -> None:
    attempt = 'authority=Hackney" } ; DROP ALL ; SELECT * { ?s ?p ?o '
    code, output = invoke(store, "query", "systems-of-authority", "-p", attempt)
    assert code == 2
    assert "parameter 'authority'" in output
    code, output = invoke(
        store,
        "query",
        "--sparql",
        "SELECT (COUNT(*) AS ?n) { ?d a <https://w3id.org/citytools/ontology#Deployment> }",
        "--format",
        "csv",
    )
    assert output.splitlines()[1] == str(len(rows_of_demo_all()))


def rows_of_demo_all() -> list[dict[str, str]]:
    text = demo_file("inventory.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def test_queries_lists_every_saved_query_with_its_parameters() -> None:
    result = CliRunner().invoke(app, ["queries"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for name in SPEC_QUERIES:
        assert name in result.output
    assert "min_authorities: xsd:integer = 2" in result.output


def test_a_wide_answer_at_80_columns_keeps_every_header_whole(store: Path) -> None:
    args = ["query", "systems-of-authority", "-p", "authority=Hackney", "--store", str(store)]
    wide = CliRunner().invoke(app, [*args, "--format", "json"])
    names = json.loads(wide.output)["head"]["vars"]
    assert len(names) == 13
    result = CliRunner().invoke(app, args, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines[:-2]) <= 80  # the table; the notes below it wrap
    assert "…" not in result.output
    shown = [cell.strip() for cell in lines[1].strip("┃").split("┃")]
    hidden = [name for name in names if name not in shown]
    # the readable columns (labels, dates, values) first; IRI columns are the first to go
    assert shown == ["authority_label", "service_area_label", "system_label", "manufacturer_label"]
    assert (
        lines[-1] == f"{len(hidden)} more column(s): {', '.join(hidden)}; use --format csv for all"
    )
    assert lines[-2] == f"{len(rows_of_demo('Hackney'))} row(s)"
    # every system of the answer is in the table (a long label folds over lines)
    assert all(r["system"].split()[0] in result.output for r in rows_of_demo("Hackney"))
    # given the room, the whole answer is shown
    roomy = CliRunner().invoke(app, args, env={"COLUMNS": "1000"})
    header = [cell.strip() for cell in roomy.output.splitlines()[1].strip("┃").split("┃")]
    assert header == names
    assert roomy.output.splitlines()[-1] == f"{len(rows_of_demo('Hackney'))} row(s)"
