"""Compile a SHACL shapes graph into SPARQL SELECT queries, one per constraint.

Shapes with targets ("root shapes") are compiled one at a time, each with the shapes it
refers to. The compiled subset:

* targets: `sh:targetClass`, `sh:targetNode`, `sh:targetSubjectsOf`, `sh:targetObjectsOf`
  and implicit class targets (a shape that is also an `rdfs:Class` or `owl:Class`);
* paths: every SHACL path (IRI, inverse, sequence, alternative, zero-or-more, one-or-more,
  zero-or-one), written as the SPARQL property path that defines it;
* value constraints, on property shapes (each value of the path) and on node shapes (the
  focus node itself): datatype, class, node kind, `sh:in`, `sh:hasValue`, pattern, range,
  length, `sh:languageIn`, and `sh:node`, `sh:not`, `sh:and`, `sh:or`, `sh:xone` over shapes
  that are themselves inside the subset (without `sh:sparql`, counts at most 3);
* on property shapes: the count constraints, `sh:equals`, `sh:disjoint`, `sh:lessThan`
  and `sh:lessThanOrEquals`; on node shapes: `sh:property`, and `sh:sparql` constraints
  with `sh:select` and `sh:prefixes`;
* `sh:severity`, `sh:message`, `sh:deactivated` and the non-validating `sh:name`,
  `sh:description`, `sh:order`, `sh:group`, `sh:defaultValue`.

A root shape that uses anything else of SHACL Core or SHACL-SPARQL (`sh:closed`, qualified
value shapes, `sh:uniqueLang`, SPARQL-based constraint components, ...), itself or in a
shape it refers to, is not compiled: `Compiled.delegated` names it with the reason, and the
validator has pySHACL validate it. Shapes that are malformed, or that use terms outside
SHACL Core and SHACL-SPARQL (a typo such as `sh:minlength`, SHACL Advanced Features,
SHACL-JS: pySHACL would pass over them without a word), raise `ShapesError`, so no rule is
ever skipped in silence.

Each query finds the violations of one constraint for all focus nodes at once. Focus
nodes are not computed by the queries: the validator marks them beforehand in a graph of
their own (`key FOCUS_HAS ?this` in `FOCUS_GRAPH`, one key per target, see `Target.key`),
and every query joins with that.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from pyoxigraph import (
    BlankNode,
    Literal,
    NamedNode,
    QuerySolutions,
    RdfFormat,
    Store,
    Triple,
    parse,
)

from citytools.errors import CityToolsError
from citytools.report import Severity
from citytools.vocab import OWL, PREFIXES, RDF, RDFS, SH, XSD

Term = NamedNode | BlankNode | Literal

FOCUS_GRAPH = NamedNode("urn:x-citytools:validation:focus")
FOCUS_HAS = NamedNode("urn:x-citytools:validation:focusNode")


# fmt: off
def _sh(*names: str) -> frozenset[NamedNode]:
    return frozenset(SH[name] for name in names)


# Every predicate and class of SHACL Core and SHACL-SPARQL, with the report vocabulary
# (test files hold their expected reports beside the shapes).
_TARGET_PREDICATES = _sh("targetClass", "targetNode", "targetSubjectsOf", "targetObjectsOf")
_KNOWN = _TARGET_PREDICATES | _sh(
    "property", "path", "inversePath", "alternativePath", "zeroOrMorePath", "oneOrMorePath",
    "zeroOrOnePath", "severity", "message", "deactivated", "name", "description", "order",
    "group", "defaultValue", "class", "datatype", "nodeKind", "minCount", "maxCount",
    "minExclusive", "minInclusive", "maxExclusive", "maxInclusive", "minLength", "maxLength",
    "pattern", "flags", "languageIn", "uniqueLang", "equals", "disjoint", "lessThan",
    "lessThanOrEquals", "not", "and", "or", "xone", "node", "qualifiedValueShape",
    "qualifiedMinCount", "qualifiedMaxCount", "qualifiedValueShapesDisjoint", "closed",
    "ignoredProperties", "hasValue", "in", "entailment", "shapesGraph", "suggestedShapesGraph",
    "shapesGraphWellFormed", "sparql", "select", "ask", "prefixes", "declare", "prefix",
    "namespace", "parameter", "optional", "validator", "nodeValidator", "propertyValidator",
    "labelTemplate", "conforms", "result", "focusNode", "resultPath", "value", "sourceShape",
    "sourceConstraint", "sourceConstraintComponent", "resultSeverity", "resultMessage",
    "detail",
)
_KNOWN_CLASSES = _sh(
    "Shape", "NodeShape", "PropertyShape", "SPARQLConstraint", "ConstraintComponent",
    "Parameter", "Parameterizable", "PrefixDeclaration", "PropertyGroup", "Validator",
    "SPARQLAskValidator", "SPARQLSelectValidator", "SPARQLExecutable", "SPARQLAskExecutable",
    "SPARQLSelectExecutable", "ValidationReport", "ValidationResult", "AbstractResult",
    "Severity", "NodeKind",
)
# SHACL Advanced Features and SHACL-JS terms only shapes carry: their subjects are shapes,
# which _check_vocabulary then refuses.
_ADVANCED = _sh("target", "rule", "expression", "js", "jsFunctionName", "jsLibrary")
_ANNOTATIONS = _TARGET_PREDICATES | _sh(
    "severity", "message", "deactivated", "name", "description", "order", "group",
    "defaultValue",
)
_VALUE_PARAMETERS = _sh(
    "class", "datatype", "nodeKind", "in", "hasValue", "pattern", "flags", "minInclusive",
    "maxInclusive", "minExclusive", "maxExclusive", "minLength", "maxLength", "languageIn",
    "node", "not", "and", "or", "xone",
)
# What the compiled engine takes on each kind of shape.
_ON_PROPERTY_SHAPES = _ANNOTATIONS | _VALUE_PARAMETERS | _sh(
    "path", "minCount", "maxCount", "equals", "disjoint", "lessThan", "lessThanOrEquals",
)
_ON_NODE_SHAPES = _ANNOTATIONS | _VALUE_PARAMETERS | _sh("property", "sparql")
# SHACL allows these in property shapes only: on a node shape they make it ill-formed.
_PROPERTY_ONLY = _sh("minCount", "maxCount")
_COUNT_LIMIT = 3  # nested counts are written as that many distinct values
# Datatypes with an XPath cast in Oxigraph: a literal is well-formed iff casting its
# lexical form gives it back. Ill-typed literals ("2024-13-01"^^xsd:date) fail the cast.
_CASTABLE = {XSD[name] for name in [
    "string", "boolean", "integer", "decimal", "float", "double", "date", "time", "dateTime",
    "duration", "dayTimeDuration", "yearMonthDuration", "gYear", "gYearMonth", "gMonth", "gDay",
    "gMonthDay",
]}
# Oxigraph stores valid literals of these as xsd:integer / xsd:dateTime: their own datatype
# cannot be told apart in the store any more.
_NORMALISED = {XSD[name] for name in [
    "int", "long", "short", "byte", "nonNegativeInteger", "positiveInteger",
    "nonPositiveInteger", "negativeInteger", "unsignedLong", "unsignedInt", "unsignedShort",
    "unsignedByte", "dateTimeStamp",
]}
# fmt: on
_SEVERITIES = {
    SH.Violation: Severity.VIOLATION,
    SH.Warning: Severity.WARNING,
    SH.Info: Severity.INFO,
}
_NODE_KINDS = {
    SH.IRI: ("isIRI({v})", "an IRI"),
    SH.BlankNode: ("isBlank({v})", "a blank node"),
    SH.Literal: ("isLiteral({v})", "a literal"),
    SH.BlankNodeOrIRI: ("(isBlank({v}) || isIRI({v}))", "an IRI or a blank node"),
    SH.BlankNodeOrLiteral: ("(isBlank({v}) || isLiteral({v}))", "a blank node or a literal"),
    SH.IRIOrLiteral: ("(isIRI({v}) || isLiteral({v}))", "an IRI or a literal"),
}
# parameter: (SPARQL operator, words for generated messages)
_RANGES = {
    "minInclusive": (">=", "at least"),
    "maxInclusive": ("<=", "at most"),
    "minExclusive": (">", "greater than"),
    "maxExclusive": ("<", "less than"),
}
_LENGTHS = {"minLength": (">=", "at least"), "maxLength": ("<=", "at most")}
_PAIRS = {"lessThan": ("<", "less than"), "lessThanOrEquals": ("<=", "at most")}
_LOGICAL = {"and": "all of", "or": "at least one of", "xone": "exactly one of"}
_SINGLE_PATHS = {
    SH.inversePath: "^{}",
    SH.zeroOrMorePath: "{}*",
    SH.oneOrMorePath: "{}+",
    SH.zeroOrOnePath: "{}?",
}
_SHAPES_GRAPH_VARIABLES = re.compile(r"\$(currentShape|shapesGraph)\b")
_CLASSES = (RDFS.Class, OWL.Class)


class ShapesError(CityToolsError):
    """The shapes graph does not parse, is malformed, or uses terms outside SHACL Core and
    SHACL-SPARQL."""

    code = "unsupported-shapes"


class OutsideSubset(Exception):
    """A shape uses SHACL Core or SHACL-SPARQL outside the compiled subset: pySHACL's job."""


