"""Finding the resource a saved-query parameter names: by IRI, by code or by name, in the store.

Names compare case- and punctuation-insensitively with the loaders' own keys
(`loaders/names.py`), so "london borough of hackney", "Hackney" and "HACKNEY"
name one authority. Only what the graph holds is found: a name of something not
loaded gives no match, and the catalogue answers 422 rather than an empty table.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from pyoxigraph import Literal, NamedNode, QuerySolutions, Variable

from citytools import vocab as v
from citytools.loaders.names import authority_key, fold, product_key
from citytools.service.store.interface import GraphStore, Term


@dataclass(frozen=True)
class EntityKind:
    classes: tuple[NamedNode, ...]
    key: Callable[[str], str]  # the normalised form names are compared in
    code: Callable[[str], Literal | None] = lambda _text: None  # a code's literal, if it is one
    code_property: NamedNode | None = None


_GSS = re.compile(r"[ENSW]\d{8}", re.IGNORECASE)
_LGSL = re.compile(r"\d{1,6}")
_IRI = re.compile(r"<?[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|^`\\]+>?")
NAME_PROPERTIES = (v.RDFS.label, v.SKOS.prefLabel, v.SKOS.altLabel, v.ORIGINAL_NAME)
STANDARD_NAME_PROPERTIES = (*NAME_PROPERTIES, v.SKOS.notation, v.DCT.identifier)


def _gss(text: str) -> Literal | None:
    return Literal(text.upper()) if _GSS.fullmatch(text) else None


def _lgsl(text: str) -> Literal | None:
    return Literal(str(int(text)), datatype=v.XSD.integer) if _LGSL.fullmatch(text) else None


def _folded(text: str) -> str:
    return fold(text).replace(" ", "")


KINDS: dict[str, EntityKind] = {
    "authority": EntityKind((v.LOCAL_AUTHORITY,), authority_key, _gss, v.GSS_CODE),
    "system": EntityKind((v.SYSTEM,), product_key),
    "standard": EntityKind((v.STANDARD, v.DCT.Standard), _folded),
    "project": EntityKind((v.PROJECT,), _folded),
    "service_area": EntityKind((v.SERVICE_AREA,), _folded),
}
# An LGSL id, or a name no service area has, may name an LGSL service instead; the
# queries treat a service area as matching when it is classified as that service.
LGSL_SERVICE = EntityKind((v.SERVICE,), _folded, _lgsl, v.LGSL_ID)


class StoreResolver:
    """Looks names, codes and IRIs up in a `GraphStore` (the catalogue's `Resolver`)."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store

    def lookup(self, kind: str, text: str) -> list[NamedNode]:
        entity = KINDS[kind]
        found = self._find(entity, text, kind == "standard")
        if not found and kind == "service_area":
            found = self._find(LGSL_SERVICE, text, False)
        return sorted(found, key=lambda iri: iri.value)

    def _find(self, entity: EntityKind, text: str, identifiers: bool) -> set[NamedNode]:
        if _IRI.fullmatch(text):
            found = self._by_iri(entity, text.strip("<>"))
            if found:
                return found
        code = entity.code(text)
        if code is not None and entity.code_property is not None:
            found = self._by_code(entity, entity.code_property, code)
            if found:
                return found
        properties = STANDARD_NAME_PROPERTIES if identifiers else NAME_PROPERTIES
        return self._by_name(entity, text, properties)

    def _by_iri(self, entity: EntityKind, text: str) -> set[NamedNode]:
        try:
            iri = NamedNode(text)
        except ValueError:
            return set()
        # The resource itself, or one that declares it the same (an ONS or Wikidata IRI).
        query = (
            f"SELECT DISTINCT ?iri ?x WHERE {{ VALUES ?class {{ {_terms(entity.classes)} }} "
            f"{{ ?iri a ?class . BIND(?iri AS ?x) }} "
            f"UNION {{ ?x {v.OWL.sameAs} ?iri ; a ?class }} }}"
        )
        return self._select(query, {Variable("iri"): iri})

    def _by_code(self, entity: EntityKind, prop: NamedNode, code: Literal) -> set[NamedNode]:
        query = (
            f"SELECT DISTINCT ?code ?x WHERE {{ VALUES ?class {{ {_terms(entity.classes)} }} "
            f"?x {prop} ?code ; a ?class }}"
        )
        return self._select(query, {Variable("code"): code})

    def _by_name(
        self, entity: EntityKind, text: str, properties: tuple[NamedNode, ...]
    ) -> set[NamedNode]:
        wanted = entity.key(text)
        if not wanted:
            return set()
        query = (
            f"SELECT DISTINCT ?x ?name WHERE {{ VALUES ?class {{ {_terms(entity.classes)} }} "
            f"VALUES ?p {{ {_terms(properties)} }} ?x a ?class ; ?p ?name }}"
        )
        result = self.store.query(query)
        assert isinstance(result, QuerySolutions)
        found = set()
        for row in result:
            iri, name = row["x"], row["name"]
            named = isinstance(iri, NamedNode) and isinstance(name, Literal)
            if named and entity.key(name.value) == wanted:
                found.add(iri)
        return found

    def _select(self, query: str, substitutions: dict[Variable, Term]) -> set[NamedNode]:
        result = self.store.query(query, substitutions=substitutions)
        assert isinstance(result, QuerySolutions)
        return {row["x"] for row in result if isinstance(row["x"], NamedNode)}


def _terms(terms: tuple[NamedNode, ...]) -> str:
    return " ".join(str(t) for t in terms)
