"""Content negotiation: `Accept` with q-values, `format=` short names, and the formats we offer.

One table per family of answers (SPARQL solutions, RDF graphs, RDF datasets), each
offer with the short name users type in `format=` and the media types that ask for
it. Browsers (`text/html` among the preferred types) and `*/*` get the first offer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyoxigraph import RdfFormat


@dataclass(frozen=True)
class Offer:
    """One format we can answer in."""

    name: str  # canonical `format=` value
    media_type: str  # sent as Content-Type
    w3c_name: str  # its unique IRI is FORMATS[w3c_name] (http://www.w3.org/ns/formats/…)
    aliases: tuple[str, ...] = ()  # other media types and `format=` names that ask for it

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, self.media_type, *self.aliases)

    @property
    def content_type(self) -> str:
        return f"{self.media_type}; charset=utf-8"  # every format we write is UTF-8 text

    @property
    def rdf_format(self) -> RdfFormat:
        fmt = RdfFormat.from_media_type(self.media_type)
        if fmt is None:
            raise ValueError(f"{self.media_type} is not an RDF format")
        return fmt


JSON = Offer(
    "json",
    "application/sparql-results+json",
    "SPARQL_Results_JSON",
    ("application/json", "text/javascript", "application/javascript"),
)
XML = Offer(
    "xml", "application/sparql-results+xml", "SPARQL_Results_XML", ("application/xml", "text/xml")
)
CSV = Offer("csv", "text/csv", "SPARQL_Results_CSV")
TSV = Offer("tsv", "text/tab-separated-values", "SPARQL_Results_TSV")
TURTLE = Offer(
    "ttl", "text/turtle", "Turtle", ("turtle", "n3", "application/turtle", "application/x-turtle")
)
NTRIPLES = Offer("nt", "application/n-triples", "N-Triples", ("ntriples", "n-triples"))
# SPARQLWrapper sends format=json / format=xml for CONSTRUCT too: JSON-LD and RDF/XML.
JSONLD = Offer(
    "jsonld", "application/ld+json", "JSON-LD", ("json-ld", "json", "application/x-json+ld")
)
RDFXML = Offer("rdfxml", "application/rdf+xml", "RDF_XML", ("rdf+xml", "xml", "rdf"))
TRIG = Offer("trig", "application/trig", "TriG")
NQUADS = Offer("nq", "application/n-quads", "N-Quads", ("nquads", "n-quads"))

SOLUTIONS: tuple[Offer, ...] = (JSON, XML, CSV, TSV)  # SELECT and ASK; the first is the default
GRAPHS: tuple[Offer, ...] = (TURTLE, NTRIPLES, JSONLD, RDFXML, TRIG, NQUADS)  # CONSTRUCT, DESCRIBE
DATASETS: tuple[Offer, ...] = (TRIG, NQUADS)  # several named graphs at once
BROWSER_TYPES = frozenset({"text/html", "application/xhtml+xml"})


@dataclass(frozen=True)
class MediaRange:
    type: str  # e.g. "text/turtle", "text/*", "*/*"
    q: float
    position: int  # order in the header, to honour the client's order on ties

    def specificity(self, media_type: str) -> int:
        """2 exact, 1 `type/*`, 0 `*/*`, -1 no match."""
        if self.type == media_type:
            return 2
        if self.type == "*/*":
            return 0
        major, _, minor = self.type.partition("/")
        if minor == "*" and media_type.startswith(major + "/"):
            return 1
        return -1


def parse_accept(header: str | None) -> list[MediaRange]:
    """Media ranges of an Accept header; ranges with a malformed q are ignored."""
    ranges = []
    for position, part in enumerate((header or "").split(",")):
        media_type, *params = (p.strip() for p in part.split(";"))
        if "/" not in media_type:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = -1.0
        if 0.0 <= q <= 1.0:
            ranges.append(MediaRange(media_type.lower(), q, position))
    return ranges


def prefers_html(ranges: Sequence[MediaRange]) -> bool:
    """True when `text/html` is among the client's most preferred types (a browser)."""
    if not ranges:
        return False
    top = max(r.q for r in ranges)
    return top > 0 and any(r.type in BROWSER_TYPES and r.q == top for r in ranges)


def negotiate(ranges: Sequence[MediaRange], offers: Sequence[Offer]) -> Offer | None:
    """The best offer for the client's ranges, None when none is acceptable.

    No ranges or a browser's Accept get the first offer (the family's default).
    """
    if not ranges or prefers_html(ranges):
        return offers[0]
    best: tuple[float, int, int, int] | None = None
    chosen = None
    for index, offer in enumerate(offers):
        match = _best_range(ranges, offer)
        if match is None or match[1].q <= 0:
            continue
        specificity, found = match
        score = (found.q, specificity, -found.position, -index)
        if best is None or score > best:
            best, chosen = score, offer
    return chosen


def _best_range(ranges: Sequence[MediaRange], offer: Offer) -> tuple[int, MediaRange] | None:
    """The most specific range matching the offer (RFC 9110 §12.5.1).

    Wildcards match only the offer's own media type: `text/*` must not pick SPARQL
    XML through its `text/xml` alias.
    """
    best: tuple[int, MediaRange] | None = None
    for candidate in ranges:
        specificity = candidate.specificity(offer.media_type)
        if specificity < 0 and candidate.type in offer.aliases:
            specificity = 2
        if specificity >= 0 and (best is None or specificity > best[0]):
            best = (specificity, candidate)
    return best


def by_name(name: str, offers: Sequence[Offer]) -> Offer | None:
    """The offer a `format=` value names (short name, alias or media type)."""
    wanted = name.strip().lower().split(";")[0].strip()
    return next((o for o in offers if wanted in o.names), None)


def format_names(*families: Sequence[Offer]) -> str:
    return ", ".join(o.name for family in families for o in family)
