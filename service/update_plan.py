"""Validating a SPARQL Update before it reaches the store.

The update runs first on an in-memory copy of the store's named graphs; each graph
it changes is validated with the ingest validator (reference data + the graph),
and only a conforming outcome is written. What is written is the validated
content itself — each changed graph replaced in one SPARQL Update, so one
transaction — rather than a second evaluation that could differ (`NOW()`,
`RAND()`, `UUID()`).

Cost: the copy holds every quad of the store in memory and is O(store size) per
update (a few hundred ms for the ~100k quads of a London-sized store). Finding the
affected graphs by parsing the update is not safe in general (`GRAPH ?g`, `WITH`,
`USING`, `DELETE WHERE` over any graph), so the whole dataset is copied.

The default graph is the union of the named graphs, as for queries: the copy holds the
union in its default graph too, so a WHERE without GRAPH matches across every source, and
a triple deleted from the default graph (`DELETE WHERE { … }`, `DELETE DATA` without
GRAPH) is deleted from every named graph that holds it. Inserting into the default graph
is refused (a triple must belong to a source graph), and `LOAD`/`SERVICE` to non-allowed
endpoints are refused before anything runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pyoxigraph import DefaultGraph, Literal, NamedNode, Quad, Store, Triple

from citytools import vocab as v
from citytools.errors import InputError, ValidationFailed
from citytools.report import ValidationReport
from citytools.service.ingest import content_checksum
from citytools.service.store import GraphStore
from citytools.service.validation import Validator

Fingerprint = tuple[int, int]
_MASK = (1 << 64) - 1
DEFAULT_GRAPH_REFUSED = (
    "the update writes into the default graph, which in this service is the union of the "
    "named graphs: put the data in a named graph (GRAPH <…> { … } or WITH <…>)"
)


@dataclass(frozen=True)
class UpdatePlan:
    text: str  # the SPARQL Update that writes the validated outcome ("" = nothing changes)
    changed: tuple[NamedNode, ...]
    report: ValidationReport


def plan_update(store: GraphStore, update: str, validator: Validator) -> UpdatePlan:
    copy = Store()
    before: dict[NamedNode, Fingerprint] = {}
    union: set[Triple] = set()
    for graph in store.named_graphs():
        triples = list(store.graph_triples(graph))
        before[graph] = _fingerprint(triples)
        union.update(triples)
        copy.extend(Quad(t.subject, t.predicate, t.object, graph) for t in triples)
    # The default graph is the union of the named graphs, for every operation's WHERE.
    copy.extend(Quad(t.subject, t.predicate, t.object, DefaultGraph()) for t in union)
    try:
        copy.update(update)
    except SyntaxError as exc:
        raise InputError(f"malformed update: {exc}") from None
    except (OSError, ValueError, RuntimeError) as exc:  # e.g. DROP GRAPH of a missing graph
        raise InputError(f"the update failed: {exc}") from None

    default_after = set(_triples(copy, DefaultGraph()))
    if default_after - union:
        raise InputError(DEFAULT_GRAPH_REFUSED)
    # What the update deleted from the union is deleted from each named graph that holds it.
    for triple in union - default_after:
        for quad in list(copy.quads_for_pattern(triple.subject, triple.predicate, triple.object)):
            if isinstance(quad.graph_name, NamedNode):
                copy.remove(quad)
    graphs = set(before) | {g for g in copy.named_graphs() if isinstance(g, NamedNode)}
    changed: list[tuple[NamedNode, list[Triple]]] = []
    for graph in sorted(graphs, key=str):
        after = list(_triples(copy, graph))
        if _fingerprint(after) != before.get(graph, (0, 0)):
            changed.append((graph, _restamped(graph, after)))

    report = ValidationReport()
    for graph, triples in changed:
        if triples:
            report.extend(validator.validate(triples, lines={}, source=f"<{graph.value}>"))
    if not report.conforms:
        raise ValidationFailed(report)
    return UpdatePlan(_rewrite(changed), tuple(g for g, _ in changed), report)


def _triples(store: Store, graph: NamedNode | DefaultGraph) -> Iterable[Triple]:
    return (quad.triple for quad in store.quads_for_pattern(None, None, None, graph))


def _fingerprint(triples: Iterable[Triple]) -> Fingerprint:
    """Count and order-free sum of hashes: equal iff the graph is unchanged (w.h.p.)."""
    count = total = 0
    for triple in triples:
        count += 1
        total = (total + hash(str(triple))) & _MASK
    return count, total


def _restamped(graph: NamedNode, triples: list[Triple]) -> list[Triple]:
    """A source graph's checksum, once an update changed it, becomes that of its new content:
    the graph no longer holds what the file held, so reloading the file must not be a no-op."""
    stamps = [t for t in triples if t.subject == graph and t.predicate == v.CHECKSUM]
    if len(stamps) != 1:
        return triples  # none (not a source graph) or several: left for the shapes to judge
    body = [t for t in triples if t is not stamps[0]]
    return [*body, Triple(graph, v.CHECKSUM, Literal(content_checksum(body)))]


def _rewrite(changed: Sequence[tuple[NamedNode, list[Triple]]]) -> str:
    """One update replacing each changed graph with its validated content."""
    operations = []
    for graph, triples in changed:
        operations.append(f"DROP SILENT GRAPH {graph}")
        if triples:
            body = "".join(f"{t.subject} {t.predicate} {t.object} .\n" for t in triples)
            operations.append(f"INSERT DATA {{ GRAPH {graph} {{\n{body}}} }}")
    return " ;\n".join(operations)
