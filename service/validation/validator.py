"""The validation engine: SHACL shapes compiled to SPARQL, run by pyoxigraph; pySHACL for
the shapes outside the compiled subset.

One in-memory store holds the context (ontology + reference data) for the
validator's lifetime. Each `validate` call adds the candidate triples to a scratch
graph, marks its focus nodes, runs one query per constraint over context +
candidate, and clears the scratch graphs again, whatever happens. Root shapes the
compiler leaves out (`Compiled.delegated`) go to pySHACL (`delegated.py`) over the same
context + candidate, and its results join the report, which names those shapes
(`ValidationReport.pyshacl_shapes`).

Only resources that are subjects of the candidate triples are validated, by either
engine: the context is assumed valid. `complete=True` validates as SHACL defines it
instead, every target in context + candidate (`citytools validate --shapes`). pySHACL is
also the reference the compiled engine is tested against (tests/test_validation.py).
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
from citytools.service.validation.delegated import PySHACL
from citytools.service.validation.rdf_report import report_turtle
from citytools.service.validation.shacl import (
    FOCUS_GRAPH,
    FOCUS_HAS,
    Constraint,
    ShapesError,
    Target,
    compile_shapes,
    node_key,
)
from citytools.vocab import RDF, RDFS

__all__ = ["ShapesError", "Validator", "changed_focus", "node_key"]

CONTEXT_GRAPH = NamedNode("urn:x-citytools:validation:context")
CANDIDATE_GRAPH = NamedNode("urn:x-citytools:validation:candidate")
_TYPE, _SUBCLASS = RDF.type, RDFS.subClassOf
Subject = NamedNode | BlankNode | Triple
Term = NamedNode | BlankNode | Literal | Triple


class Validator:
    """Validates candidate triples against compiled shapes, with the context alongside."""

    def __init__(
        self, shapes: Traversable | bytes, context: Iterable[Quad], *, base_iri: str | None = None
    ) -> None:
        data = shapes if isinstance(shapes, bytes) else shapes.read_bytes()
        self.compiled = compile_shapes(data, base_iri)
        self.constraints = self.compiled.constraints
        targets = {t for c in self.constraints for t in c.targets}
        self._targets = sorted(targets, key=str)
        self._classes = sorted(
            (t.term for t in targets if t.kind == "class" and isinstance(t.term, NamedNode)),
            key=str,
        )
        self._others = [t for t in self._targets if t.kind != "class"]
        self._lock = threading.Lock()
        self._store = Store()
        quads = [Quad(q.subject, q.predicate, q.object, CONTEXT_GRAPH) for q in context]
        self._store.extend(quads)
        # The context never changes: resolve its class tree and instances once.
        self._superclasses = self._subclasses()
        self._context_types = self._instances(CONTEXT_GRAPH)
        for constraint in self.constraints:  # a broken sh:select fails here, not on a write
            try:
                Store().query(constraint.query)
            except SyntaxError as exc:
                raise ShapesError(f"{constraint.shape}: the query does not parse: {exc}") from None
        self._pyshacl = PySHACL(self.compiled, quads) if self.compiled.delegated else None

    @property
    def pyshacl_shapes(self) -> list[str]:
        """The root shapes pySHACL validates, outside the compiled subset."""
        return self._pyshacl.names if self._pyshacl is not None else []

    def validate(
        self,
        triples: Sequence[Triple],
        *,
        lines: Mapping[str, int] | None = None,
        source: str = "",
        focus: Collection[str] | None = None,
        complete: bool = False,
    ) -> ValidationReport:
        """Validate the resources described by `triples` (narrowed to `focus` if given);
        with `complete`, every focus node of the shapes' targets, as SHACL defines them.

        `lines` maps a resource to its line in the source; a result about a resource
        without a line of its own takes the line of the nearest resource pointing to it.
        """
        locate = _Lines(triples, lines or {})
        wanted = None if focus is None else set(focus)
        originals = self._originals(triples) if complete else {}
        with self._lock:
            try:
                self._add(triples)
                marked = self._mark_focus(triples, wanted, complete)
                findings: list[Finding] = []
                for constraint in self.constraints:
                    if constraint.targets & marked:
                        findings.extend(self._run(constraint, locate, source, originals))
            finally:
                self._store.clear_graph(CANDIDATE_GRAPH)
                self._store.clear_graph(FOCUS_GRAPH)
            if self._pyshacl is not None:
                subjects = None if complete else {node_key(t.subject) for t in triples}

                def keep(node: str) -> bool:
                    return (subjects is None or node in subjects) and (
                        wanted is None or node in wanted
                    )

                findings.extend(
                    self._pyshacl.findings(triples, keep=keep, locate=locate, source=source)
                )
        if not complete:  # one finding per broken rule and resource, however it was reached
            findings = list(dict.fromkeys(findings))
        return ValidationReport(findings, list(self.pyshacl_shapes))

    def report_turtle(self, report: ValidationReport) -> bytes:
        """`report` as a SHACL validation report in Turtle, with the blank shapes and paths
        it names described from this validator's shapes graph."""
        return report_turtle(report, self.compiled.shapes)

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
        self, triples: Sequence[Triple], wanted: set[str] | None, complete: bool
    ) -> set[Target]:
        """Mark the focus nodes of every target (`key FOCUS_HAS node`); return the targets
        that have some. Without `complete`, only candidate subjects are focus nodes."""
        marks: dict[NamedNode, set[Term]] = defaultdict(set)
        if self._classes:
            instances = self._instances(None) if complete else self._candidate_instances(triples)
            for node, classes in instances.items():
                for cls in classes:
                    marks[cls].add(node)
        if self._others:
            subjects: set[Term] = {t.subject for t in triples}
            for target in self._others:
                nodes = self._target_nodes(target)
                marks[target.key] |= nodes if complete else nodes & subjects
        quads = [
            Quad(key, FOCUS_HAS, node, FOCUS_GRAPH)
            for key, nodes in marks.items()
            for node in nodes
            if wanted is None or node_key(node) in wanted
        ]
        self._store.extend(quads)
        keys = {q.subject for q in quads}
        return {t for t in self._targets if t.key in keys}

    def _candidate_instances(self, triples: Sequence[Triple]) -> dict[Subject, set[NamedNode]]:
        """Every candidate subject that is an instance of a target class (or of a subclass),
        with those classes."""
        found: dict[Subject, set[NamedNode]] = defaultdict(set)
        for t in triples:  # one pass in Python is faster than asking the store
            subject, predicate = t.subject, t.predicate
            if subject in self._context_types:
                found[subject] |= self._context_types[subject]
            if predicate == _TYPE and (classes := self._superclasses.get(t.object)):
                found[subject] |= classes
            elif predicate == _SUBCLASS:  # the candidate extends the class tree: ask the store
                return self._instances(CANDIDATE_GRAPH)
        return found

    def _target_nodes(self, target: Target) -> set[Term]:
        """The nodes a target other than a class picks in context + candidate."""
        if target.kind == "node":
            return {target.term}
        pattern = "?node {p} ?o" if target.kind == "subjectsOf" else "?s {p} ?node"
        rows = self._query(f"SELECT DISTINCT ?node WHERE {{ {pattern.format(p=target.term)} }}")
        return {row["node"] for row in rows}

    def _instances(self, graph: NamedNode | None) -> dict[Subject, set[NamedNode]]:
        """Subjects in `graph` (None: either graph) that are instances of target classes,
        and of which."""
        found: dict[Subject, set[NamedNode]] = defaultdict(set)
        if not self._classes:
            return found
        classes = " ".join(str(c) for c in self._classes)
        where = f"GRAPH {graph} {{ ?this ?p ?o }}" if graph is not None else ""
        rows = self._query(
            f"SELECT DISTINCT ?this ?class WHERE {{ VALUES ?class {{ {classes} }} "
            f"{where} ?this {_TYPE}/{_SUBCLASS}* ?class }}"
        )
        for row in rows:
            this, cls = row["this"], row["class"]
            if isinstance(this, Subject) and isinstance(cls, NamedNode):
                found[this].add(cls)
        return found

    def _subclasses(self) -> dict[Term, set[NamedNode]]:
        """Each class of the context, with the target classes it is (a subclass of)."""
        found: dict[Term, set[NamedNode]] = {c: {c} for c in self._classes}
        if self._classes:
            classes = " ".join(str(c) for c in self._classes)
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

    def _originals(self, triples: Sequence[Triple]) -> dict[Term, Literal]:
        """The literals of the data (and of node targets) by the canonical form the store
        keeps them in, where that differs ("4.0"^^xsd:decimal is kept as "4"), so that
        results name the data's own terms. Two literals the store makes one stay one."""
        literals = [t.object for t in triples if isinstance(t.object, Literal)]
        literals += [t.term for t in self._others if isinstance(t.term, Literal)]
        distinct = list(dict.fromkeys(literals))
        scratch = Store()
        scratch.extend(
            Quad(NamedNode(f"urn:x-citytools:literal:{i}"), FOCUS_HAS, literal, FOCUS_GRAPH)
            for i, literal in enumerate(distinct)
        )
        found: dict[Term, Literal] = {}
        for quad in scratch:
            original = distinct[int(quad.subject.value.rsplit(":", 1)[1])]
            if quad.object != original:
                found.setdefault(quad.object, original)
        return found

    def _run(
        self,
        constraint: Constraint,
        locate: _Lines,
        source: str,
        originals: Mapping[Term, Literal],
    ) -> Iterable[Finding]:
        rows = self._query(constraint.query)
        variables = {v.value for v in rows.variables}
        for row in rows:
            this = row["this"]
            if this is None:
                continue
            this = originals.get(this, this)
            value = row["value"] if "value" in variables else None
            if value is not None:
                value = originals.get(value, value)
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
                shape=constraint.shape,
                value_term=str(value) if value is not None else "",
                language=constraint.language,
                severity_iri=constraint.severity_iri,
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
