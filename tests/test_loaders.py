"""The loaders: bytes in, triples + line map + findings out, as docs/architecture.md says.

Every expectation is written from the architecture doc and SPEC.md (IRIs spelled out as
strings, vocabulary terms by their full IRI), not from the loaders' own constants, so a
change of what a loader emits shows up here.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from pathlib import Path

import pytest
from pyoxigraph import BlankNode, Literal, NamedNode, Triple

from citytools.errors import InputError
from citytools.loaders.authorities import authority_resolver
from citytools.loaders.base import Parsed
from citytools.loaders.detect import KINDS, detect_kind, parse_source
from citytools.loaders.iris import Minter
from citytools.loaders.names import organisation_key, product_key, slug
from citytools.report import Severity
from citytools.resources import demo_file

DATA = Path(__file__).parent / "data" / "loaders"
ID = "https://w3id.org/citytools/id/"
CT = "https://w3id.org/citytools/ontology#"
RDF_TYPE = NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
LABEL = NamedNode("http://www.w3.org/2000/01/rdf-schema#label")
CONFORMS_TO = NamedNode("http://purl.org/dc/terms/conformsTo")
XSD = "http://www.w3.org/2001/XMLSchema#"
FHIR = NamedNode("http://hl7.org/fhir")
OPENAPI = NamedNode("https://spec.openapis.org/oas/")
INVENTORY_COLUMNS = [
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
PROJECTS_HEADER = (
    "project,lead_authority,partners,status,start,end,systems,standards,url,description"
)
RDF_FILES = ["region.ttl", "region.nt", "region.nq", "region.trig", "region.rdf", "region.jsonld"]
Term = NamedNode | BlankNode | Literal | Triple


def ct(name: str) -> NamedNode:
    return NamedNode(CT + name)


def iri(path: str) -> NamedNode:
    return NamedNode(ID + path)


def typed(value: str, datatype: str) -> Literal:
    return Literal(value, datatype=NamedNode(XSD + datatype))


def parse_file(name: str, kind: str | None = None, minter: Minter | None = None) -> Parsed:
    data = (DATA / name).read_bytes()
    return parse_source(data, source=name, kind=kind, minter=minter or Minter())


def parse_bytes(data: bytes, source: str = "inline.csv", kind: str | None = None) -> Parsed:
    return parse_source(data, source=source, kind=kind, minter=Minter())


def inventory(*rows: Mapping[str, str]) -> bytes:
    """An inventory CSV with the SPEC.md header; cells not given are empty."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=INVENTORY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def row(authority: str, area: str, system: str, manufacturer: str, **cells: str) -> dict[str, str]:
    return {
        "authority": authority,
        "service_area": area,
        "system": system,
        "manufacturer": manufacturer,
        **cells,
    }


def values(parsed: Parsed, subject: NamedNode, predicate: NamedNode | str) -> set[Term]:
    pred = ct(predicate) if isinstance(predicate, str) else predicate
    return {t.object for t in parsed.triples if t.subject == subject and t.predicate == pred}


def of_type(parsed: Parsed, cls: str) -> set[str]:
    return {
        t.subject.value
        for t in parsed.triples
        if t.predicate == RDF_TYPE and t.object == ct(cls) and isinstance(t.subject, NamedNode)
    }


def authority_of(parsed: Parsed) -> dict[str, set[Term]]:
    """Each deployment's authorities, by the deployment IRI's tail."""
    return {
        dep.removeprefix(ID + "deployment/"): values(parsed, NamedNode(dep), "authority")
        for dep in of_type(parsed, "Deployment")
    }


def messages(parsed: Parsed, severity: Severity) -> list[tuple[int | None, str]]:
    return sorted(
        ((f.line, f.message) for f in parsed.report.findings if f.severity is severity),
        key=lambda pair: (pair[0] or 0, pair[1]),
    )


# --- inventory CSV: one row = one deployment = one contract -------------------------------


def test_inventory_row_becomes_a_deployment_and_its_contract() -> None:
    parsed = parse_file("inventory.csv")
    assert parsed.kind == "inventory-csv"
    dep = iri("deployment/E09000012/adult-social-care/mosaic")
    con = iri("contract/E09000012/adult-social-care/mosaic")
    hackney = iri("authority/E09000012")
    assert values(parsed, dep, RDF_TYPE) == {ct("Deployment")}
    assert values(parsed, dep, LABEL) == {Literal("Mosaic — Hackney — Adult social care")}
    assert values(parsed, dep, "authority") == {hackney}
    assert values(parsed, dep, "system") == {iri("system/mosaic")}
    assert values(parsed, dep, "service") == {iri("service-area/adult-social-care")}
    assert values(parsed, dep, "function") == {ct("Frontline")}
    assert values(parsed, dep, "hosting") == {ct("SaaS")}
    assert values(parsed, dep, "satisfaction") == {typed("4", "integer")}
    assert values(parsed, dep, "inHouseSkill") == {ct("SkillExpert")}
    assert values(parsed, dep, CONFORMS_TO) == {FHIR, OPENAPI}  # "HL7 FHIR;OpenAPI"
    assert values(parsed, dep, "contract") == {con}
    assert parsed.lines[dep.value] == parsed.lines[con.value] == 2  # for reports, not triples
    assert not any(t.predicate == ct("sourceLine") for t in parsed.triples)
    assert values(parsed, con, RDF_TYPE) == {ct("Contract")}
    assert values(parsed, con, "buyer") == {hackney}
    assert values(parsed, con, "supplier") == {iri("vendor/servelec")}
    assert values(parsed, con, "startDate") == {typed("2021-04-01", "date")}
    assert values(parsed, con, "endDate") == {typed("2026-03-31", "date")}
    assert values(parsed, con, "annualValue") == {typed("125000.00", "decimal")}
    assert parsed.lines[dep.value] == parsed.lines[con.value] == 2


