"""Every saved query's answer on the test inventory, checked against the same figure computed
independently in plain Python from the CSV files (csv module, sets, fractions, calendar).

The CSVs in tests/data/queries/ go through the real loaders into a real store with the
reference graphs. The expectations below never read the store: names are keyed here
with this file's own normalisation, and IRIs are built as docs/architecture.md fixes them.
"""

from __future__ import annotations

import calendar
import csv
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date
from fractions import Fraction

import pytest
from query_support import BASE, DATA, SHIPPED, Row, run, value, warm_federation_check

from citytools.errors import ParameterError
from citytools.loaders import reference
from citytools.loaders.detect import parse_source
from citytools.loaders.iris import Minter
from citytools.resources import reference_file
from citytools.service.catalogue.resolver import StoreResolver
from citytools.service.store.embedded import EmbeddedStore
from citytools.service.store.interface import GraphChange


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


INVENTORY = _rows("inventory.csv")
PROJECTS = _rows("projects.csv")
SUFFIXES = {"ltd", "limited", "plc", "uk"}
LONDON = "london"
warm_federation_check(SHIPPED)


# --- this file's own keys and IRIs ------------------------------------------------------------


def key(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower().replace("&", " and ")).strip("-")


def vendor_key(name: str) -> str:
    words = key(name).split("-")
    while len(words) > 1 and words[-1] in SUFFIXES:
        words.pop()
    return "-".join(words)


