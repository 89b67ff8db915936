"""The shape of a SPARQL query, read just far enough to bound its cost — or None.

The inline lane (`inline_lane.py`) answers a query inside the HTTP process only when
its worst-case work is provably small, because a query evaluated there cannot be
stopped. This module reads what that bound needs: the query's triple patterns, which of
their positions are constants, which are variables, and the predicate IRIs. The values
of subject and object constants do not matter, so a query is first reduced to a
*skeleton* (IRIs → `<>`, strings → `""`, comments → a space) and the analysis is cached
by skeleton: lookups that differ only in the resource they name share one analysis.

The grammar read is small on purpose: SELECT / ASK / CONSTRUCT over basic graph
patterns with FILTER, OPTIONAL and nested groups, ORDER BY / LIMIT / OFFSET / DISTINCT,
FROM. Everything else (UNION, GRAPH, VALUES, BIND, MINUS, EXISTS, subqueries, property
paths, aggregates, SERVICE, blank-node brackets, collections, long strings, `\\u`
escapes, anything not lexed exactly as SPARQL lexes it) gives None, and the query goes
to a killable worker. A misread could only ever make us refuse a cheap query, never
admit a costly one: every token must be accounted for, or the answer is None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from citytools import vocab as v

Variable = str  # a variable's name ("x" for ?x or $x; "_:b" for a blank-node label)

MAX_PATTERNS = 8
MAX_LENGTH = 4096  # characters: longer texts are not analysed
MAX_TEMPLATE = 16  # CONSTRUCT template triples

_RDF_TYPE = v.RDF.type.value
_ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")

# Comments, IRIs and strings, as SPARQL reads them (comments end at CR or LF, as in
# pyoxigraph); `re.split` on one group is the fastest scan. Long strings and \\u escapes
# are caught too: they are refused, not guessed at.
_MASK = re.compile(
    r"""(\"\"\"|'''|\\[uU]|\#[^\r\n]*|<[^<>"{}|^`\\\x00-\x20]*>"""
    r"""|"(?:[^"\\\n\r]|\\.)*"|'(?:[^'\\\n\r]|\\.)*')"""
)
_TOKEN = re.compile(
    r"""
      (?P<space>[\ \t\r\n]+)
    | (?P<iri><>)
    | (?P<string>"")
    | (?P<var>[?$]\w+)
    | (?P<bnode>_:\w+)
    | (?P<pname>(?:[A-Za-z](?:[\w\-]|\.(?=[\w\-]))*)?:(?:[\w:%\-](?:[\w:%\-]|\.(?=[\w:%\-]))*)?)
    | (?P<number>\d+\.\d*[eE][+\-]?\d+|\.\d+(?:[eE][+\-]?\d+)?|\d+\.\d+(?:[eE][+\-]?\d+)?
                 |\d+(?:[eE][+\-]?\d+)?)
    | (?P<langtag>@[A-Za-z]+(?:-[A-Za-z0-9]+)*)
    | (?P<word>[A-Za-z_]\w*)
    | (?P<punct>\^\^|&&|\|\||<=|>=|!=|[{}().,;*=<>!+\-/])
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)

# Built-in functions a FILTER or ORDER BY may call: each costs little per row. REGEX and
# REPLACE are left out (a pattern from a variable is compiled row by row).
_FUNCTIONS = frozenset(
    (
        *("STR", "LANG", "LANGMATCHES", "DATATYPE", "BOUND", "IRI", "URI", "SAMETERM"),
        *("ISIRI", "ISURI", "ISBLANK", "ISLITERAL", "ISNUMERIC", "STRDT", "STRLANG"),
        *("CONTAINS", "STRSTARTS", "STRENDS", "STRBEFORE", "STRAFTER", "LCASE", "UCASE"),
        *("STRLEN", "SUBSTR", "COALESCE", "IF", "ABS", "CEIL", "FLOOR", "ROUND"),
        *("YEAR", "MONTH", "DAY", "IN", "NOT", "TRUE", "FALSE"),
    )
)


@dataclass(frozen=True)
class IriRef:
    """Where a constant predicate's IRI stands: the IRI at `slot` (the n-th IRI of the
    query, or of the namespace of a prefix) followed by `local`; slot -1 is `a`."""

    slot: int
    local: str = ""


@dataclass(frozen=True)
class PatternShape:
    subject: Variable | None  # None = a constant
    predicate: Variable | None
    predicate_ref: IriRef | None  # where a constant predicate's IRI is
    object: Variable | None
    optional: int = 0  # 0: mandatory; n: in the n-th OPTIONAL group of WHERE


@dataclass(frozen=True, eq=False)  # one per skeleton (cached): compared by identity
class Template:
    """A skeleton's analysis, shared by every query with that skeleton."""

    form: str  # SELECT, ASK or CONSTRUCT
    patterns: tuple[PatternShape, ...]
    reads_from: bool  # FROM <g> (not only FROM NAMED) names the default graph
    construct_triples: int
    has_base: bool


@dataclass(frozen=True)
class Shape:
    """A query's template and the IRI of each pattern's predicate (None for a variable,
    or for a constant that cannot be resolved here: read as any predicate)."""

    template: Template
    predicate_iris: tuple[str | None, ...]


def shape_of(sparql: str) -> Shape | None:
    """The query's shape, or None when it is outside the grammar read here."""
    if len(sparql) > MAX_LENGTH:
        return None
    skeleton, slots = _skeleton(sparql)
    if skeleton is None:
        return None
    template = template_of(skeleton)
    if template is None:
        return None
    iris = tuple(_resolve(p.predicate_ref, slots, template) for p in template.patterns)
    return Shape(template, iris)


def _skeleton(sparql: str) -> tuple[str | None, list[str]]:
    """The text with IRIs as `<>`, strings as `""` and comments as a space; and the IRIs.
    None when it holds a long string or a `\\u` escape."""
    parts = _MASK.split(sparql)
    slots: list[str] = []
    for index in range(1, len(parts), 2):
        token = parts[index]
        first = token[0]
        if first == "<":
            slots.append(token[1:-1])
            parts[index] = "<>"
        elif first == "#":
            parts[index] = " "
        elif token in ('"""', "'''") or first == "\\":
            return None, slots
        else:
            parts[index] = '""'
    return "".join(parts), slots


def _resolve(ref: IriRef | None, slots: list[str], template: Template) -> str | None:
    if ref is None:
        return None
    if ref.slot < 0:
        return _RDF_TYPE
    iri = slots[ref.slot] + ref.local
    # A relative IRI resolves against a base we do not track: unknown, read as any predicate.
    if template.has_base or not _ABSOLUTE.match(iri):
        return None
    return iri


@lru_cache(maxsize=4096)
def template_of(skeleton: str) -> Template | None:
    tokens: list[tuple[str, str]] = []
    for match in _TOKEN.finditer(skeleton):
        kind = match.lastgroup or "other"
        if kind == "other":
            return None
        if kind != "space":
            tokens.append((kind, match.group()))
    try:
        return _Parser(tokens).query()
    except (_Refused, RecursionError):
        return None


class _Refused(Exception):
    """The query is outside the grammar read here."""


class _Parser:
    """Recursive descent over the skeleton's tokens; any surprise raises `_Refused`."""

    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.at = 0
        self.slot = 0  # IRIs seen so far: the n-th `<>` is slot n
        self.prefixes: dict[str, int] = {}
        self.patterns: list[PatternShape] = []
        self.optional = 0  # the OPTIONAL group being read (its number from 1), or 0
        self.optionals = 0
        self.has_base = False

    # ------------------------------------------------------------------ tokens

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.at] if self.at < len(self.tokens) else ("end", "")

    def keyword(self) -> str:
        kind, text = self.peek()
        return text.upper() if kind == "word" else ""

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token[0] == "end":
            raise _Refused
        self.at += 1
        if token[0] == "iri":
            self.slot += 1
        return token

    def expect(self, text: str) -> None:
        kind, found = self.take()
        if found.upper() != text or kind not in ("punct", "word"):
            raise _Refused

    def accept(self, text: str) -> bool:
        kind, found = self.peek()
        if kind in ("punct", "word") and found.upper() == text:
            self.take()
            return True
        return False

    # ------------------------------------------------------------------ query

    def query(self) -> Template:
        self.prologue()
        form = self.keyword()
        construct_triples = 0
        if form == "SELECT":
            self.take()
            self.projection()
        elif form == "ASK":
            self.take()
        elif form == "CONSTRUCT":
            self.take()
            construct_triples = self.construct_template()
        else:
            raise _Refused
        reads_from = self.dataset()
        if not self.accept("WHERE") and form == "CONSTRUCT":
            raise _Refused
        self.group()
        self.modifiers()
        if self.peek()[0] != "end" or len(self.patterns) > MAX_PATTERNS:
            raise _Refused
        return Template(form, tuple(self.patterns), reads_from, construct_triples, self.has_base)

    def prologue(self) -> None:
        while True:
            word = self.keyword()
            if word == "BASE":
                self.take()
                self.iri()
                self.has_base = True
            elif word == "PREFIX":
                self.take()
                kind, name = self.take()
                if kind != "pname" or not name.endswith(":") or name.count(":") != 1:
                    raise _Refused
                if name in self.prefixes or self.peek()[0] != "iri":
                    raise _Refused  # a redeclared prefix: which one wins is not ours to guess
                self.prefixes[name] = self.slot
                self.take()
            else:
                return

    def iri(self) -> None:
        if self.take()[0] not in ("iri", "pname"):
            raise _Refused

    def projection(self) -> None:
        if not self.accept("DISTINCT"):
            self.accept("REDUCED")
        if self.accept("*"):
            return
        if self.peek()[0] != "var":
            raise _Refused  # expressions in SELECT ( … AS ?x ) are not read here
        while self.peek()[0] == "var":
            self.take()

    def construct_template(self) -> int:
        self.expect("{")
        saved = self.patterns
        self.patterns = []
        while not self.accept("}"):
            if self.accept("."):
                continue
            self.triples()
        count = len(self.patterns)
        self.patterns = saved
        if count > MAX_TEMPLATE:
            raise _Refused
        return count

    def dataset(self) -> bool:
        reads_from = False
        while self.accept("FROM"):
            reads_from |= not self.accept("NAMED")
            self.iri()
        return reads_from

    def modifiers(self) -> None:
        if self.accept("ORDER"):
            self.expect("BY")
            conditions = 0
            while True:
                if self.keyword() in ("ASC", "DESC"):
                    self.take()
                    self.bracketed()
                elif self.peek()[0] == "var":
                    self.take()
                elif self.peek() == ("punct", "("):
                    self.bracketed()
                else:
                    break
                conditions += 1
            if not conditions:
                raise _Refused
        seen: set[str] = set()
        while (word := self.keyword()) in ("LIMIT", "OFFSET") and word not in seen:
            seen.add(word)
            self.take()
            if self.take()[0] != "number":
                raise _Refused

    # ------------------------------------------------------------------ patterns

    def group(self, *, top: bool = True) -> None:
        """A group; OPTIONAL only at the top of WHERE, so that the optional parts are
        left joins of the whole mandatory part, one after the other."""
        self.expect("{")
        while True:
            if self.accept("}"):
                return
            word = self.keyword()
            if word == "FILTER":
                self.take()
                self.constraint()
            elif word == "OPTIONAL":
                if not top:
                    raise _Refused
                self.take()
                self.optionals += 1
                self.optional = self.optionals
                self.group(top=False)
                self.optional = 0
            elif self.accept("."):
                continue
            elif self.peek() == ("punct", "{"):
                self.group(top=False)
                if self.keyword() == "UNION":
                    raise _Refused
            else:
                self.triples()
                if self.peek() not in (("punct", "."), ("punct", "}"), ("punct", "{")) and (
                    self.keyword() not in ("FILTER", "OPTIONAL")
                ):
                    raise _Refused

    def triples(self) -> None:
        subject = self.node(subject=True)
        while True:
            predicate, predicate_ref = self.verb()
            while True:
                self.patterns.append(
                    PatternShape(
                        subject, predicate, predicate_ref, self.node(subject=False), self.optional
                    )
                )
                if not self.accept(","):
                    break
            if not self.accept(";"):
                return
            while self.accept(";"):
                pass
            if self.peek() in (("punct", "."), ("punct", "}")):
                return

    def verb(self) -> tuple[Variable | None, IriRef | None]:
        kind, text = self.peek()
        if kind == "var":
            self.take()
            return text[1:], None
        if kind == "word" and text == "a":
            self.take()
            return None, IriRef(-1)
        if kind == "iri":
            ref = IriRef(self.slot)
            self.take()
            return None, ref
        if kind == "pname":
            self.take()
            prefix, _, local = text.partition(":")
            slot = self.prefixes.get(prefix + ":")
            if slot is None:
                raise _Refused
            return None, IriRef(slot, local)
        raise _Refused  # property paths, blank-node brackets, anything else

    def node(self, *, subject: bool) -> Variable | None:
        """A subject or object: the variable's name, or None for a constant."""
        kind, text = self.take()
        if kind == "var":
            return text[1:]
        if kind == "bnode":
            return text
        if kind in ("iri", "pname"):
            return None
        if subject:
            raise _Refused
        if kind == "string":
            if self.peek()[0] == "langtag":
                self.take()
            elif self.accept("^^"):
                self.iri()
            return None
        if kind == "number" or (kind == "word" and text.lower() in ("true", "false")):
            return None
        raise _Refused

    def constraint(self) -> None:
        kind, text = self.peek()
        if kind == "punct" and text == "(":
            self.bracketed()
        elif (kind == "word" and text.upper() in _FUNCTIONS) or kind == "pname":
            self.take()
            self.bracketed()
        else:
            raise _Refused

    def bracketed(self) -> None:
        """A parenthesised expression of cheap parts: no groups, EXISTS or aggregates.

        No IRI either: inside an expression `<` may be the less-than operator, which
        pyoxigraph reads as one where the skeleton saw an IRI; from the first such `<` the
        two readings part, so an expression holding one is refused."""
        self.expect("(")
        depth = 1
        while depth:
            kind, text = self.take()
            if kind == "punct":
                if text in "{}":
                    raise _Refused
                depth += {"(": 1, ")": -1}.get(text, 0)
            elif kind == "word":
                word = text.upper()
                if word not in _FUNCTIONS:
                    raise _Refused
                if word == "NOT" and self.keyword() != "IN":
                    raise _Refused  # NOT EXISTS
            elif kind not in ("var", "bnode", "pname", "string", "number", "langtag"):
                raise _Refused
