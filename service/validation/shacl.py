"""Compile a SHACL shapes graph into SPARQL SELECT queries, one per constraint.

The subset: node shapes with `sh:targetClass`; property shapes whose `sh:path` is an
IRI or `[ sh:inversePath IRI ]`; the count, datatype, class, node-kind, `sh:in`,
`sh:hasValue`, pattern, range, length and `sh:lessThan(OrEquals)` constraints;
`sh:severity`, `sh:message`, `sh:name`, `sh:description`, `sh:deactivated`; and
node-level `sh:sparql` constraints with `sh:select` and `sh:prefixes`. Anything else
raises `ShapesError` naming the feature, so no rule is ever skipped in silence.

Each query finds the violations of one constraint for all focus nodes at once. Focus
nodes are not computed by the queries: the validator marks them beforehand in a graph of
their own (`?this FOCUS_OF ?class` in `FOCUS_GRAPH`), and every query joins with that.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from pyoxigraph import BlankNode, Literal, NamedNode, QuerySolutions, RdfFormat, Store, parse

from citytools.errors import CityToolsError
from citytools.report import Severity
from citytools.vocab import OWL, PREFIXES, RDF, RDFS, SH, XSD

Term = NamedNode | BlankNode | Literal

FOCUS_GRAPH = NamedNode("urn:x-citytools:validation:focus")
FOCUS_OF = NamedNode("urn:x-citytools:validation:focusOf")

# fmt: off
_SUPPORTED = {SH[name] for name in [
    "targetClass", "property", "path", "inversePath", "sparql", "select", "prefixes", "declare",
    "prefix", "namespace", "severity", "message", "name", "description", "deactivated",
    "minCount", "maxCount", "datatype", "class", "nodeKind", "in", "hasValue", "pattern",
    "flags", "minInclusive", "maxInclusive", "minExclusive", "maxExclusive", "minLength",
    "maxLength", "lessThan", "lessThanOrEquals",
]}
_ON_NODE_SHAPES = {SH[name] for name in [
    "targetClass", "property", "sparql", "severity", "message", "name", "description",
    "deactivated",
]}
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
_TYPES = {SH.NodeShape, SH.PropertyShape, SH.SPARQLConstraint}
_SEVERITIES = {
    SH.Violation: Severity.VIOLATION,
    SH.Warning: Severity.WARNING,
    SH.Info: Severity.INFO,
}
_NODE_KINDS = {
    SH.IRI: ("isIRI(?value)", "an IRI"),
    SH.BlankNode: ("isBlank(?value)", "a blank node"),
    SH.Literal: ("isLiteral(?value)", "a literal"),
    SH.BlankNodeOrIRI: ("(isBlank(?value) || isIRI(?value))", "an IRI or a blank node"),
    SH.BlankNodeOrLiteral: ("(isBlank(?value) || isLiteral(?value))", "a blank node or a literal"),
    SH.IRIOrLiteral: ("(isIRI(?value) || isLiteral(?value))", "an IRI or a literal"),
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
_SHAPES_GRAPH_VARIABLES = re.compile(r"\$(currentShape|shapesGraph)\b")


class ShapesError(CityToolsError):
    """The shapes graph does not parse or uses SHACL outside the compiled subset."""

    code = "unsupported-shapes"


@dataclass(frozen=True)
class Constraint:
    """One compiled constraint. Its query selects `?this` and, when there is one, `?value`
    (and `?path` for SPARQL constraints that bind it)."""

    query: str
    component: str  # e.g. "sh:MinCountConstraintComponent"
    severity: Severity
    message: str
    path: str  # IRI of the path, "^IRI" for an inverse path, "" for node-level constraints
    shape: str  # the shape the result comes from
    targets: frozenset[NamedNode]


class _Shapes:
    """The shapes graph as an index (subject → predicate → objects), with its prefixes."""

    def __init__(self, data: bytes) -> None:
        self.about: dict[Term, dict[NamedNode, list[Term]]] = defaultdict(lambda: defaultdict(list))
        self.by_predicate: dict[NamedNode, list[tuple[Term, Term]]] = defaultdict(list)
        try:
            parser = parse(data, format=RdfFormat.TURTLE)
            for quad in parser:
                s, p, o = quad.subject, quad.predicate, quad.object
                if not isinstance(s, NamedNode | BlankNode) or not isinstance(o, Term):
                    raise ShapesError(f"RDF-star triples are not supported: {quad}")
                self.about[s][p].append(o)
                self.by_predicate[p].append((s, o))
        except SyntaxError as exc:
            raise ShapesError(f"the shapes graph does not parse: {exc}") from None
        self.prefixes = {**PREFIXES, **parser.prefixes}

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
        return self.about[subject][predicate] if subject in self.about else []

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
        value = self.one(subject, predicate)
        return isinstance(value, Literal) and value.value in ("true", "1")

    def message(self, node: Term) -> str | None:
        """The node's sh:message in English or without a language, else any."""
        messages = [m for m in self.objects(node, SH.message) if isinstance(m, Literal)]
        for message in messages:
            if (message.language or "en").split("-")[0] == "en":
                return message.value
        return messages[0].value if messages else None

    def severity(self, shape: Term) -> Severity:
        value = self.one(shape, SH.severity)
        if value is None:
            return Severity.VIOLATION
        if not isinstance(value, NamedNode) or value not in _SEVERITIES:
            raise ShapesError(f"{self.name(shape)}: severity {self.name(value)} is not supported")
        return _SEVERITIES[value]

    def targets(self, shape: Term) -> frozenset[NamedNode]:
        targets = self.objects(shape, SH.targetClass)
        if not all(isinstance(t, NamedNode) for t in targets):
            raise ShapesError(f"{self.name(shape)}: sh:targetClass must be an IRI")
        return frozenset(t for t in targets if isinstance(t, NamedNode))

    def constant(self, term: Term, shape: Term) -> str:
        """A term as SPARQL text; N-Triples syntax is valid SPARQL for IRIs and literals."""
        if isinstance(term, BlankNode):
            raise ShapesError(f"{self.name(shape)}: a blank node as a constraint value")
        return str(term)


