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
    if n < 0:
        raise ValueError(f"n must be >= 0, not {n}")
    rng = Random(seed)
    market = _market()
    names = [name for _, name in market.authorities]
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
