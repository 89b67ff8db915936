"""A small SPARQL tokenizer, enough to find the keywords that reach the network.

`SERVICE <iri>` and `LOAD <iri>` make the engine open HTTP connections (SSRF), so
updates are checked before they run. Strings, IRIs and comments are skipped, so a
label such as "Adult social care service" or `ct:service` is not a keyword.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from citytools.errors import FederationRefused, InputError

_TOKEN = re.compile(
    r"""
      (?P<comment>\#[^\n]*)
    | (?P<string>\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"|'''(?:[^'\\]|\\.|'(?!''))*'''
                 |"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
    | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
    | (?P<word>[A-Za-z_:][\w\-.:]*|[?$]\w+)
    | (?P<space>\s+)
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


Span = tuple[str, str, int, int]  # kind, text, start and end offsets in the query text


def spans(sparql: str) -> Iterator[Span]:
    """Each significant token with where it stands: kind 'iri', 'word' (keywords, names,
    variables), 'string' or 'other' (punctuation)."""
    for match in _TOKEN.finditer(sparql):
        kind = match.lastgroup or "other"
        if kind not in ("comment", "space"):
            yield kind, match.group(), match.start(), match.end()


def tokens(sparql: str) -> Iterator[tuple[str, str]]:
    """(kind, text) of each significant token, as `spans` gives them."""
    for kind, text, _, _ in spans(sparql):
        yield kind, text


def remote_targets(sparql: str) -> list[tuple[str, str | None]]:
    """Each `SERVICE`/`LOAD` keyword with the IRI it names (None when it is not an IRI)."""
    found: list[tuple[str, str | None]] = []
    stream = list(tokens(sparql))
    for index, (kind, text) in enumerate(stream):
        keyword = text.upper()
        if kind != "word" or keyword not in ("SERVICE", "LOAD"):
            continue
        following = [t for t in stream[index + 1 : index + 3] if t[1].upper() != "SILENT"]
        target = following[0] if following else ("other", "")
        found.append((keyword, target[1][1:-1] if target[0] == "iri" else None))
    return found


def refuse_remote(sparql: str, allowed: frozenset[str]) -> None:
    """Raise unless every SERVICE names an allowed endpoint; LOAD is never accepted."""
    for keyword, iri in remote_targets(sparql):
        if keyword == "LOAD":
            raise InputError("LOAD is not accepted: send the data to /store instead")
        if iri is None or iri not in allowed:
            shown = f"<{iri}>" if iri else "a computed endpoint"
            raise FederationRefused(
                f"SERVICE {shown} is not allowed; allowed endpoints (CITYTOOLS_FEDERATION_ALLOW): "
                + (" ".join(sorted(allowed)) or "none")
            )
