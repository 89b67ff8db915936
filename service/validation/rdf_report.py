"""A validation report as a SHACL `sh:ValidationReport` graph (Turtle for `citytools
validate --format turtle`).

Each result carries its focus node, path, value, constraint component, source shape,
severity and message as RDF terms. A blank source shape or path comes with its
description from the shapes graph (as pySHACL's reports do), so a report can be compared
with an expected one by graph isomorphism; `rdfs:comment` carries the source line.
"""

from __future__ import annotations

from pyoxigraph import BlankNode, Literal, NamedNode, RdfFormat, Triple, parse, serialize

from citytools.report import Finding, ValidationReport
from citytools.service.validation.shacl import Shapes, Term
from citytools.vocab import RDF, RDFS, SH, XSD

PREFIXES = {"sh": str(SH), "rdf": str(RDF), "rdfs": str(RDFS), "xsd": str(XSD)}


def term_of(text: str) -> Term:
    """The term a report names: an IRI, `_:id`, `<IRI>` or a literal in N-Triples syntax."""
    if text.startswith("_:"):
        return BlankNode(text[2:])
    if text.startswith("<") and text.endswith(">"):
        return NamedNode(text[1:-1])
    if text.startswith('"'):
        (quad,) = parse(f"<urn:s> <urn:p> {text} .".encode(), format=RdfFormat.N_TRIPLES)
        assert isinstance(quad.object, Literal)
        return quad.object
    return NamedNode(text)


def report_triples(report: ValidationReport, shapes: Shapes | None = None) -> list[Triple]:
    """The report as RDF; `shapes` (the shapes graph the report comes from) gives the
    description of blank source shapes and the structure of complex paths."""
    node = BlankNode()
    # SHACL's conformance: no result at all, of any severity (the product rejects data for
    # violations only: `ValidationReport.conforms`)
    conforms = Literal("false" if report.findings else "true", datatype=XSD.boolean)
    triples = [Triple(node, RDF.type, SH.ValidationReport), Triple(node, SH.conforms, conforms)]
    if line := report.engine_line():
        triples.append(Triple(node, RDFS.comment, Literal(line)))
    described: set[Term] = set()
    for finding in sorted(report.findings, key=lambda f: (f.line or 0, f.message)):
        result = BlankNode()
        triples.append(Triple(node, SH.result, result))
        for predicate, value in _facts(finding, shapes):
            triples.append(Triple(result, predicate, value))
            if predicate in (SH.resultPath, SH.sourceShape) and isinstance(value, BlankNode):
                triples.extend(_description(shapes, value, described))
        if finding.path.startswith("^") and (
            shapes is None or _declared_path(finding, shapes) is None
        ):
            inverse = BlankNode()
            triples.append(Triple(result, SH.resultPath, inverse))
            triples.append(Triple(inverse, SH.inversePath, NamedNode(finding.path[1:])))
    return triples


def report_turtle(report: ValidationReport, shapes: Shapes | None = None) -> bytes:
    text = serialize(report_triples(report, shapes), format=RdfFormat.TURTLE, prefixes=PREFIXES)
    assert text is not None  # without an output, serialize returns the bytes
    return text


def _facts(f: Finding, shapes: Shapes | None) -> list[tuple[NamedNode, Term]]:
    message = Literal(f.message, language=f.language) if f.language else Literal(f.message)
    facts: list[tuple[NamedNode, Term]] = [
        (RDF.type, SH.ValidationResult),
        (SH.resultSeverity, NamedNode(f.severity_iri) if f.severity_iri else SH[f.severity.value]),
        (SH.resultMessage, message),
    ]
    if f.line is not None or f.source:
        facts.append((RDFS.comment, Literal(f.describe())))  # carries the source line
    if f.focus:
        facts.append((SH.focusNode, term_of(f.focus)))
    if path := _path(f, shapes):
        facts.append((SH.resultPath, path))
    if f.value_term:
        facts.append((SH.value, term_of(f.value_term)))
    elif f.value:
        facts.append((SH.value, Literal(f.value)))
    if f.constraint.startswith("sh:"):
        facts.append((SH.sourceConstraintComponent, SH[f.constraint[3:]]))
    elif ":" in f.constraint and " " not in f.constraint:
        facts.append((SH.sourceConstraintComponent, NamedNode(f.constraint)))
    if f.shape:
        facts.append((SH.sourceShape, term_of(f.shape)))
    return facts


def _path(f: Finding, shapes: Shapes | None) -> Term | None:
    """The result path: the source shape's own sh:path when it has one (so a complex
    path keeps its structure), else the IRI the finding names (an inverse IRI is added by
    the caller; a complex path without its shapes graph is left out)."""
    if not f.path:
        return None
    if shapes is not None and (declared := _declared_path(f, shapes)) is not None:
        return declared
    if f.path.startswith(("^", "(", "<")) or " " in f.path:
        return None
    return NamedNode(f.path)


def _declared_path(f: Finding, shapes: Shapes) -> Term | None:
    declared = shapes.objects(term_of(f.shape), SH.path) if f.shape else []
    return declared[0] if len(declared) == 1 else None


def _description(shapes: Shapes | None, node: BlankNode, done: set[Term]) -> list[Triple]:
    """The triples about a blank node of the shapes graph, and about the blank nodes they
    reach (lists, nested shapes), each once per report."""
    found: list[Triple] = []
    if shapes is None:
        return found
    todo: list[Term] = [node]
    while todo:
        subject = todo.pop()
        if subject in done or not isinstance(subject, BlankNode):
            continue
        done.add(subject)
        for predicate, objects in shapes.about.get(subject, {}).items():
            for obj in objects:
                found.append(Triple(subject, predicate, obj))
                todo.append(obj)
    return found