def compile_shapes(data: bytes) -> list[Constraint]:
    """Every active constraint with targets of the Turtle shapes graph `data`."""
    shapes = _Shapes(data)
    _check_vocabulary(shapes)
    property_shapes = shapes.subjects(RDF.type, SH.PropertyShape) | shapes.subjects(SH.path)
    property_shapes |= {o for _, o in shapes.by_predicate[SH.property]}
    node_shapes = shapes.subjects(RDF.type, SH.NodeShape) | shapes.subjects(SH.targetClass)
    node_shapes = (node_shapes | shapes.subjects(SH.sparql)) - property_shapes

    # Where each property shape applies: the targets of the node shapes that name it.
    uses: dict[Term, list[frozenset[NamedNode]]] = defaultdict(list)
    constraints: list[Constraint] = []
    for node in sorted(node_shapes, key=str):
        extra = {p for p in shapes.about.get(node, {}) if p.value.startswith(str(SH))}
        if extra := extra - _ON_NODE_SHAPES:
            where = ", ".join(sorted(shapes.name(p) for p in extra))
            raise ShapesError(f"{shapes.name(node)}: {where} on a node shape is not supported")
        if shapes.is_true(node, SH.deactivated):
            continue
        targets, _ = shapes.targets(node), shapes.severity(node)  # both checked here
        for shape in shapes.objects(node, SH.property):
            uses[shape].append(targets)
        for sparql in shapes.objects(node, SH.sparql):
            constraints.extend(_sparql_constraint(shapes, node, sparql, targets))
    for shape in sorted(property_shapes, key=str):
        if shapes.objects(shape, SH.property) or shapes.objects(shape, SH.sparql):
            raise ShapesError(
                f"{shapes.name(shape)}: sh:property or sh:sparql inside a property shape "
                "is not supported"
            )
        own = shapes.targets(shape)
        # Compiled even without targets, so that an unsupported feature never goes unseen.
        for targets in [*uses[shape], *([own] if own or not uses[shape] else [])]:
            constraints.extend(_property_constraints(shapes, shape, targets))
    return list(dict.fromkeys(c for c in constraints if c.targets))


