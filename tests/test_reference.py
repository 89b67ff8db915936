"""The shipped reference data as RDF, and the authority resolver built from it."""

from __future__ import annotations

import csv
import io

import pytest
import rdflib
from pyoxigraph import Literal, NamedNode, Triple
from pyshacl import validate

from citytools import vocab as v
from citytools.loaders import reference
from citytools.loaders.authorities import authority_resolver
from citytools.loaders.iris import Minter
from citytools.loaders.names import fold
from citytools.loaders.standards import curated_standards, find_standard
from citytools.resources import ontology_file, reference_file, shapes_file

BASE = v.DEFAULT_BASE_IRI
MINTER = Minter()


def _subjects(triples: list[Triple], cls: NamedNode) -> set[str]:
    return {t.subject.value for t in triples if t.predicate == v.RDF.type and t.object == cls}  # type: ignore[union-attr]


def _values(triples: list[Triple], subject: str, predicate: NamedNode) -> set[str]:
    return {
        t.object.value  # type: ignore[union-attr]
        for t in triples
        if t.subject == NamedNode(subject) and t.predicate == predicate
    }


def _csv(name: str) -> list[dict[str, str]]:
    text = reference_file(name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


# --- London authorities ----------------------------------------------------------------------


def test_exactly_the_33_london_authorities_with_their_codes() -> None:
    triples = reference.london_authorities(MINTER)
    expected = {f"{BASE}authority/E090000{n:02d}" for n in range(1, 34)}
    assert _subjects(triples, v.LOCAL_AUTHORITY) == expected
    codes = {t.object.value for t in triples if t.predicate == v.GSS_CODE}  # type: ignore[union-attr]
    assert codes == {f"E090000{n:02d}" for n in range(1, 34)}


def test_london_authorities_link_to_ons_and_wikidata() -> None:
    triples = reference.london_authorities(MINTER)
    hackney = f"{BASE}authority/E09000012"
    assert _values(triples, hackney, v.OWL.sameAs) == {
        "http://statistics.data.gov.uk/id/statistical-geography/E09000012",
        "http://www.wikidata.org/entity/Q5637369",
    }
    assert _values(triples, hackney, v.RDFS.label) == {"Hackney"}
    assert _values(triples, hackney, v.SKOS.altLabel) == {"London Borough of Hackney"}
    assert _values(triples, hackney, v.INNER_OUTER) == {"Inner"}
    assert _values(triples, hackney, v.AUTHORITY_TYPE) == {"London borough"}
    assert _values(triples, hackney, v.REGION_PROP) == {f"{BASE}region/london"}
    for row in _csv("london_local_authorities.csv"):
        iri = f"{BASE}authority/{row['gss_code']}"
        assert _values(triples, iri, v.OWL.sameAs) == {
            f"{v.ONS_GEOGRAPHY}{row['gss_code']}",
            f"{v.WIKIDATA_ENTITY}{row['wikidata']}",
        }
        assert _values(triples, iri, v.FOAF.homepage) == {row["website"]}
        assert _values(triples, iri, v.RDFS.seeAlso) == {row["wikipedia"]}


def test_london_region_is_in_the_same_graph() -> None:
    triples = reference.london_authorities(MINTER)
    region = f"{BASE}region/london"
    assert _subjects(triples, v.REGION) == {region}
    assert _values(triples, region, v.RDFS.label) == {"London"}


def test_base_iri_is_configurable() -> None:
    minter = Minter("http://example.org/data/")
    graphs = reference.reference_graphs(minter)
    assert set(map(str, graphs)) == {
        "<http://example.org/data/graph/reference/london-authorities>",
        "<http://example.org/data/graph/reference/lgsl>",
        "<http://example.org/data/graph/reference/standards>",
    }
    triples = reference.london_authorities(minter)
    assert "http://example.org/data/authority/E09000033" in _subjects(triples, v.LOCAL_AUTHORITY)


def test_reference_graphs_are_fresh_lists() -> None:
    first = reference.reference_graphs(MINTER)
    graph = reference.graph_iri(MINTER, reference.LONDON_AUTHORITIES)
    count = len(first[graph])
    first[graph].clear()
    assert len(reference.reference_graphs(MINTER)[graph]) == count


# --- LGSL and LGFL ---------------------------------------------------------------------------


def test_lgsl_has_1519_services_with_ids_and_esd_links() -> None:
    triples = reference.lgsl(MINTER)
    services = _subjects(triples, v.SERVICE)
    assert len(services) == 1519
    assert len(reference.lgsl_ids()) == 1519
    home_schooling = f"{BASE}service/lgsl/1"
    assert _values(triples, home_schooling, v.RDFS.label) == {"Home schooling"}
    assert _values(triples, home_schooling, v.OWL.sameAs) == {"http://id.esd.org.uk/service/1"}
    assert _values(triples, home_schooling, v.SKOS.notation) == {"1"}
    assert _values(triples, home_schooling, v.SKOS.inScheme) == {f"{BASE}scheme/lgsl"}
    assert _values(triples, home_schooling, v.LGFL_FUNCTION) == {f"{BASE}function/lgfl/26"}
    ids = [t.object for t in triples if t.predicate == v.LGSL_ID]
    assert len(ids) == 1519
    assert all(isinstance(i, Literal) and i.datatype == v.XSD.integer for i in ids)


def test_lgsl_definitions_only_where_the_list_has_a_description() -> None:
    rows = _csv("lgsl_services.csv")
    triples = reference.lgsl(MINTER)
    definitions = [t for t in triples if t.predicate == v.SKOS.definition]
    assert len(definitions) == sum(1 for row in rows if row["description"])
    assert len(definitions) == 1519 - 14


def test_lgfl_functions_form_a_two_level_hierarchy() -> None:
    triples = reference.lgsl(MINTER)
    functions = _subjects(triples, v.FUNCTION_CONCEPT)
    assert len(functions) == 113
    assert len([t for t in triples if t.predicate == v.SKOS.broader]) == 100
    assert len([t for t in triples if t.predicate == v.SKOS.topConceptOf]) == 13
    benefits = f"{BASE}function/lgfl/3"
    assert _values(triples, benefits, v.SKOS.broader) == {f"{BASE}function/lgfl/1"}
    assert _values(triples, benefits, v.OWL.sameAs) == {"http://id.esd.org.uk/function/3"}


# --- standards -------------------------------------------------------------------------------


def test_curated_standards_are_complete_records() -> None:
    triples = reference.standards(MINTER)
    standards = _subjects(triples, v.STANDARD)
    assert len(standards) >= 20
    assert standards == _subjects(triples, v.DCT.Standard)
    for iri in standards:
        for prop in (v.RDFS.label, v.DCT.identifier, v.FOAF.homepage, v.DCT.publisher):
            assert len(_values(triples, iri, prop)) == 1, (iri, prop)
        assert _values(triples, iri, v.SKOS.definition), iri


@pytest.mark.parametrize(
    ("name", "iri"),
    [
        ("Swagger", "https://spec.openapis.org/oas/"),
        ("OAS", "https://spec.openapis.org/oas/"),
        ("openapi", "https://spec.openapis.org/oas/"),
        ("FHIR", "http://hl7.org/fhir"),
        ("hl7 fhir", "http://hl7.org/fhir"),
        ("OIDC", "https://openid.net/specs/openid-connect-core-1_0.html"),
        ("CSVW", "http://www.w3.org/ns/csvw"),
        ("GOV.UK Notify API", "https://docs.notifications.service.gov.uk/rest-api.html"),
        ("wcag 2.1", "https://www.w3.org/TR/WCAG21/"),
        ("RFC 7946", "https://www.rfc-editor.org/rfc/rfc7946"),
        ("Open Contracting Data Standard", "https://standard.open-contracting.org/"),
    ],
)
def test_standards_resolve_by_label_alt_label_or_identifier(name: str, iri: str) -> None:
    assert find_standard(name) == NamedNode(iri)


def test_no_two_standards_share_a_name() -> None:
    names: dict[str, set[str]] = {}
    for t in reference.standards_triples():
        if t.predicate in (v.RDFS.label, v.SKOS.altLabel, v.DCT.identifier):
            names.setdefault(fold(t.object.value), set()).add(t.subject.value)  # type: ignore[union-attr]
    assert {k: s for k, s in names.items() if len(s) > 1} == {}
    assert len(curated_standards()) == len(names)


def test_every_demo_standard_but_the_invented_ones_is_curated() -> None:
    from citytools.demo.catalogue import UNKNOWN_STANDARDS
    from citytools.resources import demo_file

    rows = csv.DictReader(io.StringIO(demo_file("inventory.csv").read_text(encoding="utf-8")))
    named = {s.strip() for row in rows for s in row["standards"].split(";") if s.strip()}
    assert {n for n in named if find_standard(n) is None} == set(UNKNOWN_STANDARDS)


# --- provenance and shapes -------------------------------------------------------------------


def test_each_reference_graph_has_a_description_and_holds_only_its_data() -> None:
    described = reference.reference_descriptions(MINTER)
    for graph, triples in reference.reference_graphs(MINTER).items():
        assert not [t for t in triples if t.subject == graph]  # provenance lives elsewhere
        facts = dict(described[graph].facts)
        assert v.DCT.license in facts
        assert v.DCT.rights in facts
    sources = {
        o.value
        for p, o in described[reference.graph_iri(MINTER, reference.LGSL)].facts
        if p == v.DCT.source
    }
    assert (
        "https://github.com/movermeyer/ckanext-esdstandards/blob/"
        "0133a969e8f78c569da0236c017a84ec9a6e774e/ckanext-esdstandards-data/services.csv"
    ) in sources
    london = described[reference.graph_iri(MINTER, reference.LONDON_AUTHORITIES)]
    assert {o.value for p, o in london.facts if p == v.DCT.license} == {
        reference.CC_BY_4,
        reference.OGL_3,
        reference.OGL,
    }


def test_reference_graphs_conform_to_the_shapes() -> None:
    """pySHACL (the reference implementation) over ontology + every reference graph."""
    body = "\n".join(
        f"{t} ." for triples in reference.reference_graphs(MINTER).values() for t in triples
    )
    data = rdflib.Graph().parse(data=body, format="nt")
    data.parse(data=ontology_file().read_bytes(), format="turtle")
    shapes = rdflib.Graph().parse(data=shapes_file().read_bytes(), format="turtle")
    conforms, _, text = validate(data, shacl_graph=shapes, advanced=True)
    assert conforms, text


# --- the authority resolver ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Hackney",
        "London Borough of Hackney",
        "hackney council",
        "HACKNEY",
        "E09000012",
        "e09000012",
        "Hackney London Borough Council",
    ],
)
def test_hackney_resolves_from_any_spelling(text: str) -> None:
    record = authority_resolver().resolve(text)
    assert record is not None
    assert (record.gss, record.name, record.region) == ("E09000012", "Hackney", "London")


