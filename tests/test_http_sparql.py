"""`/sparql`: the SPARQL 1.1 Protocol, every result format read back, conneg, caching, SD;
one way in for GET and POST (the inline lane, the request metrics, the app's middleware)."""

from __future__ import annotations

import csv
import io
import json
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import rdflib
from http_support import (
    AUTH,
    CT,
    EX,
    MORE_TTL,
    RDFS_LABEL,
    VENDORS_TTL,
    TestClient,
    put_graph,
    quads,
    select,
    settings_for,
    started,
)
from pyoxigraph import (
    NamedNode,
    QueryResultsFormat,
    RdfFormat,
    parse,
    parse_query_results,
)

G1 = EX + "graph/sparql-one"
G2 = EX + "graph/sparql-two"
LABELS = (
    "PREFIX ct: <https://w3id.org/citytools/ontology#> "
    "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> "
    "SELECT ?label WHERE { ?v a ct:Vendor ; rdfs:label ?label } ORDER BY ?label"
)
ALL_VENDORS = {"Acme", "Globex", "Initech"}
VENDOR_GRAPH = (
    "PREFIX ct: <https://w3id.org/citytools/ontology#> "
    f"CONSTRUCT {{ ?v a ct:Vendor }} WHERE {{ GRAPH <{G1}> {{ ?v a ct:Vendor }} }}"
)
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
VENDOR_TRIPLES = {
    (EX + "vendor/acme", RDF_TYPE, CT + "Vendor"),
    (EX + "vendor/globex", RDF_TYPE, CT + "Vendor"),
}


ORIGIN = "https://elsewhere.example"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = settings_for(tmp_path_factory.mktemp("sparql"), cors_origins=ORIGIN)
    with started(settings) as client:
        put_graph(client, G1, VENDORS_TTL)
        put_graph(client, G2, MORE_TTL)
        yield client


def labels_of_json(body: bytes) -> list[str]:
    rows = json.loads(body)["results"]["bindings"]
    return [row["label"]["value"] for row in rows]


def labels_of(body: bytes, fmt: str) -> list[str]:
    if fmt == "csv":
        return [row["label"] for row in csv.DictReader(io.StringIO(body.decode()))]
    results_format = {"json": QueryResultsFormat.JSON, "xml": QueryResultsFormat.XML}.get(
        fmt, QueryResultsFormat.TSV
    )
    return [str(row["label"].value) for row in parse_query_results(body, format=results_format)]


@pytest.mark.parametrize(
    ("fmt", "media_type"),
    [
        ("json", "application/sparql-results+json"),
        ("xml", "application/sparql-results+xml"),
        ("csv", "text/csv"),
        ("tsv", "text/tab-separated-values"),
    ],
)
def test_select_in_every_format_by_name_and_by_accept(
    client: TestClient, fmt: str, media_type: str
) -> None:
    by_name = client.get("/sparql", params={"query": LABELS, "format": fmt})
    by_accept = client.get("/sparql", params={"query": LABELS}, headers={"Accept": media_type})
    for response in (by_name, by_accept):
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith(media_type)
        assert labels_of(response.content, fmt) == sorted(ALL_VENDORS)


@pytest.mark.parametrize(
    ("fmt", "rdf_format"),
    [
        ("ttl", RdfFormat.TURTLE),
        ("nt", RdfFormat.N_TRIPLES),
        ("jsonld", RdfFormat.JSON_LD),
        ("rdfxml", RdfFormat.RDF_XML),
        ("trig", RdfFormat.TRIG),
        ("nq", RdfFormat.N_QUADS),
    ],
)
def test_construct_in_every_rdf_format(client: TestClient, fmt: str, rdf_format: RdfFormat) -> None:
    by_name = client.get("/sparql", params={"query": VENDOR_GRAPH, "format": fmt})
    by_accept = client.get(
        "/sparql", params={"query": VENDOR_GRAPH}, headers={"Accept": rdf_format.media_type}
    )
    for response in (by_name, by_accept):
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith(rdf_format.media_type)
        triples = {
            (q.subject.value, q.predicate.value, q.object.value)
            for q in parse(response.content, format=rdf_format)
        }
        assert triples == VENDOR_TRIPLES


