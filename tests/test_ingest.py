"""The one write path (`service/writes/ingest.py`): idempotent loads, atomic replacement, rejected
loads that change nothing, provenance, and store counts that match the CSV.

A real on-disk pyoxigraph store on tmp_path, seeded with the reference graphs, and the
real shapes. The expected counts are computed from the CSV with the `csv` module and a
few lines of normalisation written here (not the loaders' `names.py`), so that a loader
bug that merges or splits names shows up as a mismatch.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from pyoxigraph import Literal, NamedNode, Quad, QuerySolutions, Triple

from citytools.errors import InputError, ValidationFailed
from citytools.loaders.iris import Minter
from citytools.report import Severity
from citytools.resources import demo_file, reference_file
from citytools.service.runtime import bootstrap
from citytools.service.store.embedded import EmbeddedStore
from citytools.service.writes.ingest import Ingestor, Source, canonical
from citytools.settings import Settings

DATA = Path(__file__).parent / "data" / "loaders"
ID = "https://w3id.org/citytools/id/"
CT = "https://w3id.org/citytools/ontology#"
XSD = "http://www.w3.org/2001/XMLSchema#"
INVENTORY_GRAPH = NamedNode(ID + "graph/inventory")
ANNUAL = NamedNode(CT + "annualValue")
PROVENANCE = NamedNode(ID + "graph/provenance")
PREFIXES = f"""PREFIX ct: <{CT}>
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX void: <http://rdfs.org/ns/void#>
PREFIX dct: <http://purl.org/dc/terms/>
"""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, store=tmp_path / "store")  # type: ignore[call-arg]


@pytest.fixture
def store(settings: Settings) -> Iterator[EmbeddedStore]:
    opened = EmbeddedStore(settings.store)
    bootstrap.ensure_reference(opened, Minter(settings.base_iri))
    yield opened
    opened.close()


@pytest.fixture
def ingestor(store: EmbeddedStore, settings: Settings) -> Ingestor:
    return bootstrap.build_ingestor(store, settings)


def source(name: str, data: bytes | None = None) -> Source:
    return Source((DATA / name).read_bytes() if data is None else data, name=name)


def all_quads(store: EmbeddedStore) -> set[Quad]:
    return set(store.raw.quads_for_pattern(None, None, None, None))


def outside(store: EmbeddedStore, graph: NamedNode) -> set[Quad]:
    return {q for q in all_quads(store) if q.graph_name != graph}


def select(store: EmbeddedStore, query: str) -> list[dict[str, str]]:
    result = store.query(PREFIXES + query)
    assert isinstance(result, QuerySolutions)
    columns = [v.value for v in result.variables]
    return [
        {c: str(getattr(s[c], "value", "")) for c in columns if s[c] is not None} for s in result
    ]


def number(store: EmbeddedStore, query: str) -> int:
    [row] = select(store, query)
    return int(row["n"])


def count_typed(store: EmbeddedStore, graph: NamedNode, cls: str) -> int:
    return number(
        store,
        f"SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE {{ GRAPH <{graph.value}> {{ ?x a ct:{cls} }} }}",
    )


def provenance_of(store: EmbeddedStore, graph: NamedNode) -> dict[str, object]:
    """What the provenance graph says of `graph` (one value per predicate)."""
    return {
        t.predicate.value: t.object for t in store.graph_triples(PROVENANCE) if t.subject == graph
    }


def objects(triples: set[Triple], subject: NamedNode, predicate: NamedNode) -> set[object]:
    return {t.object for t in triples if t.subject == subject and t.predicate == predicate}


def csv_without(data: bytes, *needles: str) -> bytes:
    """The CSV without the lines containing any of `needles`."""
    lines = data.decode().splitlines(keepends=True)
    return "".join(line for line in lines if not any(n in line for n in needles)).encode()


# --- loading twice, replacing ----------------------------------------------------------------


def test_loading_the_same_file_twice_is_unchanged(ingestor: Ingestor, store: EmbeddedStore) -> None:
    first = ingestor.load(source("inventory.csv"))
    assert first.graph == INVENTORY_GRAPH
    assert first.unchanged is False
    assert first.triples == sum(1 for _ in store.graph_triples(INVENTORY_GRAPH))
    before = all_quads(store)
    second = ingestor.load(source("inventory.csv"))
    assert second.unchanged is True
    assert (second.graph, second.triples) == (first.graph, first.triples)
    assert all_quads(store) == before  # the provenance time included


def test_replace_swaps_one_source_and_leaves_the_other_graphs(
    ingestor: Ingestor, store: EmbeddedStore
) -> None:
    v1 = (DATA / "inventory.csv").read_bytes()
    ingestor.load(source("inventory.csv", v1))
    region = ingestor.load(source("region.ttl"))
    others = outside(store, INVENTORY_GRAPH)
    assert region.graph in {q.graph_name for q in others}
    # v2: Spydus (line 4) gone, Uniform's cost changed, a new row at the end
    v2 = csv_without(v1, "Spydus").replace(b"45000.50", b"47000") + (
        b"Islington,Parking,,frontline,Chipside,Chipside Ltd,,,2026-03-31,5000,saas,,,\n"
    )
    outcome = ingestor.load(source("inventory.csv", v2), replace=True)
    assert outcome.unchanged is False
    spydus = NamedNode(ID + "deployment/E09000012/libraries/spydus")
    graph_triples = set(store.graph_triples(INVENTORY_GRAPH))
    assert not any(t.subject == spydus for t in graph_triples)
    assert not any(t.object == spydus for t in graph_triples)
    uniform = NamedNode(ID + "contract/E09000012/planning/uniform")
    assert objects(graph_triples, uniform, ANNUAL) == {
        Literal("47000", datatype=NamedNode(XSD + "decimal"))
    }
    chipside = NamedNode(ID + "deployment/E09000019/parking/chipside")
    assert any(t.subject == chipside for t in graph_triples)
    others_now = outside(store, INVENTORY_GRAPH)
    assert {q for q in others_now if q.graph_name != PROVENANCE} == {
        q for q in others if q.graph_name != PROVENANCE
    }  # other graphs untouched
    checksum = Literal("sha256:" + hashlib.sha256(v2).hexdigest())
    assert provenance_of(store, INVENTORY_GRAPH)[CT + "checksum"] == checksum
    # a rejected replacement leaves the graph exactly as it was
    before = all_quads(store)
    with pytest.raises(ValidationFailed):
        ingestor.load(source("inventory.csv", v2 + b"Narnia,Parking,,,X,Y,,,,,,,,\n"))
    assert all_quads(store) == before


def test_loading_without_replace_adds_to_the_graph(
    ingestor: Ingestor, store: EmbeddedStore
) -> None:
    graph = NamedNode("https://example.org/graph/vendors")
    acme = b"""@prefix ct: <https://w3id.org/citytools/ontology#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