@pytest.mark.parametrize(
    ("text", "gss", "region"),
    [
        ("Barking & Dagenham", "E09000002", "London"),
        ("barking and dagenham", "E09000002", "London"),
        ("The Royal Borough of Kensington & Chelsea", "E09000020", "London"),
        ("Westminster City Council", "E09000033", "London"),
        ("Manchester", "E08000003", "Greater Manchester"),
        ("Manchester City Council", "E08000003", "Greater Manchester"),
        ("Birmingham", "E08000025", "West Midlands"),
        ("Leeds", "E08000035", "West Yorkshire"),
        ("Cardiff", "W06000015", "Wales"),
        ("Belfast", "N09000003", "Northern Ireland"),
        ("Herefordshire", "E06000019", "West Midlands"),
        ("Cornwall", "E06000052", "South West"),
    ],
)
def test_authorities_resolve_with_their_region(text: str, gss: str, region: str) -> None:
    record = authority_resolver().resolve(text)
    assert record is not None
    assert (record.gss, record.region) == (gss, region)


def test_unknown_names_and_codes_do_not_resolve() -> None:
    resolver = authority_resolver()
    assert resolver.resolve("Narnia") is None
    assert resolver.resolve("E09000099") is None
    assert resolver.resolve("  ") is None
    assert resolver.by_register_code("hck") == resolver.resolve("Hackney")
    assert len(resolver) == len(_csv("uk_local_authorities.csv"))


def test_london_names_come_from_the_london_list() -> None:
    record = authority_resolver().resolve("E09000001")
    assert record is not None
    assert (record.name, record.official_name, record.authority_type, record.london) == (
        "City of London",
        "City of London Corporation",
        "City corporation",
        True,
    )
