"""Deterministic synthetic inventories and projects in the SPEC.md CSV formats.

    python bench/generate.py --rows 60000 --seed 7 -o inventory.csv
    python bench/generate.py --projects 20 --seed 7 -o projects.csv

As a module: `generate_inventory(rows, seed)` and `generate_projects(n, seed)`
return the CSV text; the same arguments give the same bytes. Rows are drawn
from the fictional market of `citytools.demo.catalogue` for the 33 London
authorities of the shipped reference data. No two rows share (authority,
service area, system): once an authority has every area/product pair,
further rows go to numbered sub-areas ("Planning (team 2)"), so any row
count stays valid.

**UK-shaped data** (issue 13): `generate_uk_inventory(rows, seed, countries=1)` spreads
`rows` over every current UK authority of `reference/uk_local_authorities.csv` (397,
London's 33 among them; a county or unitary council lists more systems than a district,
a combined authority few), drawn from the same Zipf market. The cell names an authority
by its short name, or by its GSS code for one in ten and wherever the name would need CSV
quoting; the inventory loader resolves every one of them, and describes each non-London
authority with its region. `UK_ROWS` (34 per authority) gives ~240k inventory triples.
`generate_uk_projects(n, seed)` names UK authorities.

`countries=N` adds N-1 **fictional countries** of as many rows each (UK_ROWS and
countries=4: ~1M triples). Their authorities carry GSS-shaped codes of the unassigned
entity code 99, `E99{k}{nnnnn}` (k = country 1-9), and say that they are fictional in
their labels and an `rdfs:comment`. The inventory loader refuses them (unknown
authorities are violations: it resolves authorities only against the shipped UK list, and
a region graph loaded before does not change that), so each country comes as **RDF**: one
N-Triples graph holding its regions and all its `ct:LocalAuthority` resources (label,
`ct:gssCode`, `ct:region`, `ct:authorityType`; no ONS `owl:sameAs`, as no ONS geography
exists) and the deployments, contracts, systems, vendors and service areas of its rows,
exactly as the inventory loader would emit them for those rows (the same IRIs, labels and
typed literals; the loader's own `GraphBuilder` and `StandardMatcher` mint them). That
graph validates and loads (`citytools load country-1.nt`). `Country.inventory_csv` keeps
the same rows in the inventory format, the truth the tests recompute answers from.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import re
import sys
from bisect import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from itertools import accumulate, combinations
from operator import itemgetter
from random import Random

from pyoxigraph import Literal, NamedNode, RdfFormat, Triple, serialize

from citytools import vocab as v
from citytools.demo.catalogue import (
    DATA_FORMATS,
    PRODUCTS,
    PROJECT_TEMPLATES,
    RESELLERS,
    SERVICE_AREAS,
    UNKNOWN_STANDARDS,
    VENDORS,
    ServiceArea,
)
from citytools.loaders import inventory, projects
from citytools.loaders.authorities import authority_resolver
from citytools.loaders.base import Parsed
from citytools.loaders.builder import GraphBuilder, coded
from citytools.loaders.iris import Minter
from citytools.loaders.standards import StandardMatcher
from citytools.resources import reference_file

# The generator writes exactly the columns the loaders read.
INVENTORY_COLUMNS = inventory.COLUMNS
PROJECT_COLUMNS = projects.COLUMNS

CITY_OF_LONDON = "E09000001"
_FIRST_YEAR, _LAST_YEAR = 2018, 2031
_LATEST_START = 2026  # inventories are taken in 2026: no contract starts later
_TERMS = (1, 2, 3, 3, 4, 5, 5, 5, 7, 10)  # contract lengths in years
# Financial-year contracts end on 31 March of these years; most inventories look 2024-2028 ahead.
_END_YEARS = tuple(range(2019, 2032))
_END_YEAR_WEIGHTS = (1, 2, 3, 4, 6, 8, 10, 10, 9, 7, 5, 3, 2)
_Dates = tuple[str, str, int]  # start, end, start year (0: unknown)
_NO_DATES: _Dates = ("", "", 0)
_HOSTINGS = ("on-premises", "hybrid", "cloud", "saas")
_SKILLS = ("none", "basic", "advanced", "expert")
_SKILL_CUM = (0.22, 0.67, 0.90, 1.0)  # experts are rare
_SATISFACTION_CUM = (0.08, 0.25, 0.60, 0.90, 1.0)
_STANDARD_COUNT_CUM = (0.35, 0.70, 0.90)  # how many standards a deployment declares: 0..3
_ZIPF_EXPONENT = 1.0
_CSV_SPECIAL = re.compile(r'[,"\r\n]')
_RESELLER_SPELLINGS = tuple(v.spellings for v in RESELLERS)
_VENDOR_RANKS = {v.name: i + 1 for i, v in enumerate(VENDORS)}
_VENDORS_BY_NAME = {v.name: v for v in VENDORS}


@dataclass(frozen=True)
class _Area:
    """A service area with its draws precomputed: generation is table look-ups, not logic."""

    name: str
    function: str
    products: tuple[str, ...]
    product_cum: tuple[float, ...]  # cumulative Zipf weights of the products' vendors
    makers: tuple[tuple[str, ...], ...]  # per product: its manufacturer's spellings
    lgsl_one: tuple[str, ...]
    lgsl_two: tuple[str, ...]
    standards: tuple[tuple[str, ...], ...]  # [k]: every k-subset of the area's pool, joined
    framework_dates: tuple[_Dates, ...]  # a framework many contracts end on: joint procurement
    log_median_cost: float


@dataclass(frozen=True)
class _Market:
    authorities: tuple[tuple[str, str], ...]  # (GSS code, name)
    areas: tuple[_Area, ...]
    area_cum: tuple[float, ...]


def vendor_weight(rank: int) -> float:
    """Zipf-like pull of the vendor of market rank `rank` (1 = largest)."""
    return math.pow(rank, -_ZIPF_EXPONENT)


def london_authorities() -> tuple[tuple[str, str], ...]:
    """(GSS code, name) of the 33 London authorities, in GSS order."""
    with reference_file("london_local_authorities.csv").open(encoding="utf-8") as f:
        return tuple((r["gss_code"], r["name"]) for r in csv.DictReader(f))


def _area(spec: ServiceArea, layout: Random) -> _Area:
    year, month = layout.choice((2026, 2027, 2028, 2029)), layout.choice((3, 9))
    ids = [str(i) for i in spec.lgsl]
    pool, products = spec.standards, spec.products
    return _Area(
        name=spec.name,
        function=spec.function,
        products=products,
        product_cum=tuple(accumulate(vendor_weight(_VENDOR_RANKS[PRODUCTS[p]]) for p in products)),
        makers=tuple(_VENDORS_BY_NAME[PRODUCTS[p]].spellings for p in products),
        lgsl_one=tuple(ids),
        lgsl_two=tuple(";".join(c) for c in combinations(ids, 2)),
        standards=tuple(
            tuple(";".join(c) for c in combinations(pool, min(k, len(pool)))) for k in range(4)
        ),
        framework_dates=_ending_on(year, month, 31 if month == 3 else 30),
        log_median_cost=math.log(spec.median_cost),
    )


@cache
def _market() -> _Market:
    layout = Random(0)  # the market's fixed features (framework end dates) do not vary by seed
    market = _Market(
        london_authorities(),
        tuple(_area(spec, layout) for spec in SERVICE_AREAS),
        tuple(accumulate(a.weight for a in SERVICE_AREAS)),
    )
    # Rows are joined with commas, not csv-quoted (4x faster), so no value may need quoting.
    texts = [t for pair in market.authorities for t in pair]
    for area in market.areas:
        texts += [area.name, *area.products, *area.lgsl_two, *area.standards[-1]]
        texts += [spelling for makers in area.makers for spelling in makers]
    texts += [s for spellings in _RESELLER_SPELLINGS for s in spellings] + [*UNKNOWN_STANDARDS]
    needs_quotes = [t for t in texts if _CSV_SPECIAL.search(t)]
    if needs_quotes:
        raise ValueError(f"catalogue values would need CSV quoting: {needs_quotes}")
    return market


def _iso(y: int, m: int, d: int) -> str:
    return f"{y}-{m:02d}-{d:02d}"


def _day_before(y: int, m: int, d: int) -> tuple[int, int, int]:
    if d > 1:
        return y, m, d - 1
    if m == 1:
        return y - 1, 12, 31
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    return y, m - 1, (31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[m - 2]


def _ending_on(ey: int, em: int, ed: int) -> tuple[_Dates, ...]:
    """One contract per term ending on a March or September month-end, begun the day after."""
    starts = (ey - min(max(term, ey - _LATEST_START), ey - _FIRST_YEAR) for term in _TERMS)
    return tuple((_iso(sy, em + 1, 1), _iso(ey, em, ed), sy) for sy in starts)


@cache
def _date_tables() -> tuple[tuple[_Dates, ...], ...]:
    """Every (start, end, start year) a draw can give, so a draw is one index.

    Returned: rolling contracts without an end, financial-year contracts ending 31 March
    (end years repeated by weight), and contracts starting on any day up to 2026.
    """
    rolling = tuple(
        (_iso(y, m, 1), "", y) for y in range(_FIRST_YEAR, _LATEST_START) for m in range(1, 13)
    )
    fiscal = tuple(
        dates
        for year, weight in zip(_END_YEARS, _END_YEAR_WEIGHTS, strict=True)
        for _ in range(weight)
        for dates in _ending_on(year, 3, 31)
    )
    any_day = tuple(
        (_iso(y, m, d), _iso(*_day_before(y + min(term, _LAST_YEAR - y), m, d)), y)
        for y in range(_FIRST_YEAR, _LATEST_START + 1)
        for m in range(1, 13)
        for d in range(1, 29)
        for term in _TERMS
    )
    return rolling, fiscal, any_day


def _contract_dates(rng: Random, area: _Area) -> _Dates:
    """Financial years, framework call-offs or any day; one row in ten has no end date."""
    r = rng.random()
    if r < 0.04:
        return _NO_DATES
    rolling, fiscal, any_day = _date_tables()
    if r < 0.10:
        table = rolling
    elif r < 0.30:  # called off the area's framework: its end date
        table = area.framework_dates
    else:
        table = fiscal if r < 0.70 else any_day
    return table[int(rng.random() * len(table))]


def _row(rng: Random, authority: str, area: _Area, name: str, p: int) -> list[str]:
    random = rng.random
    r = random()
    if r < 0.08:
        lgsl = ""
    else:
        options = area.lgsl_one if r < 0.70 or not area.lgsl_two else area.lgsl_two
        lgsl = options[int(random() * len(options))]
    makers = area.makers[p]
    maker = makers[0]
    if len(makers) > 1 and random() < 0.2:  # the same firm spelled another way
        maker = makers[1 + int(random() * (len(makers) - 1))]
    r = random()
    if r < 0.15:  # resold: the contract is with someone else
        resellers = _RESELLER_SPELLINGS[int(random() * len(_RESELLER_SPELLINGS))]
        supplier = resellers[0] if random() < 0.8 else resellers[-1]
    else:
        supplier = maker if r < 0.45 else ""
    start, end, start_year = _contract_dates(rng, area)
    cost = ""
    if random() >= 0.05:
        value = math.exp(rng.gauss(area.log_median_cost, 0.7))
        cost = f"{round(value, -2):.2f}" if random() < 0.4 else f"{value:.2f}"
    r = random()  # newer contracts lean to SaaS and cloud, older ones to on-premises
    on_prem = 0.45 - 0.04 * ((start_year or 2022) - _FIRST_YEAR)
    hosting = "" if r < 0.03 else _HOSTINGS[bisect((on_prem, on_prem + 0.15, on_prem + 0.35), r)]
    subsets = area.standards[bisect(_STANDARD_COUNT_CUM, random())]
    standards = subsets[int(random() * len(subsets))]
    if random() < 0.01:
        unknown = UNKNOWN_STANDARDS[int(random() * len(UNKNOWN_STANDARDS))]
        standards = f"{standards};{unknown}" if standards else unknown
    satisfaction = "" if random() < 0.12 else str(1 + bisect(_SATISFACTION_CUM, random()))
    skill = "" if random() < 0.05 else _SKILLS[bisect(_SKILL_CUM, random())]
    function = "" if random() < 0.04 else area.function
    return [
        authority,
        name,
        lgsl,
        function,
        area.products[p],
        maker,
        supplier,
        start,
        end,
        cost,
        hosting,
        standards,
        satisfaction,
        skill,
    ]


def _allocate(total: int, weights: Sequence[float]) -> list[int]:
    """Split `total` in proportion to `weights`, exactly (largest remainder)."""
    whole = sum(weights)
    shares = [total * w / whole for w in weights]
    counts = [int(s) for s in shares]
    by_remainder = sorted(range(len(weights)), key=lambda i: (counts[i] - shares[i], i))
    for i in by_remainder[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _authority_rows(rng: Random, market: _Market, cell: str, count: int) -> list[str]:
    areas, area_cum = market.areas, market.area_cum
    pairs = sum(len(a.products) for a in areas)
    # While the authority is small next to the market, redraw instead of opening a sub-area.
    redraws = 8 if 2 * count <= pairs else 0
    used: dict[tuple[int, int], int] = {}
    keyed: list[tuple[int, int, str, list[str]]] = []
    for _ in range(count):
        for _attempt in range(redraws + 1):
            a = bisect(area_cum, rng.random() * area_cum[-1])
            area = areas[a]
            p = bisect(area.product_cum, rng.random() * area.product_cum[-1])
            if (a, p) not in used:
                break
        team = used.get((a, p), 0) + 1
        used[(a, p)] = team
        name = area.name if team == 1 else f"{area.name} (team {team})"
        keyed.append((a, team, area.products[p], _row(rng, cell, area, name, p)))
    keyed.sort(key=itemgetter(0, 1, 2))
    return [",".join(k[3]) for k in keyed]


def generate_inventory(rows: int, seed: int) -> str:
    """An inventory CSV (header + exactly `rows` rows); the same arguments give the same text."""
    if rows < 0:
        raise ValueError(f"rows must be >= 0, not {rows}")
    rng = Random(seed)
    market = _market()
    # City of London is small; the boroughs vary around one size.
    weights = [
        0.4 if gss == CITY_OF_LONDON else 0.7 + 0.6 * rng.random() for gss, _ in market.authorities
    ]
    lines = [",".join(INVENTORY_COLUMNS)]
    for (gss, name), count in zip(market.authorities, _allocate(rows, weights), strict=True):
        cell = gss if rng.random() < 0.1 else name  # the format takes codes or names
        lines += _authority_rows(rng, market, cell, count)
    return "\n".join(lines) + "\n"


# --- UK-shaped data (issue 13) ---------------------------------------------------------------

UK_ROWS = 13_498  # 34 rows (systems) for each of the 397 UK authorities: ~240k inventory triples
# How many systems an authority lists, by its type in the UK list: a county or unitary
# council runs more than a district, a combined or strategic authority only a few.
_UK_TYPE_WEIGHTS = {
    "CTY": 1.5,
    "UA": 1.4,
    "MD": 1.3,
    "SCO": 1.3,
    "LBO": 1.2,
    "WPA": 1.2,
    "NID": 1.0,
    "NMD": 0.6,
    "CC": 0.5,
    "SRA": 0.5,
    "COMB": 0.3,
}
_FICTIONAL_REGIONS = 9  # per fictional country
FICTIONAL_NOTE = "Fictional: synthetic benchmark data from bench/generate.py, not a real place."
_FICTIONAL_CODE_NOTE = " Its GSS-shaped code uses the entity code 99, which ONS does not assign."


@dataclass(frozen=True)
class UkAuthority:
    gss: str
    cell: str  # how an inventory row names it: the short name, or the code where it must
    type_code: str  # "LBO", "NMD", ... (local_authority_type)
    type_name: str  # "London borough", ...


@dataclass(frozen=True)
class FictionalAuthority:
    gss: str  # E99{country}{nnnnn}
    name: str
    type_name: str
    region: str  # the region's name: its IRI is {base}region/{slug of it}


@dataclass(frozen=True)
class Country:
    """A fictional country's rows: as the inventory CSV would hold them (which the loader
    refuses: unknown authorities) and as the N-Triples graph that loads."""

    name: str
    authorities: tuple[FictionalAuthority, ...]
    inventory_csv: str
    ntriples: str


@dataclass(frozen=True)
class UkInventory:
    csv: str  # the UK inventory: loads with `citytools load`
    countries: tuple[Country, ...]  # the fictional ones, countries - 1 of them


@cache
def uk_authorities() -> tuple[UkAuthority, ...]:
    """Every current UK authority of the shipped list, in its order, with the inventory cell
    that names it: its short name when the loader resolves that name to it and it needs no
    CSV quoting, else its GSS code."""
    resolver = authority_resolver()
    found = []
    with reference_file("uk_local_authorities.csv").open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            name, gss = r["nice_name"], r["gss_code"]
            record = resolver.resolve(name)
            plain = name == name.strip() and not _CSV_SPECIAL.search(name)
            cell = name if plain and record is not None and record.gss == gss else gss
            found.append(
                UkAuthority(gss, cell, r["local_authority_type"], r["local_authority_type_name"])
            )
    return tuple(found)


def fictional_authorities(country: int) -> tuple[FictionalAuthority, ...]:
    """The authorities of fictional country `country` (1-9): as many as the UK has, of the
    UK's types in the UK's order, in `_FICTIONAL_REGIONS` regions."""
    if not 1 <= country <= 9:
        raise ValueError(f"a fictional country is numbered 1 to 9, not {country}")
    uk = uk_authorities()
    return tuple(
        FictionalAuthority(
            gss=f"E99{country}{i + 1:05d}",
            name=f"Fictional authority {country}-{i + 1:03d}",
            type_name=a.type_name,
            region=(f"Fictional country {country}, region {1 + i * _FICTIONAL_REGIONS // len(uk)}"),
        )
        for i, a in enumerate(uk)
    )


def _uk_weights(rng: Random) -> list[float]:
    return [_UK_TYPE_WEIGHTS[a.type_code] * (0.7 + 0.6 * rng.random()) for a in uk_authorities()]


def generate_uk_inventory(rows: int, seed: int, countries: int = 1) -> UkInventory:
    """`rows` inventory rows over every UK authority, and `rows` more in each of the
    `countries - 1` fictional countries (see the module's docstring)."""
    if rows < 0:
        raise ValueError(f"rows must be >= 0, not {rows}")
    if not 1 <= countries <= 10:
        raise ValueError(f"countries must be 1 to 10, not {countries}")
    rng = Random(seed)
    market = _market()
    lines = [",".join(INVENTORY_COLUMNS)]
    for a, count in zip(uk_authorities(), _allocate(rows, _uk_weights(rng)), strict=True):
        cell = a.gss if rng.random() < 0.1 else a.cell
        lines += _authority_rows(rng, market, cell, count)
    return UkInventory(
        "\n".join(lines) + "\n",
        tuple(_country(rng, market, k, rows) for k in range(1, countries)),
    )


def _country(rng: Random, market: _Market, country: int, rows: int) -> Country:
    authorities = fictional_authorities(country)
    cells: list[list[str]] = []
    for a, count in zip(authorities, _allocate(rows, _uk_weights(rng)), strict=True):
        cells += (line.split(",") for line in _authority_rows(rng, market, a.gss, count))
    text = "\n".join(",".join(c) for c in [list(INVENTORY_COLUMNS), *cells]) + "\n"
    graph = serialize(_country_triples(authorities, cells), format=RdfFormat.N_TRIPLES)
    assert graph is not None  # serialize returns the bytes when given no output
    return Country(f"Fictional country {country}", authorities, text, graph.decode())


def _country_triples(
    authorities: Sequence[FictionalAuthority], rows: Sequence[Sequence[str]]
) -> list[Triple]:
    """What the inventory loader emits for `rows` (see loaders/inventory.py), had it known the
    fictional authorities, plus the authorities and their regions."""
    minter = Minter()
    parsed = Parsed(inventory.KIND)
    build, standards = GraphBuilder(minter, parsed), StandardMatcher(minter, parsed)
    out = parsed.triples
    comment, code_comment = Literal(FICTIONAL_NOTE), Literal(FICTIONAL_NOTE + _FICTIONAL_CODE_NOTE)
    regions: dict[str, NamedNode] = {}
    by_gss: dict[str, tuple[str, NamedNode]] = {}
    for a in authorities:
        region = regions.get(a.region)
        if region is None:
            region = regions[a.region] = minter.region(a.region)
            out += [
                Triple(region, v.RDF.type, v.REGION),
                Triple(region, v.RDFS.label, Literal(a.region)),
                Triple(region, v.RDFS.comment, comment),
            ]
        iri = minter.authority(a.gss)
        by_gss[a.gss] = (a.name, iri)
        out += [
            Triple(iri, v.RDF.type, v.LOCAL_AUTHORITY),
            Triple(iri, v.RDFS.label, Literal(a.name)),
            Triple(iri, v.GSS_CODE, Literal(a.gss)),
            Triple(iri, v.AUTHORITY_TYPE, Literal(a.type_name)),
            Triple(iri, v.REGION_PROP, region),
            Triple(iri, v.RDFS.comment, code_comment),
        ]
    base = minter.base
    for line, cells in enumerate(rows, start=2):
        gss, area_t, lgsl_t, func_t, sys_t, man_t, sup_t = cells[:7]
        start_t, end_t, cost_t, host_t, std_t, sat_t, skill_t = cells[7:]
        name, auth = by_gss[gss]
        area_key, area = build.service_area(area_t)
        sys_key, system = build.system(sys_t)
        maker = build.vendor(man_t)
        supplier = build.vendor(sup_t) if sup_t else maker
        out.append(Triple(system, v.MANUFACTURER, maker))
        out += (Triple(area, v.CLASSIFIED_AS, minter.lgsl_service(int(i))) for i in _ids(lgsl_t))
        tail = f"{gss}/{area_key}/{sys_key}"
        dep, con = NamedNode(f"{base}deployment/{tail}"), NamedNode(f"{base}contract/{tail}")
        label = f"{sys_t} — {name} — {area_t}"
        out += [
            Triple(dep, v.RDF.type, v.DEPLOYMENT),
            Triple(dep, v.AUTHORITY, auth),
            Triple(dep, v.SYSTEM_PROP, system),
            Triple(dep, v.SERVICE_PROP, area),
            Triple(dep, v.CONTRACT_PROP, con),
            Triple(dep, v.RDFS.label, Literal(label)),
            Triple(con, v.RDF.type, v.CONTRACT),
            Triple(con, v.BUYER, auth),
            Triple(con, v.SUPPLIER, supplier),
            Triple(con, v.RDFS.label, Literal(f"Contract: {label}")),
        ]
        for predicate, cell, terms in (
            (v.FUNCTION, func_t, v.FUNCTIONS),
            (v.HOSTING, host_t, v.HOSTINGS),
            (v.IN_HOUSE_SKILL, skill_t, v.SKILLS),
        ):
            if cell:
                out.append(Triple(dep, predicate, coded(cell, terms)))
        if std_t:
            out += (Triple(dep, v.DCT.conformsTo, s) for s in standards.cell(std_t, line))
        for subject, predicate, cell, datatype in (
            (dep, v.SATISFACTION, sat_t, v.XSD.integer),
            (con, v.START_DATE, start_t, v.XSD.date),
            (con, v.END_DATE, end_t, v.XSD.date),
            (con, v.ANNUAL_VALUE, cost_t, v.XSD.decimal),
        ):
            if cell:
                out.append(Triple(subject, predicate, Literal(cell, datatype=datatype)))
    return list(dict.fromkeys(out))


def _ids(cell: str) -> list[str]:
    return [part for part in cell.split(";") if part]


_STATUS_CUM = (0.25, 0.70, 1.0)  # idea, active, done


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _project_dates(rng: Random, status: str) -> tuple[str, str]:
    if status == "idea":
        return "", ""
    if status == "done":
        start = date(2019 + int(rng.random() * 5), 1 + int(rng.random() * 12), 1)
        end = date(start.year + 1 + int(rng.random() * 2), start.month, 1)
    else:
        start = date(2023 + int(rng.random() * 3), 1 + int(rng.random() * 12), 1)
        end = date(2026 + int(rng.random() * 2), 1 + int(rng.random() * 12), 1)
    return start.isoformat(), end.isoformat()


def generate_projects(n: int, seed: int) -> str:
    """A projects CSV (header + exactly `n` rows) naming catalogue products and London boroughs."""
    return _projects([name for _, name in _market().authorities], n, seed)


def generate_uk_projects(n: int, seed: int) -> str:
    """A projects CSV like `generate_projects`, led by and partnering any UK authorities."""
    return _projects([a.cell for a in uk_authorities()], n, seed)


def _projects(names: Sequence[str], n: int, seed: int) -> str:
    if n < 0:
        raise ValueError(f"n must be >= 0, not {n}")
    rng = Random(seed)
    market = _market()
    seen: set[str] = set()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(PROJECT_COLUMNS)
    for _ in range(n):
        area = market.areas[bisect(market.area_cum, rng.random() * market.area_cum[-1])]
        systems = rng.sample(area.products, 2 if rng.random() < 0.3 else 1)
        title_t, text_t = PROJECT_TEMPLATES[int(rng.random() * len(PROJECT_TEMPLATES))]
        pool = area.standards[1]
        if "{format}" in text_t:  # publishing needs a data format, not an API or sign-in standard
            pool = tuple(s for s in pool if s in DATA_FORMATS)
            if not pool:
                title_t, text_t = PROJECT_TEMPLATES[0]
                pool = area.standards[1]
        standards = rng.sample(pool, 2 if rng.random() < 0.3 and len(pool) > 1 else 1)
        lead, *partners = rng.sample(names, 2 + int(rng.random() * 5))
        fields = {"product": systems[0], "area": area.name, "format": standards[0]}
        title = base = title_t.format(**fields)
        wave = 1
        while title in seen:
            wave += 1
            title = f"{base} (wave {wave})"
        seen.add(title)
        status = ("idea", "active", "done")[bisect(_STATUS_CUM, rng.random())]
        start, end = _project_dates(rng, status)
        writer.writerow(
            [
                title,
                lead,
                ";".join(partners),
                status,
                start,
                end,
                ";".join(systems),
                ";".join(standards),
                f"https://example.org/projects/{_slug(title)}",
                text_t.format(lead=lead, **fields),
            ]
        )
    return out.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--rows", type=int, help="inventory rows to generate")
    what.add_argument("--projects", type=int, help="projects to generate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", help="file to write (default: standard output)")
    args = parser.parse_args(argv)
    if args.rows is not None:
        text = generate_inventory(args.rows, args.seed)
    else:
        text = generate_projects(args.projects, args.seed)
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
