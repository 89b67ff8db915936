"""The SHACL shapes: well-formed, all on the compiled engine, and each rule proven by a fixture.

Fixtures in tests/data/shapes/ open with one comment block per expected result:

    # expect: <ConstraintComponent local name> <Violation|Warning|Info>
    # message: <the sh:resultMessage>
    # shape: ctsh:<the sh:sourceShape>

pySHACL (the reference implementation) must report exactly those results, so the SPARQL
validation engine can be tested against the same files.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pyshacl
import pytest
from pyoxigraph import NamedNode, RdfFormat, parse
from rdflib import RDF, BNode, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.term import Node

from citytools import vocab
from citytools.resources import SHAPES_IRI, ontology_file, shapes_file
from citytools.service.validation.shacl import compile_shapes

SH = Namespace(str(vocab.SH))
CT = Namespace(str(vocab.CT))
CTSH = Namespace(SHAPES_IRI + "#")
FIXTURES = Path(__file__).parent / "data" / "shapes"
GOOD = FIXTURES / "good.ttl"
BAD = sorted(p for p in FIXTURES.glob("*.ttl") if p != GOOD)

# What the product's shapes may use: the compiled subset (service/validation/shacl.py),
# less what the product does without (targets other than sh:targetClass, complex paths).
ALLOWED_SH = {
    SH[name]
    for group in (
        ("targetClass", "property", "path", "inversePath"),
        ("minCount", "maxCount", "datatype", "class", "nodeKind", "in", "hasValue"),
        ("pattern", "flags", "minLength", "maxLength", "lessThanOrEquals", "lessThan"),
        ("minInclusive", "maxInclusive", "minExclusive", "maxExclusive"),
        ("equals", "disjoint", "languageIn", "node", "not", "and", "or", "xone"),
        ("severity", "message", "name", "description", "deactivated"),
        ("sparql", "select", "prefixes", "declare", "prefix", "namespace"),
    )
    for name in group
}
ALLOWED_OTHER = {
    RDF.type,
    RDF.first,
    RDF.rest,
    URIRef(vocab.RDFS.label.value),
    URIRef(vocab.RDFS.comment.value),
    URIRef(vocab.OWL.versionInfo.value),
    URIRef(vocab.DCT.license.value),
}
ALLOWED_TYPES = {
    SH.NodeShape,
    SH.PropertyShape,
    SH.SPARQLConstraint,
    URIRef(vocab.OWL.Ontology.value),
}


@dataclass(frozen=True, order=True)
class Result:
    component: str  # local name, e.g. "MaxCountConstraintComponent"
    severity: str  # "Violation", "Warning" or "Info"
    message: str
    shape: str  # local name of sh:sourceShape


def _local(node: Node | None) -> str:
    return str(node).rsplit("#", 1)[-1]


def expectations(path: Path) -> list[Result]:
    """The results a fixture's header comment promises."""
    found: list[dict[str, str]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        key, _, value = line.lstrip("# ").partition(": ")
        if key == "expect":
            component, severity = value.split()
            found.append({"component": component, "severity": severity})
        elif key in ("message", "shape"):
            found[-1][key] = value.removeprefix("ctsh:")
    return sorted(Result(**entry) for entry in found)


@pytest.fixture(scope="module")
def shapes() -> Graph:
    return Graph().parse(data=shapes_file().read_bytes(), format="turtle")


@pytest.fixture(scope="module")
def ontology() -> Graph:
    return Graph().parse(data=ontology_file().read_bytes(), format="turtle")


def validate(path: Path, shapes: Graph, ontology: Graph) -> list[Result]:
    data = Graph().parse(path, format="turtle")
    data += ontology  # so sh:class and sh:targetClass see rdfs:subClassOf
    _, report, _ = pyshacl.validate(data, shacl_graph=shapes, inference="none")
    return sorted(
        Result(
            _local(report.value(r, SH.sourceConstraintComponent)),
            _local(report.value(r, SH.resultSeverity)),
            str(report.value(r, SH.resultMessage)),
            _local(report.value(r, SH.sourceShape)),
        )
        for r in report.subjects(RDF.type, SH.ValidationResult)
    )


def subset_violations(shapes: Graph) -> list[str]:
    """Every use of SHACL outside the subset the validation engine compiles."""
    problems: list[str] = []
    node_shapes = set(shapes.subjects(RDF.type, SH.NodeShape))
    for s, p, o in shapes:
        allowed = ALLOWED_SH if str(p).startswith(str(SH)) else ALLOWED_OTHER
        if p not in allowed:
            problems.append(f"{s} uses {p}")
        if p == RDF.type and o not in ALLOWED_TYPES:
            problems.append(f"{s} is a {o}")
        if p == SH.path and not _simple_path(shapes, o):
            problems.append(f"{s} has a complex path")
        if p == SH.severity and o not in (SH.Warning, SH.Info):
            problems.append(f"{s} has severity {o}")
        if p in (SH.targetClass, SH.sparql) and s not in node_shapes:
            problems.append(f"{s} uses {p} but is not a sh:NodeShape")
        if p == SH.property and (o, RDF.type, SH.PropertyShape) not in shapes:
            problems.append(f"{o} is not typed sh:PropertyShape")
        if p == SH.flags and (s, SH.pattern, None) not in shapes:
            problems.append(f"{s} has sh:flags without sh:pattern")
        if p == SH.sparql:
            select = shapes.value(o, SH.select)
            if select is None or "$this" not in str(select) or shapes.value(o, SH.prefixes) is None:
                problems.append(f"{s}: sh:sparql needs sh:select using $this and sh:prefixes")
    return problems


def _simple_path(shapes: Graph, path: Node) -> bool:
    if isinstance(path, URIRef):
        return True
    about = list(shapes.predicate_objects(path))
    return len(about) == 1 and about[0][0] == SH.inversePath and isinstance(about[0][1], URIRef)


def test_pyoxigraph_reads_the_same_number_of_triples(shapes: Graph) -> None:
    quads = list(parse(shapes_file().read_bytes(), format=RdfFormat.TURTLE))
    assert len(quads) == len(shapes) > 400


def test_shapes_conform_to_shacl_shacl(shapes: Graph) -> None:
    shsh = Graph().parse(Path(pyshacl.__file__).parent / "assets" / "shacl-shacl.ttl")
    conforms, _, text = pyshacl.validate(shapes, shacl_graph=shsh, inference="none")
    assert conforms, text
    broken = Graph() + shapes
    broken.add((CTSH.DeploymentAuthorityCount, SH.maxCount, Literal("one")))
    assert not pyshacl.validate(broken, shacl_graph=shsh, inference="none")[0]


def test_shapes_stay_inside_the_compiled_subset(shapes: Graph) -> None:
    assert subset_violations(shapes) == []


def test_the_compiled_engine_takes_every_shape_none_goes_to_pyshacl() -> None:
    compiled = compile_shapes(shapes_file().read_bytes())
    assert compiled.delegated == {}
    assert len(compiled.compiled) == 13  # one node shape per class
    assert len(compiled.constraints) > 90


def test_subset_check_catches_features_outside_it(shapes: Graph) -> None:
    broken = Graph() + shapes
    alternatives = BNode()
    Collection(broken, alternatives, [CT.hosting, CT.function])
    path = BNode()
    broken.add((path, SH.alternativePath, alternatives))
    broken.add((CTSH.DeploymentHostingValue, SH.path, path))
    broken.add((CTSH.DeploymentShape, SH.closed, Literal(True)))
    broken.add((CTSH.DeploymentHostingCount, SH.severity, SH.Violation))
    assert sorted(subset_violations(broken)) == sorted(
        [
            f"{CTSH.DeploymentHostingValue} has a complex path",
            f"{CTSH.DeploymentShape} uses {SH.closed}",
            f"{CTSH.DeploymentHostingCount} has severity {SH.Violation}",
            f"{path} uses {SH.alternativePath}",
        ]
    )


def test_every_class_of_the_ontology_has_a_node_shape(shapes: Graph, ontology: Graph) -> None:
    owl_class = URIRef(vocab.OWL.Class.value)
    classes = {c for c in ontology.subjects(RDF.type, owl_class) if str(c).startswith(CT)}
    targets = set(shapes.objects(None, SH.targetClass))
    assert len(classes) == 13
    assert targets == classes


def test_every_property_shape_has_a_name_and_a_message(shapes: Graph) -> None:
    property_shapes = set(shapes.subjects(RDF.type, SH.PropertyShape))
    assert len(property_shapes) == 64
    for shape in property_shapes:
        assert shapes.value(shape, SH.name) is not None, shape
        message = shapes.value(shape, SH.message)
        assert isinstance(message, Literal), shape
        assert message.language == "en", shape
    for constraint in shapes.subjects(RDF.type, SH.SPARQLConstraint):
        assert shapes.value(constraint, SH.message) is not None, constraint
    for node_shape in shapes.subjects(RDF.type, SH.NodeShape):
        assert shapes.value(node_shape, SH.description) is not None, node_shape


def test_shapes_name_only_terms_the_ontology_declares(shapes: Graph, ontology: Graph) -> None:
    used: set[Node] = set()
    for p in (SH.targetClass, SH["class"], SH.path, SH.lessThan, SH.lessThanOrEquals):
        used.update(shapes.objects(None, p))
    for members in shapes.objects(None, SH["in"]):
        used.update(Collection(shapes, members))
    ct_terms = {t for t in used if isinstance(t, URIRef) and t.startswith(CT)}
    assert len(ct_terms) > 40
    undeclared = {t for t in ct_terms if (t, RDF.type, None) not in ontology}
    assert undeclared == set()


@pytest.mark.parametrize(
    ("shape", "table"),
    [
        ("DeploymentFunctionValue", vocab.FUNCTIONS),
        ("DeploymentHostingValue", vocab.HOSTINGS),
        ("DeploymentSkillValue", vocab.SKILLS),
        ("ProjectStatusValue", vocab.STATUSES),
    ],
)
def test_closed_lists_match_vocab(shapes: Graph, shape: str, table: dict[str, NamedNode]) -> None:
    head = shapes.value(CTSH[shape], SH["in"])
    assert head is not None
    assert [str(m) for m in Collection(shapes, head)] == [c.value for c in table.values()]


def test_good_inventory_conforms_with_exactly_the_expected_warnings(
    shapes: Graph, ontology: Graph
) -> None:
    results = validate(GOOD, shapes, ontology)
    assert [r.severity for r in results] == ["Warning", "Warning"]
    assert results == expectations(GOOD)


@pytest.mark.parametrize("fixture", BAD, ids=lambda p: p.stem)
def test_fixture_breaks_exactly_the_rules_it_names(
    fixture: Path, shapes: Graph, ontology: Graph
) -> None:
    expected = expectations(fixture)
    assert expected, f"{fixture.name} has no '# expect:' line"
    assert validate(fixture, shapes, ontology) == expected


def test_every_rule_has_a_fixture(shapes: Graph) -> None:
    exercised = Counter(r.shape for path in BAD for r in expectations(path))
    rules = {_local(s) for s in shapes.subjects(RDF.type, SH.PropertyShape)}
    rules |= {_local(s) for s in shapes.subjects(SH.sparql, None)}
    assert rules - set(exercised) == set()
    assert set(exercised) - rules == set()


def test_fixture_names_from_the_brief_exist() -> None:
    names = {p.stem for p in BAD}
    assert {
        "deployment-two-authorities",
        "contract-end-before-start",
        "satisfaction-out-of-range",
        "bad-gss-code",
        "duplicate-gss",
        "negative-cost",
        "bad-hosting",
        "project-bad-status",
        "bad-date-literal",
    } <= names
    assert len(names) == 75