def test_defaults_are_sparql_json_and_turtle(client: TestClient) -> None:
    for accept in (None, "*/*", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"):
        headers = {"Accept": accept} if accept else {}
        select_answer = client.get("/sparql", params={"query": LABELS}, headers=headers)
        construct = client.get("/sparql", params={"query": VENDOR_GRAPH}, headers=headers)
        assert select_answer.headers["content-type"].startswith("application/sparql-results+json")
        assert labels_of_json(select_answer.content) == sorted(ALL_VENDORS)
        assert construct.headers["content-type"].startswith("text/turtle")
        assert len(list(parse(construct.content, format=RdfFormat.TURTLE))) == 2


def test_ask_answers_true_and_false(client: TestClient) -> None:
    yes = client.get("/sparql", params={"query": f"ASK {{ GRAPH <{G1}> {{ ?s ?p ?o }} }}"})
    no = client.get("/sparql", params={"query": "ASK { <urn:x:nothing> ?p ?o }"})
    assert json.loads(yes.content)["boolean"] is True
    assert json.loads(no.content)["boolean"] is False


def test_post_form_and_direct_body_answer_like_get(client: TestClient) -> None:
    form = client.post("/sparql", data={"query": LABELS})
    direct = client.post(
        "/sparql", content=LABELS.encode(), headers={"Content-Type": "application/sparql-query"}
    )
    assert labels_of_json(form.content) == labels_of_json(direct.content) == sorted(ALL_VENDORS)
    other = client.post("/sparql", content=b"{}", headers={"Content-Type": "application/json"})
    assert other.status_code == 415


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("application/sparql-results+json;q=0.5, text/csv;q=0.9", "text/csv"),
        (
            "text/tab-separated-values;q=0.1, application/sparql-results+xml",
            "application/sparql-results+xml",
        ),
        ("text/*;q=0.3, application/sparql-results+json;q=0.2", "text/csv"),
        ("application/json", "application/sparql-results+json"),
        ("text/turtle;q=1.0, text/csv;q=0.1", "text/csv"),
    ],
)
def test_accept_q_values_pick_the_format(client: TestClient, accept: str, expected: str) -> None:
    response = client.get("/sparql", params={"query": LABELS}, headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(expected)


def test_format_parameter_wins_over_accept(client: TestClient) -> None:
    response = client.get(
        "/sparql", params={"query": LABELS, "format": "tsv"}, headers={"Accept": "text/csv"}
    )
    assert response.headers["content-type"].startswith("text/tab-separated-values")
    assert labels_of(response.content, "tsv") == sorted(ALL_VENDORS)


def test_unacceptable_accept_is_406(client: TestClient) -> None:
    nothing = client.get("/sparql", params={"query": LABELS}, headers={"Accept": "image/png"})
    wrong_family = client.get(
        "/sparql", params={"query": LABELS}, headers={"Accept": "text/turtle"}
    )
    csv_for_graph = client.get("/sparql", params={"query": VENDOR_GRAPH, "format": "csv"})
    for response in (nothing, wrong_family, csv_for_graph):
        assert response.status_code == 406
        assert response.json()["error"] == "not-acceptable"
    assert "SELECT" in wrong_family.json()["message"]


def test_unknown_format_name_is_a_bad_parameter(client: TestClient) -> None:
    response = client.get("/sparql", params={"query": LABELS, "format": "yaml"})
    assert response.status_code == 422
    assert response.json()["message"].startswith("parameter 'format': unknown format 'yaml'")


def test_dataset_parameters_narrow_the_default_graph(client: TestClient) -> None:
    one = select(client, LABELS, **{"default-graph-uri": G1})
    assert [r["label"] for r in one] == ["Acme", "Globex"]
    response = client.get(
        "/sparql",
        params=[
            ("query", "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"),
            ("named-graph-uri", G1),
            ("named-graph-uri", G2),
        ],
    )
    graphs = {row["g"]["value"] for row in response.json()["results"]["bindings"]}
    assert graphs == {G1, G2}
    bad = client.get("/sparql", params={"query": LABELS, "default-graph-uri": "not an iri"})
    assert bad.status_code == 422


def test_updates_are_refused_and_change_nothing(client: TestClient) -> None:
    before = quads(client)
    insert = f"INSERT DATA {{ GRAPH <{G1}> {{ <urn:x:a> <urn:x:p> 1 }} }}"
    answers = [
        client.get("/sparql", params={"update": insert}),
        client.get("/sparql", params={"query": insert}),
        client.post("/sparql", data={"update": insert}, headers=AUTH),
        client.post(
            "/sparql",
            content=insert.encode(),
            headers={**AUTH, "Content-Type": "application/sparql-update"},
        ),
    ]
    assert [a.status_code for a in answers] == [400, 400, 400, 400]
    assert "/update" in answers[0].json()["message"]
    assert quads(client) == before


def test_malformed_query_is_400_with_the_parser_message(client: TestClient) -> None:
    response = client.get("/sparql", params={"query": "SELECT * WHERE { ?s ?p }"})
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "malformed-input"
    assert "1:" in body["message"]  # the parser's line:column


def test_service_description(client: TestClient) -> None:
    response = client.get("/sparql")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/turtle")
    graph = rdflib.Graph().parse(data=response.content, format="turtle")
    sd = rdflib.Namespace("http://www.w3.org/ns/sparql-service-description#")
    void = rdflib.Namespace("http://rdfs.org/ns/void#")
    service = graph.value(predicate=rdflib.RDF.type, object=sd.Service)
    assert service is not None
    assert graph.value(service, sd.endpoint) == rdflib.URIRef("http://testserver/sparql")
    assert (service, sd.supportedLanguage, sd.SPARQL11Query) in graph
    assert (service, sd.feature, sd.UnionDefaultGraph) in graph
    formats = set(graph.objects(service, sd.resultFormat))
    assert rdflib.URIRef("http://www.w3.org/ns/formats/SPARQL_Results_JSON") in formats
    assert rdflib.URIRef("http://www.w3.org/ns/formats/Turtle") in formats
    assert len(formats) == 10
    dataset = graph.value(service, sd.defaultDataset)
    sizes = {
        str(graph.value(named, sd.name)): int(
            graph.value(graph.value(named, sd.graph), void.triples)
        )
        for named in graph.objects(dataset, sd.namedGraph)
    }
    expected = select(client, f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{G1}> {{ ?s ?p ?o }} }}")
    assert sizes[G1] == int(expected[0]["n"])
    default_size = graph.value(graph.value(dataset, sd.defaultGraph), void.triples)
    assert int(default_size) == sum(sizes.values()) == quads(client)


