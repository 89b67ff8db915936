"""The one write path: validate what changed, then commit it with its provenance, at once.

Every write — `citytools load`, the Graph Store Protocol, SPARQL Update, the demo, the
reference graphs — reaches the store as the change it makes to each graph (`GraphChange`:
triples added and removed) and goes through `WritePath.commit`:

1. **Guard.** The service's own graphs (`{base}graph/provenance`, the reference graphs,
   the ontology) are read-only to clients (`ReadOnlyGraph`).
2. **Validate what changed and what points to it.** The resources a change can affect are
   the subjects of the added and removed triples and the resources of the same graph that
   point to them; they are validated with their descriptions and those of what they point
   to, read from the store (or from the new content, when the writer has it whole). The
   rest of the graph was validated when it was written. Nothing is written on a violation.
3. **Commit in one transaction** the data and the provenance graph's new statements: each
   graph as a `prov:Entity` (source, checksum, time, triple count, illustrative or not)
   and the write as a `prov:Activity` with one `ct:GraphChange` per graph (triples added
   and removed, deployments added and removed, contract ends moved).

A write's cost follows what it changes: nothing here reads a whole graph unless the writer
gave it whole (a load) or the change involves blank nodes (they cannot be looked up by
label), and nothing reads the whole store.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pyoxigraph import (
    BlankNode,
    DefaultGraph,
    Literal,
    NamedNode,
    QuerySolutions,
    Triple,
)

from citytools import vocab as v
from citytools.errors import ReadOnlyGraph, ValidationFailed
from citytools.loaders.iris import Minter
from citytools.report import Finding, ValidationReport
from citytools.resources import ONTOLOGY_IRI
from citytools.service.store.interface import GraphChange, GraphName, GraphStore, shown
from citytools.service.validation.validator import Validator, changed_focus, node_key

# A change this large is validated from the graph's whole content rather than by lookups.
_LOOKUP_LIMIT = 2000
# Statements about a graph that describe its source: a write that is not a whole file drops
# the checksum (the graph no longer holds just those bytes) and keeps the rest.
_COUNTED = (v.VOID.triples, v.PROV.generatedAtTime, v.PROV.wasGeneratedBy)


@dataclass(frozen=True)
class SourceFacts:
    """What provenance says of a graph that now holds exactly one source (a file, a body)."""

    name: str | None  # the file or request, as `dct:source` (None: the extra facts say)
    label: str
    checksum: str
    kind: str
    illustrative: bool = False
    extra: Sequence[tuple[NamedNode, NamedNode | Literal]] = ()  # e.g. licences


@dataclass
class Write:
    """One graph's part in a write."""

    graph: GraphName
    change: GraphChange
    content: Collection[Triple] | None = None  # the graph's whole new content, when known
    source: SourceFacts | None = None  # set when the graph now holds exactly this source
    lines: Mapping[str, int] = field(default_factory=dict)  # resource -> line, for reports
    findings: Sequence[Finding] = ()  # what the loader itself found
    report: ValidationReport | None = None  # already validated (per file, with its lines)


@dataclass(frozen=True)
class Committed:
    activity: NamedNode | None  # None: nothing changed
    report: ValidationReport
    triples: dict[GraphName, int]  # triples in each written graph afterwards