def node_key(term: object) -> str:
    """How reports name a term: the IRI, `_:id` for a blank node, N-Triples for a literal."""
    if isinstance(term, NamedNode):
        return term.value
    return str(term)


@dataclass(frozen=True)
class Target:
    """One target of a root shape: `kind` is "class", "node", "subjectsOf" or "objectsOf"."""

    kind: str
    term: NamedNode | Literal

    @property
    def key(self) -> NamedNode:
        """The node whose marks (`key FOCUS_HAS ?this`) hold the focus nodes of the target:
        the class itself for a class target, so that targets shared by shapes are marked once."""
        if self.kind == "class" and isinstance(self.term, NamedNode):
            return self.term
        digest = hashlib.sha256(f"{self.kind} {self.term}".encode()).hexdigest()[:32]
        return NamedNode(f"urn:x-citytools:validation:target:{digest}")


@dataclass(frozen=True)
class Constraint:
    """One compiled constraint. Its query selects `?this` and, when there is one, `?value`
    (and `?path` for SPARQL constraints that bind it)."""

    query: str
    component: str  # e.g. "sh:MinCountConstraintComponent"
    severity: Severity
    severity_iri: str  # a severity other than SHACL's three, "" for none
    message: str
    language: str  # of the message, "" for none
    path: str  # the IRI, "^IRI" for an inverse IRI, else SPARQL path syntax; "" node-level
    shape: str  # node_key of the shape the result comes from
    targets: frozenset[Target]


