"""The SPARQL validation engine: the same results as pySHACL, lines, focus; which shapes are
refused, which go to pySHACL and which the widened subset now compiles.

Every fixture of tests/data/shapes/ (the product's shapes, with the ontology as context)
and of tests/data/validation/ (test shapes using the rest of the compiled subset) is
validated by the engine and by pySHACL on data + context; both must report the same
(focus node, path, constraint component, severity) set.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pyshacl
import pytest
from pyoxigraph import BlankNode, Literal, NamedNode, Quad, RdfFormat, Triple, parse
from rdflib import RDF, BNode, Graph, Namespace

from citytools.report import Finding, Severity
from citytools.resources import ontology_file, shapes_file
from citytools.service.validation.validator import ShapesError, Validator, changed_focus

DATA = Path(__file__).parent / "data"
OWN = DATA / "validation"
SH = Namespace("http://www.w3.org/ns/shacl#")
EX = "http://example.org/ns#"
ID = "https://w3id.org/citytools/id/"
PREAMBLE = """
@prefix ex:   <http://example.org/ns#> .
@prefix ct:   <https://w3id.org/citytools/ontology#> .
@prefix sh:   <http://www.w3.org/ns/shacl#> .
@prefix rdf:  <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix xsd:  <http://www.w3.org/2001/XMLSchema#> .
"""

Key = tuple[str, str, str, str]  # focus node, path, constraint component, severity


@dataclass(frozen=True)
class Suite:
    """A shapes graph with its context, as the engine and as pySHACL see them."""

    validator: Validator
    shapes: Graph
    context: Graph


def _suite(shapes: bytes, context: bytes) -> Suite:
    return Suite(
        Validator(shapes, parse(context, format=RdfFormat.TURTLE)),
        Graph().parse(data=shapes, format="turtle"),
        Graph().parse(data=context, format="turtle"),
    )


@pytest.fixture(scope="module")
def suites() -> dict[str, Suite]:
    return {
        "shapes": _suite(shapes_file().read_bytes(), ontology_file().read_bytes()),
        "validation": _suite((OWN / "shapes.ttl").read_bytes(), (OWN / "context.ttl").read_bytes()),
    }


@pytest.fixture(scope="module")
def city(suites: dict[str, Suite]) -> Validator:
    return suites["shapes"].validator


@pytest.fixture(scope="module")
def own(suites: dict[str, Suite]) -> Validator:
    return suites["validation"].validator


def triples_of(turtle: str | bytes) -> list[Triple]:
    data = PREAMBLE.encode() + (turtle.encode() if isinstance(turtle, str) else turtle)
    return [q.triple for q in parse(data, format=RdfFormat.TURTLE)]


def engine_keys(findings: list[Finding]) -> set[Key]:
    return {(_blank(f.focus), f.path, f.constraint, f.severity.value) for f in findings}


def _blank(focus: str) -> str:
    return "_:" if focus.startswith("_:") else focus  # the two parsers name blank nodes apart


def pyshacl_keys(fixture: Path, suite: Suite) -> set[Key]:
    data = Graph().parse(fixture, format="turtle")
    data += suite.context
    _, report, _ = pyshacl.validate(
        data, shacl_graph=suite.shapes, ont_graph=None, inference="none"
    )
    keys = set()
    for result in report.subjects(RDF.type, SH.ValidationResult):
        focus, path = report.value(result, SH.focusNode), report.value(result, SH.resultPath)
        if isinstance(path, BNode):
            path = f"^{report.value(path, SH.inversePath)}"
        component = str(report.value(result, SH.sourceConstraintComponent))
        severity = str(report.value(result, SH.resultSeverity))
        keys.add(
            (
                "_:" if isinstance(focus, BNode) else str(focus),
                "" if path is None else str(path),
                "sh:" + component.removeprefix(str(SH)),
                severity.removeprefix(str(SH)),
            )
        )
    return keys


def header_messages(fixture: Path) -> set[str]:
    """The `# message:` lines of a tests/data/shapes fixture's header."""
    messages = set()
    for line in fixture.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        if line.startswith("# message: "):
            messages.add(line.removeprefix("# message: "))
    return messages