class WritePath:
    def __init__(self, store: GraphStore, validator: Validator, minter: Minter) -> None:
        self.store = store
        self.validator = validator
        self.minter = minter
        self.provenance = minter.graph("provenance")
        self.default_entity = minter.graph("default")

    def protected(self) -> frozenset[NamedNode]:
        """The graphs the service keeps itself: read-only to clients."""
        reference = self.minter.graph("reference").value + "/"
        return frozenset(
            {self.provenance, NamedNode(ONTOLOGY_IRI)}
            | {g for g in self.store.named_graphs() if g.value.startswith(reference)}
        )

    def entity(self, graph: GraphName) -> NamedNode:
        """How provenance names a graph: its IRI, or `{base}graph/default`."""
        return self.default_entity if isinstance(graph, DefaultGraph) else graph

    def source_of(self, graph: GraphName) -> tuple[str, str] | None:
        """(checksum, input kind) of the source a graph holds exactly, if it does."""
        rows = self._select(
            f"SELECT ?checksum ?kind WHERE {{ GRAPH {self.provenance} {{ "
            f"{self.entity(graph)} {v.CHECKSUM} ?checksum ; {v.INPUT_KIND} ?kind }} }}"
        )
        for row in rows:
            return str(row["checksum"].value), str(row["kind"].value)
        return None

    def commit(
        self,
        writes: Sequence[Write],
        *,
        label: str,
        service: bool = False,
        on_stage: Callable[[str], None] = lambda stage: None,
    ) -> Committed:
        """Validate and commit `writes` as one transaction; raise ValidationFailed (nothing
        written) on a violation, ReadOnlyGraph when a client writes a service graph."""
        if not service:
            protected = self.protected()
            for write in writes:
                if write.change and write.graph in protected:
                    raise ReadOnlyGraph(f"{shown(write.graph)} is kept by the service: read-only")
        on_stage("validate")
        report = ValidationReport()
        for write in writes:
            report.extend(write.report if write.report is not None else self._validate(write))
        if not report.conforms:
            raise ValidationFailed(report)
        on_stage("write")
        changed = [w for w in writes if w.change or w.source is not None]
        counts = {w.graph: self._count_after(w) for w in writes}
        if not changed:
            return Committed(None, report, counts)
        activity = NamedNode(
            f"{self.minter.base}change/{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}"
        )
        changes: dict[GraphName, GraphChange] = {w.graph: w.change for w in changed}
        changes[self.provenance] = self._provenance(changed, counts, activity, label)
        self.store.apply(changes)
        return Committed(activity, report, counts)

    # --- validation ---------------------------------------------------------------------

    def _validate(self, write: Write) -> ValidationReport:
        change = write.change
        report = ValidationReport(list(write.findings))
        if not change.added and not change.removed:
            return report
        source = write.source.name if write.source and write.source.name else shown(write.graph)
        content = write.content
        if content is None and self._needs_content(change):
            content = self._content_after(write.graph, change)
        if content is not None:
            old = (set(content) - change.added) | change.removed
            focus = changed_focus(old, set(content)) if old else None
            triples = list(content)
        else:
            focus, triples = self._neighbourhood(write.graph, change)
        report.extend(
            self.validator.validate(triples, lines=write.lines, source=source, focus=focus)
        )
        return report

    @staticmethod
    def _needs_content(change: GraphChange) -> bool:
        if len(change.added) + len(change.removed) > _LOOKUP_LIMIT:
            return True
        return any(_blank(t) for t in (*change.added, *change.removed))

    def _content_after(self, graph: GraphName, change: GraphChange) -> set[Triple]:
        return (set(self.store.graph_triples(graph)) - change.removed) | change.added

    def _neighbourhood(
        self, graph: GraphName, change: GraphChange
    ) -> tuple[set[str], list[Triple]]:
        """The resources the change can affect, and the triples that describe them and what
        they point to, as the graph will be: looked up by IRI, never the whole graph."""
        touched = {t.subject for t in (*change.added, *change.removed)}
        referrers = self._referrers(graph, touched)
        referrers |= {t.subject for t in change.added if t.object in touched}
        focus = touched | referrers
        described = self._descriptions(graph, change, focus)
        pointed = {t.object for t in described if isinstance(t.object, NamedNode)} - focus
        described |= self._descriptions(graph, change, pointed)
        return {node_key(n) for n in focus}, list(described)

    def _descriptions(
        self, graph: GraphName, change: GraphChange, subjects: Iterable[object]
    ) -> set[Triple]:
        wanted = {s for s in subjects if isinstance(s, NamedNode)}
        if not wanted:
            return set()
        rows = self._select(
            f"SELECT ?s ?p ?o WHERE {{ VALUES ?s {{ {' '.join(map(str, wanted))} }} ?s ?p ?o }}",
            graph,
        )
        stored = {Triple(r["s"], r["p"], r["o"]) for r in rows}
        return (stored - change.removed) | {t for t in change.added if t.subject in wanted}

    def _referrers(self, graph: GraphName, objects: Iterable[object]) -> set[object]:
        iris = " ".join(str(n) for n in objects if isinstance(n, NamedNode))
        if not iris:
            return set()
        rows = self._select(
            f"SELECT DISTINCT ?s WHERE {{ VALUES ?o {{ {iris} }} ?s ?p ?o }}", graph
        )
        return {row["s"] for row in rows}

    def _select(self, sparql: str, graph: GraphName | None = None) -> QuerySolutions:
        result = self.store.query(sparql, default_graph=[graph] if graph is not None else None)
        assert isinstance(result, QuerySolutions)
        return result

    # --- provenance ---------------------------------------------------------------------

    def _count_after(self, write: Write) -> int:
        if write.content is not None:
            return len(write.content)
        if write.change.exists_after is False:
            return 0
        before = self._recorded_count(write.graph)
        if before is None:  # a graph provenance does not know yet (e.g. written before it)
            rows = self._select("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", write.graph)
            before = int(next(iter(rows))["n"].value)
        return before + len(write.change.added) - len(write.change.removed)

    def _recorded_count(self, graph: GraphName) -> int | None:
        rows = self._select(
            f"SELECT ?n WHERE {{ GRAPH {self.provenance} {{ "
            f"{self.entity(graph)} {v.VOID.triples} ?n }} }}"
        )
        for row in rows:
            return int(row["n"].value)
        return None

    def _provenance(
        self,
        writes: Sequence[Write],
        counts: Mapping[GraphName, int],
        activity: NamedNode,
        label: str,
    ) -> GraphChange:
        # To the microsecond: writes in one second keep their order in the history.
        now = Literal(datetime.now(UTC).isoformat(), datatype=v.XSD.dateTime)
        change = GraphChange()
        change.added |= {
            Triple(activity, v.RDF.type, v.PROV.Activity),
            Triple(activity, v.RDFS.label, Literal(label)),
            Triple(activity, v.PROV.endedAtTime, now),
        }
        for index, write in enumerate(writes, start=1):
            entity = self.entity(write.graph)
            held = self._entity_facts(entity)
            record = NamedNode(f"{activity.value}/{index}")
            change.added |= {
                Triple(activity, v.GRAPH_CHANGE_PROP, record),
                Triple(activity, v.PROV.generated, entity),
                *_change_record(record, entity, write.change),
            }
            if write.change.exists_after is False:  # the graph is gone: so is its description
                change.removed |= held
                continue
            keep = (
                set()
                if write.source is not None
                else {t for t in held if t.predicate not in (*_COUNTED, v.CHECKSUM)}
            )
            facts = keep | {
                Triple(entity, v.VOID.triples, Literal(counts[write.graph])),
                Triple(entity, v.PROV.generatedAtTime, now),
                Triple(entity, v.PROV.wasGeneratedBy, activity),
            }
            if write.source is not None:
                facts |= _source_facts(entity, write.source)
            elif not keep:  # a graph no source described: written by updates alone
                facts |= {
                    Triple(entity, v.RDF.type, v.SOURCE_GRAPH),
                    Triple(entity, v.RDF.type, v.PROV.Entity),
                    Triple(entity, v.RDF.type, v.VOID.Dataset),
                    Triple(entity, v.ILLUSTRATIVE, Literal(False)),
                }
            change.removed |= held - facts
            change.added |= facts - held
        return change

    def _entity_facts(self, entity: NamedNode) -> set[Triple]:
        rows = self._select(
            f"SELECT ?p ?o WHERE {{ GRAPH {self.provenance} {{ {entity} ?p ?o }} }}"
        )
        return {Triple(entity, r["p"], r["o"]) for r in rows}


