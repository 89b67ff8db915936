"""Shared emitting for the tabular and OCDS loaders: authorities, vendors, systems, areas.

A source graph is self-describing: it types and labels every resource it
references except the reference data. So a non-London authority is emitted
with its region the first time it is named, a vendor, system or service area
with the first spelling seen as its label and every spelling as
`ct:originalName`. Repeated strings are resolved once (dictionaries keyed by
the raw text), because inventories repeat the same few hundred names in
tens of thousands of rows.
"""

from __future__ import annotations

from collections.abc import Callable

from pyoxigraph import Literal, NamedNode, Triple

from citytools import vocab as v
from citytools.loaders.authorities import AuthorityRecord, authority_resolver
from citytools.loaders.base import Parsed
from citytools.loaders.iris import Minter
from citytools.loaders.names import organisation_key, product_key, slug

Keyed = tuple[str, NamedNode]  # (normalised key, IRI)


def coded(value: str, terms: dict[str, NamedNode]) -> NamedNode | Literal:
    """The controlled term a cell names ("SaaS", "on premises"); else the text as a literal,
    which the shapes' `sh:in` then reports."""
    term = terms.get(value.lower().replace("_", "-").replace(" ", "-"))
    return Literal(value) if term is None else term


class GraphBuilder:
    """Collects the triples of one parse into `parsed.triples`."""

    def __init__(self, minter: Minter, parsed: Parsed) -> None:
        self.minter = minter
        self.parsed = parsed
        self.out = parsed.triples
        self.base = minter.base
        self._resolver = authority_resolver()
        self._authorities: dict[str, tuple[AuthorityRecord, NamedNode] | None] = {}
        self._emitted: set[str] = set()  # GSS codes and region names already described
        # raw text → (key, IRI); "{segment}{key}" → spellings already recorded
        self._vendors: dict[str, Keyed] = {}
        self._systems: dict[str, Keyed] = {}
        self._areas: dict[str, Keyed] = {}
        self._spellings: dict[str, set[str]] = {}

    # --- authorities --------------------------------------------------------------------

    def authority(self, text: str) -> tuple[AuthorityRecord, NamedNode] | None:
        """The authority a code or name denotes (described here unless it is a London one)."""
        if text in self._authorities:
            return self._authorities[text]
        record = self._resolver.resolve(text)
        found = None if record is None else self.authority_record(record)
        self._authorities[text] = found
        return found

    def authority_record(self, record: AuthorityRecord) -> tuple[AuthorityRecord, NamedNode]:
        iri = self.minter.authority(record.gss)
        if not record.london and record.gss not in self._emitted:
            self._emitted.add(record.gss)
            region = self._region(record.region)
            self.out += [
                Triple(iri, v.RDF.type, v.LOCAL_AUTHORITY),
                Triple(iri, v.RDFS.label, Literal(record.name)),
                Triple(iri, v.SKOS.altLabel, Literal(record.official_name)),
                Triple(iri, v.GSS_CODE, Literal(record.gss)),
                Triple(iri, v.AUTHORITY_TYPE, Literal(record.authority_type)),
                Triple(iri, v.REGION_PROP, region),
                Triple(iri, v.OWL.sameAs, NamedNode(v.ONS_GEOGRAPHY + record.gss)),
            ]
        return record, iri

    def _region(self, name: str) -> NamedNode:
        iri = self.minter.region(name)
        if "region:" + name not in self._emitted:
            self._emitted.add("region:" + name)
            self.out += [
                Triple(iri, v.RDF.type, v.REGION),
                Triple(iri, v.RDFS.label, Literal(name)),
            ]
        return iri

    # --- vendors, systems, service areas --------------------------------------------------

    def vendor(self, name: str) -> NamedNode:
        return self._named(name, self._vendors, organisation_key, "vendor/", v.VENDOR)[1]

    def system(self, name: str) -> Keyed:
        """(product key, IRI) of a product name."""
        return self._named(name, self._systems, product_key, "system/", v.SYSTEM)

    def service_area(self, name: str) -> Keyed:
        """(slug, IRI) of a service-area name."""
        return self._named(name, self._areas, slug, "service-area/", v.SERVICE_AREA)

    def _named(
        self,
        name: str,
        cache: dict[str, Keyed],
        keyer: Callable[[str], str],
        segment: str,
        cls: NamedNode,
    ) -> Keyed:
        hit = cache.get(name)
        if hit is not None:
            return hit
        key = keyer(name)
        # the same IRI as Minter.vendor/system/service_area, keeping the key for the caller
        keyed = (key, NamedNode(self.base + segment + key))
        cache[name] = keyed
        iri = keyed[1]
        spellings = self._spellings.setdefault(segment + key, set())
        if not spellings:
            self.out += [Triple(iri, v.RDF.type, cls), Triple(iri, v.RDFS.label, Literal(name))]
        if name not in spellings:
            spellings.add(name)
            self.out.append(Triple(iri, v.ORIGINAL_NAME, Literal(name)))
        return keyed
