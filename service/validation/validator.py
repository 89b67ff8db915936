"""The validation engine: SHACL shapes compiled to SPARQL, run by pyoxigraph.

One in-memory store holds the context (ontology + reference data) for the
validator's lifetime. Each `validate` call adds the candidate triples to a scratch
graph, marks its focus nodes, runs one query per constraint over context +
candidate, and clears the scratch graphs again, whatever happens.

Only resources that are subjects of the candidate triples are validated: the context
is assumed valid. pySHACL is the reference implementation (tests/test_validation.py).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from importlib.resources.abc import Traversable

from pyoxigraph import (
    BlankNode,
    Literal,
    NamedNode,
    Quad,
    QuerySolutions,
    RdfFormat,
    Store,
    Triple,
)

from citytools.report import Finding, ValidationReport
from citytools.service.validation.shacl import (
    FOCUS_GRAPH,
    FOCUS_OF,
    Constraint,
    ShapesError,
    compile_shapes,
)
from citytools.vocab import RDF, RDFS

__all__ = ["ShapesError", "Validator", "changed_focus"]

CONTEXT_GRAPH = NamedNode("urn:x-citytools:validation:context")
CANDIDATE_GRAPH = NamedNode("urn:x-citytools:validation:candidate")
_TYPE, _SUBCLASS = RDF.type, RDFS.subClassOf
Subject = NamedNode | BlankNode | Triple
Term = NamedNode | BlankNode | Literal | Triple


def node_key(term: object) -> str:
    """How reports, `lines` and `focus` name a resource: the IRI, or `_:id` for a blank node."""
    if isinstance(term, NamedNode):
        return term.value
    return str(term)


class Validator:
    """Validates candidate triples against compiled shapes, with the context alongside."""

    def __init__(self, shapes: Traversable | bytes, context: Iterable[Quad]) -> None:
        data = shapes if isinstance(shapes, bytes) else shapes.read_bytes()
        self.constraints = compile_shapes(data)
        self._targets = sorted({c for k in self.constraints for c in k.targets}, key=str)
        self._lock = threading.Lock()
        self._store = Store()
        self._store.extend(Quad(q.subject, q.predicate, q.object, CONTEXT_GRAPH) for q in context)
        # The context never changes: resolve its class tree and instances once.
        self._superclasses = self._subclasses()
        self._context_types = self._instances(CONTEXT_GRAPH)
        for constraint in self.constraints:  # a broken sh:select fails here, not on a write
            try:
                Store().query(constraint.query)
            except SyntaxError as exc:
                raise ShapesError(f"{constraint.shape}: the query does not parse: {exc}") from None

    def validate(
        self,
        triples: Sequence[Triple],
        *,
        lines: Mapping[str, int] | None = None,
        source: str = "",
        focus: Collection[str] | None = None,
    ) -> ValidationReport:
        """Validate the resources described by `triples` (narrowed to `focus` if given).

        `lines` maps a resource to its line in the source; a result about a resource
        without a line of its own takes the line of the nearest resource pointing to it.
        """
        locate = _Lines(triples, lines or {})
        with self._lock:
            try:
                self._add(triples)
                marked = self._mark_focus(triples, focus)
                findings: list[Finding] = []
                for constraint in self.constraints:
                    if constraint.targets & marked:
                        findings.extend(self._run(constraint, locate, source))
            finally:
                self._store.clear_graph(CANDIDATE_GRAPH)
                self._store.clear_graph(FOCUS_GRAPH)
        return ValidationReport(list(dict.fromkeys(findings)))

    def _add(self, triples: Sequence[Triple]) -> None:
        text = "".join(f"{t} .\n" for t in triples)
        if "_:" in text:  # parsing would rename blank nodes; keep their identity instead
            self._store.extend(
                Quad(t.subject, t.predicate, t.object, CANDIDATE_GRAPH) for t in triples
            )
        else:  # much faster than building a Quad per triple in Python
            self._store.load(
                text.encode(), format=RdfFormat.N_TRIPLES, to_graph=CANDIDATE_GRAPH, lenient=True
            )

    def _mark_focus(
        self, triples: Sequence[Triple], focus: Collection[str] | None
    ) -> set[NamedNode]:
        """Mark every candidate subject that is an instance of a target class (or of a
        subclass); return the target classes that have focus nodes."""
        found: dict[Subject, set[NamedNode]] = defaultdict(set)
        for t in triples:  # one pass in Python is faster than asking the store
            subject, predicate = t.subject, t.predicate
            if subject in self._context_types:
                found[subject] |= self._context_types[subject]
            if predicate == _TYPE and (classes := self._superclasses.get(t.object)):
                found[subject] |= classes
            elif predicate == _SUBCLASS:  # the candidate extends the class tree: ask the store
                found = self._instances(CANDIDATE_GRAPH)
                break
        wanted = None if focus is None else set(focus)
        marks = [
            Quad(node, FOCUS_OF, cls, FOCUS_GRAPH)
            for node, classes in found.items()
            if wanted is None or node_key(node) in wanted
            for cls in classes
        ]
        self._store.extend(marks)
        return {m.object for m in marks if isinstance(m.object, NamedNode)}

    def _instances(self, graph: NamedNode) -> dict[Subject, set[NamedNode]]:
        """Subjects in `graph` that are instances of target classes, and of which."""
        found: dict[Subject, set[NamedNode]] = defaultdict(set)
        if not self._targets:
            return found
        classes = " ".join(str(c) for c in self._targets)
        rows = self._query(
            f"SELECT DISTINCT ?this ?class WHERE {{ VALUES ?class {{ {classes} }} "
            f"GRAPH {graph} {{ ?this ?p ?o }} ?this {_TYPE}/{_SUBCLASS}* ?class }}"
        )
        for row in rows:
            this, cls = row["this"], row["class"]
            if isinstance(this, Subject) and isinstance(cls, NamedNode):
                found[this].add(cls)
        return found

    def _subclasses(self) -> dict[Term, set[NamedNode]]:
        """Each class of the context, with the target classes it is (a subclass of)."""
        found: dict[Term, set[NamedNode]] = {c: {c} for c in self._targets}
        if self._targets:
            classes = " ".join(str(c) for c in self._targets)
            rows = self._query(
                f"SELECT ?sub ?class WHERE {{ VALUES ?class {{ {classes} }} "
                f"?sub {_SUBCLASS}+ ?class }}"
            )
            for row in rows:
                if isinstance(row["class"], NamedNode):
                    found.setdefault(row["sub"], set()).add(row["class"])
        return found

    def _query(self, sparql: str) -> QuerySolutions:
        result = self._store.query(
            sparql,
            default_graph=[CONTEXT_GRAPH, CANDIDATE_GRAPH],
            named_graphs=[CONTEXT_GRAPH, CANDIDATE_GRAPH, FOCUS_GRAPH],
        )
        assert isinstance(result, QuerySolutions)  # every compiled query is a SELECT
        return result

    def _run(self, constraint: Constraint, locate: _Lines, source: str) -> Iterable[Finding]:
        rows = self._query(constraint.query)
        variables = {v.value for v in rows.variables}
        for row in rows:
            this = row["this"]
            if this is None:
                continue
            value = row["value"] if "value" in variables else None
            path = row["path"] if "path" in variables else None
            yield Finding(
                severity=constraint.severity,
                message=constraint.message,
                focus=node_key(this),
                path=node_key(path) if path is not None else constraint.path,
                value=_shown(value) if value is not None else "",
                line=locate(node_key(this)),
                source=source,
                constraint=constraint.component,
            )


def _shown(term: object) -> str:
    return term.value if isinstance(term, Literal) else node_key(term)


class _Lines:
    """Finds the source line of a resource, or of the nearest resource pointing to it."""

    def __init__(self, triples: Sequence[Triple], lines: Mapping[str, int]) -> None:
        self._triples = triples
        self._lines = lines
        self._referrers: dict[str, set[str]] | None = None

    def __call__(self, node: str) -> int | None:
        if not self._lines:
            return None
        if (line := self._lines.get(node)) is not None:
            return line
        if self._referrers is None:
            self._referrers = defaultdict(set)
            for t in self._triples:
                if isinstance(t.object, NamedNode | BlankNode):
                    self._referrers[node_key(t.object)].add(node_key(t.subject))
        seen, level = {node}, {node}
        while level:  # breadth first: the nearest referrers that have a line win
            level = {r for n in level for r in self._referrers.get(n, ())} - seen
            seen |= level
            found = [self._lines[r] for r in level if r in self._lines]
            if found:
                return min(found)
        return None


def changed_focus(old: set[Triple], new: set[Triple]) -> set[str]:
    """The resources a change can affect: subjects of added or removed triples, and the
    subjects of `new` that point to one of them (e.g. the deployment of a changed contract)."""
    changed = {node_key(t.subject) for t in old ^ new}
    return changed | {
        node_key(t.subject)
        for t in new
        if isinstance(t.object, NamedNode | BlankNode) and node_key(t.object) in changed
    }