def test_service_description_in_json_ld(client: TestClient) -> None:
    response = client.get("/sparql", headers={"Accept": "application/ld+json"})
    assert response.headers["content-type"].startswith("application/ld+json")
    endpoints = {
        q.object.value
        for q in parse(response.content, format=RdfFormat.JSON_LD)
        if q.predicate == NamedNode("http://www.w3.org/ns/sparql-service-description#endpoint")
    }
    assert endpoints == {"http://testserver/sparql"}


def test_etag_and_last_modified_round_trip(client: TestClient) -> None:
    first = client.get("/sparql", params={"query": LABELS})
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    again = client.get("/sparql", params={"query": LABELS}, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    since = client.get("/sparql", params={"query": LABELS}, headers={"If-Modified-Since": modified})
    assert since.status_code == 304
    other_format = client.get("/sparql", params={"query": LABELS, "format": "csv"})
    assert other_format.headers["etag"] != etag

    put_graph(client, EX + "graph/sparql-etag", MORE_TTL.replace(b"initech", b"hooli"))
    after_write = client.get("/sparql", params={"query": LABELS}, headers={"If-None-Match": etag})
    assert after_write.status_code == 200
    assert after_write.headers["etag"] != etag
    assert "Initech" in labels_of_json(after_write.content)
    stale = client.get("/sparql", params={"query": LABELS}, headers={"If-Modified-Since": modified})
    assert stale.status_code == 200


def test_repeated_queries_are_served_from_the_cache(client: TestClient) -> None:
    query = LABELS + " LIMIT 2"
    client.get("/sparql", params={"query": query})
    hits_before = _metric(client, "citytools_response_cache_hits_total")
    for _ in range(3):
        assert labels_of_json(client.get("/sparql", params={"query": query}).content) == [
            "Acme",
            "Globex",
        ]
    assert _metric(client, "citytools_response_cache_hits_total") == hits_before + 3


def _metric(client: TestClient, name: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not exposed")


def test_truncated_answers_say_so(tmp_path: Path) -> None:
    with started(settings_for(tmp_path, max_results=2)) as small:
        put_graph(small, G1, VENDORS_TTL + MORE_TTL)
        response = small.get("/sparql", params={"query": LABELS})
        assert response.status_code == 200
        assert response.headers["x-citytools-truncated"] == "true"
        assert "truncated" in response.headers["warning"]
        assert len(labels_of_json(response.content)) == 2
        full = small.get("/sparql", params={"query": LABELS + " LIMIT 1"})
        assert "x-citytools-truncated" not in full.headers


def wait_for_workers(client: TestClient) -> None:
    """Worker processes boot after start-up (and after a kill); a short timeout needs them up."""
    deadline = time.monotonic() + 60
    while client.get("/sparql", params={"query": "ASK { ?s ?p ?o }"}).status_code != 200:
        assert time.monotonic() < deadline, client.get("/health").json()
        time.sleep(0.2)


def test_query_past_the_timeout_is_503_and_counted(tmp_path: Path) -> None:
    heavy = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
    with started(settings_for(tmp_path, query_timeout=1.0)) as slow:
        wait_for_workers(slow)
        timeouts = _metric(slow, "citytools_query_timeouts_total")
        started_at = time.monotonic()
        response = slow.get("/sparql", params={"query": heavy})
        assert time.monotonic() - started_at < 5
        assert response.status_code == 503
        assert response.json()["error"] == "query-timeout"
        assert _metric(slow, "citytools_query_timeouts_total") == timeouts + 1
        wait_for_workers(slow)
        light = slow.get("/sparql", params={"query": "ASK { ?s ?p ?o }"})
        assert light.status_code == 200
        assert json.loads(light.content)["boolean"] is True


def query_evaluations(client: TestClient) -> float:
    """How many queries the service has evaluated (cache hits and joined ones aside)."""
    text = client.get("/metrics").text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("citytools_query_duration_seconds_count")
    )


def test_the_same_query_asked_at_once_is_evaluated_once(client: TestClient) -> None:
    # A few tenths of a second of work: the six requests overlap.
    slow = (
        "SELECT (COUNT(*) AS ?n) WHERE { ?a a <https://w3id.org/citytools/ontology#LocalAuthority>"
        " . ?b ?p ?o . ?c a <https://w3id.org/citytools/ontology#Region> } # once"
    )
    before = query_evaluations(client)
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: client.get("/sparql", params={"query": slow}), range(6)))
    assert [a.status_code for a in answers] == [200] * 6
    assert len({a.content for a in answers}) == 1
    assert query_evaluations(client) == before + 1


