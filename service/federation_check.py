"""The SERVICE allow-list, checked before a query is evaluated (pyoxigraph calls SERVICE
endpoints over HTTP as soon as a query starts, so an unchecked one is an SSRF).

Only a text that contains "service" (any case) is parsed, with rdflib's SPARQL parser,
so prefixed names, `SERVICE SILENT`, comments and strings are read as SPARQL reads them.
rdflib and pyoxigraph must read the text alike, so two differences are removed first
(each let a SERVICE past the check): rdflib expands `\\uXXXX` escapes before parsing,
where pyoxigraph reads them as one character inside a string or IRI; and rdflib's
comments run to a line feed only, where pyoxigraph's also end at a carriage return.
rdflib also refuses some valid queries (nested SERVICE, a SERVICE after a "#" on the
same line): then the endpoints cannot be known and the query is refused, unless
pyoxigraph finds it malformed, in which case its syntax error is what the user gets.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from pyoxigraph import Store

from citytools.errors import FederationRefused, InputError

SETTING = "CITYTOOLS_FEDERATION_ALLOW"
# Every "service" becomes "graph" and a SILENT after it becomes spaces: same grammar, no
# network. A following `silent:` is a prefixed name, not the keyword.
_NEUTRAL = re.compile(r"service(\s+silent(?![\w:-]))?", re.IGNORECASE)


# A backslash escape, read as pyoxigraph reads it: one character of a string, IRI or name.
_ESCAPE = re.compile(r"\\(?:u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|[^\n\r])")


class _Unreadable(Exception):
    """rdflib could not parse the query."""


def check_services(sparql: str, allowed: frozenset[str], base_iri: str | None = None) -> None:
    """Raise FederationRefused unless every SERVICE names an endpoint in `allowed` by a
    fixed IRI; InputError when the query is malformed and that is all that can be said."""
    if "service" not in sparql.lower():
        return
    try:
        targets = service_targets(sparql, base_iri)
    except _Unreadable as exc:
        _raise_if_malformed(sparql, base_iri)
        raise FederationRefused(
            "this query mentions SERVICE but its endpoints could not be checked "
            f"({exc}); start each SERVICE on a line of its own and do not nest them"
        ) from None
    for target in targets:
        if target is None:
            raise FederationRefused(
                "SERVICE with a variable endpoint is not allowed: name the endpoint by its IRI "
                f"(allowed endpoints, {SETTING}: {_listed(allowed)})"
            )
        if target not in allowed:
            raise FederationRefused(
                f"SERVICE <{target}> is not allowed; allowed endpoints ({SETTING}): "
                + _listed(allowed)
            )


@lru_cache(maxsize=512)
def service_targets(sparql: str, base_iri: str | None = None) -> tuple[str | None, ...]:
    """The endpoint IRI of every SERVICE in the query (None where it is a variable)."""
    # rdflib takes ~0.4 s to import: only queries that mention "service" need it.
    from rdflib.plugins.sparql.algebra import translatePrologue
    from rdflib.plugins.sparql.parser import parseQuery
    from rdflib.term import URIRef

    try:
        tree = parseQuery(_as_pyoxigraph_reads_it(sparql))
        prologue = translatePrologue(tree[0], base_iri)
        resolved = [prologue.absolutize(term) for term in _service_terms(tree[1])]
    except RecursionError:
        raise _Unreadable("nested too deeply for the checker") from None
    except Exception as exc:  # pyparsing and prefix errors have no common base
        raise _Unreadable(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
    return tuple(str(term) if isinstance(term, URIRef) else None for term in resolved)


def _as_pyoxigraph_reads_it(sparql: str) -> str:
    """The text with every escape replaced by a plain character and carriage returns by
    line feeds, so that rdflib finds the same strings, IRIs and comments as pyoxigraph."""
    return _ESCAPE.sub("x", sparql).replace("\r", "\n")


def warm_up() -> None:
    """Import and exercise the parser ahead of the first query that needs it."""
    service_targets("ASK { SERVICE <urn:x:warm-up> { } }")


def _service_terms(node: object) -> list[Any]:
    """The endpoint term (IRI, prefixed name or variable) of each SERVICE in a parse tree."""
    from pyparsing import ParseResults
    from rdflib.plugins.sparql.parserutils import CompValue

    found: list[Any] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, CompValue):
            if item.name == "ServiceGraphPattern":
                found.append(item.get("term"))
            stack.extend(item.values())
        elif isinstance(item, list | tuple | ParseResults):
            stack.extend(item)
    return found


def _raise_if_malformed(sparql: str, base_iri: str | None) -> None:
    """pyoxigraph's syntax error for the query, found without letting it reach a network:
    columns after a 'service' on the same line read 2 lower per occurrence."""
    neutral = _NEUTRAL.sub(
        lambda m: "graph" + (" " * len(m.group(1)) if m.group(1) else ""), sparql
    )
    try:
        Store().query(neutral, base_iri=base_iri)
    except SyntaxError as exc:
        raise InputError(f"malformed SPARQL query: {exc}") from None
    except Exception:  # it parsed; evaluating it over nothing is not the point
        return


def _neutral(match: re.Match[str]) -> str:
    silent = match.group(1)
    return "graph" + (silent[:-6] + " " * 6 if silent else "")  # keeps line breaks


def _listed(allowed: frozenset[str]) -> str:
    return " ".join(sorted(allowed)) or "none"
