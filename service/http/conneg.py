"""Content negotiation: `Accept` with q-values, `format=` short names, and the formats we offer.

One table per family of answers (SPARQL solutions, RDF graphs, RDF datasets), each
offer with the short name users type in `format=` and the media types that ask for
it. Accept headers are parsed and matched by `python-mimeparse` (RFC 9110 §12.5.1: the
most specific range that matches an offer gives its q); what is ours is the policy around
it: aliases match exactly, never through a wildcard; browsers (`text/html` among the
preferred types) and `*/*` get the family's first offer; the client's order breaks ties.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import mimeparse  # type: ignore[import-untyped]  # ships no type hints
from pyoxigraph import RdfFormat
from starlette.exceptions import HTTPException

from citytools.errors import ParameterError


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: cheap cache keys
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

# A media range as mimeparse parses it: (type, subtype, parameters), "q" always among them.
MediaRange = tuple[str, str, dict[str, str]]


@lru_cache(maxsize=256)  # clients send the same few Accept headers again and again
def parse_accept(header: str | None) -> tuple[MediaRange, ...]:
    """The media ranges of an Accept header, in the client's order. A range that does not
    parse, or whose q is not a number from 0 to 1, is ignored (mimeparse would read it
    as q=1: the client's most wanted type)."""
    ranges = []
    for part in (header or "").split(","):
        try:
            kind, subtype, parameters = mimeparse.parse_mime_type(part)
            q = float(parameters.get("q", "1"))
        except ValueError:  # mimeparse's MimeTypeParseException is one
            continue
        if kind and subtype and 0.0 <= q <= 1.0:
            ranges.append((str(kind).lower(), str(subtype).lower(), {"q": str(q)}))
    return tuple(ranges)


def prefers_html(ranges: Sequence[MediaRange]) -> bool:
    """True when `text/html` is among the client's most preferred types (a browser)."""
    if not ranges:
        return False
    top = max(_q(r) for r in ranges)
    return top > 0 and any(f"{r[0]}/{r[1]}" in BROWSER_TYPES and _q(r) == top for r in ranges)


def negotiate(ranges: Sequence[MediaRange], offers: Sequence[Offer]) -> Offer | None:
    """The best offer for the client's ranges, None when none is acceptable: the highest
    q, then the most specific range, then the client's order, then ours.

    No ranges or a browser's Accept get the first offer (the family's default).
    """
    if not ranges or prefers_html(ranges):
        return offers[0]
    best: tuple[float, float, int, int] | None = None
    chosen = None
    for index, offer in enumerate(offers):
        q, fitness, position = _fit(ranges, offer)
        score = (q, fitness, -position, -index)
        if q > 0 and (best is None or score > best):
            best, chosen = score, offer
    return chosen


def _fit(ranges: Sequence[MediaRange], offer: Offer) -> tuple[float, float, int]:
    """(q, fitness, position) of the range that fits the offer best: its media type by
    mimeparse's rule, its aliases only by ranges without a wildcard (`text/*` must not
    pick SPARQL XML through its `text/xml` alias). (0, -1, 0) when no range fits."""
    best: tuple[float, float, int] = (0.0, -1.0, 0)
    for position, candidate in enumerate(ranges):
        exact = "*" not in (candidate[0], candidate[1])
        for media_type in (offer.media_type, *offer.aliases) if exact else (offer.media_type,):
            if "/" not in media_type:
                continue  # a `format=` name, not a media type
            q, fitness = mimeparse.quality_and_fitness_parsed(media_type, [candidate])
            if fitness > best[1]:  # on a tie the earlier range stays
                best = (float(q), float(fitness), position)
    return best


def _q(candidate: MediaRange) -> float:
    return float(candidate[2]["q"])


def by_name(name: str, offers: Sequence[Offer]) -> Offer | None:
    """The offer a `format=` value names (short name, alias or media type)."""
    wanted = name.strip().lower().split(";")[0].strip()
    return next((o for o in offers if wanted in o.names), None)


def format_names(*families: Sequence[Offer]) -> str:
    return ", ".join(o.name for family in families for o in family)


def choose(
    accept: str | None,
    names: Sequence[str],
    *families: tuple[Offer, ...],
    what: str = "the answer",
) -> tuple[Offer | None, ...]:
    """The offer of each family a request asks for: by its `format=` values when it gives
    any (the first that names one of the family's offers wins: SPARQLWrapper sends
    several), else by its Accept header. None for a family nothing fits; when no family
    has an offer, 422 for `format=` and 406 for Accept."""
    names = [n for n in names if n.strip()]
    if names:
        found = tuple(
            next((o for n in names if (o := by_name(n, family)) is not None), None)
            for family in families
        )
        if all(o is None for o in found):
            known = format_names(*families)
            raise ParameterError("format", f"unknown format {names[0]!r}; use one of {known}")
        return found
    found = _by_accept(accept, families)
    if all(o is None for o in found):
        raise not_acceptable(what, *families)
    return found


def choose_one(
    accept: str | None, names: Sequence[str], offers: tuple[Offer, ...], what: str
) -> Offer:
    """`choose` for one family."""
    (offer,) = choose(accept, names, offers, what=what)
    assert offer is not None  # `choose` raises when no family has one
    return offer


@lru_cache(maxsize=256)
def _by_accept(
    accept: str | None, families: tuple[tuple[Offer, ...], ...]
) -> tuple[Offer | None, ...]:
    ranges = parse_accept(accept)
    return tuple(negotiate(ranges, family) for family in families)


def not_acceptable(what: str, *families: Sequence[Offer]) -> HTTPException:
    offered = ", ".join(o.media_type for family in families for o in family)
    return HTTPException(406, f"none of the accepted media types fits {what}; offered: {offered}")