def test_every_inventory_row_is_one_deployment_and_one_contract() -> None:
    parsed = parse_file("inventory.csv")
    with (DATA / "inventory.csv").open(newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if any(v.strip() for v in r.values())]
    deployments, contracts = of_type(parsed, "Deployment"), of_type(parsed, "Contract")
    assert len(rows) == len(deployments) == len(contracts) == 9
    # each deployment names the contract with the same tail, and nothing else
    for dep in deployments:
        tail = dep.removeprefix(ID + "deployment/")
        assert values(parsed, NamedNode(dep), "contract") == {iri("contract/" + tail)}
    assert {c.removeprefix(ID + "contract/") for c in contracts} == {
        d.removeprefix(ID + "deployment/") for d in deployments
    }
    # the emitted IRIs are the ones the Minter gives for the same names
    minter = Minter()
    assert minter.deployment("e09000012", "Adult social care", "Mosaic ") == iri(
        "deployment/E09000012/adult-social-care/mosaic"
    )
    assert minter.contract("E09000033", "Waste and\nrecycling", "Bartec Collective").value in (
        contracts
    )


def test_optional_cells_that_are_empty_emit_nothing() -> None:
    parsed = parse_file("inventory.csv")
    spydus = iri("contract/E09000012/libraries/spydus")  # line 4: no dates, no cost
    assert values(parsed, spydus, "startDate") == set()
    assert values(parsed, spydus, "endDate") == set()
    assert values(parsed, spydus, "annualValue") == set()
    camden = iri("deployment/E09000007/children-s-early-help-services/mosaic")  # line 8
    assert values(parsed, camden, "satisfaction") == set()
    assert values(parsed, camden, "inHouseSkill") == set()
    # "UPRN;GeoJSON" on line 5: both curated
    assert values(parsed, iri("deployment/E09000012/planning/uniform"), CONFORMS_TO) == {
        NamedNode("https://www.geoplace.co.uk/addresses-streets/location-data/the-uprn"),
        NamedNode("https://www.rfc-editor.org/rfc/rfc7946"),
    }


def test_lines_count_the_header_as_line_one_across_blank_and_multiline_rows() -> None:
    parsed = parse_file("inventory.csv")
    lines = {dep.split("/", 6)[-1]: parsed.lines[dep] for dep in of_type(parsed, "Deployment")}
    assert lines == {
        "E09000012/adult-social-care/mosaic": 2,
        "E09000012/council-tax/revenues-online": 3,
        "E09000012/libraries/spydus": 4,
        "E09000012/planning/uniform": 5,
        "E09000002/adult-social-care/mosaic": 6,
        # line 7 is blank
        "E09000007/children-s-early-help-services/mosaic": 8,
        "E09000033/waste-and-recycling/bartec-collective": 9,  # 9-10
        "E08000003/council-tax/revenues-online": 11,
        "E09000033/electoral-registration/xpress": 12,
    }


def test_authority_by_gss_code_or_any_spelling_of_its_name() -> None:
    parsed = parse_file("inventory.csv")
    hackney, barking = {iri("authority/E09000012")}, {iri("authority/E09000002")}
    assert authority_of(parsed) == {
        # lines 2-5: "Hackney", "London Borough of Hackney", "hackney council", "E09000012"
        "E09000012/adult-social-care/mosaic": hackney,
        "E09000012/council-tax/revenues-online": hackney,
        "E09000012/libraries/spydus": hackney,
        "E09000012/planning/uniform": hackney,
        "E09000002/adult-social-care/mosaic": barking,  # "Barking & Dagenham"
        "E09000007/children-s-early-help-services/mosaic": {iri("authority/E09000007")},
        "E09000033/waste-and-recycling/bartec-collective": {iri("authority/E09000033")},
        "E08000003/council-tax/revenues-online": {iri("authority/E08000003")},
        "E09000033/electoral-registration/xpress": {iri("authority/E09000033")},
    }


@pytest.mark.parametrize(
    ("text", "gss"),
    [
        ("Kensington & Chelsea", "E09000020"),
        ("kensington and chelsea", "E09000020"),
        ("KENSINGTON-AND-CHELSEA", "E09000020"),
        ("Royal Borough of Kensington & Chelsea", "E09000020"),
        ("The Royal Borough of Kensington and Chelsea", "E09000020"),
        ("e09000020", "E09000020"),
        (" E09000020 ", "E09000020"),
        ("Hammersmith & Fulham", "E09000013"),
        ("London Borough of Hammersmith and Fulham", "E09000013"),
        ("Richmond-upon-Thames", "E09000027"),
        ("Hackney London Borough Council", "E09000012"),
        ("City of Westminster", "E09000033"),
        ("Westminster City Council", "E09000033"),
        ("City of Westminster Council", "E09000033"),
        ("City of London", "E09000001"),
        ("Manchester City Council", "E08000003"),
        ("Cardiff", "W06000015"),
    ],
)
def test_authority_names_match_case_punctuation_and_ampersand_insensitively(
    text: str, gss: str
) -> None:
    record = authority_resolver().resolve(text)
    assert record is not None, text
    assert record.gss == gss


@pytest.mark.parametrize("text", ["Narnia", "E09999999", "", "Council", "London Borough of"])
def test_names_of_no_authority_resolve_to_nothing(text: str) -> None:
    assert authority_resolver().resolve(text) is None


