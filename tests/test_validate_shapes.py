"""`citytools validate DATA… --shapes SHAPES [--format json|turtle]`: DATA against those
shapes instead of the product's, no store; exit 0 conforms, 1 violations, 2 an error."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from rdflib import Graph
from shacl_support import SH, conforms, the_report
from typer.testing import CliRunner, Result

from citytools.service.cli.main import app

DATA = Path(__file__).parent / "data"
SHAPES = DATA / "validation" / "logic-shapes.ttl"
BROKEN = DATA / "validation" / "logic-data.ttl"
Run = Callable[..., Result]
# one shape for each engine
DEPLOYMENT_SHAPES = b"""
@prefix ct: <https://w3id.org/citytools/ontology#> .
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix ex: <http://example.org/ns#> .
ex:NeedsHosting a sh:NodeShape ; sh:targetClass ct:Deployment ;
    sh:property [ sh:path ct:hosting ; sh:hasValue ct:Cloud ; sh:message "Cloud only" ] .
ex:Closed a sh:NodeShape ; sh:targetClass ct:Contract ; sh:closed true ;
    sh:ignoredProperties ( <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> ) .
"""


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("CITYTOOLS_"):
            monkeypatch.delenv(name)

    def run(*args: str | Path) -> Result:
        env = {"CITYTOOLS_STORE": str(tmp_path / "store"), "COLUMNS": "1000"}
        return CliRunner().invoke(app, [str(a) for a in args], env=env)

    return run


def test_violations_as_text_exit_1(cli: Run, tmp_path: Path) -> None:
    result = cli("validate", BROKEN, "--shapes", SHAPES)
    assert result.exit_code == 1, result.output
    assert f"{BROKEN}: Violation:" in result.stdout
    assert "Violation: An amount is a decimal or an integer" in result.stderr
    assert "pySHACL" not in result.stdout  # every shape compiled
    assert not (tmp_path / "store").exists()  # no store is opened or made


def test_a_conforming_file_exits_0(cli: Run, tmp_path: Path) -> None:
    good = tmp_path / "good.ttl"
    good.write_text("<http://example.org/ns#x> a <http://example.org/ns#Person> .\n")
    shapes = tmp_path / "people.ttl"
    shapes.write_text(
        "@prefix sh: <http://www.w3.org/ns/shacl#> .\n"
        "<urn:s> sh:targetClass <http://example.org/ns#Person> ; sh:nodeKind sh:IRI .\n"
    )
    result = cli("validate", good, "--shapes", shapes)
    assert (result.exit_code, result.stdout.strip()) == (0, f"{good}: conforms (0 warning(s))")


def test_the_report_as_json(cli: Run) -> None:
    result = cli("validate", BROKEN, "--shapes", SHAPES, "--format", "json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)
    assert document["conforms"] is False
    assert document["violations"] == len(
        [r for r in document["results"] if r["severity"] == "Violation"]
    )
    amounts = [r for r in document["results"] if r["constraint"] == "sh:OrConstraintComponent"]
    assert {(r["focusNode"], r["resultPath"], r["value"]) for r in amounts} >= {
        ("http://example.org/ns#bad", "http://example.org/ns#amount", "lots")
    }
    assert "validatedByPySHACL" not in document


def test_the_report_as_a_shacl_validation_report(cli: Run) -> None:
    result = cli("validate", BROKEN, "--shapes", SHAPES, "--format", "turtle")
    assert result.exit_code == 1
    graph = Graph().parse(data=result.stdout_bytes, format="turtle")
    report = the_report(graph)
    assert conforms(graph, report) is False
    results = list(graph.objects(report, SH.result))
    assert len(results) > 30
    for result_node in results:
        for predicate in (SH.focusNode, SH.sourceConstraintComponent, SH.sourceShape):
            assert graph.value(result_node, predicate) is not None
        assert graph.value(result_node, SH.resultSeverity) in (SH.Violation, SH.Warning)
        assert graph.value(result_node, SH.resultMessage) is not None


def test_an_inventory_against_draft_shapes_on_both_engines(cli: Run, tmp_path: Path) -> None:
    shapes = tmp_path / "draft.ttl"
    shapes.write_bytes(DEPLOYMENT_SHAPES)
    inventory = DATA / "loaders" / "inventory.csv"
    text = cli("validate", inventory, "--shapes", shapes)
    assert text.exit_code == 1
    assert f"{inventory}:2: Violation: Cloud only" in text.stderr  # the CSV line of the row
    assert text.stdout.strip().endswith(
        "validated by pySHACL: 1 shape outside the compiled subset (ex:Closed)"
    )
    document = json.loads(cli("validate", inventory, "--shapes", shapes, "--format", "json").stdout)
    assert document["validatedByPySHACL"] == ["ex:Closed"]
    components = {r["constraint"] for r in document["results"]}  # and the loader's own
    assert components == {
        "sh:HasValueConstraintComponent",
        "sh:ClosedConstraintComponent",
        "loader",
    }
    turtle = cli("validate", inventory, "--shapes", shapes, "--format", "turtle").stdout_bytes
    assert b"validated by pySHACL: 1 shape" in turtle


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--format", "csv"], "with --shapes, --format names the report: json or turtle"),
        (["--shapes", "missing.ttl"], "cannot read missing.ttl"),
    ],
)
def test_usage_errors_exit_2(cli: Run, arguments: list[str], message: str) -> None:
    shapes = [] if "--shapes" in arguments else ["--shapes", str(SHAPES)]
    result = cli("validate", BROKEN, *shapes, *arguments)
    assert result.exit_code == 2
    assert message in result.stderr


def test_broken_shapes_or_data_exit_2(cli: Run, tmp_path: Path) -> None:
    shapes = tmp_path / "typo.ttl"
    shapes.write_text(
        "@prefix sh: <http://www.w3.org/ns/shacl#> .\n"
        "<urn:s> sh:targetNode <urn:x> ; sh:minlength 1 .\n"
    )
    result = cli("validate", BROKEN, "--shapes", shapes)
    assert result.exit_code == 2
    assert f"{shapes}: sh:minlength is not a term of SHACL Core or SHACL-SPARQL" in result.stderr
    data = tmp_path / "broken.ttl"
    data.write_text("<urn:s> <urn:p> .\n")
    result = cli("validate", data, "--shapes", SHAPES)
    assert result.exit_code == 2
    assert f"{data}: Turtle syntax error: Parser error at line 1" in result.stderr
