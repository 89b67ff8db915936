"""The one SERVICE / LOAD guard, for queries and updates, run before pyoxigraph sees a text.

pyoxigraph calls a SERVICE endpoint as soon as evaluation starts and LOAD fetches its IRI,
so an endpoint outside the allow-list (CITYTOOLS_FEDERATION_ALLOW) is an SSRF. LOAD is
never accepted (data goes to /store). Every SERVICE must name an allowed endpoint by an
IRI or a prefixed name, resolved as the engine resolves it (PREFIX and BASE in text
order over the request's base IRI); a variable endpoint is refused.

The text is read with `sparql_scan.lex`, which reads terminals as pyoxigraph does, and
what follows a SERVICE is read character by character as spargebra's grammar reads it:
`SERVICE`, optionally `SILENT` (both tried: `SERVICE silent:x` may be either), an endpoint,
`{`. No word boundary is needed between them (`SERVICESILENT<x>{}` is a call), and a
prefixed name that starts with "service" (`service:x {`) is read as one too, since the
engine tries a SERVICE there first.

The engine also matches keywords inside longer words and, when a prefix is not declared,
reads the same characters again as keywords: `trueSERVICE<x>{}` or `SERVICEe:x {}` call
`<x>` and `e:x`. How such a run splits is not guessed at: in a text that mentions
"service" or "load" at all (only those can reach the network; `\\u` escapes do not spell
keywords), a word that is no keyword, a prefixed name that does not resolve, a character
no terminal starts with, or brackets that do not balance make the text refused as
malformed. A text that never mentions them is left to the engine and its own errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import NamedTuple

from pyoxigraph import NamedNode, QuerySolutions, Store

from citytools.errors import FederationRefused, InputError
from citytools.service.sparql.lexer import (
    CASED_KEYWORDS,
    IRI,
    KEYWORDS,
    PNAME,
    VAR,
    Lexeme,
    lex,
    skip_gap,
)

SETTING = "CITYTOOLS_FEDERATION_ALLOW"
LOAD_REFUSED = "LOAD is not accepted: send the data to /store instead"
_VARIABLE = "a variable endpoint is not allowed (a computed endpoint cannot be checked)"


class Endpoint(NamedTuple):
    """A SERVICE endpoint as written, and the IRI it resolves to (None: `problem` says why)."""

    written: str
    iri: str | None
    problem: str = ""


def check_services(sparql: str, allowed: frozenset[str], base_iri: str | None = None) -> None:
    """Raise FederationRefused unless every SERVICE names an endpoint in `allowed`;
    InputError for LOAD, and for a text that mentions SERVICE or LOAD but cannot be read."""
    for endpoint in _endpoints(sparql, base_iri):  # the first problem in text order is told
        if endpoint.iri is None:
            raise FederationRefused(
                f"SERVICE {endpoint.written}: {endpoint.problem}; name the endpoint by its IRI "
                f"(allowed endpoints, {SETTING}: {_listed(allowed)})"
            )
        if endpoint.iri not in allowed:
            raise FederationRefused(
                f"SERVICE <{endpoint.iri}> is not allowed; allowed endpoints ({SETTING}): "
                + _listed(allowed)
            )


def service_targets(sparql: str, base_iri: str | None = None) -> tuple[Endpoint, ...]:
    """Every SERVICE endpoint the engine could call for this text, allowed or not;
    InputError as `check_services` raises it."""
    return tuple(_endpoints(sparql, base_iri))


def _endpoints(sparql: str, base_iri: str | None) -> Iterator[Endpoint]:
    lowered = sparql.lower()
    if "service" not in lowered and "load" not in lowered:
        return iter(())
    return _Reading(sparql, base_iri).endpoints()


class _Reading:
    """One walk over a text's tokens, keeping its prefixes and base IRI."""

    def __init__(self, sparql: str, base_iri: str | None) -> None:
        self.text = sparql
        self.base = base_iri
        self.prefixes: dict[str, str] = {}

    def endpoints(self) -> Iterator[Endpoint]:
        tokens = list(lex(self.text))
        depth, operation_start, index = 0, True, 0
        while index < len(tokens):
            token, previous = tokens[index], tokens[index - 1] if index else None
            index += 1
            starts = False  # whether the next token may begin an update operation
            if token.kind == "error":
                raise InputError(f"malformed SPARQL: {self._unreadable(token)}")
            if token.kind == "keyword":
                word = token.text.upper()
                if word == "LOAD" or (word.startswith("LOAD") and operation_start):
                    raise InputError(LOAD_REFUSED)  # `LOADSILENT<x>` is `LOAD SILENT <x>`
                if word == "SERVICE":
                    yield from self._service(token.end, token.text)
                elif word.startswith("SERVICE"):  # `SERVICESILENT<x>{}` calls <x>
                    yield from self._service(token.start + len("service"), None)
                if word not in KEYWORDS and token.text not in CASED_KEYWORDS:
                    raise InputError(
                        f"malformed SPARQL: {token.text!r} at {self._where(token.start)} is "
                        "not a SPARQL keyword (write keywords apart from each other)"
                    )
                if word in ("PREFIX", "BASE", "VERSION"):
                    index = self._declare(word, tokens, index)
                    starts = operation_start
            elif token.kind == "pname":
                lowered = token.text.lower()
                if lowered.startswith("load") and operation_start:
                    raise InputError(LOAD_REFUSED)  # `LOADe:x` is `LOAD e:x`
                # `service:x {` is tried as `SERVICE :x {` first; after GRAPH it is a name
                if lowered.startswith("service") and not _is_keyword(previous, "GRAPH"):
                    yield from self._service(token.start + len("service"), None)
                self._resolved_name(token)
            elif token.kind == "punct":
                depth += (token.text in "{[(") - (token.text in ")]}")
                starts = token.text == ";" and depth == 0
            operation_start = starts

    def _service(self, start: int, keyword: str | None) -> Iterator[Endpoint]:
        """The endpoints read after a SERVICE ending at `start`: with `SILENT` taken, then
        without (spargebra's two alternatives, in its order). `keyword` is the SERVICE
        token when it is one; inside a longer word, only readings that lex count."""
        after = skip_gap(self.text, start)
        starts = [after]
        if self.text[after : after + 6].lower() == "silent":
            starts.insert(0, skip_gap(self.text, after + 6))
        found = [e for e in map(self._endpoint_at, starts) if e and _callable(e)]
        if found:
            yield from found
        elif keyword is not None:
            endpoint = self._endpoint_at(after, group=False)
            if endpoint is not None and endpoint.problem:
                yield endpoint
            else:
                yield Endpoint(
                    f"at {self._where(start - len(keyword))}",
                    None,
                    "no endpoint IRI and group pattern follow",
                )

    def _endpoint_at(self, position: int, group: bool = True) -> Endpoint | None:
        """The variable, IRI or prefixed name at `position`, followed by `{` if `group`."""
        for pattern in (VAR, IRI, PNAME):
            if found := pattern.match(self.text, position):
                break
        else:
            return None
        if group and not self.text.startswith("{", skip_gap(self.text, found.end())):
            return None
        written = found.group()
        if written[0] in "?$":
            return Endpoint(written, None, _VARIABLE)
        if written[0] == "<":
            iri = resolved(written[1:-1], self.base)
            return Endpoint(written, iri, "" if iri else "not an IRI (a relative one needs a base)")
        iri, problem = self._name(written)
        return Endpoint(written, iri, problem)

    def _name(self, written: str) -> tuple[str | None, str]:
        """What a prefixed name resolves to, as spargebra concatenates and checks it."""
        prefix, _, local = written.partition(":")
        namespace = self.prefixes.get(prefix)
        if namespace is None:
            return None, f"the prefix {prefix}: is not declared"
        iri = namespace + local.replace("\\", "")
        try:
            NamedNode(iri)
        except ValueError:
            return None, f"{written} does not make a valid IRI ({iri})"
        return iri, ""

    def _resolved_name(self, token: Lexeme) -> None:
        """Refuse a prefixed name the engine would not read as one (it would read its
        characters again as keywords, see the module docstring)."""
        iri, problem = self._name(token.text)
        if iri is None:
            raise InputError(f"malformed SPARQL: {problem} (at {self._where(token.start)})")

    def _declare(self, keyword: str, tokens: list[Lexeme], index: int) -> int:
        """Read a PREFIX, BASE or VERSION declaration; the index after it."""
        following = tokens[index : index + 2]
        kinds = [t.kind for t in following]
        if keyword == "VERSION":
            return index + (kinds[:1] == ["string"])
        if keyword == "BASE" and kinds[:1] == ["iri"]:
            base = resolved(following[0].text[1:-1], self.base)
            if base is not None:
                self.base = base
                return index + 1
        name = following[0].text if following else ""
        if keyword == "PREFIX" and kinds == ["pname", "iri"] and name.index(":") == len(name) - 1:
            namespace = resolved(following[1].text[1:-1], self.base)
            if namespace is not None:
                self.prefixes[name[:-1]] = namespace
                return index + 2
        where = self._where(tokens[index - 1].start)
        raise InputError(f"malformed SPARQL: the {keyword} at {where} names no IRI that resolves")

    def _unreadable(self, token: Lexeme) -> str:
        if not token.text:
            return "a bracket is not closed"
        where = self._where(token.start)
        if token.text in ")]}":
            return f"{token.text!r} at {where} closes no bracket"
        if token.text in "'\"":
            return f"the string at {where} does not end, or has an escape that names no character"
        if token.text == "<":
            return f"the IRI at {where} does not end"
        return f"{token.text!r} at {where} starts no SPARQL token"

    def _where(self, offset: int) -> str:
        line = self.text.count("\n", 0, offset) + 1
        column = offset - self.text.rfind("\n", 0, offset)
        return f"line {line}, column {column}"


@lru_cache(maxsize=1024)
def resolved(reference: str, base_iri: str | None) -> str | None:
    """The IRI pyoxigraph makes of `<reference>` (escapes read, resolved against
    `base_iri`), or None when it makes none: its own parser decides, on an empty store."""
    try:
        answer = Store().query(f"SELECT (<{reference}> AS ?iri) {{}}", base_iri=base_iri)
    except (SyntaxError, ValueError):
        return None
    assert isinstance(answer, QuerySolutions)
    terms = [solution["iri"] for solution in answer]
    return terms[0].value if terms and isinstance(terms[0], NamedNode) else None


def _callable(endpoint: Endpoint) -> bool:
    """Whether the engine could take this reading (a variable it would take, then fail on)."""
    return endpoint.iri is not None or endpoint.problem == _VARIABLE


def _is_keyword(token: Lexeme | None, keyword: str) -> bool:
    return token is not None and token.kind == "keyword" and token.text.upper() == keyword


def _listed(allowed: frozenset[str]) -> str:
    return " ".join(sorted(allowed)) or "none"