def test_ampersand_and_and_name_one_authority_in_an_inventory() -> None:
    parsed = parse_bytes(
        inventory(
            row("Kensington & Chelsea", "Parking", "PermitPad", "Quaggy Ltd"),
            row("kensington and chelsea", "Libraries", "Spydus", "Civica"),
        )
    )
    assert messages(parsed, Severity.VIOLATION) == []
    assert authority_of(parsed) == {
        "E09000020/parking/permitpad": {iri("authority/E09000020")},
        "E09000020/libraries/spydus": {iri("authority/E09000020")},
    }
    # London authorities live in the reference graph: the source graph does not describe them
    assert values(parsed, iri("authority/E09000020"), RDF_TYPE) == set()


def test_a_non_london_authority_is_described_with_its_region() -> None:
    parsed = parse_file("inventory.csv")
    manchester = iri("authority/E08000003")  # line 11
    assert values(parsed, manchester, RDF_TYPE) == {ct("LocalAuthority")}
    assert values(parsed, manchester, LABEL) == {Literal("Manchester")}
    assert values(parsed, manchester, "gssCode") == {Literal("E08000003")}
    assert values(parsed, manchester, "region") == {iri("region/greater-manchester")}
    assert values(parsed, manchester, NamedNode("http://www.w3.org/2002/07/owl#sameAs")) == {
        NamedNode("http://statistics.data.gov.uk/id/statistical-geography/E08000003")
    }
    region = iri("region/greater-manchester")
    assert values(parsed, region, RDF_TYPE) == {ct("Region")}
    assert values(parsed, region, LABEL) == {Literal("Greater Manchester")}


# --- vendors, products, service areas -------------------------------------------------------


def test_vendor_spellings_are_one_vendor_keeping_every_original_name() -> None:
    parsed = parse_file("inventory.csv")
    assert of_type(parsed, "Vendor") == {
        ID + "vendor/" + key
        for key in ("servelec", "civica", "idox", "bartec-auto-id", "capita-business-services")
    }
    civica = iri("vendor/civica")
    assert values(parsed, civica, "originalName") == {Literal("Civica UK Ltd"), Literal("Civica")}
    assert values(parsed, civica, LABEL) == {Literal("Civica UK Ltd")}  # the first spelling seen
    assert values(parsed, iri("vendor/servelec"), "originalName") == {
        Literal("Servelec Ltd"),
        Literal("SERVELEC"),
    }
    assert values(parsed, iri("vendor/idox"), "originalName") == {
        Literal("Idox plc"),
        Literal("Idox"),
    }


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Civica UK Ltd", "civica"),
        ("Civica", "civica"),
        ("CIVICA LIMITED", "civica"),
        ("Civica (UK) Ltd", "civica"),
        ("Civica U.K. Ltd", "civica"),
        ("Idox plc", "idox"),
        ("Capita Business Services Ltd", "capita-business-services"),
        ("Johnson & Johnson", "johnson-and-johnson"),
        ("Microsoft Corporation", "microsoft"),
        ("Société Générale SA", "societe-generale"),
        ("Ltd", "ltd"),  # a name is never emptied
        ("UK Ltd", "uk"),
    ],
)
def test_organisation_key_drops_only_legal_and_country_suffixes(name: str, key: str) -> None:
    assert organisation_key(name) == key
    assert Minter().vendor(name) == iri("vendor/" + key)


def test_product_names_are_normalised_to_one_system() -> None:
    parsed = parse_file("inventory.csv")
    assert of_type(parsed, "System") == {
        ID + "system/" + key
        for key in ("mosaic", "revenues-online", "spydus", "uniform", "bartec-collective", "xpress")
    }
    mosaic = iri("system/mosaic")  # "Mosaic", "Mosaic " and "MOSAIC"
    assert values(parsed, mosaic, "originalName") == {Literal("Mosaic"), Literal("MOSAIC")}
    assert values(parsed, mosaic, LABEL) == {Literal("Mosaic")}
    assert values(parsed, mosaic, "manufacturer") == {iri("vendor/servelec")}
    assert values(parsed, iri("system/xpress"), "manufacturer") == {iri("vendor/idox")}
    assert product_key(" MOSAIC ") == product_key("Mosaic") == "mosaic"
    assert slug("Adults & Social Care") == "adults-and-social-care"


def test_service_areas_are_labelled_and_classified_by_lgsl() -> None:
    parsed = parse_file("inventory.csv")
    assert len(of_type(parsed, "ServiceArea")) == 7
    council_tax = iri("service-area/council-tax")  # "57;58" on line 3, "57" on line 11
    assert values(parsed, council_tax, "classifiedAs") == {
        iri("service/lgsl/57"),
        iri("service/lgsl/58"),
    }
    assert values(parsed, council_tax, LABEL) == {Literal("Council tax")}
    early_help = iri("service-area/children-s-early-help-services")
    assert values(parsed, early_help, LABEL) == {Literal('Children\'s "early help" services')}
    waste = iri("service-area/waste-and-recycling")  # a quoted newline in the cell
    assert values(parsed, waste, LABEL) == {Literal("Waste and\nrecycling")}
    assert values(parsed, iri("service-area/planning"), "classifiedAs") == set()