def test_no_answer_read_before_a_write_is_kept_as_the_answer_after_it(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Lookups answered inline while a write runs read the checkpoint of the version before
    it: they must never be cached as the answer of the version after it."""
    graph = EX + "graph/race"
    lookup = f"SELECT ?l WHERE {{ <{EX}vendor/race> <{RDFS_LABEL}> ?l }}"
    big = b"".join(
        f'<{EX}filler/{i}> <{RDFS_LABEL}> "filler {i}" .\n'.encode() for i in range(20_000)
    )
    with started(settings_for(tmp_path_factory.mktemp("race"))) as client:
        for round_ in range(3):
            label = f"Race {round_}"
            body = (
                big
                + (
                    f"<{EX}vendor/race> <{RDF_TYPE}> <{CT}Vendor> .\n"
                    f'<{EX}vendor/race> <{RDFS_LABEL}> "{label}" .\n'
                ).encode()
            )
            stop = threading.Event()

            def hammer(stop: threading.Event = stop) -> None:
                while not stop.is_set():
                    client.get("/sparql", params={"query": lookup})

            readers = [threading.Thread(target=hammer) for _ in range(3)]
            for reader in readers:
                reader.start()
            try:
                put_graph(client, graph, body, "application/n-triples")
            finally:
                stop.set()
                for reader in readers:
                    reader.join()
            assert [row["l"] for row in select(client, lookup)] == [label]


# --- one way in: GET and both POSTs take the same path, inside the app's middleware -------


def lookup(note: str) -> str:
    """A query the inline lane takes (a constant subject); `note` makes each text new."""
    return f"SELECT ?label WHERE {{ <{EX}vendor/acme> <{RDFS_LABEL}> ?label }} # {note}"


def answered_inline(client: TestClient) -> int:
    lane = client.get("/health").json()["executor"]["inline"]
    assert lane["open"], "the inline lane is not open"
    answered: int = lane["answered"]
    return answered


def open_lane(client: TestClient) -> None:
    deadline = time.monotonic() + 60
    while not client.get("/health").json()["executor"]["inline"]["open"]:
        assert time.monotonic() < deadline, "the inline lane did not open"
        client.get("/sparql", params={"query": lookup("opening")})
        time.sleep(0.1)


def ask(client: TestClient, how: str, query: str) -> bytes:
    if how == "GET":
        response = client.get("/sparql", params={"query": query})
    elif how == "form POST":
        response = client.post("/sparql", data={"query": query})
    else:
        headers = {"Content-Type": "application/sparql-query"}
        response = client.post("/sparql", content=query.encode(), headers=headers)
    assert response.status_code == 200, response.text
    return response.content


@pytest.mark.parametrize("how", ["GET", "form POST", "direct POST"])
def test_a_lookup_is_answered_by_the_inline_lane_however_it_is_sent(
    client: TestClient, how: str
) -> None:
    open_lane(client)
    before = answered_inline(client)
    body = ask(client, how, lookup(how))
    assert labels_of_json(body) == ["Acme"]
    assert answered_inline(client) == before + 1
    assert ask(client, how, lookup(how)) == body  # now from the cache
    assert answered_inline(client) == before + 1


def requests_counted(client: TestClient) -> dict[tuple[str, str], float]:
    """citytools_http_requests_total of route /sparql by (method, status)."""
    pattern = re.compile(
        r'citytools_http_requests_total\{method="(\w+)",route="/sparql",status="(\d+)"\} (\S+)'
    )
    return {(m, s): float(n) for m, s, n in pattern.findall(client.get("/metrics").text)}


def test_every_sparql_request_is_counted_once_by_the_observer(client: TestClient) -> None:
    first = client.get("/sparql", params={"query": lookup("counted")})
    before = requests_counted(client)
    answers = [
        client.get("/sparql", params={"query": lookup("counted")}),  # cached
        client.get(
            "/sparql",
            params={"query": lookup("counted")},
            headers={"If-None-Match": first.headers["etag"]},
        ),
        client.post("/sparql", data={"query": lookup("counted, posted")}),
        client.get("/sparql", params={"query": "SELECT * WHERE { ?s ?p }"}),
        client.get("/sparql", params={"query": lookup("counted")}, headers={"Accept": "image/png"}),
    ]
    assert [a.status_code for a in answers] == [200, 304, 200, 400, 406]
    after = requests_counted(client)
    changed = {key: after[key] - before.get(key, 0.0) for key in after}
    assert {key: n for key, n in changed.items() if n} == {
        ("GET", "200"): 1,
        ("GET", "304"): 1,
        ("POST", "200"): 1,
        ("GET", "400"): 1,
        ("GET", "406"): 1,
    }


@pytest.mark.parametrize("how", ["GET", "form POST"])
def test_the_app_middleware_sees_every_sparql_answer(client: TestClient, how: str) -> None:
    """CORS headers on lookups answered by the lane, from the cache and as 304s alike."""
    query = lookup(f"cors {how}")
    headers = {"Origin": ORIGIN}
    if how == "GET":
        fresh = client.get("/sparql", params={"query": query}, headers=headers)
        cached = client.get("/sparql", params={"query": query}, headers=headers)
        revalidated = client.get(
            "/sparql",
            params={"query": query},
            headers={**headers, "If-None-Match": fresh.headers["etag"]},
        )
        assert revalidated.status_code == 304
    else:
        fresh = client.post("/sparql", data={"query": query}, headers=headers)
        cached = client.post("/sparql", data={"query": query}, headers=headers)
        revalidated = cached
    for response in (fresh, cached, revalidated):
        assert response.headers["access-control-allow-origin"] == ORIGIN
    assert fresh.content == cached.content