def _authorities() -> dict[str, tuple[str, str]]:
    """Lower-case name or GSS code -> (GSS code, region slug), from the reference CSVs."""
    found = {}
    with reference_file("uk_local_authorities.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            region = LONDON if row["gss_code"].startswith("E09") else key(row["region"])
            if row["combined_authority"] == "GMCA":
                region = "greater-manchester"
            for name in (row["gss_code"], row["nice_name"]):
                found[name.lower()] = (row["gss_code"], region)
    return found


AUTHORITIES = _authorities()


def gss(name: str) -> str:
    return AUTHORITIES[name.lower()][0]


def iri(kind: str, *parts: str) -> str:
    return BASE + "/".join((kind, *parts))


def authority(name: str) -> str:
    return iri("authority", gss(name))


def supplier(row: dict[str, str]) -> str:
    return iri("vendor", vendor_key(row["supplier"] or row["manufacturer"]))


def manufacturer(row: dict[str, str]) -> str:
    return iri("vendor", vendor_key(row["manufacturer"]))


def area(row: dict[str, str]) -> str:
    return iri("service-area", key(row["service_area"]))


def system(name: str) -> str:
    return iri("system", key(name))


def contract(row: dict[str, str]) -> str:
    return iri("contract", gss(row["authority"]), key(row["service_area"]), key(row["system"]))


def end(row: dict[str, str]) -> date | None:
    return date.fromisoformat(row["contract_end"]) if row["contract_end"] else None


def standards(row: dict[str, str]) -> set[str]:
    return {s.strip() for s in row["standards"].split(";") if s.strip()}


def add_months(day: date, months: int) -> date:
    """XPath date + yearMonthDuration: the day is clamped to the end of a shorter month."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


# --- the store --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def store() -> Iterator[EmbeddedStore]:
    minter = Minter(BASE)
    opened = EmbeddedStore(None)
    graphs = {g: GraphChange(added=set(t)) for g, t in reference.reference_graphs(minter).items()}
    for name in ("inventory.csv", "projects.csv"):
        parsed = parse_source((DATA / name).read_bytes(), source=name, kind=None, minter=minter)
        assert parsed.report.violations == [], [f.describe() for f in parsed.report.violations]
        graphs[minter.graph(name.removesuffix(".csv"))] = GraphChange(added=set(parsed.triples))
    opened.apply(graphs)
    yield opened
    opened.close()


def answer(store: EmbeddedStore, name: str, **params: str) -> list[Row]:
    request = SHIPPED.request(name, params, StoreResolver(store))
    columns, rows = run(store, request)
    assert tuple(columns) == SHIPPED.get(name).columns
    return rows


def text(row: Row, column: str) -> str:
    found = value(row, column)
    assert found is not None, f"{column} is unbound in {row}"
    return found


def number(row: Row, column: str) -> Fraction:
    return Fraction(text(row, column))


def close(found: Fraction, expected: Fraction) -> bool:
    """Equal to 15 decimal places (pyoxigraph divides decimals to 18)."""
    return abs(found - expected) < Fraction(1, 10**15)


def test_the_test_inventory_is_what_the_expectations_assume() -> None:
    assert len(INVENTORY) == 28
    assert len({gss(r["authority"]) for r in INVENTORY}) == 7
    assert len({iri("vendor", vendor_key(r["manufacturer"])) for r in INVENTORY}) == 8


def ordered(rows: list[Row], *columns: str) -> bool:
    """True when the rows are sorted by the columns (codepoint order, as SPARQL sorts strings)."""
    keys = [tuple(value(r, c) or "" for c in columns) for r in rows]
    return keys == sorted(keys)


# --- systems-of-authority, authorities-using-system -------------------------------------------


@pytest.mark.parametrize("who", ["Hackney", "E09000007", "islington", "Lambeth", "Westminster"])
def test_systems_of_authority(store: EmbeddedStore, who: str) -> None:
    mine = [r for r in INVENTORY if gss(r["authority"]) == gss(who)]
    expected = {
        (area(r), system(r["system"]), manufacturer(r), supplier(r), r["contract_end"] or None)
        for r in mine
    }
    rows = answer(store, "systems-of-authority", authority=who)
    found = {
        (
            text(r, "service_area"),
            text(r, "system"),
            text(r, "manufacturer"),
            text(r, "supplier"),
            value(r, "contract_end"),
        )
        for r in rows
    }
    assert len(rows) == len(mine)
    assert found == expected
    assert {text(r, "authority") for r in rows} == {authority(who)}
    assert ordered(rows, "service_area_label", "system_label")


def test_systems_of_authority_tells_supplier_from_manufacturer(store: EmbeddedStore) -> None:
    rows = answer(store, "systems-of-authority", authority="Westminster")
    resold = {text(r, "system") for r in rows if text(r, "supplier") != text(r, "manufacturer")}
    expected = {
        system(r["system"])
        for r in INVENTORY
        if r["authority"] == "Westminster" and supplier(r) != manufacturer(r)
    }
    assert resold == expected
    assert len(resold) == 2


@pytest.mark.parametrize("product", sorted({r["system"] for r in INVENTORY}))
def test_authorities_using_system(store: EmbeddedStore, product: str) -> None:
    users = [r for r in INVENTORY if key(r["system"]) == key(product)]
    expected = {
        (authority(r["authority"]), area(r), supplier(r), r["contract_end"] or None) for r in users
    }
    per_authority = Counter(authority(r["authority"]) for r in users)
    rows = answer(store, "authorities-using-system", system=product)
    found = {
        (
            text(r, "authority"),
            text(r, "service_area"),
            text(r, "supplier"),
            value(r, "contract_end"),
        )
        for r in rows
    }
    assert found == expected
    assert len(rows) == len(users)
    assert {text(r, "authority"): int(text(r, "deployments")) for r in rows} == per_authority
    assert ordered(rows, "authority_label", "service_area_label")


# --- shared-systems ---------------------------------------------------------------------------


@pytest.mark.parametrize("least", [1, 2, 3, 4, 5])
def test_shared_systems(store: EmbeddedStore, least: int) -> None:
    users: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in INVENTORY:
        users[(system(r["system"]), area(r))].add(gss(r["authority"]))
    expected = {pair: len(who) for pair, who in users.items() if len(who) >= least}
    rows = answer(store, "shared-systems", min_authorities=str(least))
    found = {
        (text(r, "system"), text(r, "service_area")): int(text(r, "authorities")) for r in rows
    }
    assert found == expected
    assert len(rows) == len(expected)
    for r in rows:
        assert len(text(r, "authority_names").split("; ")) == int(text(r, "authorities"))
    counts = [-int(text(r, "authorities")) for r in rows]
    assert counts == sorted(counts)


def test_shared_systems_default_and_ties(store: EmbeddedStore) -> None:
    rows = answer(store, "shared-systems")
    assert [int(text(r, "authorities")) for r in rows] == [4, 4, 3, 3, 3, 3, 2, 2]
    assert {text(r, "min_authorities") for r in rows} == {"2"}
    for count in (4, 3, 2):
        tied = [r for r in rows if int(text(r, "authorities")) == count]
        assert ordered(tied, "system_label", "service_area_label")


# --- contract-pipeline ------------------------------------------------------------------------


def _lgsl_areas(lgsl: str) -> set[str]:
    return {area(r) for r in INVENTORY if lgsl in r["lgsl"].split(";")}


@pytest.mark.parametrize(
    ("params", "areas"),
    [
        ({}, None),
        ({"from": "2026-01-01", "to": "2026-06-30"}, None),
        ({"from": "2025-03-31", "to": "2025-03-31"}, None),
        ({"from": "2027-01-01"}, None),
        ({"to": "2025-02-28"}, None),
        ({"service_area": "Revenues and benefits"}, {iri("service-area", "revenues-and-benefits")}),
        ({"service_area": "58"}, _lgsl_areas("58")),
        ({"service_area": "437", "to": "2025-12-31"}, _lgsl_areas("437")),
        ({"service_area": "libraries", "from": "2027-01-01"}, {iri("service-area", "libraries")}),
    ],
)
def test_contract_pipeline(
    store: EmbeddedStore, params: dict[str, str], areas: set[str] | None
) -> None:
    low = date.fromisoformat(params.get("from", "0001-01-01"))
    high = date.fromisoformat(params.get("to", "9999-12-31"))
    expected = {
        contract(r): (r["contract_end"], supplier(r), r["annual_cost_gbp"] or None)
        for r in INVENTORY
        if (day := end(r)) is not None
        and low <= day <= high
        and (areas is None or area(r) in areas)
    }
    rows = answer(store, "contract-pipeline", **params)
    found = {
        text(r, "contract"): (text(r, "end_date"), text(r, "supplier"), value(r, "annual_value"))
        for r in rows
    }
    assert len(rows) == len(found)  # one row per contract
    assert {c: (e, s) for c, (e, s, _) in found.items()} == {
        c: (e, s) for c, (e, s, _) in expected.items()
    }
    for contract_iri, (_, _, cost) in expected.items():
        found_cost = found[contract_iri][2]
        assert (found_cost is None) == (cost is None)
        if cost is not None and found_cost is not None:
            assert Fraction(found_cost) == Fraction(cost)
    assert ordered(rows, "end_date")


def test_contract_pipeline_leaves_out_contracts_without_an_end(store: EmbeddedStore) -> None:
    rows = answer(store, "contract-pipeline")
    undated = {contract(r) for r in INVENTORY if not r["contract_end"]}
    assert len(undated) == 3
    assert undated.isdisjoint(text(r, "contract") for r in rows)
    assert len(rows) == 25


# --- joint-procurement ------------------------------------------------------------------------


def _joint(months: int) -> dict[tuple[str, str, str], tuple[str, str, int]]:
    """(area, a, b) -> (earliest matching end of a, of b, matching contract pairs)."""
    found: dict[tuple[str, str, str], list[tuple[date, date]]] = defaultdict(list)
    dated = [r for r in INVENTORY if end(r) is not None]
    for first in dated:
        for second in dated:
            a, b = authority(first["authority"]), authority(second["authority"])
            if area(first) != area(second) or not a < b:
                continue
            da, db = end(first), end(second)
            assert da is not None
            assert db is not None
            if max(da, db) <= add_months(min(da, db), months):
                found[(area(first), a, b)].append((da, db))
    return {
        k: (min(p[0] for p in pairs).isoformat(), min(p[1] for p in pairs).isoformat(), len(pairs))
        for k, pairs in found.items()
    }


@pytest.mark.parametrize("months", [0, 1, 2, 11, 12, 13, 24, 120])
def test_joint_procurement(store: EmbeddedStore, months: int) -> None:
    expected = _joint(months)
    rows = answer(store, "joint-procurement", window_months=str(months))
    found = {
        (text(r, "service_area"), text(r, "authority_a"), text(r, "authority_b")): (
            text(r, "end_a"),
            text(r, "end_b"),
            int(text(r, "contract_pairs")),
        )
        for r in rows
    }
    assert found == expected
    assert len(rows) == len(expected)
    assert ordered(rows, "service_area_label", "authority_a_label", "authority_b_label")


def test_joint_procurement_counts_calendar_months(store: EmbeddedStore) -> None:
    revenues = iri("service-area", "revenues-and-benefits")
    waste = iri("service-area", "waste")
    hackney, lambeth, southwark = (authority(n) for n in ("Hackney", "Lambeth", "Southwark"))
    islington, westminster = authority("Islington"), authority("Westminster")

    def pairs(months: int) -> set[tuple[str, str, str]]:
        rows = answer(store, "joint-procurement", window_months=str(months))
        return {
            (text(r, "service_area"), text(r, "authority_a"), text(r, "authority_b")) for r in rows
        }

    # Hackney ends 2026-03-31, Lambeth 2027-02-28 (11 months), Southwark 2027-04-30 (13).
    assert (revenues, hackney, lambeth) in pairs(11)
    assert (revenues, hackney, lambeth) not in pairs(10)
    assert (revenues, hackney, southwark) not in pairs(12)
    assert (revenues, hackney, southwark) in pairs(13)
    # 2024-02-29 + 12 months = 2025-02-28: Islington's end is in, Westminster's 2025-03-01 not.
    assert (waste, hackney, islington) in pairs(12)
    assert (waste, hackney, westminster) not in pairs(12)
    assert (waste, islington, westminster) not in pairs(0)
    assert (waste, islington, westminster) in pairs(1)


# --- vendor-concentration ---------------------------------------------------------------------


def _concentration(by: str) -> list[tuple[str, int, Fraction]]:
    """(vendor IRI, deployments, annual value) ranked by deployments, then IRI."""
    deployments: Counter[str] = Counter()
    values: dict[str, Fraction] = defaultdict(Fraction)
    for r in INVENTORY:
        vendor = supplier(r) if by == "supplier" else manufacturer(r)
        deployments[vendor] += 1
        values[vendor] += Fraction(r["annual_cost_gbp"] or "0")
    return sorted(
        ((vendor, n, values[vendor]) for vendor, n in deployments.items()),
        key=lambda item: (-item[1], item[0]),
    )


@pytest.mark.parametrize("by", ["supplier", "manufacturer"])
@pytest.mark.parametrize("top", [1, 3, 4, 15])
def test_vendor_concentration(store: EmbeddedStore, by: str, top: int) -> None:
    ranking = _concentration(by)
    total = sum(n for _, n, _ in ranking)
    total_value = sum(value_ for _, _, value_ in ranking)
    hhi = Fraction(10_000) * sum(Fraction(n, total) ** 2 for _, n, _ in ranking)
    rows = answer(store, "vendor-concentration", top=str(top), by=by)
    assert len(rows) == min(top, len(ranking))
    cumulative = Fraction(0)
    for rank, (row, (vendor, n, value_)) in enumerate(zip(rows, ranking, strict=False), start=1):
        cumulative += Fraction(n, total)
        assert int(text(row, "rank")) == rank
        assert text(row, "vendor") == vendor
        assert int(text(row, "deployments")) == n
        assert close(number(row, "deployment_share"), Fraction(n, total))
        assert number(row, "annual_value") == value_
        assert close(number(row, "value_share"), value_ / total_value)
        assert close(number(row, "cumulative_share"), cumulative)
        assert close(number(row, "hhi"), hhi)
        assert (text(row, "top"), text(row, "by")) == (str(top), by)


def test_vendor_concentration_figures_by_supplier(store: EmbeddedStore) -> None:
    rows = answer(store, "vendor-concentration")
    assert len(rows) == 8  # every vendor: fewer than the default top 15
    assert text(rows[0], "vendor") == iri("vendor", "civica")
    assert int(text(rows[0], "deployments")) == 10
    assert close(number(rows[-1], "cumulative_share"), Fraction(1))
    # 10² + 5² + 3·3² + 2² + 2·1² = 158 over 28²
    assert close(number(rows[0], "hhi"), Fraction(10_000 * 158, 28 * 28))
    # Three vendors tie on 3 deployments: they rank by IRI.
    tied = [text(r, "vendor") for r in rows if text(r, "deployments") == "3"]
    assert tied == sorted(tied)
    assert len(tied) == 3


# --- single-supplier-dependency ---------------------------------------------------------------


def _dependency(threshold: Fraction) -> set[tuple[str, str, int, int]]:
    per_authority: Counter[str] = Counter()
    per_vendor: Counter[tuple[str, str]] = Counter()
    for r in INVENTORY:
        per_authority[authority(r["authority"])] += 1
        per_vendor[(authority(r["authority"]), supplier(r))] += 1
    return {
        (who, vendor, n, per_authority[who])
        for (who, vendor), n in per_vendor.items()
        if Fraction(n, per_authority[who]) > threshold
    }


@pytest.mark.parametrize("threshold", ["0", "0.25", "0.4", "0.5", "0.8", "1"])
def test_single_supplier_dependency(store: EmbeddedStore, threshold: str) -> None:
    expected = _dependency(Fraction(threshold))
    rows = answer(store, "single-supplier-dependency", threshold=threshold)
    found = {
        (
            text(r, "authority"),
            text(r, "supplier"),
            int(text(r, "deployments")),
            int(text(r, "authority_deployments")),
        )
        for r in rows
    }
    assert found == expected
    for r in rows:
        share = Fraction(int(text(r, "deployments")), int(text(r, "authority_deployments")))
        assert close(number(r, "share"), share)
    shares = [-number(r, "share") for r in rows]
    assert shares == sorted(shares)


def test_single_supplier_dependency_threshold_is_exclusive(store: EmbeddedStore) -> None:
    rows = answer(store, "single-supplier-dependency")
    assert {text(r, "authority") for r in rows} == {
        authority("Westminster"),
        authority("Manchester"),
    }
    # Islington and Southwark have exactly half their deployments from one supplier.
    halves = {(w, s) for w, s, n, t in _dependency(Fraction(0)) if Fraction(n, t) == Fraction(1, 2)}
    assert {w for w, _ in halves} == {authority("Islington"), authority("Southwark")}


# --- standards-coverage -----------------------------------------------------------------------


def _standard_iris(store: EmbeddedStore) -> dict[str, str]:
    """CSV standard name -> IRI in the store (curated ones keep their official IRI)."""
    names = {s for r in INVENTORY for s in standards(r)}
    resolver = StoreResolver(store)
    found = {}
    for name in names:
        matches = resolver.lookup("standard", name)
        assert len(matches) == 1, (name, matches)
        found[name] = matches[0].value
    return found


def test_standards_coverage(store: EmbeddedStore) -> None:
    iris = _standard_iris(store)
    deployments: Counter[str] = Counter()
    authorities: dict[str, set[str]] = defaultdict(set)
    for r in INVENTORY:
        for name in standards(r):
            deployments[iris[name]] += 1
            authorities[iris[name]].add(gss(r["authority"]))
    undeclared = [r for r in INVENTORY if not standards(r)]
    rows = answer(store, "standards-coverage")
    by_standard = {value(r, "standard"): r for r in rows}
    assert len(by_standard) == len(rows)
    for standard_iri, n in deployments.items():
        row = by_standard[standard_iri]
        assert int(text(row, "deployments")) == n
        assert int(text(row, "authorities")) == len(authorities[standard_iri])
        assert close(number(row, "deployment_share"), Fraction(n, len(INVENTORY)))
    others = [r for k, r in by_standard.items() if k is not None and k not in deployments]
    assert {text(r, "deployments") for r in others} <= {"0"}
    none_row = rows[-1]
    assert value(none_row, "standard") is None
    assert text(none_row, "standard_label") == "(no standard declared)"
    assert int(text(none_row, "deployments")) == len(undeclared) == 19
    assert int(text(none_row, "authorities")) == len({gss(r["authority"]) for r in undeclared})
    counts = [-int(text(r, "deployments")) for r in rows[:-1]]
    assert counts == sorted(counts)


def test_standards_coverage_of_one_standard(store: EmbeddedStore) -> None:
    iris = _standard_iris(store)
    rows = answer(store, "standards-coverage", standard="BS 7666")
    assert len(rows) == 1
    assert text(rows[0], "standard") == iris["BS 7666"]
    assert int(text(rows[0], "deployments")) == 4
    assert int(text(rows[0], "authorities")) == 3


# --- reuse-opportunities ----------------------------------------------------------------------


def _reuse(store: EmbeddedStore) -> dict[tuple[str, str], tuple[set[str], set[str]]]:
    """(project, authority) -> (keys of shared system names, shared standard names)."""
    iris = _standard_iris(store)
    found: dict[tuple[str, str], tuple[set[str], set[str]]] = {}
    for p in PROJECTS:
        members = {authority(p["lead_authority"])} | {
            authority(a) for a in p["partners"].split(";") if a
        }
        systems_ = {key(s) for s in p["systems"].split(";") if s}
        standards_ = {iris.get(s, s) for s in p["standards"].split(";") if s}
        for r in INVENTORY:
            who = authority(r["authority"])
            if who in members:
                continue
            shared_systems = {key(r["system"])} & systems_
            shared_standards = {s for s in standards(r) if iris[s] in standards_}
            if shared_systems or shared_standards:
                entry = found.setdefault((iri("project", key(p["project"])), who), (set(), set()))
                entry[0].update(shared_systems)
                entry[1].update(shared_standards)
    return found


def test_reuse_opportunities(store: EmbeddedStore) -> None:
    expected = _reuse(store)
    rows = answer(store, "reuse-opportunities")
    found = {(text(r, "project"), text(r, "authority")): r for r in rows}
    assert len(rows) == len(found) == len(expected) == 10
    assert set(found) == set(expected)
    for pair, (systems_, standards_) in expected.items():
        row = found[pair]
        assert int(text(row, "shared")) == len(systems_) + len(standards_)
        listed = set((value(row, "shared_systems") or "").split("; ")) - {""}
        assert {key(name) for name in listed} == systems_
        # The curated standards' labels are the names the CSV uses.
        listed = set((value(row, "shared_standards") or "").split("; ")) - {""}
        assert listed == standards_
    assert ordered(rows, "project_label")


def test_reuse_opportunities_of_one_project(store: EmbeddedStore) -> None:
    rows = answer(store, "reuse-opportunities", project="Open planning")
    assert {text(r, "authority") for r in rows} == {
        who for (project, who) in _reuse(store) if project == iri("project", "open-planning")
    }
    assert [int(text(r, "shared")) for r in rows] == [3, 2, 1, 1]
    # A project whose systems and standards nobody else uses has no row.
    assert answer(store, "reuse-opportunities", project="Smarter waste rounds") == []


# --- skills-peers -----------------------------------------------------------------------------

RANK = {"advanced": 1, "expert": 2}


@pytest.mark.parametrize("who", ["Hackney", "Camden", "Islington", "Southwark", "Westminster"])
def test_skills_peers(store: EmbeddedStore, who: str) -> None:
    mine = {system(r["system"]) for r in INVENTORY if gss(r["authority"]) == gss(who)}
    peers: dict[tuple[str, str], tuple[str, set[str]]] = {}
    for r in INVENTORY:
        skill = r["in_house_skill"]
        if system(r["system"]) not in mine or gss(r["authority"]) == gss(who) or skill not in RANK:
            continue
        pair = (system(r["system"]), authority(r["authority"]))
        best, areas = peers.get(pair, ("advanced", set()))
        peers[pair] = (max(best, skill, key=RANK.__getitem__), areas | {area(r)})
    lonely = mine - {s for s, _ in peers}
    rows = answer(store, "skills-peers", authority=who)
    found = {
        (text(r, "system"), text(r, "peer")): text(r, "skill") for r in rows if value(r, "peer")
    }
    assert found == {pair: skill for pair, (skill, _) in peers.items()}
    assert {text(r, "system") for r in rows if value(r, "peer") is None} == lonely
    assert len(rows) == len(peers) + len(lonely)
    for r in rows:
        if value(r, "peer"):
            areas = peers[(text(r, "system"), text(r, "peer"))][1]
            assert len(text(r, "peer_service_areas").split("; ")) == len(areas)
    assert ordered(rows, "system_label")


# --- region-comparison ------------------------------------------------------------------------


def test_region_comparison(store: EmbeddedStore) -> None:
    by_region: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in INVENTORY:
        by_region[AUTHORITIES[r["authority"].lower()][1]].append(r)
    rows = {text(r, "region"): r for r in answer(store, "region-comparison")}
    assert set(rows) == {iri("region", slug) for slug in by_region}
    for slug, mine in by_region.items():
        row = rows[iri("region", slug)]
        vendors = {supplier(r) for r in mine} | {manufacturer(r) for r in mine}
        assert int(text(row, "reporting_authorities")) == len({gss(r["authority"]) for r in mine})
        assert int(text(row, "deployments")) == len(mine)
        assert int(text(row, "systems")) == len({system(r["system"]) for r in mine})
        assert int(text(row, "vendors")) == len(vendors)
        assert int(text(row, "contracts")) == len(mine)
    assert int(text(rows[iri("region", LONDON)], "authorities")) == 33
    # Only the authorities a source names become resources outside London.
    manchester = {gss(r["authority"]) for r in by_region["greater-manchester"]}
    assert int(text(rows[iri("region", "greater-manchester")], "authorities")) == len(manchester)


# --- names the graph does not hold --------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "parameter", "unknown"),
    [
        ("systems-of-authority", "authority", "Cardiff"),
        ("skills-peers", "authority", "E08000001"),
        ("authorities-using-system", "system", "Oracle Fusion"),
        ("standards-coverage", "standard", "ISO 9999"),
        ("reuse-opportunities", "project", "Moon base"),
        ("contract-pipeline", "service_area", "Space travel"),
    ],
)
def test_a_name_not_in_the_graph_is_a_422(
    store: EmbeddedStore, name: str, parameter: str, unknown: str
) -> None:
    with pytest.raises(ParameterError) as caught:
        SHIPPED.request(name, {parameter: unknown}, StoreResolver(store))
    assert caught.value.parameter == parameter
    assert f"'{unknown}' in the graph" in str(caught.value)
