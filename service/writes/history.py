"""The history of writes, read back from the provenance graph (the data of `GET /changes`).

Every commit records a `prov:Activity` with one `ct:GraphChange` per graph it changed
(`commit.py`); this reads them newest first, a page at a time, optionally narrowed to one
graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from pyoxigraph import Literal, NamedNode, QuerySolutions

from citytools import vocab as v
from citytools.service.store.interface import GraphStore


@dataclass(frozen=True)
class GraphEdit:
    """What one write did to one graph."""

    graph: str  # the graph's IRI (`{base}graph/default` for the stored default graph)
    added: int
    removed: int
    deployments_added: int
    deployments_removed: int
    contract_ends_moved: int


@dataclass(frozen=True)
class Write:
    activity: str
    label: str  # e.g. "PUT /store", "SPARQL Update", "load inventory.csv"
    ended: datetime
    graphs: list[GraphEdit] = field(default_factory=list)


_WRITES = """
SELECT ?activity ?label ?ended WHERE { GRAPH %(provenance)s {
  ?activity a prov:Activity ; rdfs:label ?label ; prov:endedAtTime ?ended .
  %(narrow)s
} } ORDER BY DESC(?ended) DESC(?activity) LIMIT %(limit)d OFFSET %(offset)d
"""
_EDITS = """
SELECT ?activity ?graph ?added ?removed ?dAdded ?dRemoved ?moved WHERE { GRAPH %(provenance)s {
  VALUES ?activity { %(activities)s }
  ?activity ct:graphChange ?change .
  ?change ct:changedGraph ?graph ; ct:triplesAdded ?added ; ct:triplesRemoved ?removed ;
    ct:deploymentsAdded ?dAdded ; ct:deploymentsRemoved ?dRemoved ; ct:contractEndsMoved ?moved .
} } ORDER BY ?activity ?graph
"""
_PREFIXES = f"PREFIX prov: <{v.PROV}> PREFIX rdfs: <{v.RDFS}> PREFIX ct: <{v.CT}>\n"


def writes(
    store: GraphStore,
    provenance: NamedNode,
    *,
    graph: NamedNode | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Write]:
    """The writes newest first (those that changed `graph`, if given)."""
    # Terms are written as pyoxigraph prints them (IRIs escaped), numbers as int: no text
    # from a request reaches the query unchecked.
    narrow = f"?activity ct:graphChange/ct:changedGraph {graph} ." if graph is not None else ""
    text = _WRITES % {"provenance": provenance, "narrow": narrow, "limit": limit, "offset": offset}
    found = [
        Write(str(row["activity"].value), str(row["label"].value), _time(row["ended"]))
        for row in _select(store, _PREFIXES + text)
    ]
    if not found:
        return found
    by_iri = {w.activity: w for w in found}
    values = " ".join(str(NamedNode(w.activity)) for w in found)
    for row in _select(
        store, _PREFIXES + _EDITS % {"provenance": provenance, "activities": values}
    ):
        by_iri[str(row["activity"].value)].graphs.append(
            GraphEdit(
                graph=str(row["graph"].value),
                added=int(row["added"].value),
                removed=int(row["removed"].value),
                deployments_added=int(row["dAdded"].value),
                deployments_removed=int(row["dRemoved"].value),
                contract_ends_moved=int(row["moved"].value),
            )
        )
    return found


def _select(store: GraphStore, sparql: str) -> QuerySolutions:
    result = store.query(sparql)
    assert isinstance(result, QuerySolutions)
    return result


def _time(term: object) -> datetime:
    assert isinstance(term, Literal)
    return datetime.fromisoformat(term.value)