FIXTURES = [
    pytest.param(suite, path, id=f"{suite}/{path.stem}")
    for suite, paths in (
        ("shapes", sorted((DATA / "shapes").glob("*.ttl"))),
        ("validation", sorted(OWN.glob("people-*.ttl"))),
    )
    for path in paths
]


def test_there_are_fixtures_for_both_shapes_graphs() -> None:
    suites = [param.values[0] for param in FIXTURES]
    assert suites.count("shapes") >= 70
    assert suites.count("validation") == 2


@pytest.mark.filterwarnings("ignore:Parsing weird boolean:UserWarning")  # rdflib on "yes"
@pytest.mark.parametrize(("suite", "fixture"), FIXTURES)
def test_engine_reports_what_pyshacl_reports(
    suite: str, fixture: Path, suites: dict[str, Suite]
) -> None:
    report = suites[suite].validator.validate(triples_of(fixture.read_bytes()))
    assert engine_keys(report.findings) == pyshacl_keys(fixture, suites[suite])
    if suite == "shapes":
        assert {f.message for f in report.findings} == header_messages(fixture)


def test_the_broken_fixture_exercises_every_component(own: Validator) -> None:
    report = own.validate(triples_of((OWN / "people-broken.ttl").read_bytes()))
    components = {f.constraint[3:-19] for f in report.findings}
    assert components == {
        "MinCount", "MaxCount", "Datatype", "Class", "NodeKind", "In", "HasValue", "Pattern",
        "MinInclusive", "MaxInclusive", "MinExclusive", "MaxExclusive", "MinLength",
        "MaxLength", "LessThan", "SPARQL",
    }  # fmt: skip
    assert len(report.findings) == 37
    assert len(report.violations) == 33
    by_severity = {(f.severity, f.constraint) for f in report.warnings}
    assert by_severity == {
        (Severity.WARNING, "sh:PatternConstraintComponent"),
        (Severity.WARNING, "sh:MaxCountConstraintComponent"),
        (Severity.WARNING, "sh:SPARQLConstraintComponent"),
        (Severity.INFO, "sh:NodeKindConstraintComponent"),
    }


def test_a_finding_carries_focus_path_value_component_and_source(city: Validator) -> None:
    fixture = DATA / "shapes" / "bad-date-literal.ttl"
    report = city.validate(triples_of(fixture.read_bytes()), source="bad.ttl")
    contract = ID + "contract/E09000012/adult-social-care/mosaic"
    assert report.findings == [
        Finding(
            severity=Severity.VIOLATION,
            message="An end date must be a valid calendar date written YYYY-MM-DD",
            focus=contract,
            path="https://w3id.org/citytools/ontology#endDate",
            value="2024-13-01",
            line=None,
            source="bad.ttl",
            constraint="sh:DatatypeConstraintComponent",
            shape="https://w3id.org/citytools/shapes#EndDateValue",
            value_term='"2024-13-01"^^<http://www.w3.org/2001/XMLSchema#date>',
            language="en",
        )
    ]
    assert not report.conforms


@pytest.mark.parametrize(
    ("predicate", "literal", "bad"),
    [
        ("ex:d", '"2024-13-01"^^xsd:date', True),
        ("ex:d", '"2024-02-30"^^xsd:date', True),
        ("ex:d", '"2024-02-29"^^xsd:date', False),
        ("ex:d", '"2024-01-01"', True),  # right form, no datatype
        ("ex:i", '"abc"^^xsd:integer', True),
        ("ex:i", '"12"^^xsd:integer', False),
        ("ex:i", '"12"^^xsd:decimal', True),  # right form, wrong datatype
        ("ex:y", '"twenty"^^xsd:gYear', True),  # rdflib (so pySHACL) does not check gYear
        ("ex:y", '"2020"^^xsd:gYear', False),
    ],
)
def test_ill_typed_literals_break_sh_datatype(predicate: str, literal: str, bad: bool) -> None:
    shapes = PREAMBLE + (
        "ex:S a sh:NodeShape ; sh:targetClass ex:T ; sh:property "
        "[ sh:path ex:d ; sh:datatype xsd:date ] , [ sh:path ex:i ; sh:datatype xsd:integer ] , "
        "[ sh:path ex:y ; sh:datatype xsd:gYear ] ."
    )
    validator = Validator(shapes.encode(), [])
    report = validator.validate(triples_of(f"ex:x a ex:T ; {predicate} {literal} ."))
    assert [(f.constraint, f.value) for f in report.findings] == (
        [("sh:DatatypeConstraintComponent", literal.split('"')[1])] if bad else []
    )