class Shapes:
    """The shapes graph as an index (subject → predicate → objects), with its prefixes."""

    def __init__(self, data: bytes, base_iri: str | None = None) -> None:
        self.about: dict[Term, dict[NamedNode, list[Term]]] = defaultdict(lambda: defaultdict(list))
        self.by_predicate: dict[NamedNode, list[tuple[Term, Term]]] = defaultdict(list)
        self.triples: list[Triple] = []
        try:
            parser = parse(data, format=RdfFormat.TURTLE, base_iri=base_iri)
            for quad in parser:
                s, p, o = quad.subject, quad.predicate, quad.object
                if not isinstance(s, NamedNode | BlankNode) or not isinstance(o, Term):
                    raise ShapesError(f"RDF-star triples are not supported: {quad}")
                self.about[s][p].append(o)
                self.by_predicate[p].append((s, o))
                self.triples.append(quad.triple)
        except SyntaxError as exc:
            raise ShapesError(f"the shapes graph does not parse: {exc}") from None
        self.prefixes = {**PREFIXES, **parser.prefixes}
        self._typed_property_shapes = self.subjects(RDF.type, SH.PropertyShape)
        # Predicates that custom constraint components take as parameters.
        self.parameters = {
            path
            for _, parameter in self.by_predicate[SH.parameter]
            for path in self.objects(parameter, SH.path)
        }

    def name(self, term: Term) -> str:
        """`ct:endDate` for a known namespace, else `<…>`; lexical form for a literal."""
        if isinstance(term, Literal):
            return term.value
        if isinstance(term, BlankNode):
            return str(term)
        for prefix, namespace in self.prefixes.items():
            local = term.value[len(namespace) :]
            if term.value.startswith(namespace) and re.fullmatch(r"[\w.-]*", local):
                return f"{prefix}:{local}"
        return f"<{term.value}>"

    def objects(self, subject: Term, predicate: NamedNode) -> list[Term]:
        about = self.about.get(subject)
        return about.get(predicate, []) if about is not None else []

    def one(self, subject: Term, predicate: NamedNode) -> Term | None:
        values = self.objects(subject, predicate)
        if len(values) > 1:
            raise ShapesError(f"{self.name(subject)} has several {self.name(predicate)}")
        return values[0] if values else None

    def subjects(self, predicate: NamedNode, obj: Term | None = None) -> set[Term]:
        return {s for s, o in self.by_predicate[predicate] if obj is None or o == obj}

    def items(self, head: Term) -> list[Term]:
        items: list[Term] = []
        while head != RDF.nil:
            first, rest = self.one(head, RDF.first), self.one(head, RDF.rest)
            if first is None or rest is None or len(items) > 100_000:
                raise ShapesError(f"{self.name(head)} is not a well-formed RDF list")
            items.append(first)
            head = rest
        return items

    def is_true(self, subject: Term, predicate: NamedNode) -> bool:
        """Whether the value is the literal true (the test suite: "1" is not true)."""
        value = self.one(subject, predicate)
        return isinstance(value, Literal) and (value.value, value.datatype) == ("true", XSD.boolean)

    def message(self, node: Term) -> tuple[str, str] | None:
        """The node's sh:message in English or without a language, else any; and its language."""
        messages = [m for m in self.objects(node, SH.message) if isinstance(m, Literal)]
        for message in messages:
            if (message.language or "en").split("-")[0] == "en":
                return message.value, message.language or ""
        return (messages[0].value, messages[0].language or "") if messages else None

    def severity(self, shape: Term) -> tuple[Severity, str]:
        """The shape's severity, and the IRI of one other than SHACL's three (SHACL lets a
        shapes graph name its own): such results count as violations, to be safe."""
        value = self.one(shape, SH.severity)
        if value is None:
            return Severity.VIOLATION, ""
        if not isinstance(value, NamedNode):
            raise ShapesError(f"{self.name(shape)}: sh:severity must be an IRI")
        if value not in _SEVERITIES:
            return Severity.VIOLATION, value.value
        return _SEVERITIES[value], ""

    def is_property_shape(self, shape: Term) -> bool:
        return bool(self.objects(shape, SH.path)) or shape in self._typed_property_shapes

    def is_implicit_class(self, shape: Term) -> bool:
        """A shape that is also a class targets its instances (SHACL 2.1.3.3)."""
        classes = {*_CLASSES, *self.subjects(RDFS.subClassOf, RDFS.Class)}
        types = set(self.objects(shape, RDF.type))
        return bool(types & classes) and bool(types & {SH.NodeShape, SH.PropertyShape})

    def shape_nodes(self) -> set[Term]:
        """The shapes (SHACL 2.1): typed as shapes, with targets or a path, with terms of
        SHACL Advanced Features, or the value of a parameter that expects shapes; and the
        SPARQL constraints of shapes."""
        found: set[Term] = {*self.roots(), *self._typed_property_shapes}
        found |= self.subjects(RDF.type, SH.NodeShape) | self.subjects(SH.path)
        found |= {s for p in _ADVANCED for s in self.subjects(p)}
        todo = list(found)
        while todo:
            shape = todo.pop()
            refers = [
                *self.objects(shape, SH.property),
                *self.objects(shape, SH.node),
                *self.objects(shape, SH["not"]),
                *self.objects(shape, SH.qualifiedValueShape),
                *self.objects(shape, SH.sparql),
            ]
            for name in ("and", "or", "xone"):
                for head in self.objects(shape, SH[name]):
                    refers.extend(self.items(head))
            for other in refers:
                if other not in found:
                    found.add(other)
                    todo.append(other)
        return found

    def roots(self) -> list[Term]:
        """Every shape with targets, in a stable order."""
        found = {s for p in _TARGET_PREDICATES for s in self.subjects(p)}
        found |= {s for s in self.about if self.is_implicit_class(s)}
        return sorted(found, key=str)

    def targets(self, shape: Term) -> frozenset[Target]:
        found: set[Target] = set()
        classes = self.objects(shape, SH.targetClass)
        if self.is_implicit_class(shape):
            classes = [*classes, shape]
        for cls in classes:
            if not isinstance(cls, NamedNode):
                raise OutsideSubset(f"{self.name(shape)}: a class target that is not an IRI")
            found.add(Target("class", cls))
        for node in self.objects(shape, SH.targetNode):
            if isinstance(node, BlankNode):
                raise OutsideSubset(f"{self.name(shape)}: a blank node as sh:targetNode")
            found.add(Target("node", node))
        for kind in ("subjectsOf", "objectsOf"):
            for predicate in self.objects(shape, SH["target" + kind[0].upper() + kind[1:]]):
                if not isinstance(predicate, NamedNode):
                    raise ShapesError(f"{self.name(shape)}: sh:target{kind} must be an IRI")
                found.add(Target(kind, predicate))
        return frozenset(found)

    def constant(self, term: Term, shape: Term) -> str:
        """A term as SPARQL text; N-Triples syntax is valid SPARQL for IRIs and literals."""
        if isinstance(term, BlankNode):
            raise OutsideSubset(f"{self.name(shape)}: a blank node as a constraint value")
        return str(term)

    def path(self, node: Term, shape: Term) -> tuple[str, str]:
        """The SHACL path `node` as a SPARQL property path, and as a label for messages."""
        if isinstance(node, NamedNode):
            return str(node), self.name(node)
        if not isinstance(node, BlankNode):
            raise ShapesError(f"{self.name(shape)}: a literal is not a path")
        about = self.about.get(node, {})
        if RDF.first in about:
            members = [self.path(m, shape) for m in self.items(node)]
            if len(members) < 2 or set(about) - {RDF.first, RDF.rest}:
                raise OutsideSubset(f"{self.name(shape)}: a sequence path needs two members")
            return _joined(members, "/")
        if len(about) != 1 or len(next(iter(about.values()))) != 1:
            raise OutsideSubset(f"{self.name(shape)}: {self.name(node)} is not a path")
        ((kind, (inner,)),) = about.items()
        if kind == SH.alternativePath:
            members = [self.path(m, shape) for m in self.items(inner)]
            if len(members) < 2:
                raise OutsideSubset(f"{self.name(shape)}: an alternative path needs two members")
            return _joined(members, "|")
        if kind not in _SINGLE_PATHS:
            raise OutsideSubset(f"{self.name(shape)}: {self.name(kind)} is not a path")
        sparql, label = self.path(inner, shape)
        if not isinstance(inner, NamedNode):
            sparql, label = f"({sparql})", f"({label})"
        return _SINGLE_PATHS[kind].format(sparql), _SINGLE_PATHS[kind].format(label)