def test_supplier_defaults_to_the_manufacturer() -> None:
    parsed = parse_file("inventory.csv")
    # line 2: no supplier, made by Servelec Ltd
    assert values(parsed, iri("contract/E09000012/adult-social-care/mosaic"), "supplier") == {
        iri("vendor/servelec")
    }
    # line 8: made by Servelec Ltd, supplied by Capita Business Services Ltd
    camden = iri("contract/E09000007/children-s-early-help-services/mosaic")
    assert values(parsed, camden, "supplier") == {iri("vendor/capita-business-services")}
    assert values(parsed, iri("system/mosaic"), "manufacturer") == {iri("vendor/servelec")}


def test_coded_values_in_any_case_become_terms() -> None:
    parsed = parse_file("inventory.csv")
    barking = iri("deployment/E09000002/adult-social-care/mosaic")  # "SaaS", " 2022-06-01 "
    assert values(parsed, barking, "hosting") == {ct("SaaS")}
    assert values(parsed, iri("contract/E09000002/adult-social-care/mosaic"), "startDate") == {
        typed("2022-06-01", "date")
    }
    assert values(parsed, iri("deployment/E09000012/council-tax/revenues-online"), "hosting") == {
        ct("OnPremises")
    }
    assert values(parsed, iri("deployment/E09000012/planning/uniform"), "function") == {
        ct("Corporate")
    }


def test_values_that_do_not_parse_stay_typed_literals_for_the_shapes() -> None:
    parsed = parse_file("inventory_bad.csv")
    dep = iri("deployment/E09000007/parking/chipside")  # line 7
    con = iri("contract/E09000007/parking/chipside")
    assert values(parsed, con, "startDate") == {typed("2024-13-01", "date")}
    assert values(parsed, con, "annualValue") == {typed("abc", "decimal")}
    assert values(parsed, dep, "satisfaction") == {typed("7", "integer")}
    assert values(parsed, dep, "hosting") == {Literal("mainframe")}
    assert values(parsed, dep, "inHouseSkill") == {Literal("guru")}
    assert parsed.lines[dep.value] == parsed.lines[con.value] == 7


# --- standards ---------------------------------------------------------------------------


def test_curated_standards_match_by_name_or_alias() -> None:
    parsed = parse_file("inventory.csv")
    barking = iri("deployment/E09000002/adult-social-care/mosaic")  # "FHIR"
    assert values(parsed, barking, CONFORMS_TO) == {FHIR}
    camden = iri("deployment/E09000007/children-s-early-help-services/mosaic")
    # "Swagger;Borough Case Interchange 1.0": Swagger is an alias of OpenAPI
    assert values(parsed, camden, CONFORMS_TO) == {
        OPENAPI,
        iri("standard/borough-case-interchange-1-0"),
    }
    # curated standards are reference data: not described again in the source graph
    assert values(parsed, FHIR, RDF_TYPE) == set()


def test_an_unknown_standard_becomes_a_new_standard_with_a_warning() -> None:
    parsed = parse_file("inventory.csv")
    new = iri("standard/borough-case-interchange-1-0")
    assert values(parsed, new, RDF_TYPE) == {ct("Standard")}
    assert values(parsed, new, LABEL) == {Literal("Borough Case Interchange 1.0")}
    assert messages(parsed, Severity.VIOLATION) == []
    [warning] = [f for f in parsed.report.findings if f.severity is Severity.WARNING]
    assert warning.line == 8
    assert warning.value == "Borough Case Interchange 1.0"
    assert "unknown standard 'Borough Case Interchange 1.0'" in warning.message
    assert warning.describe().startswith("inventory.csv:8: Warning: ")


def test_an_unknown_standard_named_twice_is_one_standard_and_one_warning() -> None:
    parsed = parse_bytes(
        inventory(
            row("Hackney", "Parking", "PermitPad", "Quaggy Ltd", standards="Kerb Data 2"),
            row("Camden", "Parking", "PermitPad", "Quaggy Ltd", standards="kerb data 2;FHIR"),
        )
    )
    assert of_type(parsed, "Standard") == {ID + "standard/kerb-data-2"}
    [(line, message)] = messages(parsed, Severity.WARNING)
    assert line == 2
    assert message.startswith("unknown standard 'Kerb Data 2': added as a new standard")
    assert values(parsed, iri("deployment/E09000007/parking/permitpad"), CONFORMS_TO) == {
        iri("standard/kerb-data-2"),
        FHIR,
    }


# --- loader violations name the line ------------------------------------------------------


def test_unknown_authority_unknown_lgsl_duplicates_and_gaps_are_violations_by_line() -> None:
    parsed = parse_file("inventory_bad.csv")
    violations = [f for f in parsed.report.findings if f.severity is Severity.VIOLATION]
    assert [(f.line, f.value) for f in violations] == [
        (3, "Narnia"),
        (4, "99999"),
        (5, ""),
        (6, ""),
    ]
    assert [f.message for f in violations] == [
        "unknown authority 'Narnia'",
        "unknown LGSL id '99999'",
        "duplicate row: Hackney, 'Adult Social Care', 'MOSAIC' is already on line 2",
        "missing value for required column(s) system",
    ]
    assert {f.constraint for f in violations} == {"loader"}
    assert {f.source for f in violations} == {"inventory_bad.csv"}
    assert violations[0].describe() == (
        "inventory_bad.csv:3: Violation: unknown authority 'Narnia'"
    )
    # the row with the unknown authority emits nothing
    assert not any("narnia" in str(t).lower() for t in parsed.triples)