def test_values_that_cannot_be_compared_break_pair_constraints(city: Validator) -> None:
    # SHACL: "or where the two values cannot be compared". pySHACL 0.40 misses this (or
    # crashes with a TypeError), so it is checked here rather than against pySHACL.
    data = (
        (DATA / "shapes" / "bad-date-literal.ttl").read_bytes()
        + b"""
        <https://w3id.org/citytools/id/contract/E09000012/adult-social-care/mosaic>
            ct:startDate "2021-04-01"^^xsd:date .
    """
    )
    report = city.validate(triples_of(data))
    assert sorted((f.constraint, f.path.rsplit("#")[-1], f.value) for f in report.findings) == [
        ("sh:DatatypeConstraintComponent", "endDate", "2024-13-01"),
        ("sh:LessThanOrEqualsConstraintComponent", "startDate", "2021-04-01"),
    ]


def test_lines_come_from_the_focus_or_the_nearest_resource_pointing_to_it(
    city: Validator,
) -> None:
    data = (
        (DATA / "shapes" / "good.ttl").read_bytes()
        + b"""
        <https://w3id.org/citytools/id/contract/E09000012/council-tax/openrevenues>
            ct:endDate "2027-03-31"^^xsd:date .
        <https://w3id.org/citytools/id/vendor/civica> rdfs:label "Civica again" .
        <https://w3id.org/citytools/id/system/openrevenues> rdfs:label "OpenRevenues 2" .
    """
    )
    deployment = ID + "deployment/E09000012/council-tax/openrevenues"
    other = ID + "deployment/E09000007/council-tax/openrevenues"
    contract = ID + "contract/E09000012/council-tax/openrevenues"
    lines = {deployment: 2, other: 3, ID + "system/mosaic": 40}
    report = city.validate(triples_of(data), lines=lines, source="inventory.csv")
    found = {(f.focus.removeprefix(ID), f.constraint[3:-19], f.line) for f in report.findings}
    assert found == {
        ("contract/E09000012/council-tax/openrevenues", "MaxCount", 2),  # its deployment's
        ("system/openrevenues", "MaxCount", 2),  # two deployments point to it: the first line
        ("system/alloy", "MinCount", None),  # only a project points to it, and it has no line
        ("contract/E09000012/adult-social-care/mosaic", "MinCount", None),
    }
    assert any(f.focus == contract for f in report.findings)
    assert {f.describe() for f in report.findings if f.line == 2} == {
        "inventory.csv:2: Violation: There can be at most one end date",
        "inventory.csv:2: Violation: A system must have exactly one name (rdfs:label)",
    }
    without = city.validate(triples_of(data))
    assert {f.line for f in without.findings} == {None}


def test_a_line_is_found_two_steps_away(city: Validator) -> None:
    data = """
        <https://w3id.org/citytools/id/deployment/d> a ct:Deployment ;
            ct:contract <https://w3id.org/citytools/id/contract/c> .
        <https://w3id.org/citytools/id/contract/c> a ct:Contract ;
            ct:supplier <https://w3id.org/citytools/id/vendor/v> ;
            ct:endDate "2030-01-01"^^xsd:date .
        <https://w3id.org/citytools/id/vendor/v> a ct:Vendor .
    """
    report = city.validate(triples_of(data), lines={ID + "deployment/d": 9})
    vendor = [f for f in report.findings if f.focus == ID + "vendor/v"]
    assert [(f.message, f.line) for f in vendor] == [("A vendor must have a name (rdfs:label)", 9)]
    assert {f.line for f in report.findings} == {9}


