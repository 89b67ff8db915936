"""Pure parts of the HTTP layer: content negotiation, the SERVICE/LOAD scanner, the LRU cache."""

from __future__ import annotations

import pytest

from citytools.service.http import conneg
from citytools.service.http.cache import CachedAnswer, ResponseCache
from citytools.service.store.versions import LocalVersions

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"


def pick(accept: str | None, offers: tuple[conneg.Offer, ...]) -> str | None:
    chosen = conneg.negotiate(conneg.parse_accept(accept), offers)
    return chosen.name if chosen else None


@pytest.mark.parametrize(
    ("accept", "solutions", "graphs"),
    [
        (None, "json", "ttl"),
        ("", "json", "ttl"),
        ("*/*", "json", "ttl"),
        (BROWSER, "json", "ttl"),
        ("application/sparql-results+xml, application/rdf+xml", "xml", "rdfxml"),
        ("text/csv;q=0.2, text/tab-separated-values;q=0.4", "tsv", None),
        ("text/*", "csv", "ttl"),
        ("application/n-triples, text/turtle;q=0.5", None, "nt"),
        ("application/json;q=0, */*;q=0.1", "xml", "ttl"),
        ("text/turtle;q=abc, application/ld+json", None, "jsonld"),
        ("image/png", None, None),
    ],
)
def test_negotiation(accept: str | None, solutions: str | None, graphs: str | None) -> None:
    assert pick(accept, conneg.SOLUTIONS) == solutions
    assert pick(accept, conneg.GRAPHS) == graphs


def test_client_order_breaks_ties_between_equal_q() -> None:
    assert pick("text/csv, application/sparql-results+json", conneg.SOLUTIONS) == "csv"
    assert pick("application/sparql-results+json, text/csv", conneg.SOLUTIONS) == "json"


def test_format_names_and_aliases() -> None:
    assert conneg.by_name("json", conneg.SOLUTIONS) is conneg.JSON
    assert conneg.by_name("json", conneg.GRAPHS) is conneg.JSONLD
    assert conneg.by_name("XML", conneg.GRAPHS) is conneg.RDFXML
    assert conneg.by_name("text/turtle; charset=utf-8", conneg.GRAPHS) is conneg.TURTLE
    assert conneg.by_name("html", conneg.SOLUTIONS) is None
    assert conneg.TURTLE.content_type == "text/turtle; charset=utf-8"


def answer(size: int) -> CachedAnswer:
    return CachedAnswer(b"x" * size, "text/plain", "select")


def test_cache_evicts_least_recently_used_and_clears_on_a_new_version() -> None:
    version = [0]
    cache = ResponseCache(LocalVersions(lambda: version[0]), max_entries=2, max_bytes=100)
    assert cache.put(0, ("a",), answer(10))
    assert cache.put(0, ("b",), answer(10))
    assert cache.get(0, ("a",)) is not None  # a is now the most recent
    cache.put(0, ("c",), answer(10))
    assert (cache.get(0, ("b",)), len(cache)) == (None, 2)
    cache.put(0, ("big",), answer(95))
    assert [cache.get(0, (k,)) is not None for k in ("a", "c", "big")] == [False, False, True]

    _, before = cache.validators(("a",))
    version[0] = 1
    _, after = cache.validators(("a",))
    assert len(cache) == 0
    assert before.etag != after.etag
    assert after.last_modified != before.last_modified
    assert not cache.put(0, ("a",), answer(1))  # the store moved on: not kept
    assert cache.get(0, ("a",)) is None
