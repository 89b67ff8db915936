"""The shipped reference data as RDF: London authorities, LGSL with LGFL, curated standards.

Each graph comes with its description (`reference_descriptions`), which the service
writes into its provenance graph, not into the graph itself: where its data came from
(`dct:source`, the upstream files at the commits named in `reference/PROVENANCE.md`), its
licences and the attribution they require (`reference/LICENCES.md`), and as
`dct:modified` the date of the newest upstream snapshot, so the same files always give
the same statements (the bootstrap rewrites a reference graph only when they change).

Everything is read once per process and per base IRI (`functools.lru_cache`).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import lru_cache

from pyoxigraph import Literal, NamedNode, RdfFormat, Triple, parse

from citytools import vocab as v
from citytools.loaders.iris import Minter
from citytools.resources import reference_file

LONDON_AUTHORITIES = "london-authorities"
LGSL = "lgsl"
STANDARDS = "standards"

CC_BY_4 = "https://creativecommons.org/licenses/by/4.0/"
OGL = "https://www.nationalarchives.gov.uk/doc/open-government-licence/"
OGL_3 = OGL + "version/3/"
_GITHUB = "https://github.com/"
# London's own ONS statistical-geography code (a region, E12).
LONDON_REGION_GSS = "E12000007"


@dataclass(frozen=True)
class _About:
    """What a reference graph says about itself."""

    label: str
    sources: tuple[str, ...]  # upstream files, pinned to a commit
    licences: tuple[str, ...]
    holders: tuple[str, ...]
    attribution: str
    generated: str  # xsd:dateTime: the newest upstream snapshot (or curation) date


_LONDON = _About(
    label="London local authorities (reference data)",
    sources=(
        _GITHUB + "mysociety/uk_local_authority_names_and_codes/blob/"
        "67ef8b118938678401a452f4f19f669a7221cc73/"
        "data/packages/uk_la_past_current/uk_local_authorities_current.csv",
        _GITHUB + "digital-land/organisation-dataset/blob/"
        "0e22143868e63332b3f996f0faad0f8fb585a347/collection/organisation.csv",
        _GITHUB + "digital-land/organisation-dataset/blob/"
        "093719484beb9edf7259291822f9242593cde1d8/data/local-authority.csv",
        _GITHUB + "IBM/data-analysis-using-python/blob/"
        "980182701373d0d7dff20574a6b80858edd64f37/data/london-borough-profiles.csv",
    ),
    licences=(CC_BY_4, OGL_3, OGL),
    holders=("mySociety", "Crown copyright (digital-land, MHCLG)", "Greater London Authority"),
    attribution=(
        "mySociety, UK Local Authority Names and Codes, CC BY 4.0. Contains public sector "
        "information licensed under the Open Government Licence v3.0 (digital-land organisation "
        "dataset, © Crown copyright). Inner/Outer London from the Greater London Authority, "
        "London Borough Profiles, licensed under the Open Government Licence."
    ),
    generated="2025-07-10T00:00:00Z",
)
_LGSL = _About(
    label="Local Government Services and Functions Lists (reference data)",
    sources=(
        _GITHUB + "movermeyer/ckanext-esdstandards/blob/"
        "0133a969e8f78c569da0236c017a84ec9a6e774e/ckanext-esdstandards-data/services.csv",
        _GITHUB + "movermeyer/ckanext-esdstandards/blob/"
        "0133a969e8f78c569da0236c017a84ec9a6e774e/ckanext-esdstandards-data/functions.csv",
        _GITHUB + "datagovuk/ckanext-dgu-local/blob/"
        "22c234e23ae02ced374cd38ffb1ce17b24cd6e3c/"
        "ckanext/dgulocal/data/functions_services_themes.csv",
    ),
    licences=(OGL,),
    holders=("Local Government Association (esd-toolkit / LG Inform Plus)",),
    attribution=(
        "Contains the Local Government Services List / Functions List, © LGA (esd-toolkit / "
        "LG Inform Plus), licensed under the Open Government Licence."
    ),
    generated="2015-03-17T00:00:00Z",
)
_STANDARDS = _About(
    label="Interoperability standards (curated reference data)",
    sources=(),  # curated by this project; no upstream file
    licences=(CC_BY_4,),
    holders=("City Tools Graph contributors",),
    attribution=(
        "City Tools Graph contributors, curated list of interoperability standards, CC BY 4.0."
    ),
    generated="2026-11-22T00:00:00Z",
)


_ABOUT = {LONDON_AUTHORITIES: _LONDON, LGSL: _LGSL, STANDARDS: _STANDARDS}


def graph_iri(minter: Minter, name: str) -> NamedNode:
    """`{base}graph/reference/{name}`."""
    return minter.graph("reference", name)


def reference_graphs(minter: Minter) -> dict[NamedNode, list[Triple]]:
    """Every reference graph by name (fresh lists: callers may change them)."""
    return {graph: list(triples) for graph, triples in _graphs(minter).items()}


@dataclass(frozen=True)
class Description:
    """What provenance says of a reference graph."""

    label: str
    facts: tuple[tuple[NamedNode, NamedNode | Literal], ...]  # sources, licences, rights


def reference_descriptions(minter: Minter) -> dict[NamedNode, Description]:
    return {graph_iri(minter, name): _describe(about) for name, about in _ABOUT.items()}


def london_authorities(minter: Minter) -> list[Triple]:
    return list(_graphs(minter)[graph_iri(minter, LONDON_AUTHORITIES)])


def lgsl(minter: Minter) -> list[Triple]:
    return list(_graphs(minter)[graph_iri(minter, LGSL)])


def standards(minter: Minter) -> list[Triple]:
    return list(_graphs(minter)[graph_iri(minter, STANDARDS)])


@lru_cache(maxsize=1)
def lgsl_ids() -> frozenset[int]:
    """Every LGSL service id of the shipped list, for checking ids in inputs."""
    return frozenset(int(row["lgsl_id"]) for row in reference_rows("lgsl_services.csv"))


@lru_cache(maxsize=1)
def standards_triples() -> tuple[Triple, ...]:
    """The curated standards as parsed from `reference/standards.ttl` (absolute IRIs only)."""
    data = reference_file("standards.ttl").read_bytes()
    return tuple(quad.triple for quad in parse(data, format=RdfFormat.TURTLE))


@lru_cache(maxsize=8)
def _graphs(minter: Minter) -> dict[NamedNode, tuple[Triple, ...]]:
    built = {
        LONDON_AUTHORITIES: _london(minter),
        LGSL: _lgsl(minter),
        STANDARDS: list(standards_triples()),
    }
    return {graph_iri(minter, name): tuple(triples) for name, triples in built.items()}


@lru_cache(maxsize=8)
def reference_rows(name: str) -> tuple[dict[str, str], ...]:
    """The rows of a shipped reference CSV, read once per process."""
    text = reference_file(name).read_text(encoding="utf-8")
    return tuple(csv.DictReader(io.StringIO(text, newline="")))


def _describe(about: _About) -> Description:
    facts: list[tuple[NamedNode, NamedNode | Literal]] = [
        *((v.DCT.source, NamedNode(s)) for s in about.sources),
        *((v.DCT.license, NamedNode(lic)) for lic in about.licences),
        *((v.DCT.rightsHolder, Literal(h)) for h in about.holders),
        (v.DCT.rights, Literal(about.attribution)),
        (v.DCT.modified, Literal(about.generated, datatype=v.XSD.dateTime)),
    ]
    return Description(about.label, tuple(facts))


def _london(minter: Minter) -> list[Triple]:
    region = minter.region("London")
    out = [
        Triple(region, v.RDF.type, v.REGION),
        Triple(region, v.RDFS.label, Literal("London")),
        Triple(region, v.OWL.sameAs, NamedNode(v.ONS_GEOGRAPHY + LONDON_REGION_GSS)),
    ]
    for row in reference_rows("london_local_authorities.csv"):
        auth = minter.authority(row["gss_code"])
        facts: list[tuple[NamedNode, NamedNode | Literal]] = [
            (v.RDF.type, v.LOCAL_AUTHORITY),
            (v.RDFS.label, Literal(row["name"])),
            (v.SKOS.altLabel, Literal(row["official_name"])),
            (v.GSS_CODE, Literal(row["gss_code"])),
            (v.AUTHORITY_TYPE, Literal(row["la_type"])),
            (v.INNER_OUTER, Literal(row["inner_outer"])),
            (v.REGION_PROP, region),
            (v.OWL.sameAs, NamedNode(row["ons_uri"])),
            (v.OWL.sameAs, NamedNode(v.WIKIDATA_ENTITY + row["wikidata"])),
            (v.FOAF.homepage, NamedNode(row["website"])),
            (v.RDFS.seeAlso, NamedNode(row["wikipedia"])),
        ]
        out.extend(Triple(auth, p, o) for p, o in facts)
    return out


def _lgsl(minter: Minter) -> list[Triple]:
    services = minter.concept_scheme("lgsl")
    functions = minter.concept_scheme("lgfl")
    out = [
        Triple(services, v.RDF.type, v.SKOS.ConceptScheme),
        Triple(services, v.RDFS.label, Literal("Local Government Services List (LGSL)")),
        Triple(services, v.FOAF.homepage, NamedNode("http://standards.esd.org.uk/")),
        Triple(functions, v.RDF.type, v.SKOS.ConceptScheme),
        Triple(functions, v.RDFS.label, Literal("Local Government Functions List (LGFL)")),
        Triple(functions, v.FOAF.homepage, NamedNode("http://standards.esd.org.uk/")),
    ]
    for row in reference_rows("lgfl_functions.csv"):
        fn = minter.lgfl_function(int(row["function_id"]))
        out += [
            Triple(fn, v.RDF.type, v.FUNCTION_CONCEPT),
            Triple(fn, v.RDF.type, v.SKOS.Concept),
            Triple(fn, v.SKOS.inScheme, functions),
            Triple(fn, v.RDFS.label, Literal(row["label"])),
            Triple(fn, v.SKOS.prefLabel, Literal(row["label"])),
            Triple(fn, v.SKOS.notation, Literal(row["function_id"])),
            Triple(fn, v.OWL.sameAs, NamedNode(row["uri"])),
        ]
        parent = row["parent_function_id"]
        if parent:
            out.append(Triple(fn, v.SKOS.broader, minter.lgfl_function(int(parent))))
        else:
            out.append(Triple(fn, v.SKOS.topConceptOf, functions))
    for row in reference_rows("lgsl_services.csv"):
        n = int(row["lgsl_id"])
        svc = minter.lgsl_service(n)
        out += [
            Triple(svc, v.RDF.type, v.SERVICE),
            Triple(svc, v.RDF.type, v.SKOS.Concept),
            Triple(svc, v.SKOS.inScheme, services),
            Triple(svc, v.RDFS.label, Literal(row["label"])),
            Triple(svc, v.SKOS.prefLabel, Literal(row["label"])),
            Triple(svc, v.SKOS.notation, Literal(row["lgsl_id"])),
            Triple(svc, v.LGSL_ID, Literal(n)),
            Triple(svc, v.OWL.sameAs, NamedNode(v.ESD_SERVICE + row["lgsl_id"])),
        ]
        if row["description"]:
            out.append(Triple(svc, v.SKOS.definition, Literal(row["description"])))
        if row["function_id"]:
            out.append(Triple(svc, v.LGFL_FUNCTION, minter.lgfl_function(int(row["function_id"]))))
    return out
