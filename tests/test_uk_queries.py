"""Every saved query's answer on UK-shaped data, checked against the same figure recomputed in
plain Python from the CSV text of the rows (csv module, sets, fractions, calendar), as
tests/test_saved_queries.py does for its London inventory.

The data come from `bench/generate.py` (issue 13), small enough for CI: inventory rows over
every current UK authority, projects led by UK authorities, and one fictional country, which
the inventory loader refuses as CSV (its authorities are in no shipped list) and which loads as
the N-Triples graph the generator writes for the same rows. All three go through the real
write path (parse, SHACL validation, provenance) into an on-disk store with the reference
graphs. The expectations never read the store; names and IRIs are keyed with
test_saved_queries.py's own helpers, imported from there, and regions follow the rule the
product states for the UK list (London; a combined authority's area for it and its members;
the nation outside England; else the English region).
"""

from __future__ import annotations

import csv
import importlib.util
import io
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from pathlib import Path
from types import ModuleType

import pytest
from query_support import value
from test_saved_queries import (
    RANK,
    SUFFIXES,
    add_months,
    answer,
    area,
    close,
    end,
    iri,
    key,
    number,
    ordered,
    standards,
    system,
    text,
)

from citytools.errors import ValidationFailed
from citytools.loaders.iris import Minter
from citytools.resources import reference_file
from citytools.service.catalogue.resolver import StoreResolver
from citytools.service.runtime import bootstrap
from citytools.service.store.embedded import EmbeddedStore
from citytools.service.writes.ingest import Ingestor, Source
from citytools.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
ROWS = 1200  # per country: about 3 per UK authority
SEED = 13
PROJECTS = 16
_COMBINED_SUFFIXES = (
    " Mayoral Combined Authority",
    " Combined County Authority",
    " Combined Authority",
)


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_generate", ROOT / "bench" / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


GENERATE = _generator()
DATA = GENERATE.generate_uk_inventory(ROWS, SEED, countries=2)
COUNTRY = DATA.countries[0]
PROJECT_CSV = GENERATE.generate_uk_projects(PROJECTS, SEED)


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


UK_ROWS = _csv(DATA.csv)
COUNTRY_ROWS = _csv(COUNTRY.inventory_csv)
INVENTORY = UK_ROWS + COUNTRY_ROWS
PROJECT_ROWS = _csv(PROJECT_CSV)


# --- authorities and their regions, from the reference CSV and the generator's list ------------


@dataclass(frozen=True)
class Place:
    gss: str
    region: str  # slug
    london: bool  # in the shipped London reference graph (described whether named or not)


def _region_name(row: dict[str, str], combined: dict[str, str]) -> str:
    if row["gss_code"].startswith("E09") or row["combined_authority"] == "GLA":
        return "London"
    if row["local_authority_type"] == "COMB":
        name = row["official_name"]
        return next((name.removesuffix(s) for s in _COMBINED_SUFFIXES if name.endswith(s)), name)
    if row["combined_authority"] in combined:
        return combined[row["combined_authority"]]
    return row["region"] if row["nation"] == "England" else row["nation"]


def _places() -> dict[str, Place]:
    """Lower-case name or GSS code -> the authority, for the UK list and the fictional country."""
    with reference_file("uk_local_authorities.csv").open(encoding="utf-8") as f:
        uk = list(csv.DictReader(f))
    combined = {
        r["local_authority_code"]: _region_name(r, {})
        for r in uk
        if r["local_authority_type"] == "COMB"
    }
    found = {}
    for r in uk:
        place = Place(
            r["gss_code"], key(_region_name(r, combined)), r["gss_code"].startswith("E09")
        )
        for name in (r["gss_code"], r["nice_name"]):
            found[name.strip().lower()] = place
    for a in COUNTRY.authorities:
        found[a.gss.lower()] = Place(a.gss, key(a.region), london=False)
    return found


PLACES = _places()


def gss(name: str) -> str:
    return PLACES[name.strip().lower()].gss


def authority(name: str) -> str:
    return iri("authority", gss(name))


def vendor_key(name: str) -> str:
    """test_saved_queries.vendor_key, with "LLP" (a reseller of the generator's market)."""
    words = key(name).split("-")
    while len(words) > 1 and words[-1] in SUFFIXES | {"llp"}:
        words.pop()
    return "-".join(words)


def supplier(row: dict[str, str]) -> str:
    return iri("vendor", vendor_key(row["supplier"] or row["manufacturer"]))


def manufacturer(row: dict[str, str]) -> str:
    return iri("vendor", vendor_key(row["manufacturer"]))


def contract(row: dict[str, str]) -> str:
    return iri("contract", gss(row["authority"]), key(row["service_area"]), key(row["system"]))