def _joined(members: list[tuple[str, str]], operator: str) -> tuple[str, str]:
    sparql = operator.join(f"({m})" if not m.startswith("<") else m for m, _ in members)
    label = operator.join(label for _, label in members)
    return f"({sparql})", f"({label})"


@dataclass
class Compiled:
    """The compiled constraints, and the root shapes left to pySHACL with the reason."""

    shapes: Shapes
    constraints: list[Constraint] = field(default_factory=list)
    compiled: list[Term] = field(default_factory=list)
    delegated: dict[Term, str] = field(default_factory=dict)

    def delegation_graph(self) -> list[Triple]:
        """The shapes graph as pySHACL gets it: whole (the shapes the delegated ones refer
        to, prefixes, constraint components), less the targets of the compiled shapes."""
        compiled = set(self.compiled)
        classes = {*_CLASSES, *self.shapes.subjects(RDFS.subClassOf, RDFS.Class)}

        def targets(t: Triple) -> bool:
            return t.predicate in _TARGET_PREDICATES or (
                t.predicate == RDF.type and t.object in classes
            )

        return [t for t in self.shapes.triples if t.subject not in compiled or not targets(t)]


def compile_shapes(data: bytes, base_iri: str | None = None) -> Compiled:
    """Compile the Turtle shapes graph `data` (relative IRIs against `base_iri`): every
    active constraint of its root shapes inside the compiled subset; the others in
    `delegated`."""
    shapes = Shapes(data, base_iri)
    _check_vocabulary(shapes)
    result = Compiled(shapes)
    for root in shapes.roots():
        try:
            found = _Compiler(shapes).root(root)
        except OutsideSubset as exc:
            result.delegated[root] = str(exc)
            continue
        result.compiled.append(root)
        result.constraints.extend(found)
    result.constraints = list(dict.fromkeys(result.constraints))
    return result


