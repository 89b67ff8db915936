"""The projects CSV (SPEC.md, input 2): collaborations between authorities.

`{base}project/{slug}` per row, led by one authority with `;`-separated
partners (resolved like inventory authorities; non-London ones are described
in the graph), the systems it works with (`ct:System`, no manufacturer known),
the standards it follows, its status, dates, homepage and description.
Loader violations: unknown or missing columns, unknown authorities, a missing
name or lead, two rows naming the same project. A status outside the closed
list, a date that does not parse or a homepage that is not an IRI is kept
as a literal, so the shapes report it with the line.
"""

from __future__ import annotations

from pyoxigraph import Literal, NamedNode, Triple

from citytools import vocab as v
from citytools.loaders.base import Parsed
from citytools.loaders.builder import GraphBuilder, coded
from citytools.loaders.csvtable import read_table
from citytools.loaders.iris import Minter
from citytools.loaders.names import slug
from citytools.loaders.standards import StandardMatcher

KIND = "projects-csv"
COLUMNS = (
    "project",
    "lead_authority",
    "partners",
    "status",
    "start",
    "end",
    "systems",
    "standards",
    "url",
    "description",
)
REQUIRED = ("project", "lead_authority")


def parse_projects(data: bytes, *, source: str, minter: Minter) -> Parsed:
    parsed = Parsed(KIND)
    table = read_table(data, source=source, columns=COLUMNS, required=REQUIRED, parsed=parsed)
    if table is None:
        return parsed
    build = GraphBuilder(minter, parsed)
    standards = StandardMatcher(minter, parsed)
    seen: dict[str, int] = {}  # project slug → first line
    for line, cells in table.rows:
        name, lead_t, partners_t, status_t, start_t, end_t, systems_t, std_t, url_t, desc = cells
        if not (name and lead_t):
            missing = [c for c, value in zip(REQUIRED, (name, lead_t), strict=True) if not value]
            parsed.violation(line, f"missing value for required column(s) {', '.join(missing)}")
            continue
        first = seen.setdefault(slug(name), line)
        if first != line:
            parsed.violation(line, f"duplicate project '{name}': already on line {first}")
            continue
        lead = _authority(build, parsed, line, lead_t)
        if lead is None:
            continue
        project = minter.project(name)
        facts: list[tuple[NamedNode, NamedNode | Literal]] = [
            (v.RDF.type, v.PROJECT),
            (v.RDFS.label, Literal(name)),
            (v.LEAD_AUTHORITY, lead),
        ]
        for text in _split(partners_t):
            partner = _authority(build, parsed, line, text)
            if partner is not None:
                facts.append((v.PARTNER, partner))
        if status_t:
            facts.append((v.STATUS, coded(status_t, v.STATUSES)))
        if start_t:
            facts.append((v.START_DATE, Literal(start_t, datatype=v.XSD.date)))
        if end_t:
            facts.append((v.END_DATE, Literal(end_t, datatype=v.XSD.date)))
        for text in _split(systems_t):
            system = build.system(text)[1]
            facts.append((v.USES_SYSTEM, system))
            parsed.lines.setdefault(system.value, line)
        if std_t:
            facts += ((v.DCT.conformsTo, s) for s in standards.cell(std_t, line))
        if url_t:
            facts.append((v.FOAF.homepage, _iri_or_text(url_t)))
        if desc:
            facts.append((v.DCT.description, Literal(desc)))
        parsed.triples += [Triple(project, p, o) for p, o in facts]
        parsed.lines[project.value] = line
    return parsed


def _split(cell: str) -> list[str]:
    return list(dict.fromkeys(part.strip() for part in cell.split(";") if part.strip()))


def _authority(build: GraphBuilder, parsed: Parsed, line: int, text: str) -> NamedNode | None:
    found = build.authority(text)
    if found is None:
        parsed.violation(line, f"unknown authority '{text}'", value=text)
        return None
    return found[1]


def _iri_or_text(text: str) -> NamedNode | Literal:
    """A web address as an IRI; anything else as text, which the homepage shape reports."""
    try:
        return NamedNode(text)
    except ValueError:
        return Literal(text)
