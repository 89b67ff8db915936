"""Comparing SHACL validation reports as the test suite's runners do.

A result is named by its focus node, path, value, constraint component, severity and
source shape (and its messages, when the expected result gives some: the suite asks
runners to keep exactly those). IRIs and literals compare as RDF terms. A blank path or
source shape compares by its structure, which a report carries (it describes the shapes
graph's blank nodes, as pySHACL's reports do). A blank focus node or value stands for a
node of the data graph, which no report describes: like pySHACL's own runner
(`pyshacl.validator_conformance`), such nodes compare as "some blank node". Results are
counted, not merged: the suite expects one result per pair for sh:lessThan, for example.
"""

from __future__ import annotations

from collections import Counter

from rdflib import RDF, BNode, Graph, Namespace
from rdflib.term import Node

SH = Namespace("http://www.w3.org/ns/shacl#")
Key = tuple[str, ...]


def canonical(graph: Graph, node: Node, depth: int = 0) -> str:
    """A node as text: N3 for IRIs and literals, its structure for a blank node."""
    if not isinstance(node, BNode):
        return node.n3()
    if depth > 12:
        return "[…]"
    if (node, RDF.first, None) in graph:
        return "(" + " ".join(canonical(graph, item, depth + 1) for item in graph.items(node)) + ")"
    facts = sorted(
        f"{p.n3()} {canonical(graph, o, depth + 1)}" for p, o in graph.predicate_objects(node)
    )
    return "[" + "; ".join(facts) + "]"


def result_keys(graph: Graph, report: Node, *, messages: bool = False) -> Counter[Key]:
    """The results of the sh:ValidationReport `report` of `graph`, counted by key."""
    keys: Counter[Key] = Counter()
    for result in graph.objects(report, SH.result):
        key: Key = (
            _one(graph, result, SH.focusNode, data=True),
            _one(graph, result, SH.resultPath),
            _one(graph, result, SH.value, data=True),
            _one(graph, result, SH.sourceConstraintComponent),
            _one(graph, result, SH.resultSeverity),
            _one(graph, result, SH.sourceShape),
        )
        if messages:
            key += tuple(sorted(m.n3() for m in graph.objects(result, SH.resultMessage)))
        keys[key] += 1
    return keys


def _one(graph: Graph, result: Node, predicate: Node, *, data: bool = False) -> str:
    value = graph.value(result, predicate)
    if value is None:
        return ""
    if data and isinstance(value, BNode):
        return "_:"
    return canonical(graph, value)


def has_messages(graph: Graph, report: Node) -> bool:
    return any(
        True for r in graph.objects(report, SH.result) for _ in graph.objects(r, SH.resultMessage)
    )


def the_report(graph: Graph) -> Node:
    (report,) = graph.subjects(RDF.type, SH.ValidationReport)
    return report


def conforms(graph: Graph, report: Node) -> bool:
    value = graph.value(report, SH.conforms)
    assert value is not None
    return bool(value.toPython())