def _check_vocabulary(shapes: Shapes) -> None:
    """Shapes use only SHACL Core and SHACL-SPARQL terms (other nodes are data: a test
    file may hold both), and IRIs as severities."""
    for shape in sorted(shapes.shape_nodes(), key=str):
        for predicate in shapes.about.get(shape, {}):
            if predicate.value.startswith(str(SH)) and predicate not in _KNOWN:
                raise ShapesError(
                    f"{shapes.name(predicate)} is not a term of SHACL Core or SHACL-SPARQL "
                    f"(used by {shapes.name(shape)}); SHACL Advanced Features and SHACL-JS "
                    "are not evaluated"
                )
    for subject, kind in shapes.by_predicate[RDF.type]:
        sh_class = isinstance(kind, NamedNode) and kind.value.startswith(str(SH))
        if sh_class and kind not in _KNOWN_CLASSES:
            raise ShapesError(
                f"{shapes.name(kind)} is not a class of SHACL Core or SHACL-SPARQL "
                f"({shapes.name(subject)})"
            )
    for shape, _ in shapes.by_predicate[SH.severity]:
        shapes.severity(shape)
    if shapes.by_predicate[SH.entailment]:
        raise ShapesError("sh:entailment is not supported: data is validated as it is")


def _focus(targets: frozenset[Target]) -> str:
    """The pattern that binds ?this to each marked focus node of the targets."""
    keys = " ".join(sorted({str(t.key) for t in targets}))
    return f"GRAPH {FOCUS_GRAPH} {{ VALUES ?key {{ {keys} }} ?key {FOCUS_HAS} ?this }}"


def _subject(targets: frozenset[Target]) -> str:
    """How generated messages name a focus node: the local name of its class."""
    classes = sorted(t.term.value for t in targets if t.kind == "class")
    if not classes:
        return "Focus node"
    return re.split(r"[#/]", classes[0])[-1] or classes[0]


@dataclass(frozen=True)
class _Path:
    sparql: str  # a SPARQL property path
    report: str  # for reports: the IRI, "^IRI", else the SPARQL path
    label: str  # for generated messages


def _path(shapes: Shapes, shape: Term) -> _Path:
    path = shapes.one(shape, SH.path)
    if path is None:
        raise ShapesError(f"{shapes.name(shape)}: a property shape needs sh:path")
    sparql, label = shapes.path(path, shape)
    report = sparql
    if isinstance(path, NamedNode):
        report = path.value
    elif re.fullmatch(r"\^<[^>]*>", sparql):
        report = "^" + sparql[2:-1]
    name = shapes.one(shape, SH.name)
    if isinstance(name, Literal):
        label = f"{name.value} ({label})"
    return _Path(sparql, report, label)