def test_generated_messages_name_the_class_and_the_path(own: Validator) -> None:
    report = own.validate(triples_of((OWN / "people-broken.ttl").read_bytes()))
    dave = {f.message for f in report.findings if f.focus == EX + "dave"}
    assert {
        "Person must have at least 1 value for ex:name",
        "Person must have at least 2 values for ex:tag",
        "Person must have at most 1 value for age (ex:age)",
        "Each value for age (ex:age) of a Person must be greater than 0",
        "Each value for ex:title of a Person must be one of Dr, Mr, Ms",
        "Each value for ex:start of a Person must be less than its ex:end",
        "A homepage is a link",  # sh:message in English, of two languages
    } <= dave
    green = {f.message for f in report.findings if f.focus == EX + "green"}
    assert green == {
        "Group must have ex:Organisation for ex:kind",
        "Each value for ex:founded of a Group must be at least 1900-01-01",
        "Two groups share a label",
    }


def test_blank_nodes_keep_their_identity(own: Validator) -> None:
    anonymous = BlankNode()
    triples = [
        Triple(anonymous, RDF_TYPE, NamedNode(EX + "Person")),
        Triple(anonymous, NamedNode(EX + "name"), Literal("Anon")),
        Triple(anonymous, NamedNode(EX + "worksFor"), NamedNode(EX + "nowhere")),
    ]
    report = own.validate(triples, lines={str(anonymous): 4})
    assert {(f.focus, f.line, f.constraint) for f in report.findings} == {
        (str(anonymous), 4, "sh:MinCountConstraintComponent"),  # tags
        (str(anonymous), 4, "sh:ClassConstraintComponent"),  # ex:nowhere is no group
    }


def test_only_subjects_of_the_candidate_are_validated() -> None:
    shapes = (OWN / "shapes.ttl").read_bytes()
    context = (
        (OWN / "context.ttl").read_bytes()
        + PREAMBLE.encode()
        + b"""
        ex:zed a ex:Person .                            # invalid, but context
        ex:yan a ex:Person ; ex:name "Yan" ; ex:worksFor ex:ctx ; ex:tag "a" , "b" .
        ex:ctx a ex:Group ; ex:kind ex:Organisation .
    """
    )
    validator = Validator(shapes, parse(context, format=RdfFormat.TURTLE))
    assert validator.validate([]).findings == []
    # A candidate triple about a context resource: the resource is validated, as a whole.
    report = validator.validate(triples_of('ex:yan ex:age "old" .'))
    assert {(f.focus, f.constraint) for f in report.findings} == {
        (EX + "yan", "sh:DatatypeConstraintComponent"),
        (EX + "yan", "sh:MinExclusiveConstraintComponent"),
        (EX + "yan", "sh:MaxExclusiveConstraintComponent"),
    }
    # A group of the context counts as members and as a class instance for the candidate.
    report = validator.validate(
        triples_of('ex:xu a ex:Manager ; ex:name "Xu" ; ex:worksFor ex:ctx ; ex:tag "a", "b" .')
    )
    assert report.findings == []


def test_a_subclass_declared_by_the_candidate_is_followed(own: Validator) -> None:
    data = "ex:Intern rdfs:subClassOf ex:Employee . ex:ivan a ex:Intern ; ex:tag 'a', 'b' ."
    report = own.validate(triples_of(data))
    assert {(f.focus, f.path, f.constraint) for f in report.findings} == {
        (EX + "ivan", EX + "name", "sh:MinCountConstraintComponent"),
        (EX + "ivan", EX + "worksFor", "sh:MinCountConstraintComponent"),
    }


def test_focus_narrows_the_validation(own: Validator) -> None:
    triples = triples_of((OWN / "people-broken.ttl").read_bytes())
    everything = own.validate(triples)
    narrowed = own.validate(triples, focus={EX + "erin", EX + "lime"})
    assert narrowed.findings == [
        f for f in everything.findings if f.focus in (EX + "erin", EX + "lime")
    ]
    assert len(narrowed.findings) == 11
    assert own.validate(triples, focus=set()).findings == []


def test_changed_focus_is_what_changed_and_what_points_to_it() -> None:
    old = set(triples_of((DATA / "shapes" / "good.ttl").read_bytes()))
    contract = NamedNode(ID + "contract/E09000012/adult-social-care/mosaic")
    end = Triple(contract, NamedNode("https://w3id.org/citytools/ontology#endDate"), Literal("x"))
    new = old | {end}
    assert changed_focus(old, new) == {
        contract.value,
        ID + "deployment/E09000012/adult-social-care/mosaic",
    }
    label = next(t for t in old if t.subject == NamedNode(ID + "vendor/northgate"))
    assert changed_focus(old, old - {label}) == {
        ID + "vendor/northgate",
        ID + "contract/E09000007/council-tax/openrevenues",
    }
    assert changed_focus(old, old) == set()


