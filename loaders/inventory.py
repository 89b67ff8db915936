"""The inventory CSV (SPEC.md, input 1): one row = one deployment = one contract.

Emits what docs/architecture.md lists. Loader violations: unknown or missing
columns, unknown authority, unknown LGSL id, a missing required value, a
duplicate (authority, service area, product). A coded value outside its
closed list (`function`, `hosting`, `in_house_skill`) is kept as a plain
literal, and dates, costs and scores are typed literals even when they do not
parse, so the SHACL shapes report them with the row's line. Unknown standards
become new standards with a warning.

Built for speed (60k rows, 1M triples): every repeated string is resolved
once, IRIs are assembled from cached keys, and triples are built directly.
"""

from __future__ import annotations

from pyoxigraph import Literal, NamedNode, Triple

from citytools import vocab as v
from citytools.loaders.base import Parsed
from citytools.loaders.builder import GraphBuilder, coded
from citytools.loaders.csvtable import read_table
from citytools.loaders.iris import Minter
from citytools.loaders.literals import LiteralTriples, escape, gc_paused
from citytools.loaders.reference import lgsl_ids
from citytools.loaders.standards import StandardMatcher

KIND = "inventory-csv"
COLUMNS = (
    "authority",
    "service_area",
    "lgsl",
    "function",
    "system",
    "manufacturer",
    "supplier",
    "contract_start",
    "contract_end",
    "annual_cost_gbp",
    "hosting",
    "standards",
    "satisfaction",
    "in_house_skill",
)
REQUIRED = ("authority", "service_area", "system", "manufacturer")
_REQUIRED_AT = tuple(COLUMNS.index(name) for name in REQUIRED)


def parse_inventory(data: bytes, *, source: str, minter: Minter) -> Parsed:
    parsed = Parsed(KIND)
    table = read_table(data, source=source, columns=COLUMNS, required=REQUIRED, parsed=parsed)
    if table is not None:
        rows = _Rows(minter, parsed)
        with gc_paused():
            for line, cells in table.rows:
                rows.add(line, cells)
            rows.literals.flush()
    return parsed