def test_the_first_data_row_is_line_two() -> None:
    parsed = parse_bytes(
        inventory(
            row("Atlantis", "Parking", "PermitPad", "Quaggy Ltd"),
            row("Hackney", "Parking", "PermitPad", "Quaggy Ltd", lgsl="57;0;abc"),
        )
    )
    assert messages(parsed, Severity.VIOLATION) == [
        (2, "unknown authority 'Atlantis'"),
        (3, "unknown LGSL id '0'"),
        (3, "unknown LGSL id 'abc'"),
    ]


def test_header_problems_are_violations_on_line_one() -> None:
    data = inventory(row("Hackney", "Parking", "PermitPad", "Quaggy Ltd"))
    parsed = parse_bytes(data.replace(b"authority,", b"authorty,", 1))
    assert parsed.triples == []
    lines = {f.line for f in parsed.report.violations}
    assert lines == {1}
    text = " ".join(f.message for f in parsed.report.violations)
    assert "unknown column(s) 'authorty'" in text
    assert "missing required column(s) 'authority'" in text


def test_a_row_of_the_wrong_width_is_a_violation_naming_its_line() -> None:
    data = inventory(row("Hackney", "Parking", "PermitPad", "Quaggy Ltd")) + b"Camden,Parking\n"
    parsed = parse_bytes(data)
    assert messages(parsed, Severity.VIOLATION) == [(3, "2 fields where the header has 14")]
    assert len(of_type(parsed, "Deployment")) == 1


HEADER = ",".join(INVENTORY_COLUMNS).encode() + b"\n"


@pytest.mark.parametrize(
    ("data", "kind", "expected"),
    [
        (
            HEADER + b'Hackney,"Adult" social care,,,Mosaic,Servelec,,,,,,,,\n',
            None,
            "bad.csv: line 2: malformed CSV: ',' expected after '\"'",
        ),
        (
            HEADER + b'Hackney,"Adult social care,,,Mosaic,Servelec,,,,,,,,\n',
            None,
            "bad.csv: line 2: malformed CSV: unexpected end of data",
        ),
        (
            HEADER + "Hackney,Café,,,Mosaic,Servelec,,,,,,,,\n".encode("latin-1"),
            None,
            "bad.csv: line 2: the file is not UTF-8 text (byte 0xe9 cannot be decoded)",
        ),
        (b"", None, "bad.csv: line 1: no header row"),
        (b"foo,bar\n1,2\n", None, "bad.csv: line 1: the header names neither an inventory"),
        (b"foo,bar\n1,2\n", "inventory-csv", "bad.csv: line 1: no header row; the first line"),
        (b"Hackney,Parking,PermitPad\n", "projects-csv", "bad.csv: line 1: no header row"),
    ],
)
def test_malformed_csv_raises_input_error_with_the_line(
    data: bytes, kind: str | None, expected: str
) -> None:
    with pytest.raises(InputError) as caught:
        parse_bytes(data, source="bad.csv", kind=kind)
    assert str(caught.value).startswith(expected)


def test_bom_crlf_upper_case_and_reordered_columns_are_read() -> None:
    reordered = (
        "\ufeffSYSTEM,Manufacturer,Authority,Service_Area\r\n"
        "Mosaic,Servelec Ltd,Hackney,Adult social care\r\n"
    ).encode()
    parsed = parse_bytes(reordered)
    assert messages(parsed, Severity.VIOLATION) == []
    dep = iri("deployment/E09000012/adult-social-care/mosaic")
    assert values(parsed, dep, "system") == {iri("system/mosaic")}
    assert parsed.lines[dep.value] == 2


# --- input kind --------------------------------------------------------------------------

OCDS_BYTES = (DATA / "ocds_release_package.json").read_bytes()
JSONLD_BYTES = (DATA / "region.jsonld").read_bytes()
INVENTORY_BYTES = (DATA / "inventory.csv").read_bytes()
PROJECTS_BYTES = (DATA / "projects.csv").read_bytes()


@pytest.mark.parametrize(
    ("source", "data", "kind", "expected"),
    [
        ("inventory.csv", INVENTORY_BYTES, None, "inventory-csv"),
        ("INVENTORY.CSV", INVENTORY_BYTES, None, "inventory-csv"),
        ("projects.csv", PROJECTS_BYTES, None, "projects-csv"),
        ("a.ttl", b"", None, "turtle"),
        ("a.turtle", b"", None, "turtle"),
        ("a.nt", b"", None, "ntriples"),
        ("a.nq", b"", None, "nquads"),
        ("a.trig", b"", None, "trig"),
        ("a.rdf", b"", None, "rdfxml"),
        ("a.owl", b"", None, "rdfxml"),
        ("a.xml", b"", None, "rdfxml"),
        ("a.jsonld", b"", None, "jsonld"),
        ("package.json", OCDS_BYTES, None, "ocds"),
        ("graph.json", JSONLD_BYTES, None, "jsonld"),
        # --format overrides the extension and the content
        ("inventory.csv", INVENTORY_BYTES, "projects-csv", "projects-csv"),
        ("data.txt", b"", "Turtle", "turtle"),
        ("upload", b"", "text/turtle; charset=utf-8", "turtle"),
        ("upload", b"", "application/ld+json", "jsonld"),
        ("upload", b"", "application/n-quads", "nquads"),
        ("upload", PROJECTS_BYTES, "text/csv", "projects-csv"),
    ],
)
def test_input_kind_from_extension_header_and_override(
    source: str, data: bytes, kind: str | None, expected: str
) -> None:
    assert detect_kind(data, source=source, kind=kind) == expected
    assert expected in KINDS