def test_changed_focus_validates_only_what_a_reload_touches(city: Validator) -> None:
    old = set(triples_of((DATA / "shapes" / "good.ttl").read_bytes()))
    supplier = NamedNode("https://w3id.org/citytools/ontology#supplier")
    dropped = {t for t in old if t.predicate == supplier}
    new = old - dropped
    focus = changed_focus(old, new)
    report = city.validate(list(new), focus=focus)
    assert {f.focus.removeprefix(ID) for f in report.violations} == {
        "contract/E09000012/council-tax/openrevenues",
        "contract/E09000007/council-tax/openrevenues",
        "contract/E09000012/adult-social-care/mosaic",
    }
    assert {f.focus.removeprefix(ID) for f in report.warnings} == {
        "contract/E09000012/adult-social-care/mosaic"  # the system/alloy warning is not in focus
    }


class ExplodingLines(Mapping[str, int]):
    """A line map that fails on use, while the candidate is in the store."""

    def __getitem__(self, key: str) -> int:
        raise RuntimeError("line lookup failed")

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Iterator[str]:
        return iter(["x"])


def test_the_scratch_graphs_are_empty_after_a_validation_that_raised() -> None:
    context = list(parse(ontology_file().read_bytes(), format=RdfFormat.TURTLE))
    validator = Validator(shapes_file(), context)
    broken = triples_of((DATA / "shapes" / "duplicate-gss.ttl").read_bytes())
    with pytest.raises(RuntimeError, match="line lookup failed"):
        validator.validate(broken, lines=ExplodingLines())
    assert len(validator._store) == len(context)
    good = triples_of((DATA / "shapes" / "good.ttl").read_bytes())
    assert [f.severity for f in validator.validate(good).findings] == [Severity.WARNING] * 2


