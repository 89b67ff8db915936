"""A SPARQL tokenizer that reads a text the way pyoxigraph 0.5 (spargebra) reads it.

`SERVICE <iri>` and `LOAD <iri>` make the engine open HTTP connections (SSRF), and the
guard in `federation_check` finds them from these tokens: a token read differently from
the engine (a comment that ends elsewhere, a string that is not one) is a SERVICE that
escapes the check. So the terminals follow spargebra's grammar, not the SPARQL spec's,
where the two differ. What pyoxigraph 0.5.13 does, established against it (each point
is shown on a listening socket in tests/test_service_guard_fuzz.py):

* a comment runs from `#` to a CR or an LF; whitespace is space, tab, CR and LF only
  (a form feed or U+2028 is a syntax error, not a line end);
* `\\uXXXX` / `\\UXXXXXXXX` are read inside strings and IRIs only: `SERV\\u0049CE` is
  no keyword, `<http://h/sp\\u0061rql>` is `<http://h/sparql>`;
* a string whose `\\u`/`\\U` escape names no character (`\\uD800`, `\\U00110000`) is not
  that string: `\"\"\"…` is then read as the empty string `\"\"` and what follows as code;
* an IRI is `<`, anything but `>`, `>` — except after an operand inside an expression's
  parentheses, where `<` is less-than (`FILTER(?a<?b#>` is a comparison and a comment);
* a prefixed name's local part takes at most one run of dots (`ex:a.b.c` is `ex:a.b`
  then `.c`); prefixes and blank node labels take any number;
* keywords are matched without word boundaries (`trueSERVICE<x>{}` is `true SERVICE
  <x> {}`, `SERVICEe:x` is `SERVICE e:x` when `SERVICEe:` is undeclared): this tokenizer
  reads such a run as one word, and the guard refuses words it cannot vouch for.

`spans` gives kinds 'iri', 'word' (keywords, prefixed names, variables, blank node
labels), 'string' and 'other' (numbers, language tags, one punctuation character each,
and any character no terminal starts with).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

# spargebra's keywords (`i("…")`, matched case-insensitively), upper case; `a`, `true` and
# `false` are matched as written and are kept apart.
_KEYWORD_LIST = """
    ABS ADD ADJUST ALL AS ASC ASK AVG BASE BIND BNODE BOUND BY CEIL CLEAR COALESCE CONCAT
    CONSTRUCT CONTAINS COPY COUNT CREATE DATA DATATYPE DAY DEFAULT DELETE DESC DESCRIBE
    DISTINCT DROP ENCODE_FOR_URI EXISTS FILTER FLOOR FROM GRAPH GROUP GROUP_CONCAT HASLANG
    HASLANGDIR HAVING HOURS IF IN INSERT INTO IRI ISBLANK ISIRI ISLITERAL ISNUMERIC
    ISTRIPLE ISURI LANG LANGDIR LANGMATCHES LATERAL LCASE LIMIT LOAD MAX MD5 MIN MINUS
    MINUTES MONTH MOVE NAMED NOT NOW OBJECT OFFSET OPTIONAL ORDER PREDICATE PREFIX RAND
    REDUCED REGEX REPLACE ROUND SAMETERM SAMPLE SECONDS SELECT SEPARATOR SERVICE SHA1
    SHA256 SHA384 SHA512 SILENT STR STRAFTER STRBEFORE STRDT STRENDS STRLANG STRLANGDIR
    STRLEN STRSTARTS STRUUID SUBJECT SUBSTR SUM TIMEZONE TO TRIPLE TZ UCASE UNDEF UNION URI
    USING UUID VALUES VERSION WHERE WITH YEAR