def _check_vocabulary(shapes: _Shapes) -> None:
    for predicate, pairs in shapes.by_predicate.items():
        if predicate.value.startswith(str(SH)) and predicate not in _SUPPORTED:
            raise ShapesError(
                f"{shapes.name(predicate)} is not supported by the validation engine "
                f"(used by {shapes.name(pairs[0][0])})"
            )
    for subject, kind in shapes.by_predicate[RDF.type]:
        if isinstance(kind, NamedNode) and kind.value.startswith(str(SH)) and kind not in _TYPES:
            raise ShapesError(f"{shapes.name(kind)} is not supported ({shapes.name(subject)})")
        if kind in (RDFS.Class, OWL.Class) and _TYPES & set(shapes.objects(subject, RDF.type)):
            raise ShapesError(f"implicit class targets are not supported ({shapes.name(subject)})")


def _focus(targets: frozenset[NamedNode]) -> str:
    """The pattern that binds ?this to each marked focus node of the targets."""
    blocks = [f"{{ ?this {FOCUS_OF} {c} }}" for c in sorted(targets, key=str)]
    return f"GRAPH {FOCUS_GRAPH} {{ {' UNION '.join(blocks)} }}"


def _subject(targets: frozenset[NamedNode]) -> str:
    """How generated messages name a focus node: the local name of its class."""
    if not targets:
        return "Resource"
    first = min(targets, key=str).value
    return re.split(r"[#/]", first)[-1] or first


@dataclass(frozen=True)
class _Path:
    pattern: str  # a triple pattern linking ?this to ?value
    iri: str  # for reports
    label: str  # for generated messages


def _path(shapes: _Shapes, shape: Term) -> _Path:
    path = shapes.one(shape, SH.path)
    if path is None:
        raise ShapesError(f"{shapes.name(shape)}: a property shape needs sh:path")
    if isinstance(path, NamedNode):
        found = _Path(f"?this {path} ?value .", path.value, shapes.name(path))
    else:
        inverse = shapes.objects(path, SH.inversePath)
        if len(shapes.about[path]) != 1 or len(inverse) != 1:
            kind = "a sequence path" if shapes.objects(path, RDF.first) else "this path"
            raise ShapesError(
                f"{shapes.name(shape)}: {kind} is not supported (only IRI or sh:inversePath IRI)"
            )
        if not isinstance(iri := inverse[0], NamedNode):
            raise ShapesError(f"{shapes.name(shape)}: only sh:inversePath of an IRI is supported")
        found = _Path(f"?value {iri} ?this .", "^" + iri.value, "^" + shapes.name(iri))
    name = shapes.one(shape, SH.name)
    if isinstance(name, Literal):
        return _Path(found.pattern, found.iri, f"{name.value} ({found.label})")
    return found


