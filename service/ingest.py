"""The one write path: parse → validate → add provenance → one atomic graph write.

CLI `load`/`validate`, HTTP `/store`, `/update` and `/validate` all come here,
so every write is validated the same way and rejected input changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePath

from pyoxigraph import DefaultGraph, Literal, NamedNode, Quad, QuerySolutions, Store, Triple

from citytools import vocab as v
from citytools.errors import ValidationFailed
from citytools.loaders.base import Parsed
from citytools.loaders.detect import detect_kind, parse_source
from citytools.loaders.iris import Minter
from citytools.report import ValidationReport
from citytools.service.store import GraphStore
from citytools.service.validation import Validator, changed_focus


@dataclass(frozen=True)
class Source:
    """Bytes to ingest and what we know about them."""

    data: bytes
    name: str  # file name or a description such as "HTTP PUT"
    kind: str | None = None  # loader kind; None = detect from name/content
    illustrative: bool = False

    @property
    def checksum(self) -> str:
        return "sha256:" + hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class LoadOutcome:
    graph: NamedNode
    triples: int  # triples now in the graph, provenance included
    report: ValidationReport
    unchanged: bool  # the same bytes were already loaded into this graph


class Ingestor:
    def __init__(self, store: GraphStore, validator: Validator, minter: Minter) -> None:
        self.store = store
        self.validator = validator
        self.minter = minter

    def default_graph_for(self, source: Source) -> NamedNode:
        return self.minter.graph(PurePath(source.name).stem or "upload")

    def parse(self, source: Source) -> Parsed:
        return parse_source(source.data, source=source.name, kind=source.kind, minter=self.minter)

    def check(self, source: Source) -> tuple[Parsed, ValidationReport]:
        """Parse and validate; raises InputError on malformed input. Changes nothing."""
        parsed = self.parse(source)
        report = ValidationReport(list(parsed.report.findings))
        report.extend(
            self.validator.validate(parsed.triples, lines=parsed.lines, source=source.name)
        )
        return parsed, report

    def load(
        self,
        source: Source,
        *,
        graph: NamedNode | None = None,
        replace: bool = True,
        on_stage: Callable[[str], None] = lambda stage: None,
    ) -> LoadOutcome:
        """Validate and write `source` as the named graph `graph`.

        `replace=True` swaps the graph's previous content for the new one in one
        transaction (a reload validates only what changed and what points to it: the
        rest was validated when it was stored); `replace=False` adds to it (the union
        is validated). `on_stage` hears "parse", "validate" and "write" as each begins
        (for progress bars).
        Raises ValidationFailed (nothing written) when the data break the shapes.
        """
        target = graph or self.default_graph_for(source)
        kind = detect_kind(source.data, source=source.name, kind=source.kind)
        held = list(self.store.graph_triples(target)) if self.store.has_graph(target) else []
        stored = [t for t in held if t.subject != target]  # without its provenance
        if _facts(target, held) == {v.CHECKSUM: source.checksum, v.INPUT_KIND: kind}:
            # The graph holds just this file, read as this kind: nothing to do.
            return LoadOutcome(target, len(held), ValidationReport(), unchanged=True)
        on_stage("parse")
        parsed = self.parse(source)
        triples = parsed.triples
        checksum = source.checksum
        focus = None
        if stored and replace:  # a reload: what changed, and what points to it
            # Compared as stored ("27900.00" is kept as "27900"), or every decimal differs.
            triples = canonical(triples)
            focus = changed_focus(set(stored), set(triples))
        elif stored:  # the graph now holds more than the file: its checksum is of the content
            triples = canonical([*stored, *triples])
            checksum = content_checksum(triples)
        on_stage("validate")
        report = ValidationReport(list(parsed.report.findings))
        report.extend(
            self.validator.validate(triples, lines=parsed.lines, source=source.name, focus=focus)
        )
        if not report.conforms:
            raise ValidationFailed(report)
        on_stage("write")
        provenance = self._provenance(target, source, parsed.kind, len(triples), checksum)
        self.store.replace_graph(target, [*triples, *provenance])
        return LoadOutcome(target, self._count(target), report, unchanged=False)

    def _count(self, graph: NamedNode) -> int:
        result = self.store.query(
            f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH {graph} {{ ?s ?p ?o }} }}"
        )
        assert isinstance(result, QuerySolutions)
        count = next(iter(result))["n"]
        return int(count.value) if isinstance(count, Literal) else 0

    def _provenance(
        self, graph: NamedNode, source: Source, kind: str, data_triples: int, checksum: str
    ) -> Sequence[Triple]:
        """PROV-O and VoID statements about the source graph, stored inside it."""
        now = datetime.now(UTC).replace(microsecond=0).isoformat()
        facts: list[tuple[NamedNode, NamedNode | Literal]] = [
            (v.RDF.type, v.SOURCE_GRAPH),
            (v.RDF.type, v.PROV.Entity),
            (v.RDF.type, v.VOID.Dataset),
            (v.RDFS.label, Literal(PurePath(source.name).name)),
            (v.DCT.source, Literal(source.name)),
            (v.PROV.generatedAtTime, Literal(now, datatype=v.XSD.dateTime)),
            (v.CHECKSUM, Literal(checksum)),
            (v.INPUT_KIND, Literal(kind)),
            (v.VOID.triples, Literal(str(data_triples), datatype=v.XSD.integer)),
            (
                v.ILLUSTRATIVE,
                Literal("true" if source.illustrative else "false", datatype=v.XSD.boolean),
            ),
        ]
        return [Triple(graph, p, o) for p, o in facts]


def _facts(graph: NamedNode, triples: Iterable[Triple]) -> dict[NamedNode, str]:
    """A source graph's recorded checksum and input kind."""
    return {
        t.predicate: str(getattr(t.object, "value", t.object))
        for t in triples
        if t.subject == graph and t.predicate in (v.CHECKSUM, v.INPUT_KIND)
    }


def content_checksum(triples: Iterable[Triple]) -> str:
    """The checksum of a graph's statements in any order: for graphs that no single file holds."""
    lines = sorted(f"{t}\n" for t in triples)
    return "sha256:" + hashlib.sha256("".join(lines).encode()).hexdigest()


def canonical(triples: Iterable[Triple]) -> list[Triple]:
    """The triples as the store keeps them: literals in canonical form ("1.50" -> "1.5"),
    duplicates gone, so a union of stored and parsed triples counts what will be stored."""
    scratch = Store()
    scratch.extend(Quad(t.subject, t.predicate, t.object, DefaultGraph()) for t in triples)
    return [quad.triple for quad in scratch]