def test_an_unknown_extension_or_kind_asks_for_format() -> None:
    with pytest.raises(InputError, match=r"data\.txt: cannot tell the input kind .*--format"):
        detect_kind(b"", source="data.txt")
    with pytest.raises(InputError) as caught:
        detect_kind(b"", source="a.ttl", kind="excel")
    assert str(caught.value) == (
        "a.ttl: unknown input kind 'excel'; use one of: inventory-csv, projects-csv, ocds, "
        "turtle, ntriples, nquads, trig, rdfxml, jsonld"
    )


def test_the_kind_override_picks_the_loader() -> None:
    projects = parse_source(
        PROJECTS_BYTES, source="projects.txt", kind="projects-csv", minter=Minter()
    )
    assert projects.kind == "projects-csv"
    assert len(of_type(projects, "Project")) == 3
    with pytest.raises(InputError, match=r"inventory\.csv: Turtle syntax error: .*line 1"):
        parse_source(INVENTORY_BYTES, source="inventory.csv", kind="turtle", minter=Minter())


# --- RDF inputs --------------------------------------------------------------------------


@pytest.mark.parametrize("name", RDF_FILES)
def test_every_rdf_syntax_parses_to_the_same_triples(name: str) -> None:
    reference = set(parse_file("region.ttl").triples)
    parsed = parse_file(name)
    assert (
        parsed.kind
        == {
            "ttl": "turtle",
            "nt": "ntriples",
            "nq": "nquads",
            "trig": "trig",
            "rdf": "rdfxml",
            "jsonld": "jsonld",
        }[name.rsplit(".", 1)[1]]
    )
    assert set(parsed.triples) == reference
    assert len(parsed.triples) == len(reference) == 28
    contract = NamedNode("https://example.org/gm/id/contract/salford-casebook")
    assert values(parsed, contract, "annualValue") == {typed("64000.5", "decimal")}
    assert values(parsed, NamedNode("https://example.org/gm/id/system/casebook"), LABEL) == {
        Literal("Casebook", language="en")
    }
    area = NamedNode("https://example.org/gm/id/service-area/adult-social-care")
    assert values(parsed, area, LABEL) == {Literal('Adult social care — Salford\'s "front door"')}


@pytest.mark.parametrize("name", RDF_FILES)
def test_named_graphs_in_a_file_are_merged_with_a_warning(name: str) -> None:
    parsed = parse_file(name)
    warnings = [f.message for f in parsed.report.findings]
    assert all(f.severity is Severity.WARNING for f in parsed.report.findings)
    if name.endswith((".nq", ".trig")):
        assert warnings == [
            "22 triple(s) in named graph(s) <https://example.org/gm/graph/inventory> are kept "
            "in this source's one graph"
        ]
    else:
        assert warnings == []


def test_line_based_rdf_maps_subjects_to_lines() -> None:
    nt = parse_file("region.nt")  # line 1 is a comment
    assert nt.lines[ID + "region/greater-manchester"] == 2
    assert nt.lines[ID + "authority/E08000006"] == 4
    assert nt.lines["https://example.org/gm/id/contract/salford-casebook"] == 23
    assert parse_file("region.ttl").lines == {}


def test_a_triple_stated_twice_is_kept_once() -> None:
    data = b"""@prefix ct: <https://w3id.org/citytools/ontology#> .
<https://example.org/v/a> a ct:Vendor .
<https://example.org/g1> { <https://example.org/v/a> a ct:Vendor . }
<https://example.org/g2> { <https://example.org/v/a> a ct:Vendor . }
"""
    parsed = parse_bytes(data, source="twice.trig")
    assert parsed.triples == [Triple(NamedNode("https://example.org/v/a"), RDF_TYPE, ct("Vendor"))]
    ntriples = b'<https://example.org/a> <https://example.org/p> "x" .\n' * 2
    assert len(parse_bytes(ntriples, source="twice.nt").triples) == 1


@pytest.mark.parametrize(
    ("kind", "data", "expected"),
    [
        (
            "turtle",
            b"@prefix ex: <http://example.org/> .\nex:a ex:p ex:b .\nex:c ex:p .\n",
            "bad: Turtle syntax error: Parser error at line 3 column 11",
        ),
        (
            "ntriples",
            b"<http://example.org/a> <http://example.org/p> <http://example.org/b> .\n"
            b"<http://example.org/a> <http://example.org/p> .\n",
            "bad: N-Triples syntax error: Parser error at line 2",
        ),
        (
            "nquads",
            b"<http://example.org/a> .\n",
            "bad: N-Quads syntax error: Parser error at line 1",
        ),
        (
            "trig",
            b"<http://g> { <http://example.org/a> <http://example.org/p> }\n",
            "bad: TriG syntax error: Parser error at line 1",
        ),
        (
            "rdfxml",
            b'<?xml version="1.0"?>\n<rdf:RDF '
            b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
            b'<rdf:Description rdf:about="http://example.org/a">\n</rdf:RDF>\n',
            "bad: RDF/XML syntax error: line 4 column 3",
        ),
        (
            "jsonld",
            b'{"@id": "http://example.org/a", "http://example.org/p": ',
            "bad: JSON-LD syntax error: Parser error at line 1",
        ),
    ],
)
def test_malformed_rdf_raises_input_error_with_the_position(
    kind: str, data: bytes, expected: str
) -> None:
    with pytest.raises(InputError) as caught:
        parse_bytes(data, source="bad", kind=kind)
    assert str(caught.value).startswith(expected)


# --- OCDS --------------------------------------------------------------------------------

HACKNEY_OCID = "ocds-b5fd17-6a1e4d2c-0d0b-4bd6-9f4e-1a2b3c4d5e6f"
CAMDEN_OCID = "ocds-b5fd17-93c0f1aa-5b7e-4c61-8d2a-77e0c9b1d402"