def _property_constraints(
    shapes: _Shapes, shape: Term, targets: frozenset[NamedNode]
) -> list[Constraint]:
    if shapes.is_true(shape, SH.deactivated):
        return []
    path = _path(shapes, shape)
    severity, message = shapes.severity(shape), shapes.message(shape)
    focus, subject = _focus(targets), _subject(targets)
    each = f"Each value for {path.label} of a {subject} must be"
    found: list[Constraint] = []

    def add(component: str, query: str, generated: str) -> None:
        found.append(
            Constraint(
                query=query,
                component=f"sh:{component[0].upper()}{component[1:]}ConstraintComponent",
                severity=severity,
                message=message or generated,
                path=path.iri,
                shape=shapes.name(shape),
                targets=targets,
            )
        )

    def failing(violated: str) -> str:
        """The focus nodes and values for which `violated` is true."""
        where = f"{focus} {path.pattern} FILTER ({violated})"
        return f"SELECT DISTINCT ?this ?value WHERE {{ {where} }}"

    def values(name: str) -> list[Term]:
        return shapes.objects(shape, SH[name])

    def count(name: str) -> int | None:
        value = shapes.one(shape, SH[name])
        if value is not None and not (isinstance(value, Literal) and value.value.isdigit()):
            raise ShapesError(f"{shapes.name(shape)}: sh:{name} must be a non-negative integer")
        return None if value is None else int(value.value)

    if n := count("minCount"):
        query = (
            f"SELECT DISTINCT ?this WHERE {{ {focus} MINUS {{ {path.pattern} }} }}"
            if n == 1
            else f"SELECT ?this WHERE {{ {focus} OPTIONAL {{ {path.pattern} }} }} "
            f"GROUP BY ?this HAVING (COUNT(DISTINCT ?value) < {n})"
        )
        plural = "value" if n == 1 else "values"
        add("minCount", query, f"{subject} must have at least {n} {plural} for {path.label}")
    if (n := count("maxCount")) is not None:
        query = (
            f"SELECT ?this WHERE {{ {focus} {path.pattern} }} "
            f"GROUP BY ?this HAVING (COUNT(DISTINCT ?value) > {n})"
        )
        plural = "value" if n == 1 else "values"
        add("maxCount", query, f"{subject} must have at most {n} {plural} for {path.label}")
    for datatype in values("datatype"):
        violated = _datatype_violated(shapes, shape, datatype)
        add("datatype", failing(violated), f"{each} a valid {shapes.name(datatype)} literal")
    for cls in values("class"):
        # MINUS finds the instances once; NOT EXISTS would walk the path for every value.
        query = (
            f"SELECT DISTINCT ?this ?value WHERE {{ {focus} {path.pattern} "
            f"MINUS {{ ?value {RDF.type}/{RDFS.subClassOf}* {shapes.constant(cls, shape)} }} }}"
        )
        add("class", query, f"{each} an instance of {shapes.name(cls)}")
    for kind in values("nodeKind"):
        if not isinstance(kind, NamedNode) or kind not in _NODE_KINDS:
            raise ShapesError(f"{shapes.name(shape)}: {shapes.name(kind)} is not a node kind")
        test, words = _NODE_KINDS[kind]
        add("nodeKind", failing(f"!{test}"), f"{each} {words}")
    for head in values("in"):
        members = shapes.items(head)
        tests = [f"sameTerm(?value, {shapes.constant(m, shape)})" for m in members] or ["false"]
        shown = ", ".join(shapes.name(m) for m in members)
        add("in", failing(f"!({' || '.join(tests)})"), f"{each} one of {shown}")
    for value in values("hasValue"):
        term = shapes.constant(value, shape)
        pattern = path.pattern.replace("?value", term)
        query = f"SELECT DISTINCT ?this WHERE {{ {focus} FILTER NOT EXISTS {{ {pattern} }} }}"
        add("hasValue", query, f"{subject} must have {shapes.name(value)} for {path.label}")
    flags = shapes.one(shape, SH.flags)
    for regex in values("pattern"):
        arguments = _regex(shapes, shape, regex, flags)
        violated = f"isBlank(?value) || !REGEX(STR(?value), {arguments})"
        add("pattern", failing(violated), f"{each} text matching {shapes.name(regex)}")
    for name, (operator, words) in _RANGES.items():
        for bound in values(name):
            violated = f"!COALESCE(?value {operator} {shapes.constant(bound, shape)}, false)"
            add(name, failing(violated), f"{each} {words} {shapes.name(bound)}")
    for name, (operator, words) in _LENGTHS.items():
        if (n := count(name)) is not None:
            violated = f"isBlank(?value) || !(STRLEN(STR(?value)) {operator} {n})"
            add(name, failing(violated), f"{each} {words} {n} characters long")
    for name, (operator, words) in _PAIRS.items():
        for other in values(name):
            if not isinstance(other, NamedNode):
                raise ShapesError(f"{shapes.name(shape)}: sh:{name} must be an IRI")
            query = (
                f"SELECT DISTINCT ?this ?value WHERE {{ {focus} {path.pattern} "
                f"?this {other} ?other . FILTER (!COALESCE(?value {operator} ?other, false)) }}"
            )
            add(name, query, f"{each} {words} its {shapes.name(other)}")
    return found


