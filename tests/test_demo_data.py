"""The illustrative demo data (`demo/`) and the synthetic inventory generator (`bench/generate.py`).

Only the `csv` module and the reference CSVs are used here, never the loaders,
so these checks hold whatever the loaders do.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from types import ModuleType

import pytest

from citytools.demo.catalogue import PRODUCTS
from citytools.resources import demo_file, reference_file

ROOT = Path(__file__).resolve().parents[1]
DEMO_SEED, DEMO_ROWS = 2020, 400  # as documented in demo/README.md
INVENTORY_HEADER = [
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
]
PROJECTS_HEADER = [
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
]
_LEGAL_SUFFIXES = {"ltd", "limited", "plc", "llp", "uk", "group"}


@pytest.fixture(scope="module")
def generator() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("bench_generate", ROOT / "bench" / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _reference(name: str) -> list[dict[str, str]]:
    return _rows(reference_file(name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def london() -> dict[str, str]:
    """Name -> GSS code of the 33 London authorities."""
    return {r["name"]: r["gss_code"] for r in _reference("london_local_authorities.csv")}


@pytest.fixture(scope="module")
def inventory() -> list[dict[str, str]]:
    return _rows(demo_file("inventory.csv").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def projects() -> list[dict[str, str]]:
    return _rows(demo_file("projects.csv").read_text(encoding="utf-8"))


def _fold(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower().replace("&", " and ")).strip()


def _vendor_key(name: str) -> str:
    words = _fold(name).split()
    while len(words) > 1 and words[-1] in _LEGAL_SUFFIXES:
        words.pop()
    return " ".join(words)


def _gss(cell: str, london: dict[str, str]) -> str:
    return cell if cell in london.values() else london[cell]


def _keys(rows: list[dict[str, str]]) -> list[tuple[str, str, str]]:
    return [(r["authority"], _fold(r["service_area"]), _fold(r["system"])) for r in rows]


# --- the demo inventory -------------------------------------------------------------------


def test_demo_inventory_has_the_spec_header() -> None:
    text = demo_file("inventory.csv").read_text(encoding="utf-8")
    assert text.splitlines()[0].split(",") == INVENTORY_HEADER


def test_demo_inventory_is_the_documented_draw(generator: ModuleType) -> None:
    committed = demo_file("inventory.csv").read_text(encoding="utf-8")
    assert committed == generator.generate_inventory(DEMO_ROWS, DEMO_SEED)


def test_demo_inventory_covers_all_33_authorities(
    inventory: list[dict[str, str]], london: dict[str, str]
) -> None:
    assert len(inventory) == DEMO_ROWS
    assert {_gss(r["authority"], london) for r in inventory} == set(london.values())
    assert len(london) == 33
    # Most rows name the authority, three give its GSS code: both forms are in the format.
    by_code = {r["authority"] for r in inventory if r["authority"].startswith("E09")}
    assert by_code == {"E09000008", "E09000013", "E09000033"}


def test_demo_inventory_has_at_least_20_service_areas(inventory: list[dict[str, str]]) -> None:
    areas = Counter(r["service_area"] for r in inventory)
    assert len(areas) == 26
    assert {"Revenues and Benefits", "Adult Social Care", "Finance / ERP"} <= set(areas)
    assert {r["function"] for r in inventory} == {"frontline", "corporate", ""}


def test_demo_inventory_uses_only_known_lgsl_ids(inventory: list[dict[str, str]]) -> None:
    known = {r["lgsl_id"] for r in _reference("lgsl_services.csv")}
    used = {i for r in inventory for i in r["lgsl"].split(";") if i}
    assert used <= known
    assert len(used) >= 60
    assert sum(1 for r in inventory if not r["lgsl"]) < DEMO_ROWS // 5


def test_demo_inventory_has_no_duplicate_deployments(
    inventory: list[dict[str, str]], london: dict[str, str]
) -> None:
    keys = [(_gss(a, london), area, system) for a, area, system in _keys(inventory)]
    assert len(set(keys)) == len(keys) == DEMO_ROWS


def test_top_ten_vendors_hold_over_half_of_the_contracts(inventory: list[dict[str, str]]) -> None:
    vendors = Counter(_vendor_key(r["supplier"] or r["manufacturer"]) for r in inventory)
    top_ten = sum(count for _, count in vendors.most_common(10))
    assert top_ten / len(inventory) > 0.5
    assert vendors.most_common(1)[0][0] == "aldgate software"
    assert len(vendors) >= 25  # and a long tail


def test_vendor_names_need_normalising(inventory: list[dict[str, str]]) -> None:
    spellings: dict[str, set[str]] = defaultdict(set)
    for r in inventory:
        spellings[_vendor_key(r["manufacturer"])].add(r["manufacturer"])
    assert spellings["aldgate software"] == {
        "Aldgate Software Ltd",
        "Aldgate Software",
        "ALDGATE SOFTWARE LIMITED",
    }


def test_resellers_hold_some_contracts(inventory: list[dict[str, str]]) -> None:
    resold = [
        r
        for r in inventory
        if r["supplier"] and _vendor_key(r["supplier"]) != _vendor_key(r["manufacturer"])
    ]
    assert 0.08 < len(resold) / len(inventory) < 0.25
    assert {_vendor_key(r["supplier"]) for r in resold} == {
        "cannon street it services",
        "ludgate technology partners",
        "eastcheap solutions",
    }


def test_a_product_is_shared_by_three_authorities_in_one_area(
    inventory: list[dict[str, str]],
) -> None:
    users: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in inventory:
        users[(r["service_area"], r["system"])].add(r["authority"])
    shared = {pair for pair, authorities in users.items() if len(authorities) >= 3}
    assert ("Adult Social Care", "SupportPlan Online") in shared
    assert len(shared) >= 20


def test_demo_inventory_values_are_in_their_domains(inventory: list[dict[str, str]]) -> None:
    assert {r["hosting"] for r in inventory} <= {"on-premises", "cloud", "saas", "hybrid", ""}
    assert {r["satisfaction"] for r in inventory} <= {"1", "2", "3", "4", "5", ""}
    skills = Counter(r["in_house_skill"] for r in inventory)
    assert set(skills) <= {"none", "basic", "advanced", "expert", ""}
    assert 0 < skills["expert"] < skills["advanced"] < skills["basic"]
    costs = [r["annual_cost_gbp"] for r in inventory if r["annual_cost_gbp"]]
    assert all(re.fullmatch(r"\d+\.\d\d", c) for c in costs)
    assert len(costs) > 0.9 * DEMO_ROWS
    assert all(s in PRODUCTS for s in {r["system"] for r in inventory})


def test_demo_contract_dates_span_2018_to_2031(inventory: list[dict[str, str]]) -> None:
    starts = [date.fromisoformat(r["contract_start"]) for r in inventory if r["contract_start"]]
    ends = [date.fromisoformat(r["contract_end"]) for r in inventory if r["contract_end"]]
    assert min(starts) >= date(2018, 1, 1)
    assert max(ends) <= date(2031, 12, 31)
    assert {d.year for d in ends} >= set(range(2020, 2032))
    for r in inventory:
        if r["contract_start"] and r["contract_end"]:
            assert r["contract_start"] < r["contract_end"], r
    without_end = sum(1 for r in inventory if not r["contract_end"])
    assert 0.05 < without_end / DEMO_ROWS < 0.15
    # End dates cluster (financial years, frameworks): joint procurement has something to find.
    assert Counter(e for e in ends).most_common(1)[0] == (date(2028, 3, 31), 42)


# --- the demo projects ----------------------------------------------------------------------


def test_demo_projects_name_what_the_inventory_holds(
    projects: list[dict[str, str]], inventory: list[dict[str, str]], london: dict[str, str]
) -> None:
    header = demo_file("projects.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.split(",") == PROJECTS_HEADER
    assert len(projects) == 8
    authorities = {_gss(r["authority"], london) for r in inventory}
    systems = {r["system"] for r in inventory}
    for p in projects:
        named = [p["lead_authority"], *p["partners"].split(";")]
        assert all(name in london for name in named), p["project"]  # by name, not code
        assert {london[name] for name in named} <= authorities
        assert p["lead_authority"] not in p["partners"].split(";")
        assert set(p["systems"].split(";")) <= systems, p["project"]
        assert p["url"].startswith("https://example.org/projects/")
    assert Counter(p["status"] for p in projects) == {"active": 3, "done": 3, "idea": 2}


def test_demo_project_partners_use_the_project_systems(
    projects: list[dict[str, str]], inventory: list[dict[str, str]], london: dict[str, str]
) -> None:
    users: dict[str, set[str]] = defaultdict(set)
    for r in inventory:
        users[r["system"]].add(_gss(r["authority"], london))
    for p in projects:
        members = {london[n] for n in [p["lead_authority"], *p["partners"].split(";")]}
        project_users = set().union(*(users[s] for s in p["systems"].split(";")))
        assert members <= project_users, p["project"]
        # Others use the same systems: the reuse-opportunities query has an answer.
        assert project_users - members, p["project"]


# --- the generator ------------------------------------------------------------------------


def test_generator_is_deterministic(generator: ModuleType) -> None:
    first = generator.generate_inventory(500, 11)
    assert first == generator.generate_inventory(500, 11)
    assert first != generator.generate_inventory(500, 12)
    assert generator.generate_projects(12, 11) == generator.generate_projects(12, 11)


@pytest.mark.parametrize("n", [10, 1000, 60000])
def test_generator_gives_exactly_n_unique_rows(generator: ModuleType, n: int) -> None:
    text = generator.generate_inventory(n, 5)
    rows = _rows(text)
    assert text.splitlines()[0].split(",") == INVENTORY_HEADER
    assert len(rows) == n
    assert len(set(_keys(rows))) == n
    # Reading back through the csv module gives the same cells: nothing needed quoting.
    assert text.count("\n") == n + 1
    assert all(len(r) == len(INVENTORY_HEADER) and None not in r for r in rows)


def test_large_inventories_open_numbered_sub_areas(generator: ModuleType) -> None:
    rows = _rows(generator.generate_inventory(60000, 5))
    areas = {r["service_area"] for r in rows}
    assert "Planning (team 2)" in areas
    assert len(areas) > 500
    assert len({r["authority"] for r in rows}) == 33


def test_generator_is_fast(generator: ModuleType) -> None:
    started = time.perf_counter()
    generator.generate_inventory(60000, 9)
    # About 0.5 s alone on this machine (>100k rows/s); the bound leaves room for a busy host.
    assert time.perf_counter() - started < 2.0


def test_generator_rejects_a_negative_count(generator: ModuleType) -> None:
    with pytest.raises(ValueError, match="rows must be >= 0, not -1"):
        generator.generate_inventory(-1, 0)
    assert generator.generate_inventory(0, 0) == ",".join(INVENTORY_HEADER) + "\n"


def test_generated_projects_name_catalogue_systems(
    generator: ModuleType, london: dict[str, str]
) -> None:
    text = generator.generate_projects(40, 3)
    rows = _rows(text)
    assert text.splitlines()[0].split(",") == PROJECTS_HEADER
    assert len(rows) == 40
    assert len({r["project"] for r in rows}) == 40
    for r in rows:
        assert r["lead_authority"] in london
        assert set(r["partners"].split(";")) <= set(london) - {r["lead_authority"]}
        assert set(r["systems"].split(";")) <= set(PRODUCTS)
        assert r["status"] in {"idea", "active", "done"}
        assert bool(r["start"]) == (r["status"] != "idea")


def test_generator_script_writes_the_same_text(generator: ModuleType, tmp_path: Path) -> None:
    out = tmp_path / "inventory.csv"
    assert generator.main(["--rows", "25", "--seed", "4", "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == generator.generate_inventory(25, 4)
    projects = tmp_path / "projects.csv"
    assert generator.main(["--projects", "3", "--seed", "4", "-o", str(projects)]) == 0
    assert projects.read_text(encoding="utf-8") == generator.generate_projects(3, 4)
