"""Checks on how a saved query uses its parameters, which SPARQL parsing alone does not catch.

pyoxigraph binds a substituted variable (SEP-0007) only in the top-level query and in
the sub-SELECTs that project it, and `BOUND(?p)` stays false for it. So a parameter
a sub-SELECT uses without projecting, or one tested with `BOUND`, would be silently
ignored; both are refused when the catalogue loads. Test an optional parameter with
`COALESCE(sameTerm(?p, ?p), false)` instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from citytools.service.sparql.lexer import tokens

Token = tuple[str, str]


def check_parameter_use(sparql: str, parameters: Sequence[str]) -> None:
    """ValueError when a declared parameter is unused, tested with BOUND, or used by a
    sub-SELECT that does not project it."""
    stream = list(tokens(sparql))
    selects = [i for i, (kind, text) in enumerate(stream) if kind == "word" and _is(text, "SELECT")]
    if not selects:
        raise ValueError("the query has no SELECT")
    top_start, top_end = _projection_span(stream, selects[0])
    for name in parameters:
        uses = [i for i, t in enumerate(stream) if _is_var(t, name)]
        if not [i for i in uses if not top_start <= i < top_end]:
            raise ValueError(f"parameter '{name}' is declared but ?{name} is not used")
        for i in uses:
            if i >= 2 and _is(stream[i - 2][1], "BOUND") and stream[i - 1][1] == "(":
                raise ValueError(
                    f"BOUND(?{name}) is always false for a bound parameter; "
                    f"test it with COALESCE(sameTerm(?{name}, ?{name}), false)"
                )
    for start in selects[1:]:
        projected = _projected(stream, *_projection_span(stream, start))
        body = _group(stream, _projection_span(stream, start)[1])
        for name in parameters:
            if name not in projected and any(_is_var(t, name) for t in body):
                raise ValueError(
                    f"a sub-SELECT uses ?{name} without projecting it, so the parameter "
                    f"would not reach it: add ?{name} to that SELECT (and its GROUP BY)"
                )


def _is(text: str, keyword: str) -> bool:
    return text.upper() == keyword


def _is_var(token: Token, name: str) -> bool:
    return token[0] == "word" and token[1][:1] in "?$" and token[1][1:] == name


def _projection_span(stream: list[Token], select: int) -> tuple[int, int]:
    """Token indexes [start, end) of a SELECT's projection: up to WHERE or the first '{'."""
    end = select + 1
    while end < len(stream):
        kind, text = stream[end]
        if text == "{" or (kind == "word" and (_is(text, "WHERE") or _is(text, "FROM"))):
            break
        end += 1
    return select + 1, end


def _projected(stream: list[Token], start: int, end: int) -> set[str]:
    """Names a projection outputs: bare variables and the targets of `(… AS ?v)`."""
    names, depth = set(), 0
    for i in range(start, end):
        kind, text = stream[i]
        depth += (text == "(") - (text == ")")
        is_var = kind == "word" and text[:1] in "?$"
        if is_var and (depth == 0 or _is(stream[i - 1][1], "AS")):
            names.add(text[1:])
    return names


def _group(stream: list[Token], start: int) -> list[Token]:
    """The tokens of the brace-balanced group that opens at or after `start`."""
    while start < len(stream) and stream[start][1] != "{":
        start += 1
    depth = 0
    for i in range(start, len(stream)):
        depth += (stream[i][1] == "{") - (stream[i][1] == "}")
        if depth == 0:
            return stream[start : i + 1]
    return stream[start:]