class _Rows:
    def __init__(self, minter: Minter, parsed: Parsed) -> None:
        self.parsed = parsed
        self.lines = parsed.lines
        self.out = parsed.triples
        self.base = minter.base
        self.minter = minter
        self.build = GraphBuilder(minter, parsed)
        self.standards = StandardMatcher(minter, parsed)
        self.literals = LiteralTriples(parsed.triples)
        self.known_lgsl = lgsl_ids()
        self.seen: dict[tuple[str, str, str], int] = {}  # (GSS, area, product) → first line
        self.made_by: set[tuple[str, str]] = set()  # (system, manufacturer) as written
        self.classified: set[tuple[str, str]] = set()  # (service area, LGSL cell) as written
        self.pairs: set[tuple[NamedNode, NamedNode]] = set()  # the same, by IRI
        self.functions: dict[str, NamedNode | Literal] = {}
        self.hostings: dict[str, NamedNode | Literal] = {}
        self.skills: dict[str, NamedNode | Literal] = {}
        self.lgsl: dict[str, tuple[list[NamedNode], list[str]]] = {}

    def add(self, line: int, cells: list[str]) -> None:
        (auth_t, area_t, lgsl_t, func_t, sys_t, man_t, sup_t) = cells[:7]
        (start_t, end_t, cost_t, host_t, std_t, sat_t, skill_t) = cells[7:]
        if not (auth_t and area_t and sys_t and man_t):
            self._missing(line, cells)
            return
        build = self.build
        found = build.authority(auth_t)
        if found is None:
            self.parsed.violation(line, f"unknown authority '{auth_t}'", value=auth_t)
            return
        record, auth = found
        area_key, area = build.service_area(area_t)
        sys_key, system = build.system(sys_t)
        first = self.seen.setdefault((record.gss, area_key, sys_key), line)
        if first != line:
            self.parsed.violation(
                line,
                f"duplicate row: {record.name}, '{area_t}', '{sys_t}' is already on line {first}",
            )
            return
        maker = build.vendor(man_t)
        supplier = build.vendor(sup_t) if sup_t else maker
        out = self.out
        if (sys_t, man_t) not in self.made_by:
            self.made_by.add((sys_t, man_t))
            self._pair(system, _MANUFACTURER, maker)
        if lgsl_t and (area_t, lgsl_t) not in self.classified:
            self.classified.add((area_t, lgsl_t))
            self._classify(area, lgsl_t)
        if lgsl_t:
            for text in self._lgsl(lgsl_t)[1]:
                self.parsed.violation(line, f"unknown LGSL id '{text}'", value=text)

        tail = f"{record.gss}/{area_key}/{sys_key}"
        dep_iri = f"{self.base}deployment/{tail}"
        con_iri = f"{self.base}contract/{tail}"
        dep, con = NamedNode(dep_iri), NamedNode(con_iri)
        out += (
            Triple(dep, _TYPE, _DEPLOYMENT),
            Triple(dep, _AUTHORITY, auth),
            Triple(dep, _SYSTEM, system),
            Triple(dep, _SERVICE, area),
            Triple(dep, _CONTRACT, con),
            Triple(con, _TYPE, _CONTRACT_CLASS),
            Triple(con, _BUYER, auth),
            Triple(con, _SUPPLIER, supplier),
        )
        if func_t:
            term = self.functions.get(func_t) or self._coded(self.functions, func_t, v.FUNCTIONS)
            out.append(Triple(dep, _FUNCTION, term))
        if host_t:
            term = self.hostings.get(host_t) or self._coded(self.hostings, host_t, v.HOSTINGS)
            out.append(Triple(dep, _HOSTING, term))
        if skill_t:
            term = self.skills.get(skill_t) or self._coded(self.skills, skill_t, v.SKILLS)
            out.append(Triple(dep, _SKILL, term))
        if std_t:
            out += (Triple(dep, _CONFORMS, s) for s in self.standards.cell(std_t, line))

        # literal-valued statements as N-Triples text (see literals.py)
        label = escape(f"{sys_t} — {record.name} — {area_t}")
        dep_s, con_s = f"<{dep_iri}> ", f"<{con_iri}> "
        text = f'{dep_s}{_LABEL} "{label}" .\n{con_s}{_LABEL} "Contract: {label}" .\n'
        if sat_t:
            text += f'{dep_s}{_SATISFACTION} "{escape(sat_t)}"^^{_INTEGER} .\n'
        if start_t:
            text += f'{con_s}{_START} "{escape(start_t)}"^^{_DATE} .\n'
        if end_t:
            text += f'{con_s}{_END} "{escape(end_t)}"^^{_DATE} .\n'
        if cost_t:
            text += f'{con_s}{_ANNUAL} "{escape(cost_t)}"^^{_DECIMAL} .\n'
        self.literals.append(text)

        lines = self.lines
        lines[dep_iri] = line
        lines[con_iri] = line
        lines.setdefault(system.value, line)
        lines.setdefault(area.value, line)

    def _missing(self, line: int, cells: list[str]) -> None:
        missing = [COLUMNS[i] for i in _REQUIRED_AT if not cells[i]]
        self.parsed.violation(line, f"missing value for required column(s) {', '.join(missing)}")

    @staticmethod
    def _coded(
        cache: dict[str, NamedNode | Literal], text: str, terms: dict[str, NamedNode]
    ) -> NamedNode | Literal:
        term = cache[text] = coded(text, terms)
        return term

    def _pair(self, subject: NamedNode, predicate: NamedNode, obj: NamedNode) -> None:
        """One statement per (subject, object), however many rows repeat it."""
        if (subject, obj) not in self.pairs:
            self.pairs.add((subject, obj))
            self.out.append(Triple(subject, predicate, obj))

    def _classify(self, area: NamedNode, cell: str) -> None:
        for service in self._lgsl(cell)[0]:
            self._pair(area, _CLASSIFIED_AS, service)

    def _lgsl(self, cell: str) -> tuple[list[NamedNode], list[str]]:
        """(known LGSL services, unknown ids) of a `;`-separated cell."""
        hit = self.lgsl.get(cell)
        if hit is None:
            services: list[NamedNode] = []
            unknown: list[str] = []
            for text in (part.strip() for part in cell.split(";")):
                if not text:
                    continue
                if text.isdigit() and int(text) in self.known_lgsl:
                    services.append(self.minter.lgsl_service(int(text)))
                else:
                    unknown.append(text)
            hit = self.lgsl[cell] = (services, unknown)
        return hit


_TYPE = v.RDF.type
_DEPLOYMENT = v.DEPLOYMENT
_CONTRACT_CLASS = v.CONTRACT
_AUTHORITY = v.AUTHORITY
_SYSTEM = v.SYSTEM_PROP
_SERVICE = v.SERVICE_PROP
_CONTRACT = v.CONTRACT_PROP
_BUYER = v.BUYER
_SUPPLIER = v.SUPPLIER
_FUNCTION = v.FUNCTION
_HOSTING = v.HOSTING
_SKILL = v.IN_HOUSE_SKILL
_CONFORMS = v.DCT.conformsTo
_MANUFACTURER = v.MANUFACTURER
_CLASSIFIED_AS = v.CLASSIFIED_AS
# literal-valued properties and datatypes, in N-Triples syntax
_LABEL = str(v.RDFS.label)
_SATISFACTION = str(v.SATISFACTION)
_START = str(v.START_DATE)
_END = str(v.END_DATE)
_ANNUAL = str(v.ANNUAL_VALUE)
_INTEGER = str(v.XSD.integer)
_DATE = str(v.XSD.date)
_DECIMAL = str(v.XSD.decimal)