class _Compiler:
    """Compiles one root shape. Variables of nested conditions are numbered apart."""

    def __init__(self, shapes: Shapes) -> None:
        self.shapes = shapes
        self._fresh: Iterator[int] = itertools.count(1)

    def var(self) -> str:
        return f"?v{next(self._fresh)}"

    def check(self, shape: Term) -> None:
        """The shape's parameters are inside the compiled subset (else `OutsideSubset`)."""
        shapes = self.shapes
        own = {p for p in shapes.about.get(shape, {}) if p.value.startswith(str(SH))}
        prop = shapes.is_property_shape(shape)
        if not prop and (misplaced := own & _PROPERTY_ONLY):
            where = ", ".join(sorted(shapes.name(p) for p in misplaced))
            raise ShapesError(f"{shapes.name(shape)}: {where} is only for property shapes")
        if extra := own - (_ON_PROPERTY_SHAPES if prop else _ON_NODE_SHAPES):
            where = ", ".join(sorted(shapes.name(p) for p in extra))
            kind = "a property shape" if prop else "a node shape"
            raise OutsideSubset(f"{shapes.name(shape)}: {where} on {kind}")
        if custom := set(shapes.about.get(shape, {})) & shapes.parameters:
            where = ", ".join(sorted(shapes.name(p) for p in custom))
            raise OutsideSubset(f"{shapes.name(shape)}: {where} of a custom constraint component")

    def root(self, shape: Term) -> list[Constraint]:
        self.check(shape)
        if self.shapes.is_true(shape, SH.deactivated):
            return []
        targets = self.shapes.targets(shape)
        found = self.constraints(shape, targets)
        if not self.shapes.is_property_shape(shape):
            for prop in self.shapes.objects(shape, SH.property):
                self.check(prop)
                if not self.shapes.is_property_shape(prop):
                    raise ShapesError(f"{self.shapes.name(prop)}: a property shape needs sh:path")
                if not self.shapes.is_true(prop, SH.deactivated):
                    found.extend(self.constraints(prop, targets))
            for sparql in self.shapes.objects(shape, SH.sparql):
                found.extend(self.sparql(shape, sparql, targets))
        return found

    def constraints(self, shape: Term, targets: frozenset[Target]) -> list[Constraint]:
        """The constraints of one shape on the focus nodes of `targets`: on the values of
        its path for a property shape, on the focus node itself for a node shape."""
        shapes = self.shapes
        prop = shapes.is_property_shape(shape)
        path = _path(shapes, shape) if prop else None
        values = f"?this {path.sparql} ?value ." if path else "BIND (?this AS ?value)"
        (severity, severity_iri), message = shapes.severity(shape), shapes.message(shape)
        focus, subject = _focus(targets), _subject(targets)
        each = f"Each value for {path.label} of a {subject}" if path else subject
        each += " must be"
        found: list[Constraint] = []

        def add(component: str, query: str, generated: str) -> None:
            text, language = message or (generated, "")
            found.append(
                Constraint(
                    query=query,
                    component=f"sh:{component[0].upper()}{component[1:]}ConstraintComponent",
                    severity=severity,
                    severity_iri=severity_iri,
                    message=text,
                    language=language,
                    path=path.report if path else "",
                    shape=node_key(shape),
                    targets=targets,
                )
            )

        def failing(violated: str) -> str:
            """The focus nodes and values for which `violated` is true."""
            return f"SELECT DISTINCT ?this ?value WHERE {{ {focus} {values} FILTER ({violated}) }}"

        for component, test, words in self.value_tests(shape, "?value"):
            if component == "class":  # MINUS finds the instances once; NOT EXISTS would walk
                cls = test  # the path for every value
                query = (
                    f"SELECT DISTINCT ?this ?value WHERE {{ {focus} {values} "
                    f"MINUS {{ ?value {RDF.type}/{RDFS.subClassOf}* {cls} }} }}"
                )
                add(component, query, f"{each} an instance of {words}")
            else:
                add(component, failing(f"!({test})"), f"{each} {words}")
        for value in shapes.objects(shape, SH.hasValue):
            term = shapes.constant(value, shape)
            if path:
                query = (
                    f"SELECT DISTINCT ?this WHERE {{ {focus} "
                    f"FILTER NOT EXISTS {{ ?this {path.sparql} {term} }} }}"
                )
                generated = f"{subject} must have {shapes.name(value)} for {path.label}"
            else:
                query = f"SELECT DISTINCT ?this WHERE {{ {focus} FILTER (!sameTerm(?this, {term}))"
                query += " }"
                generated = f"{subject} must be {shapes.name(value)}"
            add("hasValue", query, generated)
        if path is None:
            return found

        def count(name: str) -> int | None:
            return self.count(shape, name)

        if n := count("minCount"):
            query = (
                f"SELECT DISTINCT ?this WHERE {{ {focus} MINUS {{ {values} }} }}"
                if n == 1
                else f"SELECT ?this WHERE {{ {focus} OPTIONAL {{ {values} }} }} "
                f"GROUP BY ?this HAVING (COUNT(DISTINCT ?value) < {n})"
            )
            plural = "value" if n == 1 else "values"
            add("minCount", query, f"{subject} must have at least {n} {plural} for {path.label}")
        if (n := count("maxCount")) is not None:
            query = (
                f"SELECT ?this WHERE {{ {focus} {values} }} "
                f"GROUP BY ?this HAVING (COUNT(DISTINCT ?value) > {n})"
            )
            plural = "value" if n == 1 else "values"
            add("maxCount", query, f"{subject} must have at most {n} {plural} for {path.label}")
        for other in self.iris(shape, "equals"):
            query = (
                f"SELECT DISTINCT ?this ?value WHERE {{ {focus} "
                f"{{ {values} FILTER NOT EXISTS {{ ?this {other} ?value }} }} UNION "
                f"{{ ?this {other} ?value FILTER NOT EXISTS {{ ?this {path.sparql} ?value }} }} }}"
            )
            same = f"the same values for {path.label} and {shapes.name(other)}"
            add("equals", query, f"{subject} must have {same}")
        for other in self.iris(shape, "disjoint"):
            query = (
                f"SELECT DISTINCT ?this ?value WHERE {{ {focus} {values} ?this {other} ?value }}"
            )
            add("disjoint", query, f"{each} none of its {shapes.name(other)}")
        for name, (operator, words) in _PAIRS.items():
            for other in self.iris(shape, name):
                query = (  # one result per pair of values (SHACL 4.5.3)
                    f"SELECT DISTINCT ?this ?value ?other WHERE {{ {focus} {values} "
                    f"?this {other} ?other . FILTER (!COALESCE(?value {operator} ?other, false)) }}"
                )
                add(name, query, f"{each} {words} its {shapes.name(other)}")
        return found

    def count(self, shape: Term, name: str) -> int | None:
        value = self.shapes.one(shape, SH[name])
        if value is not None and not (isinstance(value, Literal) and value.value.isdigit()):
            name = f"{self.shapes.name(shape)}: sh:{name}"
            raise ShapesError(f"{name} must be a non-negative integer")
        return None if value is None else int(value.value)

    def iris(self, shape: Term, name: str) -> list[NamedNode]:
        found = self.shapes.objects(shape, SH[name])
        for other in found:
            if not isinstance(other, NamedNode):
                raise ShapesError(f"{self.shapes.name(shape)}: sh:{name} must be an IRI")
        return [o for o in found if isinstance(o, NamedNode)]

    def value_tests(
        self, shape: Term, v: str, stack: tuple[Term, ...] = ()
    ) -> list[tuple[str, str, str]]:
        """(component, test, words) per value constraint of `shape`: `test` is a SPARQL
        expression true when the value `v` conforms (for "class", the class instead)."""
        shapes = self.shapes
        found: list[tuple[str, str, str]] = []

        def values(name: str) -> list[Term]:
            return shapes.objects(shape, SH[name])

        for datatype in values("datatype"):
            test = _datatype_test(shapes, shape, datatype, v)
            found.append(("datatype", test, f"a valid {shapes.name(datatype)} literal"))
        for cls in values("class"):
            found.append(("class", shapes.constant(cls, shape), shapes.name(cls)))
        for kind in values("nodeKind"):
            if not isinstance(kind, NamedNode) or kind not in _NODE_KINDS:
                raise ShapesError(f"{shapes.name(shape)}: {shapes.name(kind)} is not a node kind")
            test, words = _NODE_KINDS[kind]
            found.append(("nodeKind", test.format(v=v), words))
        for head in values("in"):
            members = shapes.items(head)
            tests = [f"sameTerm({v}, {shapes.constant(m, shape)})" for m in members] or ["false"]
            shown = ", ".join(shapes.name(m) for m in members)
            found.append(("in", f"({' || '.join(tests)})", f"one of {shown}"))
        flags = shapes.one(shape, SH.flags)
        for regex in values("pattern"):
            arguments = _regex(shapes, shape, regex, flags)
            test = f"(!isBlank({v}) && REGEX(STR({v}), {arguments}))"
            found.append(("pattern", test, f"text matching {shapes.name(regex)}"))
        for name, (operator, words) in _RANGES.items():
            for bound in values(name):
                test = f"COALESCE({v} {operator} {shapes.constant(bound, shape)}, false)"
                found.append((name, test, f"{words} {shapes.name(bound)}"))
        for name, (operator, words) in _LENGTHS.items():
            if (n := self.count(shape, name)) is not None:
                test = f"(!isBlank({v}) && STRLEN(STR({v})) {operator} {n})"
                found.append((name, test, f"{words} {n} characters long"))
        for head in values("languageIn"):
            tags = [m for m in shapes.items(head) if isinstance(m, Literal)]
            matches = [f'langMatches(lang({v}), "{t.value}")' for t in tags] or ["false"]
            test = f"COALESCE(isLiteral({v}) && ({' || '.join(matches)}), false)"
            shown = ", ".join(t.value for t in tags)
            found.append(("languageIn", test, f"in one of the languages {shown}"))
        for other in values("node"):
            found.append(("node", self.conforms(other, v, stack), f"a {shapes.name(other)}"))
        for other in values("not"):
            test = f"!{self.conforms(other, v, stack)}"
            found.append(("not", test, f"anything but a {shapes.name(other)}"))
        for name, words in _LOGICAL.items():
            for head in values(name):
                members = shapes.items(head)
                tests = [self.conforms(m, v, stack) for m in members]
                if name == "xone":
                    test = f"({' + '.join(f'IF({t}, 1, 0)' for t in tests) or '0'}) = 1"
                else:
                    test = f" {'&&' if name == 'and' else '||'} ".join(tests)
                    test = f"({test or ('true' if name == 'and' else 'false')})"
                shown = ", ".join(shapes.name(m) for m in members)
                found.append((name, test, f"{words} {shown}"))
        return found

    def conforms(self, shape: Term, x: str, stack: tuple[Term, ...]) -> str:
        """A SPARQL expression true when the node `x` conforms to `shape`."""
        shapes = self.shapes
        if shape in stack:
            raise OutsideSubset(f"{shapes.name(shape)} refers to itself")
        self.check(shape)
        if shapes.objects(shape, SH.sparql):
            raise OutsideSubset(f"{shapes.name(shape)}: sh:sparql in a shape another refers to")
        if shapes.is_true(shape, SH.deactivated):
            return "true"
        stack = (*stack, shape)
        if not shapes.is_property_shape(shape):
            tests = [self.node_test(c, t, x) for c, t, _ in self.value_tests(shape, x, stack)]
            tests += [
                f"sameTerm({x}, {shapes.constant(value, shape)})"
                for value in shapes.objects(shape, SH.hasValue)
            ]
            for prop in shapes.objects(shape, SH.property):
                if not shapes.is_property_shape(prop):
                    raise ShapesError(f"{shapes.name(prop)}: a property shape needs sh:path")
                tests.append(self.conforms(prop, x, stack))
            return f"({' && '.join(tests) or 'true'})"
        path = _path(shapes, shape).sparql
        tests = []
        v = self.var()
        value_tests = [self.node_test(c, t, v) for c, t, _ in self.value_tests(shape, v, stack)]
        if value_tests:
            tests.append(f"NOT EXISTS {{ {x} {path} {v} FILTER (!({' && '.join(value_tests)})) }}")
        for value in shapes.objects(shape, SH.hasValue):
            tests.append(f"EXISTS {{ {x} {path} {shapes.constant(value, shape)} }}")
        if n := self.count(shape, "minCount"):
            tests.append(f"EXISTS {{ {self.distinct(x, path, n)} }}")
        if (n := self.count(shape, "maxCount")) is not None:
            tests.append(f"NOT EXISTS {{ {self.distinct(x, path, n + 1)} }}")
        for other in self.iris(shape, "equals"):
            w = self.var()
            tests.append(f"NOT EXISTS {{ {x} {path} {w} FILTER NOT EXISTS {{ {x} {other} {w} }} }}")
            tests.append(f"NOT EXISTS {{ {x} {other} {w} FILTER NOT EXISTS {{ {x} {path} {w} }} }}")
        for other in self.iris(shape, "disjoint"):
            w = self.var()
            tests.append(f"NOT EXISTS {{ {x} {path} {w} . {x} {other} {w} }}")
        for name, (operator, _) in _PAIRS.items():
            for other in self.iris(shape, name):
                w, o = self.var(), self.var()
                tests.append(
                    f"NOT EXISTS {{ {x} {path} {w} . {x} {other} {o} "
                    f"FILTER (!COALESCE({w} {operator} {o}, false)) }}"
                )
        return f"({' && '.join(tests) or 'true'})"

    def node_test(self, component: str, test: str, v: str) -> str:
        if component == "class":
            return f"EXISTS {{ {v} {RDF.type}/{RDFS.subClassOf}* {test} }}"
        return test

    def distinct(self, x: str, path: str, n: int) -> str:
        """A pattern that matches when `x` has at least `n` distinct values for `path`."""
        if n > _COUNT_LIMIT:
            raise OutsideSubset(f"a count above {_COUNT_LIMIT} in a shape that another refers to")
        names = [self.var() for _ in range(n)]
        patterns = " ".join(f"{x} {path} {name} ." for name in names)
        different = [f"!sameTerm({a}, {b})" for a, b in itertools.combinations(names, 2)]
        return patterns + (f" FILTER ({' && '.join(different)})" if different else "")

    def sparql(self, node: Term, constraint: Term, targets: frozenset[Target]) -> list[Constraint]:
        shapes = self.shapes
        if shapes.is_true(constraint, SH.deactivated):
            return []
        select = shapes.one(constraint, SH.select)
        if not isinstance(select, Literal):
            raise ShapesError(f"{shapes.name(node)}: sh:sparql needs sh:select")
        if match := _SHAPES_GRAPH_VARIABLES.search(select.value):
            raise OutsideSubset(f"{shapes.name(node)}: ${match.group(1)} in sh:select")
        text = re.sub(r"\$this\b", "?this", select.value)
        head = re.search(r"\bSELECT\b(.*?)(\bWHERE\b|\{)", text, re.IGNORECASE | re.DOTALL)
        if head is None or not re.search(r"\*|\?this\b", head.group(1)):
            raise ShapesError(f"{shapes.name(node)}: sh:select must select $this")
        # Pre-binding $this for every focus node at once = joining the body with the focus marks.
        at = head.end() if head.group(2) == "{" else text.index("{", head.end()) + 1
        query = _prefixes(shapes, constraint) + f"{text[:at]} {_focus(targets)} {text[at:]}"
        text_language = shapes.message(constraint) or shapes.message(node)
        generated = f"{_subject(targets)} breaks a rule of {shapes.name(node)}"
        message, language = text_language or (generated, "")
        severity, severity_iri = shapes.severity(node)
        return [
            Constraint(
                query=query,
                component="sh:SPARQLConstraintComponent",
                severity=severity,
                severity_iri=severity_iri,
                message=message,
                language=language,
                path="",
                shape=node_key(node),
                targets=targets,
            )
        ]