def test_ocds_release_package_gives_contracts_buyers_and_suppliers() -> None:
    parsed = parse_file("ocds_release_package.json")
    assert parsed.kind == "ocds"
    hackney = iri(f"contract/ocds/{HACKNEY_OCID}/hck-asc-2024-07-c1")
    parking = iri(f"contract/ocds/{CAMDEN_OCID}/cmd-park-0091-c1")
    devices = iri(f"contract/ocds/{CAMDEN_OCID}/cmd-park-0091-c2")
    assert of_type(parsed, "Contract") == {hackney.value, parking.value, devices.value}
    # buyers: Hackney by its GB-LAE register code, Camden by the name "Camden Council"
    assert values(parsed, hackney, "buyer") == {iri("authority/E09000012")}
    assert (
        values(parsed, parking, "buyer")
        == values(parsed, devices, "buyer")
        == {iri("authority/E09000007")}
    )
    # suppliers: named in the award, or only by party id
    assert values(parsed, hackney, "supplier") == {iri("vendor/servelec")}
    assert values(parsed, parking, "supplier") == {iri("vendor/chipside")}
    assert values(parsed, devices, "supplier") == {iri("vendor/nsl")}
    assert of_type(parsed, "Vendor") == {
        ID + "vendor/" + k for k in ("servelec", "chipside", "nsl")
    }
    assert values(parsed, iri("vendor/servelec"), "originalName") == {Literal("Servelec Group Ltd")}
    assert values(parsed, hackney, LABEL) == {
        Literal("Mosaic case management: licences, hosting and support")
    }
    assert values(parsed, hackney, "ocid") == {Literal(HACKNEY_OCID)}
    assert values(parsed, hackney, NamedNode("http://purl.org/dc/terms/identifier")) == {
        Literal("HCK-ASC-2024-07-C1")
    }
    assert values(parsed, hackney, "startDate") == {typed("2024-05-01", "date")}
    assert values(parsed, hackney, "endDate") == {typed("2029-04-30", "date")}
    assert values(parsed, hackney, "totalValue") == {typed("1450000.00", "decimal")}
    assert values(parsed, parking, "totalValue") == {typed("312500.5", "decimal")}
    assert values(parsed, devices, "totalValue") == set()  # EUR
    assert values(parsed, devices, "endDate") == set()
    assert parsed.lines == {}


def test_ocds_warns_about_foreign_values_and_buyers_that_are_not_authorities() -> None:
    parsed = parse_file("ocds_release_package.json")
    assert parsed.report.violations == []
    assert sorted(f.message for f in parsed.report.warnings) == [
        f"contract {CAMDEN_OCID}/CMD-PARK-0091-C2: value in EUR, not GBP; left out",
        "release ocds-b5fd17-1f2e3d4c-aaaa-4bbb-8ccc-0123456789ab: buyer 'Homerton Healthcare "
        "NHS Foundation Trust' is not a UK local authority; skipped",
    ]
    assert not any("example-health" in str(t).lower() for t in parsed.triples)


def _release(ocid: str, date: str, **extra: object) -> dict[str, object]:
    return {
        "ocid": ocid,
        "id": ocid + "-1",
        "date": date,
        "parties": [
            {
                "id": "P1",
                "name": "MANCHESTER CITY COUNCIL",
                "identifier": {"scheme": "GB-GOR", "id": "E08000003"},
                "roles": ["buyer"],
            },
            {"id": "S1", "name": "Acme Civic Software Limited", "roles": ["supplier"]},
        ],
        **extra,
    }


