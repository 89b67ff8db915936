"""Ingest: parse a source, validate it, hand it to the one write path (`writes.py`).

CLI `load`/`validate`, HTTP `/store` and `/validate` and the demo come here, so every
source is read and validated the same way and rejected input changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePath

from pyoxigraph import DefaultGraph, NamedNode, Quad, Store, Triple

from citytools.errors import ValidationFailed
from citytools.loaders.base import Parsed
from citytools.loaders.detect import detect_kind, parse_source
from citytools.loaders.iris import Minter
from citytools.report import ValidationReport
from citytools.service.store.interface import GraphChange, GraphName, GraphStore
from citytools.service.validation.validator import Validator, changed_focus
from citytools.service.writes.commit import SourceFacts, Write, WritePath, content_checksum


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
    graph: GraphName
    triples: int  # triples now in the graph
    report: ValidationReport
    unchanged: bool  # the same bytes were already loaded into this graph


class Ingestor:
    def __init__(self, store: GraphStore, validator: Validator, minter: Minter) -> None:
        self.store = store
        self.validator = validator
        self.minter = minter
        self.writes = WritePath(store, validator, minter)

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
        graph: GraphName | None = None,
        replace: bool = True,
        label: str | None = None,
        on_stage: Callable[[str], None] = lambda stage: None,
    ) -> LoadOutcome:
        """Validate and write `source` as the graph `graph` (see `load_all`)."""
        target = graph if graph is not None else self.default_graph_for(source)
        return self.load_all([source], target, replace=replace, label=label, on_stage=on_stage)

    def load_all(
        self,
        sources: Sequence[Source],
        graph: GraphName,
        *,
        replace: bool,
        label: str | None = None,
        on_stage: Callable[[str], None] = lambda stage: None,
    ) -> LoadOutcome:
        """Validate `sources` and write them into `graph` as one write.

        `replace=True` makes the graph hold the sources instead of what it held;
        `replace=False` adds them to it. Each source is validated, with its own lines, as
        the graph will be once it is added: only what changed and what points to it (the
        rest was validated when it was stored). `on_stage` hears "parse", "validate" and
        "write" as each begins (for progress bars). Raises ValidationFailed (nothing
        written) when the data break the shapes.
        """
        exists = isinstance(graph, DefaultGraph) or self.store.has_graph(graph)
        if len(sources) == 1:
            only = sources[0]
            kind = detect_kind(only.data, source=only.name, kind=only.kind)
            if self.writes.source_of(graph) == (only.checksum, kind) and exists:
                # The graph holds just this file, read as this kind: nothing to do.
                count = sum(1 for _ in self.store.graph_triples(graph))
                return LoadOutcome(graph, count, ValidationReport(), unchanged=True)
        held = set(self.store.graph_triples(graph)) if exists else set()
        state, report, kinds = held, ValidationReport(), []
        for index, source in enumerate(sources):
            on_stage("parse")
            parsed = self.parse(source)
            kinds.append(parsed.kind)
            # Compared as stored ("27900.00" is kept as "27900"), or every decimal differs.
            triples = set(canonical(parsed.triples))
            new = triples if replace and index == 0 else state | triples
            on_stage("validate")
            report.extend(parsed.report)
            report.extend(
                self.validator.validate(
                    list(new),
                    lines=parsed.lines,
                    source=source.name,
                    focus=changed_focus(state, new) if state else None,
                )
            )
            state = new
        if not report.conforms:
            raise ValidationFailed(report)
        on_stage("write")
        change = GraphChange(added=state - held, removed=held - state)
        if not exists and not state and replace:
            change.exists_after = True  # an empty PUT still makes the graph (as Oxigraph's)
        facts = _facts(sources, kinds, state) if replace or not held else None
        names = ", ".join(PurePath(s.name).name for s in sources)
        write = Write(graph, change, content=state, source=facts, report=report)
        committed = self.writes.commit([write], label=label or f"load {names}")
        return LoadOutcome(graph, committed.triples[graph], report, unchanged=False)


def _facts(sources: Sequence[Source], kinds: Sequence[str], content: set[Triple]) -> SourceFacts:
    """Provenance of a graph that holds exactly `sources`."""
    names = [s.name for s in sources]
    return SourceFacts(
        name=" + ".join(names),
        label=" + ".join(PurePath(n).name for n in names),
        checksum=sources[0].checksum if len(sources) == 1 else content_checksum(content),
        kind=" + ".join(dict.fromkeys(kinds)),
        illustrative=any(s.illustrative for s in sources),
    )


def canonical(triples: Iterable[Triple]) -> list[Triple]:
    """The triples as the store keeps them: literals in canonical form ("1.50" -> "1.5"),
    duplicates gone, so a union of stored and parsed triples counts what will be stored."""
    scratch = Store()
    scratch.extend(Quad(t.subject, t.predicate, t.object, DefaultGraph()) for t in triples)
    return [quad.triple for quad in scratch]