def test_concurrent_validations_do_not_see_each_other(city: Validator) -> None:
    good = triples_of((DATA / "shapes" / "good.ttl").read_bytes())
    bad = triples_of((DATA / "shapes" / "duplicate-gss.ttl").read_bytes())
    results: dict[str, list[int]] = {"good": [], "bad": []}

    def run(name: str, triples: list[Triple]) -> None:
        for _ in range(5):
            results[name].append(len(city.validate(triples).violations))

    threads = [threading.Thread(target=run, args=a) for a in (("good", good), ("bad", bad))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {"good": [0] * 5, "bad": [2] * 5}


NODE = "ex:S a sh:NodeShape ; sh:targetClass ex:T ; "
PROPERTY = NODE + "sh:property [ sh:path ex:p ; "
# Malformed shapes, or terms outside SHACL Core and SHACL-SPARQL: the service does not start.
BROKEN = [
    (PROPERTY + "sh:minlength 1 ] .", "sh:minlength is not a term of SHACL Core or SHACL-SPARQL"),
    (NODE + "sh:rule [ a sh:TripleRule ] .", "sh:rule is not a term of SHACL Core or SHACL-SPARQL"),
    (PROPERTY + "sh:js [ ] ] .", "sh:js is not a term of SHACL Core or SHACL-SPARQL"),
    ("ex:S sh:target [ a ex:MyTarget ] .", "sh:target is not a term of SHACL Core or SHACL-SPARQL"),
    ("ex:S a sh:SPARQLConstraintComponent .",
     "sh:SPARQLConstraintComponent is not a class of SHACL Core or SHACL-SPARQL"),
    ("ex: sh:entailment <http://www.w3.org/ns/entailment/RDFS> .",
     "sh:entailment is not supported"),
    (NODE + "sh:minCount 1 .", "ex:S: sh:minCount is only for property shapes"),
    (NODE + "sh:severity 'fatal' .", "ex:S: sh:severity must be an IRI"),
    (NODE + "sh:sparql [ sh:select 'SELECT ?x WHERE { $this ex:p ?x }' ] .",
     "sh:select must select $this"),
    (NODE + "sh:sparql [ sh:select 'SELECT $this WHERE { $this ex:p ?x' ] .",
     "the query does not parse"),
    (NODE + "sh:sparql [ sh:ask 'ASK { $this ex:p ?x }' ] .", "sh:sparql needs sh:select"),
    (PROPERTY + "sh:in ex:notalist ] .", "is not a well-formed RDF list"),
    (PROPERTY + "sh:maxCount 'one' ] .", "sh:maxCount must be a non-negative integer"),
    (NODE + "sh:property [ sh:nodeKind sh:IRI ] .", "a property shape needs sh:path"),
    (PROPERTY + "sh:path ex:q ] .", "has several sh:path"),
    # outside the compiled subset, and pySHACL cannot load it either: found at start-up
    (PROPERTY + "sh:qualifiedMinCount 1 ] .",
     "pySHACL cannot use the shapes: QualifiedValueShapeConstraintComponent must have"),
    (PROPERTY, "does not parse"),
]  # fmt: skip
# SHACL Core or SHACL-SPARQL outside the compiled subset: the root shape goes to pySHACL.
DELEGATED = [
    (NODE + "sh:closed true .", "ex:S: sh:closed on a node shape"),
    (PROPERTY + "sh:uniqueLang true ] .", "sh:uniqueLang on a property shape"),
    (PROPERTY + "sh:qualifiedValueShape [ sh:class ex:C ] ; sh:qualifiedMinCount 1 ] .",
     "sh:qualifiedMinCount, sh:qualifiedValueShape on a property shape"),
    (PROPERTY + "sh:datatype xsd:int ] .", "sh:datatype xsd:int: the store rewrites such literals"),
    (PROPERTY + "sh:pattern '^a(?=b)' ] .", "sh:pattern ^a(?=b) is not a regular expression"),
    (PROPERTY + "sh:pattern 'a' ; sh:flags 'z' ] .", "sh:pattern a is not a regular expression"),
    (PROPERTY + "sh:in ( [] ) ] .", "a blank node as a constraint value"),
    (NODE + "sh:sparql [ sh:select "
     "'SELECT $this WHERE { $this <http://example.org/ns#p> $currentShape }' ] .",
     "ex:S: $currentShape in sh:select"),
    ("ex:S a sh:PropertyShape ; sh:targetClass ex:T ; sh:path ex:p ; "
     "sh:property [ sh:path ex:q ; sh:minCount 1 ] .", "ex:S: sh:property on a property shape"),
    (PROPERTY + "sh:node ex:N ] . ex:N sh:sparql [ sh:select 'SELECT $this WHERE { }' ] .",
     "ex:N: sh:sparql in a shape another refers to"),
    (NODE + "sh:property [ sh:path ex:p ; sh:node ex:S ] .", "ex:S refers to itself"),
    (PROPERTY + "sh:node [ sh:property [ sh:path ex:q ; sh:minCount 4 ] ] ] .",
     "a count above 3 in a shape that another refers to"),
    ("ex:C a sh:ConstraintComponent ; sh:parameter [ sh:path ex:myParam ] ; "
     "sh:validator [ a sh:SPARQLAskValidator ; "
     "sh:ask 'ASK { FILTER (STR($value) != STR($myParam)) }' ] . "
     + PROPERTY + "ex:myParam 'x' ] .",
     "ex:myParam of a custom constraint component"),
]  # fmt: skip
# Once outside the subset, now compiled.
COMPILED = [
    "ex:S a sh:NodeShape ; sh:targetNode ex:x ; sh:nodeKind sh:Literal .",
    "ex:S a sh:NodeShape ; sh:targetSubjectsOf ex:p ; sh:class ex:C .",
    "ex:S a sh:PropertyShape ; sh:targetObjectsOf ex:p ; sh:path ex:q ; sh:minCount 1 .",
    "ex:T a rdfs:Class , sh:NodeShape ; sh:property [ sh:path ex:p ; sh:minCount 1 ] .",
    NODE + "sh:property [ sh:path ( ex:p ex:q ) ; sh:minCount 1 ] .",
    NODE + "sh:property [ sh:path [ sh:zeroOrMorePath ex:p ] ; sh:class ex:C ] .",
    NODE + "sh:property [ sh:path [ sh:alternativePath ( ex:p [ sh:inversePath ex:q ] ) ] ; "
    "sh:maxCount 2 ] .",
    PROPERTY + "sh:or ( [ sh:datatype xsd:decimal ] [ sh:datatype xsd:integer ] ) ] .",
    PROPERTY + "sh:node ex:N ] . ex:N sh:property [ sh:path ex:q ; sh:minCount 1 ] .",
    PROPERTY + "sh:equals ex:q ; sh:disjoint ex:r ] .",
    NODE + "sh:not [ sh:class ex:C ] ; sh:xone ( [ sh:class ex:D ] [ sh:class ex:E ] ) .",
    NODE + "sh:severity ex:Fatal ; sh:nodeKind sh:IRI .",
]


@pytest.mark.parametrize(("shapes", "error"), BROKEN)
def test_malformed_or_unknown_shapes_raise_a_clear_error(shapes: str, error: str) -> None:
    with pytest.raises(ShapesError, match=re.escape(error)):
        Validator((PREAMBLE + shapes).encode(), [])


@pytest.mark.parametrize(("shapes", "reason"), DELEGATED)
def test_shapes_outside_the_subset_go_to_pyshacl_with_the_reason(shapes: str, reason: str) -> None:
    validator = Validator((PREAMBLE + shapes).encode(), [])
    (root, why), *more = validator.compiled.delegated.items()
    assert (more, validator.compiled.compiled) == ([], [])
    assert reason in why
    assert validator.pyshacl_shapes == [validator.compiled.shapes.name(root)]


@pytest.mark.parametrize("shapes", COMPILED)
def test_features_of_the_widened_subset_compile(shapes: str) -> None:
    validator = Validator((PREAMBLE + shapes).encode(), [])
    assert validator.compiled.delegated == {}
    assert validator.constraints


def test_deactivated_shapes_and_shapes_without_targets_compile_to_nothing() -> None:
    shapes = (
        PREAMBLE
        + """
        ex:A a sh:NodeShape ; sh:targetClass ex:T ; sh:deactivated true ;
            sh:property [ sh:path ex:p ; sh:minCount 1 ] .
        ex:B a sh:NodeShape ; sh:property [ sh:path ex:p ; sh:minCount 1 ] .
        ex:C a sh:PropertyShape ; sh:path ex:p ; sh:minCount 1 .
    """
    )
    assert Validator(shapes.encode(), []).constraints == []


def test_a_property_shape_with_its_own_target_is_compiled_once_per_target() -> None:
    shapes = (
        PREAMBLE
        + """
        ex:P a sh:PropertyShape ; sh:targetClass ex:U ; sh:path ex:p ; sh:minCount 1 .
        ex:S a sh:NodeShape ; sh:targetClass ex:T ; sh:property ex:P .
    """
    )
    validator = Validator(shapes.encode(), [])
    assert sorted(sorted(t.term.value for t in c.targets) for c in validator.constraints) == [
        [EX + "T"],
        [EX + "U"],
    ]
    report = validator.validate(triples_of("ex:t a ex:T . ex:u a ex:U . ex:v a ex:V ."))
    assert sorted(f.message for f in report.findings) == [
        "T must have at least 1 value for ex:p",
        "U must have at least 1 value for ex:p",
    ]


def test_context_quads_from_any_graph_are_used() -> None:
    shapes = (
        PREAMBLE + "ex:S a sh:NodeShape ; sh:targetClass ex:T ; sh:property "
        "[ sh:path ex:p ; sh:class ex:C ] ."
    )
    graph = NamedNode("urn:graph:ontology")
    context = [Quad(NamedNode(EX + "D"), NamedNode(RDFS_SUBCLASS), NamedNode(EX + "C"), graph)]
    validator = Validator(shapes.encode(), context)
    ok = validator.validate(triples_of("ex:t a ex:T ; ex:p ex:d . ex:d a ex:D ."))
    bad = validator.validate(triples_of("ex:t a ex:T ; ex:p ex:e . ex:e a ex:E ."))
    assert (ok.findings, [f.value for f in bad.findings]) == ([], [EX + "e"])


RDF_TYPE = NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
RDFS_SUBCLASS = "http://www.w3.org/2000/01/rdf-schema#subClassOf"