def test_ocds_record_package_with_awards_only_and_a_non_london_buyer() -> None:
    old = _release(
        "ocds-x-1",
        "2024-01-01T00:00:00Z",
        awards=[{"id": "A1", "title": "Old title", "suppliers": [{"id": "S1"}]}],
    )
    new = _release(
        "ocds-x-1",
        "2024-06-01T00:00:00Z",
        awards=[
            {
                "id": "A1",
                "title": "Revenues system",
                "suppliers": [{"id": "S1"}],
                "value": {"amount": "AMOUNT", "currency": "GBP"},
                "contractPeriod": {"startDate": "2024-07-01T00:00:00Z", "endDate": "2028-06-30"},
            }
        ],
    )
    package = {"records": [{"ocid": "ocds-x-1", "compiledRelease": new}]}
    text = json.dumps(package).replace('"AMOUNT"', "1.5e5")  # exponent notation, as published
    parsed = parse_bytes(text.encode(), source="records.json")
    contract = iri("contract/ocds/ocds-x-1/a1")
    assert of_type(parsed, "Contract") == {contract.value}
    assert values(parsed, contract, "buyer") == {iri("authority/E08000003")}
    assert values(parsed, contract, "supplier") == {iri("vendor/acme-civic-software")}
    assert values(parsed, contract, "totalValue") == {typed("150000", "decimal")}
    assert values(parsed, contract, LABEL) == {Literal("Revenues system")}
    assert values(parsed, contract, "startDate") == {typed("2024-07-01", "date")}
    assert values(parsed, contract, "endDate") == {typed("2028-06-30", "date")}
    # a non-London buyer is described in the source graph, with its region
    manchester = iri("authority/E08000003")
    assert values(parsed, manchester, RDF_TYPE) == {ct("LocalAuthority")}
    assert values(parsed, manchester, "region") == {iri("region/greater-manchester")}
    # of two releases of the same contract, the later one wins, whatever their order
    releases = {"releases": [new, old]}
    latest = parse_bytes(json.dumps(releases).encode(), source="releases.json")
    assert values(latest, contract, LABEL) == {Literal("Revenues system")}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'{"releases": [', "bad.json: line 1 column 15: malformed JSON: Expecting value"),
        (b"[1, 2]", "bad.json: not an OCDS package: the top level must be a JSON object"),
        (b'{"uri": "x"}', "bad.json: not an OCDS release package or record package: expected"),
    ],
)
def test_malformed_ocds_raises_input_error(data: bytes, expected: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_bytes(data, source="bad.json", kind="ocds")
    assert str(caught.value).startswith(expected)


# --- projects CSV ------------------------------------------------------------------------


def test_projects_csv() -> None:
    parsed = parse_file("projects.csv")
    assert parsed.kind == "projects-csv"
    gateway = iri("project/shared-fhir-gateway")
    assert of_type(parsed, "Project") == {
        gateway.value,
        ID + "project/open-waste-data",
        ID + "project/joint-electoral-canvass",
    }
    assert values(parsed, gateway, LABEL) == {Literal("Shared FHIR gateway")}
    assert values(parsed, gateway, "leadAuthority") == {iri("authority/E09000012")}
    assert values(parsed, gateway, "partner") == {
        iri("authority/E09000007"),
        iri("authority/E08000003"),
        iri("authority/E09000019"),
    }
    assert values(parsed, gateway, "status") == {ct("StatusActive")}
    assert values(parsed, gateway, "startDate") == {typed("2024-01-15", "date")}
    assert values(parsed, gateway, "usesSystem") == {
        iri("system/mosaic"),
        iri("system/liquidlogic-adults"),
    }
    assert values(parsed, gateway, CONFORMS_TO) == {FHIR, OPENAPI}
    assert values(parsed, gateway, NamedNode("http://xmlns.com/foaf/0.1/homepage")) == {
        NamedNode("https://example.org/projects/fhir-gateway")
    }
    assert parsed.lines[gateway.value] == 2
    canvass = iri("project/joint-electoral-canvass")  # lead "London Borough of Camden"
    assert values(parsed, canvass, "leadAuthority") == {iri("authority/E09000007")}
    assert values(parsed, canvass, NamedNode("http://xmlns.com/foaf/0.1/homepage")) == {
        Literal("not a web address")  # left for the shapes to report
    }
    assert values(parsed, iri("system/mosaic"), RDF_TYPE) == {ct("System")}
    assert values(parsed, iri("authority/E08000003"), RDF_TYPE) == {ct("LocalAuthority")}
    [warning] = parsed.report.findings
    assert (warning.severity, warning.line, warning.value) == (
        Severity.WARNING,
        3,
        "Waste Data Exchange 2",
    )
    assert parsed.lines[gateway.value] == 2


def test_projects_with_unknown_authorities_or_twice_named_are_violations() -> None:
    data = (
        PROJECTS_HEADER + "\n"
        "Shared gateway,Hackney,Narnia;Camden,active,,,,,,\n"
        "Shared Gateway,Camden,,idea,,,,,,\n"
        "Bins,Atlantis,,idea,,,,,,\n"
        ",Camden,,idea,,,,,,\n"
    ).encode()
    parsed = parse_bytes(data, source="projects.csv")
    assert messages(parsed, Severity.VIOLATION) == [
        (2, "unknown authority 'Narnia'"),
        (3, "duplicate project 'Shared Gateway': already on line 2"),
        (4, "unknown authority 'Atlantis'"),
        (5, "missing value for required column(s) project"),
    ]


# --- stable IRIs -------------------------------------------------------------------------

STABLE_SOURCES = [
    ("inventory.csv", INVENTORY_BYTES),
    ("projects.csv", PROJECTS_BYTES),
    ("ocds_release_package.json", OCDS_BYTES),
    ("demo-inventory.csv", demo_file("inventory.csv").read_bytes()),
    ("demo-projects.csv", demo_file("projects.csv").read_bytes()),
    *((name, (DATA / name).read_bytes()) for name in RDF_FILES),
]


@pytest.mark.parametrize(("source", "data"), STABLE_SOURCES, ids=[s for s, _ in STABLE_SOURCES])
def test_the_same_input_parsed_twice_gives_identical_triples(source: str, data: bytes) -> None:
    first = parse_source(data, source=source, kind=None, minter=Minter())
    second = parse_source(data, source=source, kind=None, minter=Minter())
    assert first.triples  # something to compare
    assert set(first.triples) == set(second.triples)
    assert len(first.triples) == len(set(first.triples))  # and no triple twice
    assert first.lines == second.lines


def test_iris_are_minted_under_the_configured_base() -> None:
    base = "https://example.org/manchester/id/"
    parsed = parse_file("inventory.csv", minter=Minter(base))
    minted = {
        t.subject.value
        for t in parsed.triples
        if isinstance(t.subject, NamedNode) and t.predicate == RDF_TYPE
    }
    assert len(minted) == 9 + 9 + 6 + 5 + 7 + 1 + 1 + 1  # deps, contracts, systems, vendors,
    # service areas, the new standard, Manchester and its region
    assert all(s.startswith(base) for s in minted), sorted(s for s in minted if base not in s)
    assert values(parsed, NamedNode(base + "service-area/council-tax"), "classifiedAs") == {
        NamedNode(base + "service/lgsl/57"),
        NamedNode(base + "service/lgsl/58"),
    }
    assert not any(
        ID in t.subject.value for t in parsed.triples if isinstance(t.subject, NamedNode)
    )