# --- the store: the real write path --------------------------------------------------------------


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmbeddedStore, Ingestor]]:
    settings = Settings(_env_file=None, store=tmp_path_factory.mktemp("uk") / "store")
    store = EmbeddedStore(settings.store)
    bootstrap.ensure_reference(store, Minter(settings.base_iri))
    ingestor = bootstrap.build_ingestor(store, settings)
    for name, data in (
        ("uk-inventory.csv", DATA.csv),
        ("uk-projects.csv", PROJECT_CSV),
        ("fictional-country-1.nt", COUNTRY.ntriples),
    ):
        outcome = ingestor.load(Source(data.encode(), name=name))
        assert outcome.report.conforms, name
    yield store, ingestor
    store.close()


@pytest.fixture(scope="module")
def store(loaded: tuple[EmbeddedStore, Ingestor]) -> EmbeddedStore:
    return loaded[0]


def test_the_data_is_what_the_expectations_assume() -> None:
    assert len(UK_ROWS) == len(COUNTRY_ROWS) == ROWS
    uk = {p.gss for p in PLACES.values() if not p.gss.startswith("E99")}
    assert {gss(r["authority"]) for r in UK_ROWS} == uk  # every UK authority has rows
    assert len(uk) == 397
    assert {gss(r["authority"]) for r in COUNTRY_ROWS} <= {a.gss for a in COUNTRY.authorities}
    # Both ways of naming an authority occur; the codes of the fictional one are marked.
    coded = [r["authority"][1:].isdigit() for r in UK_ROWS]
    assert any(coded)
    assert not all(coded)
    assert all(a.gss.startswith("E991") and "Fictional" in a.name for a in COUNTRY.authorities)


def test_a_fictional_country_does_not_load_as_csv(loaded: tuple[EmbeddedStore, Ingestor]) -> None:
    """Its authorities are in no shipped list: the CSV is refused, even with their region
    graph in the store, and nothing is written; the generator's RDF of it loaded above."""
    store, ingestor = loaded
    before = len(store.raw)
    with pytest.raises(ValidationFailed) as caught:
        ingestor.load(Source(COUNTRY.inventory_csv.encode(), name="fictional-country-1.csv"))
    messages = {f.message for f in caught.value.report.violations}
    assert f"unknown authority '{COUNTRY_ROWS[0]['authority']}'" in messages
    assert len(store.raw) == before