def _source_facts(entity: NamedNode, source: SourceFacts) -> set[Triple]:
    facts: list[tuple[NamedNode, NamedNode | Literal]] = [
        (v.RDF.type, v.SOURCE_GRAPH),
        (v.RDF.type, v.PROV.Entity),
        (v.RDF.type, v.VOID.Dataset),
        (v.RDFS.label, Literal(source.label)),
        *([(v.DCT.source, Literal(source.name))] if source.name is not None else []),
        (v.CHECKSUM, Literal(source.checksum)),
        (v.INPUT_KIND, Literal(source.kind)),
        (v.ILLUSTRATIVE, Literal(source.illustrative)),
        *source.extra,
    ]
    return {Triple(entity, p, o) for p, o in facts}


def _change_record(record: NamedNode, entity: NamedNode, change: GraphChange) -> list[Triple]:
    deployments = {
        kind: {t.subject for t in triples if t.predicate == v.RDF.type and t.object == v.DEPLOYMENT}
        for kind, triples in (("added", change.added), ("removed", change.removed))
    }
    ends_before = {t.subject: t.object for t in change.removed if t.predicate == v.END_DATE}
    moved = sum(
        1
        for t in change.added
        if t.predicate == v.END_DATE
        and t.subject in ends_before
        and ends_before[t.subject] != t.object
    )
    facts: list[tuple[NamedNode, NamedNode | Literal]] = [
        (v.RDF.type, v.GRAPH_CHANGE),
        (v.CHANGED_GRAPH, entity),
        (v.TRIPLES_ADDED, Literal(len(change.added))),
        (v.TRIPLES_REMOVED, Literal(len(change.removed))),
        (v.DEPLOYMENTS_ADDED, Literal(len(deployments["added"] - deployments["removed"]))),
        (v.DEPLOYMENTS_REMOVED, Literal(len(deployments["removed"] - deployments["added"]))),
        (v.CONTRACT_ENDS_MOVED, Literal(moved)),
    ]
    return [Triple(record, p, o) for p, o in facts]


def _blank(triple: Triple) -> bool:
    return isinstance(triple.subject, BlankNode) or isinstance(triple.object, BlankNode)


def content_checksum(triples: Iterable[Triple]) -> str:
    """The checksum of a graph's statements in any order: for graphs no single file holds."""
    lines = sorted(f"{t}\n" for t in triples)
    return "sha256:" + hashlib.sha256("".join(lines).encode()).hexdigest()
