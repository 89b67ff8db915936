"""The W3C SHACL Core test suite (tests/data/w3c/shacl-core/, unmodified) through the
product's validation path: `citytools validate DATA --shapes SHAPES --format turtle`.

Each `sht:Validate` entry of the manifests names a data graph and a shapes graph (`mf:action`)
and the expected `sh:ValidationReport` (`mf:result`). Every entry runs through
`validate_with_shapes` and `Validator.report_turtle`, what the command runs; a few run the
installed command itself. The Turtle report is read back with rdflib and compared with the
expected one: conformance, and the results counted by focus node, path, value, constraint
component, severity and source shape (tests/shacl_support.py: how blank nodes compare).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from rdflib import RDF, Graph, Namespace, URIRef
from rdflib.term import Node
from shacl_support import conforms, has_messages, result_keys, the_report

from citytools.loaders.iris import Minter
from citytools.service.cli.main import validate_with_shapes

SUITE = Path(__file__).parent / "data" / "w3c" / "shacl-core"
MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
SHT = Namespace("http://www.w3.org/ns/shacl-test#")
SH = Namespace("http://www.w3.org/ns/shacl#")
CITYTOOLS = Path(sys.executable).with_name("citytools")
MINTER = Minter("https://w3id.org/citytools/id/")

# Where pySHACL (0.40), which validates these shapes, itself misses the suite.
PYSHACL_MISSES = {
    "property/uniqueLang-002": 'pySHACL reads sh:uniqueLang "1"^^xsd:boolean as true; the '
    "suite says only the literal true activates the constraint, so the data conforms",
}
# One entry per folder of the suite, compiled and pySHACL alike, through the real command.
THROUGH_THE_COMMAND = [
    "core/complex/personexample",
    "core/misc/message-001",
    "core/node/xone-duplicate",
    "core/path/path-complex-002",
    "core/property/qualifiedValueShapesDisjoint-001",
    "core/targets/targetObjectsOf-001",
    "core/validation-reports/shared",
]


@dataclass(frozen=True)
class Entry:
    name: str  # e.g. "property/minCount-001"
    manifest: Graph
    node: Node
    data: Path
    shapes: Path

    @property
    def expected(self) -> Node:
        result = self.manifest.value(self.node, MF.result)
        assert result is not None
        return result


def _path(iri: Node) -> Path:
    assert isinstance(iri, URIRef), iri
    assert iri.startswith("file://"), iri
    return Path(iri.removeprefix("file://"))


def _parse(turtle: bytes, base: str | None = None) -> Graph:
    """rdflib's reading, the same for expected and actual reports: where its warning on an
    ill-typed boolean is an error (pytest's setting), rdflib keeps "none"^^xsd:boolean,
    and where it is not, it reads it as false."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return Graph().parse(data=turtle, format="turtle", publicID=base)


def entries() -> list[Entry]:
    """The sht:Validate entries of every manifest the top one includes, in order."""
    found: list[Entry] = []

    def read(manifest: Path) -> None:
        graph = _parse(manifest.read_bytes(), manifest.resolve().as_uri())
        for node in graph.subjects(RDF.type, MF.Manifest):
            for included in sorted(graph.objects(node, MF.include)):
                read(_path(included))
            for head in graph.objects(node, MF.entries):
                for entry in graph.items(head):
                    if (entry, RDF.type, SHT.Validate) not in graph:
                        continue
                    action = graph.value(entry, MF.action)
                    data, shapes = (
                        graph.value(action, p) for p in (SHT.dataGraph, SHT.shapesGraph)
                    )
                    assert data is not None, entry
                    assert shapes is not None, entry
                    name = str(_path(entry).relative_to(SUITE.resolve()))
                    found.append(Entry(name, graph, entry, _path(data), _path(shapes)))

    read(SUITE / "manifest.ttl")
    return found


ENTRIES = entries()


def compare(entry: Entry, turtle: bytes) -> None:
    report = _parse(turtle)
    node = the_report(report)
    messages = has_messages(entry.manifest, entry.expected)
    expected = result_keys(entry.manifest, entry.expected, messages=messages)
    assert result_keys(report, node, messages=messages) == expected
    assert conforms(report, node) == conforms(entry.manifest, entry.expected)


def engine(entry: Entry) -> str:
    validator, _ = validate_with_shapes([entry.data], entry.shapes, MINTER)
    compiled, delegated = validator.compiled.compiled, validator.compiled.delegated
    return "pySHACL" if delegated and not compiled else "both" if delegated else "compiled"


def test_the_suite_has_98_validate_entries() -> None:
    assert len(ENTRIES) == 98
    assert len({e.name for e in ENTRIES}) == 98


@pytest.mark.filterwarnings("ignore:Parsing weird boolean:UserWarning")  # pySHACL on "none"
@pytest.mark.parametrize(
    "entry",
    [
        pytest.param(
            e,
            id=e.name,
            marks=[pytest.mark.xfail(strict=True, reason=PYSHACL_MISSES[e.name])]
            if e.name in PYSHACL_MISSES
            else [],
        )
        for e in ENTRIES
    ],
)
def test_entry(entry: Entry) -> None:
    validator, [(_, report)] = validate_with_shapes([entry.data], entry.shapes, MINTER)
    compare(entry, validator.report_turtle(report))


@pytest.mark.filterwarnings("ignore:Parsing weird boolean:UserWarning")
def test_most_entries_run_on_the_compiled_engine() -> None:
    """How the entries split between the engines (a shapes graph with some root shapes
    inside the compiled subset and some outside runs on both)."""
    engines = Counter(engine(e) for e in ENTRIES)
    assert engines == {"compiled": 81, "pySHACL": 15, "both": 2}
    assert {engine(e) for e in ENTRIES if e.name in PYSHACL_MISSES} == {"pySHACL"}


@pytest.mark.parametrize("name", THROUGH_THE_COMMAND)
def test_entries_through_the_command(name: str) -> None:
    (entry,) = [e for e in ENTRIES if e.name == name.removeprefix("core/")]
    done = subprocess.run(
        [CITYTOOLS, "validate", entry.data, "--shapes", entry.shapes, "--format", "turtle"],
        capture_output=True,
        timeout=120,
        check=False,
    )
    severities = {
        entry.manifest.value(r, SH.resultSeverity)
        for r in entry.manifest.objects(entry.expected, SH.result)
    }
    violations = bool(severities - {SH.Warning, SH.Info})  # other severities count as violations
    assert done.returncode == (1 if violations else 0), done.stderr
    compare(entry, done.stdout)


def test_the_vendored_files_are_unmodified() -> None:
    """Every file is listed in SHA256SUMS with the digest of the upstream file."""
    listed = {}
    for line in (SUITE / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ", 1)
        listed[name.removeprefix("./")] = digest
    files = {
        str(p.relative_to(SUITE)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in SUITE.rglob("*")
        if p.is_file() and p.name not in ("SHA256SUMS", "README.md")
    }
    assert files == listed
    assert len(files) == 121