<https://example.org/vendor/acme> a ct:Vendor ; rdfs:label "Acme" .
"""
    globex = acme.replace(b"acme", b"globex").replace(b'"Acme"', b'"Globex"')
    ingestor.load(Source(acme, name="acme.ttl"), graph=graph, replace=False)
    outcome = ingestor.load(Source(globex, name="globex.ttl"), graph=graph, replace=False)
    labels = select(
        store, f"SELECT ?l WHERE {{ GRAPH <{graph.value}> {{ ?v a ct:Vendor ; rdfs:label ?l }} }}"
    )
    assert sorted(r["l"] for r in labels) == ["Acme", "Globex"]
    provenance = provenance_of(store, graph)
    # The graph holds more than either file, so it has no file's checksum: reloading
    # globex.ttl alone with replace=True must replace, not be skipped as unchanged.
    assert CT + "checksum" not in provenance
    assert provenance["http://rdfs.org/ns/void#triples"] == Literal(
        "4", datatype=NamedNode(XSD + "integer")
    )
    assert outcome.triples == sum(1 for _ in store.graph_triples(graph))
    assert not ingestor.load(Source(globex, name="globex.ttl"), graph=graph).unchanged


def test_adding_the_same_file_again_keeps_the_triple_count(
    ingestor: Ingestor, store: EmbeddedStore
) -> None:
    ingestor.load(source("inventory.csv"), replace=False)
    outcome = ingestor.load(source("inventory.csv"), replace=False)
    data = list(store.graph_triples(INVENTORY_GRAPH))
    void = provenance_of(store, INVENTORY_GRAPH)["http://rdfs.org/ns/void#triples"]
    assert void == Literal(str(len(data)), datatype=NamedNode(XSD + "integer"))
    assert outcome.triples == len(data)


# --- rejected loads ----------------------------------------------------------------------


def test_a_rejected_load_raises_and_changes_nothing(
    ingestor: Ingestor, store: EmbeddedStore
) -> None:
    ingestor.load(source("inventory.csv"))
    before, count = all_quads(store), store.quad_count()
    with pytest.raises(ValidationFailed) as caught:
        ingestor.load(source("inventory_bad.csv"))
    assert store.quad_count() == count
    assert all_quads(store) == before
    assert not store.has_graph(NamedNode(ID + "graph/inventory-bad"))
    report = caught.value.report
    assert not report.conforms
    found = {(f.line, f.constraint, f.path.rsplit("#", 1)[-1], f.value) for f in report.violations}
    assert found >= {
        (3, "loader", "", "Narnia"),
        (4, "loader", "", "99999"),
        (7, "sh:DatatypeConstraintComponent", "annualValue", "abc"),
        (7, "sh:DatatypeConstraintComponent", "startDate", "2024-13-01"),
        (7, "sh:InConstraintComponent", "hosting", "mainframe"),
        (7, "sh:InConstraintComponent", "inHouseSkill", "guru"),
        (7, "sh:MaxInclusiveConstraintComponent", "satisfaction", "7"),
    }
    assert {f.line for f in report.violations} == {3, 4, 5, 6, 7}
    assert {f.source for f in report.findings} == {"inventory_bad.csv"}
    # the message says where and which rule
    assert str(caught.value) == (
        "inventory_bad.csv:3: Violation: unknown authority 'Narnia' "
        f"(and {len(report.violations) - 1} more violation(s))"
    )
    satisfaction = next(f for f in report.violations if f.path.endswith("satisfaction"))
    assert satisfaction.describe() == (
        "inventory_bad.csv:7: Violation: Satisfaction must be a whole number from 1 to 5"
    )
    assert satisfaction.focus == ID + "deployment/E09000007/parking/chipside"


def test_malformed_input_raises_input_error_and_changes_nothing(
    ingestor: Ingestor, store: EmbeddedStore
) -> None:
    before = all_quads(store)
    header = (DATA / "inventory.csv").read_bytes().splitlines(keepends=True)[0]
    broken = header + b'Hackney,"Adult" social care,,,Mosaic,Servelec,,,,,,,,\n'
    with pytest.raises(InputError, match=r"^broken\.csv: line 2: malformed CSV"):
        ingestor.load(Source(broken, name="broken.csv"))
    with pytest.raises(InputError, match=r"^broken\.ttl: Turtle syntax error"):
        ingestor.load(
            Source(b"<https://example.org/a> <https://example.org/p> .", name="broken.ttl")
        )
    assert all_quads(store) == before


def test_check_reports_and_changes_nothing(ingestor: Ingestor, store: EmbeddedStore) -> None:
    before = all_quads(store)
    parsed, report = ingestor.check(source("inventory_bad.csv"))
    assert not report.conforms
    assert (3, "unknown authority 'Narnia'") in {(f.line, f.message) for f in report.violations}
    assert len(parsed.triples) == 81
    _, good = ingestor.check(source("inventory.csv"))
    assert good.conforms
    assert [(f.line, f.severity) for f in good.findings if f.constraint == "loader"] == [
        (8, Severity.WARNING)  # the unknown standard
    ]
    assert all_quads(store) == before


# --- provenance ---------------------------------------------------------------------------


def test_provenance_is_stored_in_the_provenance_graph(
    ingestor: Ingestor, store: EmbeddedStore
) -> None:
    data = (DATA / "inventory.csv").read_bytes()
    started = datetime.now(UTC).replace(microsecond=0)
    outcome = ingestor.load(Source(data, name="inventory.csv"))
    finished = datetime.now(UTC)
    g = outcome.graph.value
    [row] = select(
        store,
        f"""SELECT ?time ?timeType ?checksum ?triples ?triplesType ?illustrative ?kind ?source
        WHERE {{ GRAPH <{PROVENANCE.value}> {{
            <{g}> a ct:SourceGraph, prov:Entity, void:Dataset ;
                prov:generatedAtTime ?time ; ct:checksum ?checksum ; void:triples ?triples ;
                ct:illustrative ?illustrative ; ct:inputKind ?kind ; dct:source ?source .
            BIND(DATATYPE(?time) AS ?timeType) BIND(DATATYPE(?triples) AS ?triplesType)
        }} }}""",
    )
    assert row["checksum"] == "sha256:" + hashlib.sha256(data).hexdigest()
    assert row["timeType"] == XSD + "dateTime"
    assert started <= datetime.fromisoformat(row["time"]) <= finished
    data_triples = list(store.graph_triples(outcome.graph))
    assert row["triplesType"] == XSD + "integer"
    assert int(row["triples"]) == len(data_triples) == 232
    assert row["illustrative"] == "false"
    assert (row["kind"], row["source"]) == ("inventory-csv", "inventory.csv")
    assert outcome.triples == len(data_triples)
    # A graph holds exactly its data: nothing the product wrote about it is inside it.
    assert not any(t.subject == outcome.graph for t in data_triples)
    parsed, _ = ingestor.check(Source(data, name="inventory.csv"))
    assert set(data_triples) == set(canonical(parsed.triples))
    # The write is an activity: when, which graph, what it added
    [write] = select(
        store,
        f"""SELECT ?label ?added ?removed ?deployments WHERE {{ GRAPH <{PROVENANCE.value}> {{
            ?write a prov:Activity ; rdfs:label ?label ; prov:endedAtTime ?end ;
                ct:graphChange [ ct:changedGraph <{g}> ; ct:triplesAdded ?added ;
                                 ct:triplesRemoved ?removed ; ct:deploymentsAdded ?deployments ] .
            <{g}> prov:wasGeneratedBy ?write }} }}""",
    )
    assert write == {
        "label": "load inventory.csv",
        "added": "232",
        "removed": "0",
        "deployments": "9",
    }


def test_a_reload_records_what_moved(ingestor: Ingestor, store: EmbeddedStore) -> None:
    v1 = (DATA / "inventory.csv").read_bytes()
    ingestor.load(source("inventory.csv", v1))
    v2 = csv_without(v1, "Spydus").replace(b"2027-12-31", b"2028-06-30")
    moved = v1.count(b"2027-12-31")
    assert moved > 0
    ingestor.load(source("inventory.csv", v2), replace=True)
    rows = select(
        store,
        f"""SELECT ?deployments ?ends WHERE {{ GRAPH <{PROVENANCE.value}> {{
            ?write prov:endedAtTime ?end ; ct:graphChange ?change .
            ?change ct:changedGraph <{INVENTORY_GRAPH.value}> ;
                ct:deploymentsRemoved ?deployments ; ct:contractEndsMoved ?ends }} }}
        ORDER BY DESC(?end) DESC(?ends)""",
    )
    assert rows[0] == {"deployments": "1", "ends": str(moved)}


def test_illustrative_sources_say_so(ingestor: Ingestor, store: EmbeddedStore) -> None:
    graphs = bootstrap.load_demo(ingestor)
    assert graphs == [NamedNode(ID + "graph/demo/inventory"), NamedNode(ID + "graph/demo/projects")]
    for graph in graphs:
        flag = provenance_of(store, graph)[CT + "illustrative"]
        assert flag == Literal("true", datatype=NamedNode(XSD + "boolean"))


# --- counts in the store match the CSV ------------------------------------------------------


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower().replace("&", "and"))


def _authority_index() -> dict[str, str]:
    """Name key → GSS code, from the shipped reference CSVs (London names first)."""
    index: dict[str, str] = {}
    for name, columns in (
        ("london_local_authorities.csv", ("name", "official_name")),
        ("uk_local_authorities.csv", ("nice_name", "official_name")),
    ):
        text = reference_file(name).read_text(encoding="utf-8")
        for ref in csv.DictReader(io.StringIO(text)):
            for column in columns:
                index.setdefault(_key(ref[column]), ref["gss_code"])
    return index


def _gss(cell: str, index: dict[str, str]) -> str:
    text = cell.strip()
    if re.fullmatch(r"[ENSW]\d{8}", text.upper()):
        return text.upper()
    key = _key(text)
    for candidate in (key, key.removesuffix("council"), key.removeprefix("londonboroughof")):
        if candidate in index:
            return index[candidate]
    raise AssertionError(f"no authority named {cell!r}")


def _vendor(name: str) -> str:
    words = re.sub(r"[^a-z0-9]+", " ", name.lower()).split()
    while len(words) > 1 and words[-1] in {"ltd", "limited", "plc", "llp", "uk", "group"}:
        words.pop()
    return " ".join(words)


@dataclass
class Expected:
    rows: int
    authorities: Counter[str]  # GSS → deployments
    products: set[str]
    vendors: set[str]
    areas: set[str]
    supplier_shares: list[int]  # deployments per supplier, sorted
    annual_cost: Decimal


def expected_from_csv(data: bytes) -> Expected:
    index = _authority_index()
    rows = [r for r in csv.DictReader(io.StringIO(data.decode("utf-8-sig"))) if any(r.values())]
    suppliers = Counter(_vendor(r["supplier"] or r["manufacturer"]) for r in rows)
    return Expected(
        rows=len(rows),
        authorities=Counter(_gss(r["authority"], index) for r in rows),
        products={_key(r["system"]) for r in rows},
        vendors={_vendor(r[c]) for r in rows for c in ("manufacturer", "supplier") if r[c]},
        areas={_key(r["service_area"]) for r in rows},
        supplier_shares=sorted(suppliers.values()),
        annual_cost=sum(
            (Decimal(r["annual_cost_gbp"]) for r in rows if r["annual_cost_gbp"].strip()),
            Decimal(0),
        ),
    )


@pytest.mark.parametrize(
    ("name", "data", "authorities_in_store"),
    [
        ("inventory.csv", (DATA / "inventory.csv").read_bytes(), 34),  # 33 + Manchester
        ("demo-inventory.csv", demo_file("inventory.csv").read_bytes(), 33),
    ],
)
def test_store_counts_equal_counts_from_the_csv(
    ingestor: Ingestor, store: EmbeddedStore, name: str, data: bytes, authorities_in_store: int
) -> None:
    expected = expected_from_csv(data)
    graph = ingestor.load(Source(data, name=name)).graph
    g = graph.value
    assert count_typed(store, graph, "Deployment") == expected.rows
    assert count_typed(store, graph, "Contract") == expected.rows
    assert count_typed(store, graph, "System") == len(expected.products)
    assert count_typed(store, graph, "Vendor") == len(expected.vendors)
    assert count_typed(store, graph, "ServiceArea") == len(expected.areas)
    per_authority = select(
        store,
        f"""SELECT ?gss (COUNT(?d) AS ?n) WHERE {{
            GRAPH <{g}> {{ ?d a ct:Deployment ; ct:authority ?a }} ?a ct:gssCode ?gss
        }} GROUP BY ?gss""",
    )
    assert Counter({r["gss"]: int(r["n"]) for r in per_authority}) == expected.authorities
    shares = select(
        store,
        f"""SELECT ?v (COUNT(?c) AS ?n) WHERE {{
            GRAPH <{g}> {{ ?c a ct:Contract ; ct:supplier ?v }}
        }} GROUP BY ?v""",
    )
    assert sorted(int(r["n"]) for r in shares) == expected.supplier_shares
    [cost] = select(
        store, f"SELECT (SUM(?v) AS ?total) WHERE {{ GRAPH <{g}> {{ ?c ct:annualValue ?v }} }}"
    )
    assert Decimal(cost["total"]) == expected.annual_cost
    # every deployment has one contract, whose buyer is the deployment's authority
    paired = f"""SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{g}> {{
        ?d ct:contract ?c ; ct:authority ?a . ?c ct:buyer ?a }} }}"""
    assert number(store, paired) == expected.rows
    # only loaded regions' authorities are ct:LocalAuthority
    local = "SELECT (COUNT(DISTINCT ?a) AS ?n) WHERE { GRAPH ?g { ?a a ct:LocalAuthority } }"
    assert number(store, local) == authorities_in_store
