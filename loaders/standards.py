"""Matching standard names written in inputs against the curated list.

"FHIR", "hl7 fhir" and "fhir" all name `<http://hl7.org/fhir>`: a name matches
a curated standard's `rdfs:label`, any `skos:altLabel` or its `dct:identifier`,
compared by `names.fold` (case, punctuation and "&"/"and" ignored). A name
that matches nothing becomes `{base}standard/{slug}` with a warning.
"""

from __future__ import annotations

from functools import lru_cache

from pyoxigraph import Literal, NamedNode, Triple

from citytools import vocab as v
from citytools.loaders.base import Parsed
from citytools.loaders.iris import Minter
from citytools.loaders.names import fold
from citytools.loaders.reference import standards_triples

_NAMING = (v.RDFS.label, v.SKOS.altLabel, v.DCT.identifier)


@lru_cache(maxsize=1)
def curated_standards() -> dict[str, NamedNode]:
    """Folded name → the curated standard's IRI."""
    index: dict[str, NamedNode] = {}
    for triple in standards_triples():
        subject, obj = triple.subject, triple.object
        if not (isinstance(subject, NamedNode) and isinstance(obj, Literal)):
            continue
        if triple.predicate in _NAMING:
            index.setdefault(fold(obj.value), subject)
    return index


def find_standard(name: str) -> NamedNode | None:
    """The curated standard a name denotes, or None."""
    return curated_standards().get(fold(name))


class StandardMatcher:
    """Resolves the standard names of one input; mints and types the unknown ones once."""

    def __init__(self, minter: Minter, parsed: Parsed) -> None:
        self._minter = minter
        self._parsed = parsed
        self._curated = curated_standards()
        self._seen: dict[str, tuple[NamedNode, ...]] = {}  # raw cell → standards
        self._minted: dict[str, NamedNode] = {}  # folded name → new standard

    def cell(self, text: str, line: int) -> tuple[NamedNode, ...]:
        """The standards of a `;`-separated cell (cached: cells repeat across rows)."""
        found = self._seen.get(text)
        if found is None:
            names = (n.strip() for n in text.split(";"))
            found = tuple(dict.fromkeys(self.one(n, line) for n in names if n))
            self._seen[text] = found
        return found

    def one(self, name: str, line: int) -> NamedNode:
        key = fold(name)
        curated = self._curated.get(key)
        if curated is not None:
            return curated
        minted = self._minted.get(key)
        if minted is None:
            minted = self._minter.standard(name)
            self._minted[key] = minted
            self._parsed.triples += [
                Triple(minted, v.RDF.type, v.STANDARD),
                Triple(minted, v.RDFS.label, Literal(name)),
            ]
            self._parsed.warning(
                line,
                f"unknown standard '{name}': added as a new standard "
                f"<{minted.value}>; check its spelling against the curated list",
                value=name,
            )
        return minted
