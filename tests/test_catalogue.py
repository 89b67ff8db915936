"""The saved-query catalogue: headers, start-up checks, parameter typing, lookups, injection."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from pyoxigraph import Literal, NamedNode
from query_support import (
    DATA,
    GOOD,
    SHIPPED,
    SPEC_QUERIES,
    run,
    small_store,
    term,
    value,
    warm_federation_check,
)

from citytools import vocab as v
from citytools.errors import InputError, NotFound, ParameterError
from citytools.service.catalogue.resolver import StoreResolver
from citytools.service.catalogue.saved import Catalogue, parse_file
from citytools.service.store.embedded import EmbeddedStore

BROKEN = sorted((DATA / "broken").glob("*.rq"))
ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = re.compile(r"^```sparql\n(#\+ title: .*?)^```$", re.M | re.S)
warm_federation_check(SHIPPED)
warm_federation_check(GOOD)
HACKNEY = "https://w3id.org/citytools/id/authority/E09000012"
MOSAIC = "https://w3id.org/citytools/id/system/mosaic"
INJECTIONS = [
    'x" } ; DROP ALL ; #',
    "<http://evil>",
    "?s ?p ?o",
    "x'> } INSERT DATA { <a> <b> <c> }",
]

# Parameters fixed by the specification: name -> (type, required, default).
SPEC_PARAMETERS: dict[str, dict[str, tuple[str, bool, str | None]]] = {
    "systems-of-authority": {"authority": ("authority", True, None)},
    "authorities-using-system": {"system": ("system", True, None)},
    "shared-systems": {"min_authorities": ("xsd:integer", False, "2")},
    "contract-pipeline": {
        "from": ("xsd:date", False, None),
        "to": ("xsd:date", False, None),
        "service_area": ("service_area", False, None),
    },
    "joint-procurement": {"window_months": ("xsd:integer", False, "12")},
    "vendor-concentration": {
        "top": ("xsd:integer", False, "15"),
        "by": ("enum(supplier,manufacturer)", False, "supplier"),
    },
    "single-supplier-dependency": {"threshold": ("xsd:decimal", False, "0.5")},
    "standards-coverage": {"standard": ("standard", False, None)},
    "reuse-opportunities": {"project": ("project", False, None)},
    "skills-peers": {"authority": ("authority", True, None)},
    "region-comparison": {},
}


@pytest.fixture
def store() -> EmbeddedStore:
    return small_store()


def test_the_catalogue_ships_every_query_the_specification_names() -> None:
    assert {q.name for q in SHIPPED} == SPEC_QUERIES
    assert len(SHIPPED) == 11


@pytest.mark.parametrize("name", sorted(SPEC_QUERIES))
def test_shipped_query_header_is_complete_and_typed(name: str) -> None:
    query = SHIPPED.get(name)
    assert query.title
    assert query.description
    assert query.tags
    declared = {p.name: (str(p.type), p.required, p.default) for p in query.parameters}
    assert declared == SPEC_PARAMETERS[name]
    for parameter in query.parameters:
        assert parameter.description
        # Every parameter comes back as a column (pyoxigraph binds only projected ones).
        assert parameter.name in query.columns
        if parameter.default is not None:
            literal = parameter.type.scalar(parameter.name, parameter.default)
            assert literal.value == parameter.default
    if query.chart is not None:
        assert {*query.chart.labels, query.chart.value} <= set(query.columns)
    assert query.text.startswith("#+ title: ")


def test_shipped_query_text_is_the_file() -> None:
    query = SHIPPED.get("shared-systems")
    assert "HAVING (COUNT(DISTINCT ?authority) >= ?min_authorities)" in query.text
    assert query.columns[:4] == ("system", "system_label", "service_area", "service_area_label")
    assert query.chart is not None
    assert (query.chart.kind, query.chart.value) == (
        "bar",
        "authorities",
    )


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.name)
def test_a_broken_file_stops_the_catalogue_and_names_the_file(path: Path, tmp_path: Path) -> None:
    expected = path.read_text().splitlines()[0].removeprefix("# expect: ")
    shutil.copy(DATA / "good" / "all-types.rq", tmp_path / "all-types.rq")
    shutil.copy(path, tmp_path / path.name)
    with pytest.raises(InputError) as caught:
        Catalogue.load(tmp_path)
    assert str(caught.value).startswith(f"saved query {path.name}: ")
    assert expected in str(caught.value)


def test_every_broken_fixture_is_distinct() -> None:
    messages = [p.read_text().splitlines()[0] for p in BROKEN]
    assert len(BROKEN) == 24
    assert len(set(messages)) == len(messages)


def test_the_header_is_yaml_and_may_carry_plain_comments() -> None:
    text = (
        "# a plain comment\n#+ title: T\n#+ description: >-\n#+   first\n# another one\n"
        "#+   second\n#+ tags: [a, b]\nSELECT ?x WHERE { ?x ?p ?o }\n#+ title: not the header\n"
    )
    query = parse_file("t.rq", text)
    assert (query.title, query.description, query.tags, query.parameters, query.columns) == (
        "T",
        "first second",
        ("a", "b"),
        (),
        ("x",),
    )


def test_yaml_scalars_are_read_as_the_text_a_url_carries() -> None:
    text = (
        "#+ title: T\n#+ description: D\n#+ parameters:\n"
        "#+   n: {type: xsd:integer, default: 3, min: 1, max: 9, description: N}\n"
        "#+   r: {type: xsd:decimal, default: 0.25, description: R}\n"
        "#+   f: {type: xsd:boolean, default: false, description: F}\n"
        "#+   d: {type: xsd:date, default: 2024-02-29, min: 2000-01-01, description: D}\n"
        "SELECT ?n ?r ?f ?d WHERE { FILTER(?n > 0 && ?r > 0 && ?f = ?f && ?d = ?d) }\n"
    )
    declared = {
        p.name: (p.default, p.minimum, p.maximum) for p in parse_file("t.rq", text).parameters
    }
    assert declared == {
        "n": ("3", "1", "9"),
        "r": ("0.25", None, None),
        "f": ("false", None, None),
        "d": ("2024-02-29", "2000-01-01", None),
    }


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("#+ titel: T", "header key 'title': Field required; header key 'titel': unknown key"),
        ("#+ title: [T]", "header key 'title': Input should be a valid string"),
        ("#+ title: T\n#+   description: D", "line 2: the `#+` header is not valid YAML"),
        (
            "#+ title: T\n#+ parameters: {n: {type: xsd:integer, required: maybe}}",
            "header key 'parameters.n.required': Input should be a valid boolean",
        ),
        ("#+ title: T\n#+ chart: bar", "header key 'chart': Input should be a valid dictionary"),
    ],
)
def test_a_malformed_header_names_the_file_and_the_key(header: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_file("typo.rq", f"{header}\n#+ description: D\nSELECT ?x WHERE {{ ?x ?p ?o }}\n")
    assert str(caught.value).startswith("saved query typo.rq: ")
    assert message in str(caught.value)


@pytest.mark.parametrize("doc", ["queries/README.md", "docs/data-architects.md"])
def test_the_documented_example_is_a_valid_saved_query(doc: str) -> None:
    (example,) = EXAMPLE.findall((ROOT / doc).read_text(encoding="utf-8"))
    query = parse_file("example.rq", example)
    assert query.parameters
    assert query.description.endswith("(a folded block: its lines are joined with spaces).")


def test_unknown_query_is_not_found() -> None:
    with pytest.raises(NotFound, match="no saved query 'nope'"):
        SHIPPED.get("nope")


# --- typing ---------------------------------------------------------------------------------


def test_defaults_are_bound_as_typed_terms(store: EmbeddedStore) -> None:
    request = GOOD.request("all-types", {"authority": "Hackney"}, StoreResolver(store))
    assert request.substitutions == {
        "authority": f"<{HACKNEY}>",
        "least": '"1"^^<http://www.w3.org/2001/XMLSchema#integer>',
        "ratio": '"0.5"^^<http://www.w3.org/2001/XMLSchema#decimal>',
        "flag": '"false"^^<http://www.w3.org/2001/XMLSchema#boolean>',
        "by": '"supplier"',
    }
    columns, rows = run(store, request)
    assert columns[:2] == ["authority", "system"]
    assert [value(r, "label") for r in rows] == ["Mosaic — Hackney — Revenues and benefits"]


def test_given_values_are_typed(store: EmbeddedStore) -> None:
    raw = {
        "authority": "E09000012",
        "least": "+3",
        "ratio": "0.250",
        "after": "2024-02-29",
        "flag": "TRUE",
        "by": "Manufacturer",
        "name": 'Mosaic "quoted"',
    }
    subs = GOOD.request("all-types", raw, StoreResolver(store)).substitutions
    assert term(subs["least"]) == Literal("3", datatype=v.XSD.integer)
    assert term(subs["ratio"]) == Literal("0.25", datatype=v.XSD.decimal)
    assert term(subs["after"]) == Literal("2024-02-29", datatype=v.XSD.date)
    assert term(subs["flag"]) == Literal("true", datatype=v.XSD.boolean)
    assert term(subs["by"]) == Literal("manufacturer")
    assert term(subs["name"]) == Literal('Mosaic "quoted"')


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({}, "parameter 'authority': is required: The authority"),
        ({"authority": "  "}, "parameter 'authority': is required"),
        ({"authority": "Hackney", "colour": "red"}, "parameter 'colour': 'all-types' has no such"),
        (
            {"authority": "Hackney", "least": "2.5"},
            "parameter 'least': '2.5' is not a whole number",
        ),
        ({"authority": "Hackney", "least": "6"}, "parameter 'least': must be at most 5, not 6"),
        ({"authority": "Hackney", "least": "-1"}, "parameter 'least': must be at least 0, not -1"),
        ({"authority": "Hackney", "ratio": "1e3"}, "parameter 'ratio': '1e3' is not a decimal"),
        ({"authority": "Hackney", "ratio": "1.5"}, "parameter 'ratio': must be at most 1, not 1.5"),
        ({"authority": "Hackney", "after": "2024-02-30"}, "'2024-02-30' is not a date"),
        ({"authority": "Hackney", "after": "1999-12-31"}, "must be at least 2000-01-01"),
        ({"authority": "Hackney", "after": "31/12/2024"}, "'31/12/2024' is not a date"),
        ({"authority": "Hackney", "flag": "yes"}, "parameter 'flag': 'yes' is not true or false"),
        ({"authority": "Hackney", "by": "owner"}, "'owner' is not one of supplier, manufacturer"),
        ({"authority": "Hackney", "name": "x" * 501}, "parameter 'name': longer than 500"),
    ],
)
def test_wrong_values_are_parameter_errors(
    store: EmbeddedStore, raw: dict[str, str], message: str
) -> None:
    with pytest.raises(ParameterError) as caught:
        GOOD.request("all-types", raw, StoreResolver(store))
    assert caught.value.status == 422
    assert message in str(caught.value)


# --- names, codes and IRIs --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "text", "expected"),
    [
        ("authority", "Hackney", HACKNEY),
        ("authority", "HACKNEY", HACKNEY),
        ("authority", "London Borough of Hackney", HACKNEY),
        ("authority", "hackney council", HACKNEY),
        ("authority", "e09000012", HACKNEY),
        ("authority", HACKNEY, HACKNEY),
        ("authority", f"<{HACKNEY}>", HACKNEY),
        ("authority", "http://statistics.data.gov.uk/id/statistical-geography/E09000012", HACKNEY),
        ("system", "mosaic", MOSAIC),
        ("system", " M.O.S.A.I.C ", None),
        ("system", "Mosaic!", MOSAIC),
        ("standard", "bs7666", "https://w3id.org/citytools/id/standard/bs-7666"),
        ("standard", "BS7666:2006", "https://w3id.org/citytools/id/standard/bs-7666"),
        (
            "project",
            "shared CARE portal",
            "https://w3id.org/citytools/id/project/shared-care-portal",
        ),
        (
            "service_area",
            "Revenues & Benefits",
            "https://w3id.org/citytools/id/service-area/revenues-and-benefits",
        ),
        ("service_area", "58", "https://w3id.org/citytools/id/service/lgsl/58"),
        (
            "service_area",
            "council tax account enquiries",
            "https://w3id.org/citytools/id/service/lgsl/58",
        ),
        ("authority", "Barnet", None),
        ("authority", "E09000003", None),
        ("authority", "https://w3id.org/citytools/id/system/mosaic", None),
        ("system", "Hackney", None),
    ],
)
def test_lookup_by_name_code_or_iri(
    store: EmbeddedStore, kind: str, text: str, expected: str | None
) -> None:
    found = StoreResolver(store).lookup(kind, text.strip())
    assert found == ([NamedNode(expected)] if expected else [])


def test_a_name_of_something_not_in_the_graph_is_a_422_naming_the_parameter(
    store: EmbeddedStore,
) -> None:
    with pytest.raises(ParameterError) as caught:
        SHIPPED.request("systems-of-authority", {"authority": "Barnet"}, StoreResolver(store))
    assert caught.value.parameter == "authority"
    assert str(caught.value) == "parameter 'authority': no authority 'Barnet' in the graph"


def test_an_ambiguous_name_asks_for_the_iri(store: EmbeddedStore) -> None:
    with pytest.raises(ParameterError) as caught:
        SHIPPED.request("contract-pipeline", {"service_area": "waste"}, StoreResolver(store))
    assert str(caught.value) == (
        "parameter 'service_area': 'waste' names 2 of them "
        "(<https://w3id.org/citytools/id/service-area/waste-a>, "
        "<https://w3id.org/citytools/id/service-area/waste-b>); give the IRI"
    )


# --- injection --------------------------------------------------------------------------------

_CASES = [
    (query.name, parameter.name, attempt)
    for query in [*SHIPPED, *GOOD]
    for parameter in query.parameters
    for attempt in INJECTIONS
]


@pytest.mark.parametrize(("name", "parameter", "attempt"), _CASES)
def test_injection_attempts_are_refused_or_bound_as_plain_values(
    store: EmbeddedStore, name: str, parameter: str, attempt: str
) -> None:
    catalogue = SHIPPED if name in SHIPPED else GOOD
    raw = {"authority": "Hackney", "system": "Mosaic"} if name != "region-comparison" else {}
    raw = {k: val for k, val in raw.items() if catalogue.get(name).parameter(k)}
    raw[parameter] = attempt
    before = sorted(str(q) for q in store.raw)
    declared = catalogue.get(name).parameter(parameter)
    assert declared is not None
    if declared.type.name != "xsd:string":
        with pytest.raises(ParameterError) as caught:
            catalogue.request(name, raw, StoreResolver(store))
        assert caught.value.parameter == parameter
    else:
        # A string parameter takes any text, bound as one literal of exactly that text.
        request = catalogue.request(name, raw, StoreResolver(store))
        assert term(request.substitutions[parameter]) == Literal(attempt)
        assert request.sparql == catalogue.get(name).text
        _, rows = run(store, request)
        assert rows == []
    assert sorted(str(q) for q in store.raw) == before
