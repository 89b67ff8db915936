"""Minting data IRIs under a base: stable, readable, the same for the same input."""

from __future__ import annotations

from dataclasses import dataclass

from pyoxigraph import NamedNode

from citytools.loaders.names import organisation_key, product_key, slug
from citytools.vocab import DEFAULT_BASE_IRI


@dataclass(frozen=True)
class Minter:
    """Every data IRI the loaders mint, e.g. `{base}authority/E09000012`."""

    base: str = DEFAULT_BASE_IRI

    def _iri(self, *segments: str) -> NamedNode:
        return NamedNode(self.base + "/".join(segments))

    def authority(self, gss_code: str) -> NamedNode:
        return self._iri("authority", gss_code.upper())

    def region(self, name: str) -> NamedNode:
        return self._iri("region", slug(name))

    def lgsl_service(self, lgsl_id: int) -> NamedNode:
        return self._iri("service", "lgsl", str(lgsl_id))

    def lgfl_function(self, function_id: int) -> NamedNode:
        return self._iri("function", "lgfl", str(function_id))

    def concept_scheme(self, name: str) -> NamedNode:
        return self._iri("scheme", slug(name))

    def service_area(self, name: str) -> NamedNode:
        return self._iri("service-area", slug(name))

    def system(self, name: str) -> NamedNode:
        return self._iri("system", product_key(name))

    def vendor(self, name: str) -> NamedNode:
        return self._iri("vendor", organisation_key(name))

    def deployment(self, gss_code: str, service_area: str, system: str) -> NamedNode:
        return self._iri("deployment", gss_code.upper(), slug(service_area), product_key(system))

    def contract(self, gss_code: str, service_area: str, system: str) -> NamedNode:
        return self._iri("contract", gss_code.upper(), slug(service_area), product_key(system))

    def ocds_contract(self, ocid: str, contract_id: str) -> NamedNode:
        return self._iri("contract", "ocds", slug(ocid), slug(contract_id))

    def standard(self, name: str) -> NamedNode:
        return self._iri("standard", slug(name))

    def project(self, name: str) -> NamedNode:
        return self._iri("project", slug(name))

    def graph(self, *segments: str) -> NamedNode:
        return self._iri("graph", *(slug(s) for s in segments))
