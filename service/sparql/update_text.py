"""Rewriting an update's text before it is planned: the protocol's dataset and the base IRI.

SPARQL 1.1 Protocol §2.2.3: `using-graph-uri` / `using-named-graph-uri` (in the URL or
the form) give the dataset of every operation's WHERE, as `USING` / `USING NAMED`
clauses would; they are written into the update as such (`DELETE WHERE { P }` becomes
`DELETE { P } USING … WHERE { P }`, its definition). An update that names its own dataset
(`USING`, `USING NAMED` or `WITH`) as well is refused. Relative IRIs resolve against the
service's base IRI, `CITYTOOLS_BASE_IRI` (the one data IRIs are minted under): stored data
never depends on the host name a client used.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from citytools.errors import InputError
from citytools.service.sparql.lexer import Span, spans

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def _operations(tokens: Sequence[Span]) -> list[list[Span]]:
    """The tokens of each operation: split at the top-level `;`, braces balanced."""
    operations: list[list[Span]] = [[]]
    depth = 0
    for token in tokens:
        kind, word = token[0], token[1]
        if kind == "other" and word in "{}":
            depth += 1 if word == "{" else -1
        if depth == 0 and kind == "other" and word == ";":
            operations.append([])
        else:
            operations[-1].append(token)
    return operations


def _top_level(operation: Sequence[Span]) -> list[tuple[int, str]]:
    """(index, upper-case keyword) of each word outside braces."""
    words, depth = [], 0
    for index, (kind, word, _, _) in enumerate(operation):
        if kind == "other" and word in "{}":
            depth += 1 if word == "{" else -1
        elif depth == 0 and kind == "word":
            words.append((index, word.upper()))
    return words


def _group_end(operation: Sequence[Span], start: int) -> int:
    """The index of the `}` closing the group that opens at token `start`."""
    depth = 0
    for index in range(start, len(operation)):
        word = operation[index][1]
        if operation[index][0] == "other" and word in "{}":
            depth += 1 if word == "{" else -1
            if depth == 0:
                return index
    raise InputError("malformed update: a '{' is not closed")


def with_protocol_dataset(update: str, default: Sequence[str], named: Sequence[str]) -> str:
    """The update with the protocol's dataset written as USING / USING NAMED clauses."""
    if not default and not named:
        return update
    using = " ".join([*(f"USING <{g}>" for g in default), *(f"USING NAMED <{g}>" for g in named)])
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement) in the text
    for operation in _operations(list(spans(update))):
        words = _top_level(operation)
        keywords = [word for _, word in words]
        if "WITH" in keywords or "USING" in keywords:
            raise InputError(
                "the update names its dataset (USING, USING NAMED or WITH) and the request "
                "gives one too (using-graph-uri / using-named-graph-uri): give only one"
            )
        for position, (index, word) in enumerate(words):
            if word != "WHERE" or position == 0:
                continue
            if words[position - 1][1] == "DELETE" and words[position - 1][0] == index - 1:
                # DELETE WHERE { P } is DELETE { P } WHERE { P }, where USING can go.
                close = _group_end(operation, index + 1)
                pattern = update[operation[index + 1][2] : operation[close][3]]
                edits.append((operation[index][2], operation[index][2], f"{pattern} {using} "))
            elif "INSERT" in keywords or "DELETE" in keywords:
                edits.append((operation[index][2], operation[index][2], f"{using} "))
    for start, end, replacement in sorted(edits, reverse=True):
        update = update[:start] + replacement + update[end:]
    return update


def with_base(update: str, base: str) -> str:
    """The update with `BASE <base>` in front when it holds a relative IRI."""
    relative = any(
        kind == "iri" and not _SCHEME.match(word[1:-1]) for kind, word, _, _ in spans(update)
    )
    return f"BASE <{base}> {update}" if relative else update  # same line: line numbers hold
