"""Reading parameters by hand: the fast query-string reader agrees with Starlette's."""

from __future__ import annotations

import random
from urllib.parse import quote

import pytest
from starlette.requests import Request

from citytools.service.http.body import url_params

PIECES = ["query", "format", "a", "b", "=", "&", "+", "%", "%2", "%zz", "%41", "%e9", "%C3%A9"]
PIECES += ["%F0%9F%98%80", "%5C", "\\", "x", "%26", "%3D", " ", quote("SELECT * { ?s ?p ?o }")]


def request_for(query_string: bytes) -> Request:
    return Request({"type": "http", "query_string": query_string, "headers": []})


@pytest.mark.parametrize("seed", range(400))
def test_the_fast_reader_agrees_with_starlette(seed: int) -> None:
    rng = random.Random(seed)
    raw = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 12))).encode("ascii")
    request = request_for(raw)
    assert url_params(request).multi_items() == request.query_params.multi_items(), raw


def test_a_sparql_query_round_trips() -> None:
    query = 'SELECT ?l WHERE { <https://x.org/a#b> ?p "é \\"q\\"" } # 100% sure'
    params = url_params(request_for(f"query={quote(query, safe='')}&format=json".encode()))
    assert params.getlist("query") == [query]
    assert params.getlist("format") == ["json"]
