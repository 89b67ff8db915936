"""The validator's two engines: the compiled one on the widened subset (sh:node, sh:or,
sh:and, sh:not, sh:xone, node-level constraints, complex paths, more targets) against
pySHACL; and pySHACL itself for the shapes outside the subset, beside the product's own.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyshacl
import pytest
from pyoxigraph import BlankNode, Literal, NamedNode, RdfFormat, Triple, parse
from rdflib import BNode, Graph
from shacl_support import SH, Key, conforms, result_keys, the_report

from citytools.report import Severity
from citytools.resources import ontology_file, shapes_file
from citytools.service.validation.validator import Validator

DATA = Path(__file__).parent / "data"
LOGIC_SHAPES = DATA / "validation" / "logic-shapes.ttl"
LOGIC_DATA = DATA / "validation" / "logic-data.ttl"
EX = "http://example.org/ns#"
CT = "https://w3id.org/citytools/ontology#"
RDFS_LABEL = NamedNode("http://www.w3.org/2000/01/rdf-schema#label")
RDF_TYPE = NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
VENDOR = NamedNode(CT + "Vendor")


def triples(path: Path) -> list[Triple]:
    return [q.triple for q in parse(path.read_bytes(), format=RdfFormat.TURTLE)]


def engine_keys(validator: Validator, data: list[Triple], *, complete: bool) -> Counter[Key]:
    report = validator.validate(data, complete=complete)
    graph = Graph().parse(data=validator.report_turtle(report), format="turtle")
    return result_keys(graph, the_report(graph))


def pyshacl_keys(data: Graph, shapes: Graph) -> tuple[Counter[Key], bool]:
    _, report, _ = pyshacl.validate(data, shacl_graph=shapes, inference="none")
    return result_keys(report, the_report(report)), conforms(report, the_report(report))


@pytest.fixture(scope="module")
def logic() -> Validator:
    return Validator(LOGIC_SHAPES.read_bytes(), [])


@pytest.fixture(scope="module")
def reference() -> Counter[Key]:
    data = Graph().parse(LOGIC_DATA, format="turtle")
    keys, _ = pyshacl_keys(data, Graph().parse(LOGIC_SHAPES, format="turtle"))
    return keys


def test_the_logic_shapes_compile_entirely(logic: Validator) -> None:
    assert logic.compiled.delegated == {}
    assert len(logic.compiled.compiled) == 6
    assert logic.pyshacl_shapes == []


def test_compiled_engine_reports_what_pyshacl_reports(
    logic: Validator, reference: Counter[Key]
) -> None:
    assert engine_keys(logic, triples(LOGIC_DATA), complete=True) == reference
    components = {key[3].rsplit("#")[-1][:-20] for key in reference}
    assert components >= {
        "Or", "Node", "Xone", "Not", "And", "LanguageIn", "Class", "Datatype", "NodeKind",
        "In", "Pattern", "MinLength", "MaxLength", "MinCount", "MaxCount", "Equals",
        "Disjoint", "LessThanOrEquals",
    }  # fmt: skip
    assert sum(reference.values()) > 30


def test_without_complete_only_candidate_subjects_are_focus_nodes(
    logic: Validator, reference: Counter[Key]
) -> None:
    data = triples(LOGIC_DATA)
    subjects = {f"<{t.subject.value}>" for t in data if isinstance(t.subject, NamedNode)}
    subjects.add("_:")
    expected = Counter({k: n for k, n in reference.items() if k[0] in subjects})
    assert engine_keys(logic, data, complete=False) == expected
    assert expected != reference  # ex:nobody (a target node) and objects such as ex:work


@pytest.mark.parametrize(
    ("amount", "conforming"),
    [("1200", True), ("1200.0", True), ('"1200"', False), ("1.2e3", False)],
)
def test_sh_or_takes_an_integer_or_a_decimal_amount(
    logic: Validator, amount: str, conforming: bool
) -> None:
    data = f"<{EX}o> a <{EX}Order> ; <{EX}amount> {amount} ; <{EX}line> <{EX}l> . " + (
        f'<{EX}l> <{EX}quantity> 1 ; <{EX}sku> "a", "b" .'
    )
    found = logic.validate([q.triple for q in parse(data.encode(), format=RdfFormat.TURTLE)])
    assert [f.constraint for f in found.findings] == (
        [] if conforming else ["sh:OrConstraintComponent"]
    )
    shapes = Graph().parse(LOGIC_SHAPES)
    reference, _ = pyshacl_keys(Graph().parse(data=data, format="turtle"), shapes)
    about_the_order = [key for key in reference if key[0] == f"<{EX}o>"]
    assert (about_the_order == []) is conforming


# A rule outside the compiled subset, added to the product's shapes as a data architect might.
EXTRA = b"""
ctsh:VendorLabelLanguages
    a sh:NodeShape ;
    sh:targetClass ct:Vendor ;
    sh:property [ sh:path rdfs:label ; sh:uniqueLang true ;
                  sh:message "A vendor has at most one name per language"@en ] .
