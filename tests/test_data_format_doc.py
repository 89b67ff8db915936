"""docs/data-format.md keeps up with the loaders, and its example files stay valid.

The column lists are the loaders' own (`inventory.COLUMNS`, `projects.COLUMNS`, as
bench/generate.py uses them); the coded values are the vocabulary's; the example files are
checked by the same ingest check `citytools validate` runs.
"""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path

import pytest
from pyoxigraph import NamedNode
from typer.testing import CliRunner

from citytools import vocab as v
from citytools.loaders import detect, inventory, projects
from citytools.loaders.authorities import authority_resolver
from citytools.loaders.rdf import FORMATS
from citytools.service.cli.main import app

DOCS = Path(__file__).resolve().parents[1] / "docs"
DOC = (DOCS / "data-format.md").read_text(encoding="utf-8")
EXAMPLES = DOCS / "examples"
# a column the loader reads without, but the shapes need a value in (ctsh:ProjectStatusCount)
NEEDED_BY_THE_SHAPES = {"projects": {"status"}}
CODED = {"function": v.FUNCTIONS, "hosting": v.HOSTINGS, "in_house_skill": v.SKILLS}
CODED_PROJECTS = {"status": v.STATUSES}
LOADERS = {
    "inventory": (inventory, "## The inventory CSV", CODED),
    "projects": (projects, "## The projects CSV", CODED_PROJECTS),
}
ROW = re.compile(r"^\| `([a-z_]+)` \| (yes|no) \| (.*?) \|", re.MULTILINE)


@pytest.fixture(autouse=True)
def plain_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI runs on the default settings: no CITYTOOLS_ variable, no .env file."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("CITYTOOLS_"):
            monkeypatch.delenv(name)


def section(heading: str) -> str:
    start = DOC.index(heading + "\n")
    end = DOC.find("\n## ", start + len(heading))
    return DOC[start : end if end > 0 else len(DOC)]


def header(path: Path) -> list[str]:
    return next(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


def data_rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_the_doc_lists_every_column_in_order_with_required_or_not(kind: str) -> None:
    loader, heading, _ = LOADERS[kind]
    rows = ROW.findall(section(heading))
    assert [name for name, _, _ in rows] == list(loader.COLUMNS)
    required = {name for name, needed, _ in rows if needed == "yes"}
    assert required == set(loader.REQUIRED) | NEEDED_BY_THE_SHAPES.get(kind, set())


@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_the_doc_gives_exactly_the_coded_values(kind: str) -> None:
    _, heading, coded = LOADERS[kind]
    allowed = {name: cell for name, _, cell in ROW.findall(section(heading))}
    for column, terms in coded.items():
        assert set(re.findall(r"`([a-z-]+)`", allowed[column])) == set(terms), column


def test_a_project_without_a_status_is_rejected_as_the_doc_says(tmp_path: Path) -> None:
    assert "status" not in projects.REQUIRED
    path = tmp_path / "projects.csv"
    path.write_text("project,lead_authority\nShared thing,Camden\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(path)], env={"COLUMNS": "1000"})
    assert result.exit_code == 1
    assert f"{path}:2: Violation: A project must have exactly one status" in result.stderr


def test_every_ct_term_the_doc_names_is_in_the_vocabulary() -> None:
    known = {value for value in vars(v).values() if isinstance(value, NamedNode)}
    known |= {term for terms in (*CODED.values(), v.STATUSES) for term in terms.values()}
    named = {v.CT[name] for name in re.findall(r"\bct:([A-Za-z]+)", DOC)}
    assert named - known == set()


def test_the_doc_names_every_rdf_format_extension_and_kind() -> None:
    rdf = section("## RDF")
    for kind in FORMATS:
        assert f"| `{kind}` |" in rdf, kind
    for extension in detect.EXTENSIONS:
        assert f"`{extension}`" in DOC, extension
    told = section("## How the kind of an input is told")
    for kind in detect.KINDS:
        assert f"`{kind}`" in told, kind


# --- the example files ---------------------------------------------------------------------

TEMPLATES = {"inventory-template.csv": inventory, "projects-template.csv": projects}
SAMPLES = ("my-inventory.csv", "manchester-inventory.csv")


def test_every_example_file_is_linked_from_the_doc() -> None:
    files = sorted(p.name for p in EXAMPLES.iterdir())
    assert files == sorted([*TEMPLATES, *SAMPLES])
    for name in files:
        assert f"(examples/{name})" in DOC, name


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_a_template_is_the_loaders_header_and_marked_example_rows(name: str) -> None:
    path = EXAMPLES / name
    assert header(path) == list(TEMPLATES[name].COLUMNS)
    rows = data_rows(path)
    assert len(rows) == 2
    assert all(any("EXAMPLE" in cell for cell in row.values()) for row in rows)


@pytest.mark.parametrize(
    ("name", "codes"),
    [
        ("my-inventory.csv", {f"E090000{n:02}" for n in range(1, 34)}),
        ("manchester-inventory.csv", {f"E080000{n:02}" for n in range(1, 11)}),
    ],
)
def test_a_sample_is_an_inventory_of_real_authorities(name: str, codes: set[str]) -> None:
    path = EXAMPLES / name
    assert header(path) == list(inventory.COLUMNS)
    rows = data_rows(path)
    assert 5 <= len(rows) <= 8
    resolver = authority_resolver()
    found = [resolver.resolve(row["authority"]) for row in rows]
    assert all(record is not None and record.gss in codes for record in found), found


def test_the_example_files_validate_cleanly() -> None:
    paths = sorted(EXAMPLES.iterdir())
    result = CliRunner().invoke(app, ["validate", *map(str, paths)], env={"COLUMNS": "1000"})
    assert result.exit_code == 0, result.output
    said = result.stdout.splitlines()
    assert len(said) == len(paths)
    for path, line in zip(paths, said, strict=True):
        assert line.startswith(f"{path}: conforms"), line
    # the samples and the inventory template without a single warning
    for name in ("inventory-template.csv", *SAMPLES):
        assert f"{EXAMPLES / name}: conforms (0 warning(s))" in said