def _with_rows(rows: list[dict[str, str]], least: int) -> list[str]:
    """Authority cells with at least `least` rows, one from the start, middle and end."""
    counts = Counter(r["authority"] for r in rows)
    cells = sorted(c for c, n in counts.items() if n >= least)
    return [cells[0], cells[len(cells) // 2], cells[-1]]


AUTHORITY_SAMPLE = [
    "Hackney",
    "Greater Manchester",  # a combined authority
    "S12000036",  # City of Edinburgh, by code
    "Newry, Mourne and Down",  # a name the generator writes as its code (it needs quoting)
    *_with_rows(COUNTRY_ROWS, 4),
]


# --- systems-of-authority, authorities-using-system -------------------------------------------


@pytest.mark.parametrize("who", AUTHORITY_SAMPLE)
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
    assert mine
    assert len(rows) == len(mine)
    assert found == expected
    assert {text(r, "authority") for r in rows} == {authority(who)}
    assert ordered(rows, "service_area_label", "system_label")


def _product_sample() -> list[str]:
    counts = Counter(key(r["system"]) for r in INVENTORY)
    names = {key(r["system"]): r["system"] for r in INVENTORY}
    ranked = [k for k, _ in counts.most_common()]
    return [names[k] for k in (ranked[0], ranked[len(ranked) // 2], ranked[-1])]


@pytest.mark.parametrize("product", _product_sample())
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


@pytest.mark.parametrize("least", [None, 1, 5, 40])
def test_shared_systems(store: EmbeddedStore, least: int | None) -> None:
    users: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in INVENTORY:
        users[(system(r["system"]), area(r))].add(gss(r["authority"]))
    floor = 2 if least is None else least
    expected = {pair: len(who) for pair, who in users.items() if len(who) >= floor}
    params = {} if least is None else {"min_authorities": str(least)}
    rows = answer(store, "shared-systems", **params)
    found = {
        (text(r, "system"), text(r, "service_area")): int(text(r, "authorities")) for r in rows
    }
    assert found == expected
    assert len(rows) == len(expected)
    for row in rows:
        assert len(text(row, "authority_names").split("; ")) == int(text(row, "authorities"))
    counts = [-int(text(r, "authorities")) for r in rows]
    assert counts == sorted(counts)


# --- contract-pipeline ------------------------------------------------------------------------


def _lgsl_areas(lgsl: str) -> set[str]:
    return {area(r) for r in INVENTORY if lgsl in r["lgsl"].split(";")}


@pytest.mark.parametrize(
    ("params", "areas"),
    [
        ({}, None),
        ({"from": "2026-01-01", "to": "2026-06-30"}, None),
        ({"from": "2029-03-31", "to": "2029-03-31"}, None),
        ({"service_area": "Libraries", "from": "2027-01-01"}, {iri("service-area", "libraries")}),
        ({"service_area": "58", "to": "2027-12-31"}, _lgsl_areas("58")),
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
    assert expected
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


# --- joint-procurement ------------------------------------------------------------------------


def _joint(months: int) -> dict[tuple[str, str, str], tuple[str, str, int]]:
    """(area, a, b) -> (earliest matching end of a, of b, matching contract pairs); the rows
    of each service area paired by end date, in order (the window is forward only)."""
    found: dict[tuple[str, str, str], list[tuple[date, date]]] = defaultdict(list)
    by_area: dict[str, list[tuple[date, str]]] = defaultdict(list)
    for r in INVENTORY:
        if (day := end(r)) is not None:
            by_area[area(r)].append((day, authority(r["authority"])))
    for where, dated in by_area.items():
        dated.sort()
        for i, (first, a) in enumerate(dated):
            last = add_months(first, months)
            for second, b in dated[i + 1 :]:
                if second > last:
                    break
                if a != b:
                    low, high = (a, b) if a < b else (b, a)
                    pair = (first, second) if a < b else (second, first)
                    found[(where, low, high)].append(pair)
    return {
        k: (min(p[0] for p in pairs).isoformat(), min(p[1] for p in pairs).isoformat(), len(pairs))
        for k, pairs in found.items()
    }


@pytest.mark.parametrize("months", [0, 1, 12])
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
    assert expected
    assert found == expected
    assert len(rows) == len(expected)
    assert ordered(rows, "service_area_label", "authority_a_label", "authority_b_label")


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


@pytest.mark.parametrize(("by", "top"), [(None, None), ("manufacturer", 3), ("supplier", 1000)])
def test_vendor_concentration(store: EmbeddedStore, by: str | None, top: int | None) -> None:
    ranking = _concentration(by or "supplier")
    total = sum(n for _, n, _ in ranking)
    total_value = sum(value_ for _, _, value_ in ranking)
    hhi = Fraction(10_000) * sum(Fraction(n, total) ** 2 for _, n, _ in ranking)
    params = {k: str(x) for k, x in (("by", by), ("top", top)) if x is not None}
    rows = answer(store, "vendor-concentration", **params)
    assert len(rows) == min(top or 15, len(ranking))
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
    if top == 1000:  # skewed as the City Tools findings describe: ten vendors hold half
        assert number(rows[9], "cumulative_share") > Fraction(1, 2)


# --- single-supplier-dependency ---------------------------------------------------------------


@pytest.mark.parametrize("threshold", [None, "0", "0.8"])
def test_single_supplier_dependency(store: EmbeddedStore, threshold: str | None) -> None:
    per_authority: Counter[str] = Counter()
    per_vendor: Counter[tuple[str, str]] = Counter()
    for r in INVENTORY:
        per_authority[authority(r["authority"])] += 1
        per_vendor[(authority(r["authority"]), supplier(r))] += 1
    floor = Fraction(threshold or "0.5")
    expected = {
        (who, vendor, n, per_authority[who])
        for (who, vendor), n in per_vendor.items()
        if Fraction(n, per_authority[who]) > floor
    }
    params = {} if threshold is None else {"threshold": threshold}
    rows = answer(store, "single-supplier-dependency", **params)
    found = {
        (
            text(r, "authority"),
            text(r, "supplier"),
            int(text(r, "deployments")),
            int(text(r, "authority_deployments")),
        )
        for r in rows
    }
    assert expected
    assert found == expected
    for row in rows:
        share = Fraction(int(text(row, "deployments")), int(text(row, "authority_deployments")))
        assert close(number(row, "share"), share)
    shares = [-number(r, "share") for r in rows]
    assert shares == sorted(shares)


# --- standards-coverage -----------------------------------------------------------------------


def _standard_iris(store: EmbeddedStore) -> dict[str, str]:
    """CSV standard name -> IRI in the store (curated ones keep their official IRI)."""
    names = {s for r in INVENTORY for s in standards(r)} | {
        s for p in PROJECT_ROWS for s in p["standards"].split(";") if s
    }
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
    assert int(text(none_row, "deployments")) == len(undeclared)
    assert int(text(none_row, "authorities")) == len({gss(r["authority"]) for r in undeclared})
    counts = [-int(text(r, "deployments")) for r in rows[:-1]]
    assert counts == sorted(counts)


def test_standards_coverage_of_one_standard(store: EmbeddedStore) -> None:
    iris = _standard_iris(store)
    name = Counter(s for r in INVENTORY for s in standards(r)).most_common(1)[0][0]
    users = [r for r in INVENTORY if name in standards(r)]
    rows = answer(store, "standards-coverage", standard=name)
    assert len(rows) == 1
    assert text(rows[0], "standard") == iris[name]
    assert int(text(rows[0], "deployments")) == len(users)
    assert int(text(rows[0], "authorities")) == len({gss(r["authority"]) for r in users})


# --- reuse-opportunities ----------------------------------------------------------------------


def _reuse(store: EmbeddedStore) -> dict[tuple[str, str], tuple[set[str], set[str]]]:
    """(project, authority) -> (keys of shared system names, shared standard names)."""
    iris = _standard_iris(store)
    found: dict[tuple[str, str], tuple[set[str], set[str]]] = {}
    for p in PROJECT_ROWS:
        members = {authority(p["lead_authority"])} | {
            authority(a) for a in p["partners"].split(";") if a
        }
        systems_ = {key(s) for s in p["systems"].split(";") if s}
        standards_ = {iris[s] for s in p["standards"].split(";") if s}
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
    assert expected
    assert len(rows) == len(found) == len(expected)
    assert set(found) == set(expected)
    for pair, (systems_, standards_) in expected.items():
        row = found[pair]
        assert int(text(row, "shared")) == len(systems_) + len(standards_)
        listed = set((value(row, "shared_systems") or "").split("; ")) - {""}
        assert {key(name) for name in listed} == systems_
        listed = set((value(row, "shared_standards") or "").split("; ")) - {""}
        assert listed == standards_
    assert ordered(rows, "project_label")


def test_reuse_opportunities_of_one_project(store: EmbeddedStore) -> None:
    project = PROJECT_ROWS[0]["project"]
    project_iri = iri("project", key(project))
    rows = answer(store, "reuse-opportunities", project=project)
    assert rows
    assert {text(r, "authority") for r in rows} == {
        who for (p, who) in _reuse(store) if p == project_iri
    }
    assert {text(r, "project") for r in rows} == {project_iri}


# --- skills-peers -----------------------------------------------------------------------------


@pytest.mark.parametrize("who", AUTHORITY_SAMPLE)
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
    assert peers
    assert found == {pair: skill for pair, (skill, _) in peers.items()}
    assert {text(r, "system") for r in rows if value(r, "peer") is None} == lonely
    assert len(rows) == len(peers) + len(lonely)
    for row in rows:
        if value(row, "peer"):
            areas = peers[(text(row, "system"), text(row, "peer"))][1]
            assert len(text(row, "peer_service_areas").split("; ")) == len(areas)
    assert ordered(rows, "system_label")


# --- region-comparison ------------------------------------------------------------------------


def test_region_comparison(store: EmbeddedStore) -> None:
    by_region: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in INVENTORY:
        by_region[PLACES[r["authority"].lower()].region].append(r)
    # Authorities are resources where the reference data (London), a source naming them
    # (inventory rows, project leads and partners) or the fictional country's graph hold them.
    named = {p.gss for p in PLACES.values() if p.london or p.gss.startswith("E99")}
    named |= {gss(r["authority"]) for r in INVENTORY}
    named |= {
        gss(a) for p in PROJECT_ROWS for a in [p["lead_authority"], *p["partners"].split(";")]
    }
    members: dict[str, set[str]] = defaultdict(set)
    for place in PLACES.values():
        if place.gss in named:
            members[place.region].add(place.gss)
    rows = {text(r, "region"): r for r in answer(store, "region-comparison")}
    assert set(rows) == {iri("region", slug) for slug in members}
    assert len(by_region) == len(members) == 22 + 9  # the UK's regions, the fictional country's
    for slug, mine in by_region.items():
        row = rows[iri("region", slug)]
        vendors = {supplier(r) for r in mine} | {manufacturer(r) for r in mine}
        assert int(text(row, "authorities")) == len(members[slug])
        assert int(text(row, "reporting_authorities")) == len({gss(r["authority"]) for r in mine})
        assert int(text(row, "deployments")) == len(mine)
        assert int(text(row, "systems")) == len({system(r["system"]) for r in mine})
        assert int(text(row, "vendors")) == len(vendors)
        assert int(text(row, "contracts")) == len(mine)
    # London: the 33 of the reference data and the Greater London Authority (region London).
    assert int(text(rows[iri("region", "london")], "authorities")) == 34