"""
VENDOR_RULE = "A vendor has at most one name per language"


@pytest.fixture(scope="module")
def extended() -> Validator:
    context = list(parse(ontology_file().read_bytes(), format=RdfFormat.TURTLE))
    twice = NamedNode("https://w3id.org/citytools/id/vendor/context-twice")
    context_vendor = [
        Triple(twice, RDF_TYPE, VENDOR),
        Triple(twice, RDFS_LABEL, Literal("One", language="en")),
        Triple(twice, RDFS_LABEL, Literal("Two", language="en")),
    ]
    quads = context + list(parse(_turtle(context_vendor), format=RdfFormat.N_TRIPLES))
    return Validator(shapes_file().read_bytes() + EXTRA, quads)


def _turtle(found: list[Triple]) -> bytes:
    return "".join(f"{t} .\n" for t in found).encode()


def test_the_product_shapes_stay_compiled_beside_a_shape_for_pyshacl(extended: Validator) -> None:
    assert len(extended.compiled.compiled) == 13
    assert extended.pyshacl_shapes == ["ctsh:VendorLabelLanguages"]
    assert "sh:uniqueLang on a property shape" in next(iter(extended.compiled.delegated.values()))
    product = Validator(shapes_file(), [])
    assert extended.constraints == product.constraints


def test_results_of_both_engines_make_one_report(extended: Validator) -> None:
    good = triples(DATA / "shapes" / "good.ttl")
    civica = NamedNode("https://w3id.org/citytools/id/vendor/civica")
    data = [*good, Triple(civica, RDFS_LABEL, Literal("Civica UK", language="en"))]
    data.append(Triple(civica, RDFS_LABEL, Literal("Civica Group", language="en")))
    report = extended.validate(data, lines={civica.value: 7}, source="inventory.csv")
    (found,) = [f for f in report.findings if f.message == VENDOR_RULE]
    assert (found.focus, found.line, found.source) == (civica.value, 7, "inventory.csv")
    assert (found.constraint, found.severity) == (
        "sh:UniqueLangConstraintComponent",
        Severity.VIOLATION,
    )
    assert found.path == RDFS_LABEL.value
    assert found.shape.startswith("_:")  # the blank property shape of the shapes graph
    # the compiled results are the product's own; the context's vendor is not reported
    product = Validator(
        shapes_file(), list(parse(ontology_file().read_bytes(), format=RdfFormat.TURTLE))
    )
    assert [f for f in report.findings if f is not found] == product.validate(
        data, lines={civica.value: 7}, source="inventory.csv"
    ).findings
    assert report.pyshacl_shapes == ["ctsh:VendorLabelLanguages"]
    assert report.engine_line() == (
        "validated by pySHACL: 1 shape outside the compiled subset (ctsh:VendorLabelLanguages)"
    )
    assert report.as_json()["validatedByPySHACL"] == ["ctsh:VendorLabelLanguages"]
    turtle = Graph().parse(data=extended.report_turtle(report), format="turtle")
    shapes = list(turtle.objects(None, SH.sourceShape))
    assert any(isinstance(s, BNode) and (s, SH.uniqueLang, None) in turtle for s in shapes)


def test_focus_and_blank_nodes_hold_for_pyshacl_results(extended: Validator) -> None:
    anonymous, named = BlankNode(), NamedNode("https://w3id.org/citytools/id/vendor/v")
    data = [
        Triple(node, p, o)
        for node in (anonymous, named)
        for p, o in [
            (RDF_TYPE, VENDOR),
            (RDFS_LABEL, Literal("A", language="en")),
            (RDFS_LABEL, Literal("B", language="en")),
        ]
    ]
    report = extended.validate(data, lines={str(anonymous): 3})
    assert {(f.focus, f.line) for f in report.findings if f.message == VENDOR_RULE} == {
        (str(anonymous), 3),
        (named.value, None),
    }
    narrowed = extended.validate(data, focus={named.value})
    assert {f.focus for f in narrowed.findings} == {named.value}
    assert extended.validate(data, focus=set()).findings == []
