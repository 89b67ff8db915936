"""The shapes of query the inline lane admits (a closed set), read with the SPARQL lexer.

The lane (`lane.py`) evaluates in the HTTP process, where nothing can stop a query, so it
takes only queries whose work `lane_cost.py` can bound from the store's statistics, which
it can do for one small family of shapes, and for no other:

* `SELECT [DISTINCT|REDUCED] (* | ?v …)`, `ASK` or `CONSTRUCT { up to 8 triples }`,
  after `PREFIX` declarations only (no `BASE`, no `FROM`);
* a `WHERE` group of one to three triple patterns (`;` and `,` lists allowed) and
  `FILTER`s: a subject is a variable or an IRI, a predicate an IRI, `a` or a variable, an
  object a variable, an IRI or a literal; at least one pattern is *anchored* (its subject
  or object a constant) and the patterns are linked through shared variables (no
  cartesian product);
* a `FILTER` is an expression of the patterns' variables, constants, operators and cheap
  built-ins (no `EXISTS`, `REGEX`, subquery or group); then `ORDER BY` variables,
  `LIMIT`, `OFFSET`.

Anything else (OPTIONAL, UNION, GRAPH, VALUES, BIND, paths, blank nodes, aggregates,
SERVICE, a fourth pattern, …) gives None and the query goes to a killable worker.

The text is read by the one SPARQL lexer of the service (`sparql/lexer.py`, which reads
terminals exactly as pyoxigraph does), but that lexer costs tens of microseconds a query,
more than the lookup it would admit. So the analysis is cached by *skeleton*: the text
with every IRI as `<>`, string as `""` and comment as a space, which a single regex split
makes. Texts with one skeleton differ only inside those spans; the lexer reads a span as
one token of its kind whatever it holds (no backslash is admitted, so no escape can
change a string's or IRI's end), and what comes before it is the same text, so every text
with that skeleton lexes to the same tokens as the first one, constants aside. That first
text is lexed in full and the skeleton is used only if its spans are exactly the lexer's
IRI and string tokens and its comments lie outside every token; otherwise the skeleton
is refused, for every text that has it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from citytools import vocab as v
from citytools.service.sparql.lexer import Lexeme, lex

MAX_PATTERNS = 3
MAX_TEMPLATE = 8  # CONSTRUCT template triples
MAX_LENGTH = 4096  # characters: longer texts are not read
_CACHE = 4096  # skeletons remembered

_RDF_TYPE = v.RDF.type.value
_ABSOLUTE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
# Comments, IRIs and strings; long strings are caught to be refused.
_MASK = re.compile(
    r"""(\"\"\"|'''|\#[^\r\n]*|<[^<>"{}|^`\\\x00-\x20]*>|"[^"\\\n\r]*"|'[^'\\\n\r]*')"""
)
# Built-ins a FILTER may call: each costs little per row (REGEX and REPLACE compile a
# pattern, EXISTS evaluates a group: they are left out).
_FUNCTIONS = frozenset(
    (
        *("STR", "LANG", "LANGMATCHES", "DATATYPE", "BOUND", "IRI", "URI", "SAMETERM"),
        *("ISIRI", "ISURI", "ISBLANK", "ISLITERAL", "ISNUMERIC", "STRDT", "STRLANG"),
        *("CONTAINS", "STRSTARTS", "STRENDS", "STRBEFORE", "STRAFTER", "LCASE", "UCASE"),
        *("STRLEN", "SUBSTR", "COALESCE", "IF", "ABS", "CEIL", "FLOOR", "ROUND"),
        *("YEAR", "MONTH", "DAY", "IN", "NOT"),
    )
)
_LITERALS = frozenset(("true", "false"))
_EXPRESSION = frozenset(("var", "iri", "pname", "string", "number", "langtag", "punct"))

Variable = str  # a variable's name, without `?` or `$`


@dataclass(frozen=True)
class Pattern:
    """A triple pattern: each position a variable's name, or None for a constant; a
    constant predicate's IRI is the IRI at `slot` (the n-th IRI of the text, or the
    namespace of a prefix) followed by `local`; slot -1 is `a`."""

    subject: Variable | None
    predicate: Variable | None
    object: Variable | None
    slot: int = -1
    local: str = ""

    def variables(self) -> frozenset[Variable]:
        return frozenset(n for n in (self.subject, self.predicate, self.object) if n is not None)


@dataclass(frozen=True, eq=False)  # one per skeleton: compared by identity
class Template:
    skeleton: str
    form: str  # SELECT, ASK or CONSTRUCT
    patterns: tuple[Pattern, ...]
    construct: int  # CONSTRUCT template triples
    limit: int | None
    ordered: bool  # ORDER BY


@dataclass(frozen=True)
class Shape:
    """A query's template and the IRI of each pattern's predicate (None: a variable)."""

    template: Template
    predicates: tuple[str | None, ...]


_templates: dict[str, Template | None] = {}


def shape_of(sparql: str) -> Shape | None:
    """The query's shape, or None when it is not one the lane admits."""
    if len(sparql) > MAX_LENGTH or "\\" in sparql:
        return None
    parts = _MASK.split(sparql)
    slots = []
    for index in range(1, len(parts), 2):
        span = parts[index]
        if span[0] == "<":
            slots.append(span[1:-1])
            parts[index] = "<>"
        elif span[0] == "#":
            parts[index] = " "
        elif len(span) == 3 and span[0] == span[1] == span[2]:
            return None  # a long string
        else:
            parts[index] = '""'
    skeleton = "".join(parts)
    if skeleton in _templates:
        template = _templates[skeleton]
    else:
        if len(_templates) >= _CACHE:
            _templates.clear()
        template = _templates[skeleton] = _template(sparql, skeleton)
    if template is None:
        return None
    predicates: list[str | None] = []
    for pattern in template.patterns:
        if pattern.predicate is not None:
            predicates.append(None)
            continue
        iri = _RDF_TYPE if pattern.slot < 0 else slots[pattern.slot] + pattern.local
        if not _ABSOLUTE.match(iri):
            return None  # relative: it would resolve against a base we do not know
        predicates.append(iri)
    return Shape(template, tuple(predicates))


def _template(sparql: str, skeleton: str) -> Template | None:
    tokens = list(lex(sparql))
    if not _aligned(sparql, tokens):
        return None
    try:
        return _Reader(tokens, skeleton).query()
    except _Refused:
        return None


def _aligned(sparql: str, tokens: list[Lexeme]) -> bool:
    """Whether the mask's spans are exactly the lexer's IRI and string tokens, and its
    comments lie outside every token (then every text of this skeleton lexes alike)."""
    spans: set[tuple[int, int]] = set()
    comments: list[tuple[int, int]] = []
    for match in _MASK.finditer(sparql):
        if match.group()[0] == "#":
            comments.append(match.span())
        else:
            spans.add(match.span())
    found = {(t.start, t.end) for t in tokens if t.kind in ("iri", "string")}
    if found != spans or any(t.kind == "error" for t in tokens):
        return False
    return not any(t.start < end and start < t.end for t in tokens for start, end in comments)


class _Refused(Exception):
    """Not a shape the lane admits."""


class _Reader:
    """Recursive descent over the lexer's tokens; anything unexpected raises `_Refused`."""

    def __init__(self, tokens: list[Lexeme], skeleton: str) -> None:
        self.tokens = tokens
        self.skeleton = skeleton
        self.at = 0
        self.iris = 0  # IRI tokens read so far: the n-th is slot n
        self.prefixes: dict[str, int] = {}
        self.patterns: list[Pattern] = []
        self.used: set[Variable] = set()  # variables of FILTER and ORDER BY

    def peek(self) -> Lexeme | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> Lexeme:
        token = self.peek()
        if token is None:
            raise _Refused
        self.at += 1
        if token.kind == "iri":
            self.iris += 1
        return token

    def word(self) -> str:
        """The next token's text in upper case, when it is a keyword or punctuation."""
        token = self.peek()
        return token.text.upper() if token and token.kind in ("keyword", "punct") else ""

    def accept(self, word: str) -> bool:
        if self.word() == word:
            self.take()
            return True
        return False

    def expect(self, word: str) -> None:
        if not self.accept(word):
            raise _Refused

    def query(self) -> Template:
        while self.accept("PREFIX"):
            name, namespace = self.take(), self.peek()
            if name.kind != "pname" or not name.text.endswith(":") or name.text in self.prefixes:
                raise _Refused  # a redeclared prefix: which one wins is not ours to guess
            if namespace is None or namespace.kind != "iri":
                raise _Refused
            self.prefixes[name.text] = self.iris
            self.take()
        form, construct = self.word(), 0
        self.take()
        if form == "SELECT":
            if not self.accept("DISTINCT"):
                self.accept("REDUCED")
            if not self.accept("*"):
                if not self.variable():
                    raise _Refused  # SELECT ( … AS ?x ): expressions are not read here
                while self.variable():
                    pass
        elif form == "CONSTRUCT":
            self.expect("{")
            while not self.accept("}"):
                if not self.accept("."):
                    self.triples()
            construct, self.patterns = len(self.patterns), []
            if construct > MAX_TEMPLATE:
                raise _Refused
        elif form != "ASK":
            raise _Refused
        if not self.accept("WHERE") and form == "CONSTRUCT":
            raise _Refused
        self.group()
        ordered, limit = self.modifiers()
        if self.peek() is not None or not self.admissible():
            raise _Refused
        return Template(self.skeleton, form, tuple(self.patterns), construct, limit, ordered)

    def admissible(self) -> bool:
        """One to three patterns, one anchored, linked by shared variables; FILTER and
        ORDER BY read only their variables."""
        if not 0 < len(self.patterns) <= MAX_PATTERNS:
            return False
        if all(p.subject is not None and p.object is not None for p in self.patterns):
            return False
        rest = [p for p in self.patterns if p.variables()]  # a constant pattern joins alike
        linked = set(rest.pop().variables()) if rest else set()
        while rest:
            joined = [p for p in rest if p.variables() & linked]
            if not joined:
                return False
            for pattern in joined:
                rest.remove(pattern)
                linked |= pattern.variables()
        return self.used <= linked

    def variable(self) -> Variable | None:
        token = self.peek()
        if token is None or token.kind != "var":
            return None
        self.take()
        return token.text[1:]

    def group(self) -> None:
        self.expect("{")
        while not self.accept("}"):
            if self.accept("."):
                continue
            if self.accept("FILTER"):
                self.constraint()
                continue
            self.triples()
            if self.word() not in (".", "}", "FILTER"):
                raise _Refused

    def triples(self) -> None:
        subject = self.node(subject=True)
        while True:
            predicate, slot, local = self.verb()
            while True:
                obj = self.node(subject=False)
                self.patterns.append(Pattern(subject, predicate, obj, slot, local))
                if not self.accept(","):
                    break
            if not self.accept(";"):
                return
            while self.accept(";"):
                pass
            if self.word() in (".", "}"):
                return

    def verb(self) -> tuple[Variable | None, int, str]:
        token = self.take()
        if token.kind == "var":
            return token.text[1:], -1, ""
        if token.kind == "keyword" and token.text == "a":
            return None, -1, ""
        if token.kind == "iri":
            return None, self.iris - 1, ""
        if token.kind == "pname":
            prefix, _, local = token.text.partition(":")
            slot = self.prefixes.get(prefix + ":")
            if slot is not None:
                return None, slot, local
        raise _Refused  # a path, a blank-node bracket, an undeclared prefix

    def node(self, *, subject: bool) -> Variable | None:
        """A variable's name, or None for a constant."""
        token = self.take()
        if token.kind == "var":
            return token.text[1:]
        if token.kind in ("iri", "pname"):
            return None
        if subject:
            raise _Refused
        if token.kind == "string":
            following = self.peek()
            if following is not None and following.kind == "langtag":
                self.take()
            elif self.accept("^"):  # the lexer reads `^^` as two tokens
                self.expect("^")
                if self.take().kind not in ("iri", "pname"):
                    raise _Refused
            return None
        if token.kind == "number" or (token.kind == "keyword" and token.text in _LITERALS):
            return None
        raise _Refused

    def constraint(self) -> None:
        """`FILTER (…)` or `FILTER fn(…)`, of cheap parts only."""
        if self.word() in _FUNCTIONS:
            self.take()
        self.expect("(")
        depth = 1
        while depth:
            token = self.take()
            if token.kind == "keyword":
                word = token.text.upper()
                if token.text not in _LITERALS and word not in _FUNCTIONS:
                    raise _Refused
                if word == "NOT" and self.word() != "IN":
                    raise _Refused  # NOT EXISTS
            elif token.kind == "var":
                self.used.add(token.text[1:])
            elif token.kind not in _EXPRESSION:
                raise _Refused
            elif token.kind == "punct":
                if token.text in "{}[]":
                    raise _Refused
                depth += {"(": 1, ")": -1}.get(token.text, 0)

    def modifiers(self) -> tuple[bool, int | None]:
        ordered = False
        if self.accept("ORDER"):
            self.expect("BY")
            while True:
                if self.word() in ("ASC", "DESC"):
                    self.take()
                    self.expect("(")
                    name = self.variable()
                    self.expect(")")
                else:
                    name = self.variable()
                if name is None:
                    break
                self.used.add(name)
                ordered = True
            if not ordered:
                raise _Refused
        limit: int | None = None
        seen: set[str] = set()
        while (word := self.word()) in ("LIMIT", "OFFSET") and word not in seen:
            seen.add(word)
            self.take()
            number = self.take()
            if number.kind != "number" or not number.text.isdigit():
                raise _Refused
            if word == "LIMIT":
                limit = int(number.text)
        return ordered, limit