def _regex(shapes: Shapes, shape: Term, regex: Term, flags: Term | None) -> str:
    """The REGEX arguments, once the store has accepted them: it answers an error, not a
    violation, for syntax it lacks (look-around, back-references)."""
    arguments = shapes.constant(regex, shape)
    if flags is not None:
        arguments += ", " + shapes.constant(flags, shape)
    probe = Store().query(f'SELECT (REGEX("", {arguments}) AS ?ok) WHERE {{}}')
    if not isinstance(probe, QuerySolutions) or next(probe)["ok"] is None:
        raise OutsideSubset(
            f"{shapes.name(shape)}: sh:pattern {shapes.name(regex)} is not a regular expression "
            "the store supports (such as look-around or back-references)"
        )
    return arguments


def _datatype_test(shapes: Shapes, shape: Term, datatype: Term, v: str) -> str:
    if not isinstance(datatype, NamedNode):
        raise ShapesError(f"{shapes.name(shape)}: sh:datatype must be an IRI")
    if datatype in _NORMALISED:
        raise OutsideSubset(
            f"{shapes.name(shape)}: sh:datatype {shapes.name(datatype)}: the store rewrites "
            "such literals as xsd:integer or xsd:dateTime"
        )
    matches = f"isLiteral({v}) && datatype({v}) = {datatype}"
    if datatype in _CASTABLE:
        cast = f"{datatype}(STR({v}))"
        matches += f" && (sameTerm({cast}, {v}) || {cast} = {v})"
    return f"COALESCE({matches}, false)"


def _prefixes(shapes: Shapes, constraint: Term) -> str:
    declared: list[str] = []
    for source in shapes.objects(constraint, SH.prefixes):
        for declaration in shapes.objects(source, SH.declare):
            prefix = shapes.one(declaration, SH.prefix)
            namespace = shapes.one(declaration, SH.namespace)
            if not isinstance(prefix, Literal) or not isinstance(namespace, Literal):
                raise ShapesError(f"{shapes.name(source)}: sh:declare needs a prefix and namespace")
            declared.append(f"PREFIX {prefix.value}: <{namespace.value}>\n")
    return "".join(declared)
