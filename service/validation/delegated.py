"""The shapes outside the compiled subset, validated by pySHACL (the reference implementation).

pySHACL gets the whole shapes graph less the targets of the compiled shapes
(`Compiled.delegation_graph`), so it validates exactly the delegated root shapes, with the
shapes they refer to; its data graph is the context plus the candidate. Terms cross between
pyoxigraph and rdflib with their identity: a blank node keeps its id both ways, so results
name the candidate's own nodes and the shapes graph's own blank shapes and paths.

This is the slow path (rdflib in Python, the whole data graph each time): the product's
own shapes stay compiled (tests/test_shapes.py), so it only runs for shapes a data
architect adds outside the subset, or for `citytools validate --shapes`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import pyshacl
import rdflib
from pyoxigraph import BlankNode, Literal, NamedNode, Quad, Triple
from rdflib.term import Node

from citytools.report import Finding, Severity
from citytools.service.validation.shacl import (
    Compiled,
    OutsideSubset,
    Shapes,
    ShapesError,
    Term,
    node_key,
)
from citytools.vocab import SH, XSD

_SH = rdflib.Namespace(str(SH))
_SEVERITIES: dict[Node | None, Severity] = {
    _SH.Violation: Severity.VIOLATION,
    _SH.Warning: Severity.WARNING,
    _SH.Info: Severity.INFO,
}
_PROBE = "urn:x-citytools:validation:probe"
Subject = NamedNode | BlankNode | Triple


def to_rdflib(term: Term | Triple) -> Node:
    if isinstance(term, NamedNode):
        return rdflib.URIRef(term.value)
    if isinstance(term, BlankNode):
        return rdflib.BNode(term.value)
    if isinstance(term, Triple):
        raise ShapesError("pySHACL cannot validate RDF-star triples")
    if term.language:
        return rdflib.Literal(term.value, lang=term.language)
    if term.datatype == XSD.string:  # as rdflib's parsers write "abc"
        return rdflib.Literal(term.value)
    return rdflib.Literal(term.value, datatype=rdflib.URIRef(term.datatype.value))


def from_rdflib(node: Node) -> Term:
    if isinstance(node, rdflib.URIRef):
        return NamedNode(str(node))
    if isinstance(node, rdflib.BNode):
        return BlankNode(str(node))
    if isinstance(node, rdflib.Literal):
        if node.language:
            return Literal(str(node), language=node.language)
        if node.datatype is not None:
            return Literal(str(node), datatype=NamedNode(str(node.datatype)))
        return Literal(str(node))
    raise ValueError(f"not an RDF term: {node!r}")


def _triple(t: Triple) -> tuple[Node, Node, Node]:
    return to_rdflib(t.subject), to_rdflib(t.predicate), to_rdflib(t.object)


class PySHACL:
    """Validates candidate triples, with the context alongside, against the delegated shapes."""

    def __init__(self, compiled: Compiled, context: Iterable[Quad]) -> None:
        self.shapes: Shapes = compiled.shapes
        self.names = [compiled.shapes.name(root) for root in compiled.delegated]
        self._shapes_graph = rdflib.Graph()
        for t in compiled.delegation_graph():
            self._shapes_graph.add(_triple(t))
        self._data = rdflib.Graph()
        for q in context:
            self._data.add(_triple(q.triple))
        # Load every delegated shape with an IRI once now, on a probe focus node, so that
        # a shape pySHACL cannot use fails at start-up rather than on the first write.
        named = [r.value for r in compiled.delegated if isinstance(r, NamedNode)]
        if named:
            self._run(rdflib.Graph(), named=named)

    def _run(self, data: rdflib.Graph, *, named: list[str] | None = None) -> rdflib.Graph:
        """pySHACL's report on `data`; with `named`, those shapes on a probe focus node."""
        try:
            _, report, _ = pyshacl.validate(
                data,
                shacl_graph=self._shapes_graph,
                inference="none",
                advanced=False,
                meta_shacl=False,
                use_shapes=named,
                focus_nodes=[_PROBE] if named else None,
            )
        except Exception as exc:  # pySHACL's own errors, and rdflib's on a query it parses
            raise ShapesError(f"pySHACL cannot use the shapes: {exc}") from None
        assert isinstance(report, rdflib.Graph)
        return report

    def findings(
        self,
        triples: Sequence[Triple],
        *,
        keep: Callable[[str], bool],
        locate: Callable[[str], int | None],
        source: str,
    ) -> list[Finding]:
        """The results whose focus node `keep` accepts (the caller holds the lock)."""
        added = []
        for t in triples:
            triple = _triple(t)
            if triple not in self._data:
                added.append(triple)
                self._data.add(triple)
        try:
            report = self._run(self._data)
        finally:
            for triple in added:
                self._data.remove(triple)
        found = []
        for result in report.subjects(rdflib.RDF.type, _SH.ValidationResult):
            if (None, _SH.result, result) not in report:
                continue  # a nested sh:detail
            finding = self._finding(report, result, locate, source)
            if finding is not None and keep(finding.focus):
                found.append(finding)
        return found

    def _finding(
        self,
        report: rdflib.Graph,
        result: Node,
        locate: Callable[[str], int | None],
        source: str,
    ) -> Finding | None:
        focus = report.value(result, _SH.focusNode)
        if focus is None:
            return None
        focus_key = node_key(from_rdflib(focus))
        shape = report.value(result, _SH.sourceShape)
        shape_term = from_rdflib(shape) if shape is not None else None
        value = report.value(result, _SH.value)
        value_term = from_rdflib(value) if value is not None else None
        component = report.value(result, _SH.sourceConstraintComponent)
        severity = report.value(result, _SH.resultSeverity)
        messages = [
            m for m in report.objects(result, _SH.resultMessage) if isinstance(m, rdflib.Literal)
        ]
        english = [m for m in messages if (m.language or "en").split("-")[0] == "en"]
        message = (english or messages)[0] if messages else None
        return Finding(
            severity=_SEVERITIES.get(severity, Severity.VIOLATION),
            severity_iri="" if severity in _SEVERITIES else str(severity),
            message=str(message) if message is not None else f"breaks {component}",
            focus=focus_key,
            path=self._path(report.value(result, _SH.resultPath), shape_term),
            value=(value_term.value if isinstance(value_term, Literal) else node_key(value_term))
            if value_term is not None
            else "",
            line=locate(focus_key),
            source=source,
            constraint=_component(component),
            shape=node_key(shape_term) if shape_term is not None else "",
            value_term=str(value_term) if value_term is not None else "",
            language=(message.language or "") if isinstance(message, rdflib.Literal) else "",
        )

    def _path(self, path: Node | None, shape: Term | None) -> str:
        """As the compiled engine writes paths: the IRI, "^IRI", else SPARQL path syntax."""
        if path is None:
            return ""
        if isinstance(path, rdflib.URIRef):
            return str(path)
        term = from_rdflib(path)  # a blank path of the shapes graph: its id is kept
        try:
            sparql, _ = self.shapes.path(term, shape if shape is not None else term)
        except (OutsideSubset, ShapesError):  # a path SPARQL cannot write: name its node
            return node_key(term)
        if sparql.startswith("^<") and sparql.endswith(">") and sparql.count("<") == 1:
            return "^" + sparql[2:-1]
        return sparql


def _component(component: Node | None) -> str:
    if component is None:
        return ""
    text = str(component)
    return "sh:" + text.removeprefix(str(SH)) if text.startswith(str(SH)) else text