"""
KEYWORDS = frozenset(_KEYWORD_LIST.split())
CASED_KEYWORDS = frozenset({"a", "true", "false"})

# spargebra's character classes (it leaves out the spec's U+10000-U+EFFFF).
_BASE = (
    "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c-\u200d"
    "\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd"
)
_CHARS_U = _BASE + "_"
_CHARS = _CHARS_U + "\\-0-9\u00b7\u0300-\u036f\u203f-\u2040"
_PLX = r"(?:%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%])"
_PN_PREFIX = f"[{_BASE}][{_CHARS}]*+(?>\\.+[{_CHARS}]+)*+"
_PN_LOCAL = f"(?:[{_CHARS_U}:0-9]|{_PLX})(?:[{_CHARS}:]|{_PLX})*+(?>\\.+(?:[{_CHARS}:]|{_PLX})+)?+"
_UCHAR = r"\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8}"
_ECHAR = r"\\[tbnrf\"'\\]"

# Possessive repeats: the grammar is a PEG, which never gives back what a repeat took.
PNAME = re.compile(f"(?:{_PN_PREFIX})?+:(?:{_PN_LOCAL})?+")
VAR = re.compile(f"[?$][{_CHARS_U}0-9][{_CHARS_U}0-9\u00b7\u0300-\u036f\u203f-\u2040]*+")
IRI = re.compile(r"<[^>]*+>")
GAP = re.compile(r"(?:[ \t\r\n]|#[^\r\n]*+)*+")
_BNODE = re.compile(f"_:[{_CHARS_U}0-9][{_CHARS}]*+(?>\\.+[{_CHARS}]+)*+")
_LANGTAG = re.compile(r"@[A-Za-z]++(?>-[A-Za-z0-9]+)*+(?:--[A-Za-z]+)?+")
_NUMBER = re.compile(
    r"[0-9]+\.[0-9]*[eE][+-]?[0-9]+|\.[0-9]+[eE][+-]?[0-9]+|[0-9]+[eE][+-]?[0-9]+"
    r"|[0-9]*\.[0-9]+|[0-9]+"
)
_KEYWORD = re.compile(r"[A-Za-z][A-Za-z0-9_]*+")


def _string_forms(q: str) -> list[re.Pattern[str]]:
    """The long then the short string quoted with `q`, in the order spargebra tries them."""
    long_char = f"(?:{q}{q}|{q})?+(?:[^{q}\\\\]|{_ECHAR}|{_UCHAR})"
    short_char = f"[^{q}\\\\\\n\\r]|{_ECHAR}|{_UCHAR}"
    return [re.compile(f"{q * 3}(?:{long_char})*+{q * 3}"), re.compile(f"{q}(?:{short_char})*+{q}")]


_STRINGS = {"'": _string_forms("'"), '"': _string_forms('"')}
_CODE_POINT = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|.)", re.DOTALL)
_NAME_START = re.compile(f"[{_BASE}:]")
_DIGITS = frozenset("0123456789")
_PUNCTUATION = frozenset("{}()[];,.=!<>&|^/*+-~?")
_CLOSERS = {")": "(", "}": "{", "]": "["}
_OPERANDS = frozenset({"var", "iri", "pname", "string", "number", "langtag"})
_CLAUSE_ON = frozenset({"SELECT", "BY", "HAVING"})  # where every "(" opens an expression
_CLAUSE_OFF = frozenset({"WHERE", "FROM", "LIMIT", "OFFSET", "VALUES"})


class Lexeme(NamedTuple):
    """One token. kind: 'iri', 'keyword', 'pname', 'var', 'bnode', 'langtag', 'number',
    'string', 'punct', or 'error' (a character no terminal starts with, a bracket that
    closes nothing, or, empty at the end of the text, brackets left open)."""

    kind: str
    text: str
    start: int
    end: int


@dataclass
class _Frame:
    kind: str  # 'group' (triples, and the top level), 'expr' or 'list' (collections, paths)
    opener: str
    clause: bool = False  # in a SELECT projection or ORDER/GROUP BY, HAVING


def lex(sparql: str) -> Iterator[Lexeme]:
    """The tokens of the text, comments and whitespace left out."""
    frames = [_Frame("group", "")]
    previous: list[Lexeme] = []
    angles_end = -1  # where the last `<<` ended: a "(" right there is a triple term's
    position, size = 0, len(sparql)
    while (position := skip_gap(sparql, position)) < size:
        char = sparql[position]
        frame = frames[-1]
        found: Lexeme | None = None
        if char in "'\"":
            found = _string(sparql, position)
        elif char == "<":
            if frame.kind == "expr" and previous and _ends_operand(previous[-1]):
                found = Lexeme("punct", "<", position, position + 1)
            elif sparql.startswith("<<", position):
                first = Lexeme("punct", "<", position, position + 1)
                yield first
                previous.append(first)
                found = Lexeme("punct", "<", position + 1, position + 2)
                angles_end = position + 2
            else:
                found = _match(IRI, "iri", sparql, position) or Lexeme(
                    "error", "<", position, position + 1
                )
        elif char in "?$":
            found = _match(VAR, "var", sparql, position)
        elif char == "_":
            found = _match(_BNODE, "bnode", sparql, position)
        elif char == "@":
            found = _match(_LANGTAG, "langtag", sparql, position)
        elif char in _DIGITS or (char == "." and sparql[position + 1 : position + 2] in _DIGITS):
            found = _match(_NUMBER, "number", sparql, position)
        elif _NAME_START.match(char):
            found = _match(PNAME, "pname", sparql, position) or _match(
                _KEYWORD, "keyword", sparql, position
            )
        if found is None and char in _PUNCTUATION:
            found = _bracket(frames, char, position, previous, angles_end)
        if found is None:
            found = Lexeme("error", char, position, position + 1)
        if found.kind == "keyword" and frame.kind != "expr":
            word = found.text.upper()
            frame.clause = word in _CLAUSE_ON or (frame.clause and word not in _CLAUSE_OFF)
        yield found
        previous = [*previous[-1:], found]
        position = found.end
    if len(frames) > 1:
        yield Lexeme("error", "", size, size)


def skip_gap(sparql: str, position: int) -> int:
    """Where the whitespace and comments starting at `position` end."""
    found = GAP.match(sparql, position)
    return found.end() if found else position


def _match(pattern: re.Pattern[str], kind: str, sparql: str, position: int) -> Lexeme | None:
    found = pattern.match(sparql, position)
    return Lexeme(kind, found.group(), position, found.end()) if found else None


def _string(sparql: str, position: int) -> Lexeme | None:
    """A string as spargebra reads it: long form first, and a form whose escapes do not
    all name characters is not taken (the grammar then tries the next one)."""
    for pattern in _STRINGS[sparql[position]]:
        found = pattern.match(sparql, position)
        if found and _escapes_name_characters(found.group()):
            return Lexeme("string", found.group(), position, found.end())
    return None


def _escapes_name_characters(string: str) -> bool:
    for escape in _CODE_POINT.finditer(string):
        digits = escape.group(1) or escape.group(2)
        if digits and not (int(digits, 16) <= 0x10FFFF and not 0xD800 <= int(digits, 16) < 0xE000):
            return False
    return True


def _ends_operand(token: Lexeme) -> bool:
    """Whether an expression operand ends with `token` (so a `<` after it is less-than)."""
    if token.kind == "punct":
        return token.text in ")}"
    return token.kind in _OPERANDS or (token.kind == "keyword" and token.text in ("true", "false"))


def _bracket(
    frames: list[_Frame], char: str, position: int, previous: list[Lexeme], angles_end: int
) -> Lexeme:
    """A punctuation character, keeping the stack of open brackets."""
    frame = frames[-1]
    if char == "{":
        frame.clause = False
        frames.append(_Frame("group", char))
    elif char == "[":
        frames.append(_Frame("group", char))
    elif char == "(":
        frames.append(_Frame(_paren_kind(frame, previous, position == angles_end), char))
    elif char in _CLOSERS:
        if len(frames) == 1 or frame.opener != _CLOSERS[char]:
            return Lexeme("error", char, position, position + 1)
        frames.pop()
    return Lexeme("punct", char, position, position + 1)


def _paren_kind(frame: _Frame, previous: list[Lexeme], after_angles: bool) -> str:
    """What a "(" opens: an expression, or a collection / path / VALUES row / triple term."""
    if after_angles:
        return "list"  # <<( s p o )>>
    if frame.kind != "group":
        return frame.kind
    if frame.clause:
        return "expr"
    last = previous[-1] if previous else None
    if last is not None and last.kind == "keyword":
        # FILTER(, BIND(, STR(, … — but `?s a (1 2)` and `VALUES (?x)` are not
        return "list" if last.text == "a" or last.text.upper() == "VALUES" else "expr"
    if last is not None and last.kind in ("iri", "pname") and len(previous) == 2:
        before = previous[0]
        if before.kind == "keyword" and before.text.upper() == "FILTER":
            return "expr"  # FILTER <fn>(…)
    return "list"


Span = tuple[str, str, int, int]  # kind, text, start and end offsets in the query text
_PUBLIC_KIND = {"iri": "iri", "string": "string"} | dict.fromkeys(
    ("keyword", "pname", "var", "bnode"), "word"
)


def spans(sparql: str) -> Iterator[Span]:
    """Each significant token with where it stands: kind 'iri', 'word' (keywords, names,
    variables), 'string' or 'other' (numbers, language tags, punctuation)."""
    for kind, text, start, end in lex(sparql):
        if text:
            yield _PUBLIC_KIND.get(kind, "other"), text, start, end


def tokens(sparql: str) -> Iterator[tuple[str, str]]:
    """(kind, text) of each significant token, as `spans` gives them."""
    for kind, text, _, _ in spans(sparql):
        yield kind, text