def _regex(shapes: _Shapes, shape: Term, regex: Term, flags: Term | None) -> str:
    """The REGEX arguments, once the store has accepted them: it answers an error, not a
    violation, for syntax it lacks (look-around, back-references)."""
    arguments = shapes.constant(regex, shape)
    if flags is not None:
        arguments += ", " + shapes.constant(flags, shape)
    probe = Store().query(f'SELECT (REGEX("", {arguments}) AS ?ok) WHERE {{}}')
    if not isinstance(probe, QuerySolutions) or next(probe)["ok"] is None:
        raise ShapesError(
            f"{shapes.name(shape)}: sh:pattern {shapes.name(regex)} is not a regular expression "
            "the store supports (no look-around or back-references)"
        )
    return arguments


def _datatype_violated(shapes: _Shapes, shape: Term, datatype: Term) -> str:
    if not isinstance(datatype, NamedNode):
        raise ShapesError(f"{shapes.name(shape)}: sh:datatype must be an IRI")
    if datatype in _NORMALISED:
        raise ShapesError(
            f"{shapes.name(shape)}: sh:datatype {shapes.name(datatype)} is not supported: the "
            "store rewrites such literals as xsd:integer or xsd:dateTime; use one of those"
        )
    matches = f"isLiteral(?value) && datatype(?value) = {datatype}"
    if datatype in _CASTABLE:
        cast = f"{datatype}(STR(?value))"
        matches += f" && (sameTerm({cast}, ?value) || {cast} = ?value)"
    return f"!COALESCE({matches}, false)"


def _sparql_constraint(
    shapes: _Shapes, node: Term, constraint: Term, targets: frozenset[NamedNode]
) -> list[Constraint]:
    if shapes.is_true(constraint, SH.deactivated):
        return []
    select = shapes.one(constraint, SH.select)
    if not isinstance(select, Literal):
        raise ShapesError(f"{shapes.name(node)}: sh:sparql without sh:select is not supported")
    if match := _SHAPES_GRAPH_VARIABLES.search(select.value):
        raise ShapesError(f"{shapes.name(node)}: ${match.group(1)} in sh:select is not supported")
    text = re.sub(r"\$this\b", "?this", select.value)
    head = re.search(r"\bSELECT\b(.*?)(\bWHERE\b|\{)", text, re.IGNORECASE | re.DOTALL)
    if head is None or not re.search(r"\*|\?this\b", head.group(1)):
        raise ShapesError(f"{shapes.name(node)}: sh:select must select $this")
    # Pre-binding $this for every focus node at once = joining the body with the focus marks.
    at = head.end() if head.group(2) == "{" else text.index("{", head.end()) + 1
    query = _prefixes(shapes, constraint) + f"{text[:at]} {_focus(targets)} {text[at:]}"
    message = shapes.message(constraint) or shapes.message(node)
    return [
        Constraint(
            query=query,
            component="sh:SPARQLConstraintComponent",
            severity=shapes.severity(node),
            message=message or f"{_subject(targets)} breaks a rule of {shapes.name(node)}",
            path="",
            shape=shapes.name(node),
            targets=targets,
        )
    ]


def _prefixes(shapes: _Shapes, constraint: Term) -> str:
    declared: list[str] = []
    for source in shapes.objects(constraint, SH.prefixes):
        for declaration in shapes.objects(source, SH.declare):
            prefix = shapes.one(declaration, SH.prefix)
            namespace = shapes.one(declaration, SH.namespace)
            if not isinstance(prefix, Literal) or not isinstance(namespace, Literal):
                raise ShapesError(f"{shapes.name(source)}: sh:declare needs a prefix and namespace")
            declared.append(f"PREFIX {prefix.value}: <{namespace.value}>\n")
    return "".join(declared)
