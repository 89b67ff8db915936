"""Operations and cross-cutting contracts: health, metrics, /validate, the error shape,
CORS, request logs."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import rdflib
from http_support import (
    AUTH,
    EX,
    MALFORMED_TTL,
    NAMELESS_TTL,
    VENDOR_RULE,
    VENDORS_TTL,
    TestClient,
    put_graph,
    quads,
    settings_for,
    started,
)
from prometheus_client.parser import text_string_to_metric_families


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = settings_for(
        tmp_path_factory.mktemp("ops"), max_body_mb=0.01, cors_origins="https://dash.example"
    )
    with started(settings) as client:
        yield client


def samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_health_reports_a_ready_store_and_workers(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["problems"] == []
    assert body["store"]["open"] is True
    assert body["store"]["quads"] > 1000  # the ontology and the reference graphs are seeded
    assert body["executor"]["ready"] is True


def test_metrics_count_requests_by_route_template_and_status(client: TestClient) -> None:
    key = (
        "citytools_http_requests_total",
        (("method", "GET"), ("route", "/sparql"), ("status", "200")),
    )
    before = samples(client).get(key, 0.0)
    for _ in range(3):
        client.get("/sparql", params={"query": "ASK { ?s ?p ?o }"})
    client.get("/sparql", params={"query": "SELECT * WHERE {"})
    after = samples(client)
    assert after[key] == before + 3
    bad = (
        "citytools_http_requests_total",
        (("method", "GET"), ("route", "/sparql"), ("status", "400")),
    )
    assert after[bad] >= 1
    latency = (
        "citytools_http_request_duration_seconds_count",
        (("method", "GET"), ("route", "/sparql")),
    )
    assert after[latency] >= 4
    assert after[("citytools_store_quads", ())] == quads(client)
    assert ("citytools_query_duration_seconds_count", (("kind", "ask"),)) in after


def test_each_app_has_its_own_registry(client: TestClient, tmp_path: Path) -> None:
    client.get("/health")
    with started(settings_for(tmp_path)) as other:
        fresh = samples(other)
        key = (
            "citytools_http_requests_total",
            (("method", "GET"), ("route", "/health"), ("status", "200")),
        )
        assert key not in fresh


def test_validate_reports_and_changes_nothing(client: TestClient) -> None:
    before = quads(client)
    good = client.post("/validate", content=VENDORS_TTL, headers={"Content-Type": "text/turtle"})
    assert good.status_code == 200
    assert good.json()["conforms"] is True
    assert good.json()["violations"] == 0
    bad = client.post("/validate", content=NAMELESS_TTL, headers={"Content-Type": "text/turtle"})
    assert bad.status_code == 200
    report = bad.json()
    assert report["conforms"] is False
    assert [r["focusNode"] for r in report["results"] if VENDOR_RULE in r["message"]] == [
        EX + "vendor/nameless"
    ]
    assert quads(client) == before


def test_validate_answers_turtle_and_takes_multipart(client: TestClient) -> None:
    response = client.post(
        "/validate",
        files=[
            ("file", ("good.ttl", VENDORS_TTL, "text/turtle")),
            ("file", ("bad.ttl", NAMELESS_TTL, "text/turtle")),
        ],
        headers={"Accept": "text/turtle"},
    )
    assert response.status_code == 200
    graph = rdflib.Graph().parse(data=response.content, format="turtle")
    sh = rdflib.Namespace("http://www.w3.org/ns/shacl#")
    report = graph.value(predicate=rdflib.RDF.type, object=sh.ValidationReport)
    assert graph.value(report, sh.conforms) == rdflib.Literal(False)
    focus = {graph.value(r, sh.focusNode) for r in graph.objects(report, sh.result)}
    assert rdflib.URIRef(EX + "vendor/nameless") in focus


# One request per error status the service gives; each must answer {"error", "message"}.
ERRORS = [
    ("GET", "/sparql?query=SELECT+*+WHERE+%7B", {}, None, 400, "malformed-input"),
    (
        "PUT",
        "/store?graph=https://example.org/g",
        {"Content-Type": "text/turtle"},
        VENDORS_TTL,
        401,
        "unauthorized",
    ),
    (
        "PUT",
        "/store?graph=https://example.org/g",
        {"Content-Type": "text/turtle", "Authorization": "Bearer no"},
        VENDORS_TTL,
        403,
        "forbidden",
    ),
    ("GET", "/store?graph=https://example.org/none", {}, None, 404, "not-found"),
    ("GET", "/no-such-route", {}, None, 404, "not-found"),
    ("GET", "/update", {}, None, 405, "method-not-allowed"),
    ("GET", "/sparql?query=ASK+%7B%7D", {"Accept": "image/png"}, None, 406, "not-acceptable"),
    ("POST", "/validate", {"Content-Type": "text/turtle"}, b"#" * 20000, 413, "payload-too-large"),
    (
        "POST",
        "/validate",
        {"Content-Type": "application/yaml"},
        b"a: b",
        415,
        "unsupported-media-type",
    ),
    ("GET", "/sparql?query=ASK+%7B%7D&format=yaml", {}, None, 422, "bad-parameter"),
    ("POST", "/validate", {"Content-Type": "text/turtle"}, MALFORMED_TTL, 400, "malformed-input"),
]


@pytest.mark.parametrize(("method", "url", "headers", "body", "status", "code"), ERRORS)
def test_error_shape_contract(
    client: TestClient,
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes | None,
    status: int,
    code: str,
) -> None:
    response = client.request(method, url, headers=headers, content=body)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    document = json.loads(response.content)
    assert set(document) == {"error", "message"}
    assert document["error"] == code
    assert isinstance(document["message"], str)
    assert document["message"]


def test_validation_errors_keep_the_shape_and_add_the_report(client: TestClient) -> None:
    response = client.put(
        "/store",
        params={"graph": EX + "graph/ops-invalid"},
        content=NAMELESS_TTL,
        headers={**AUTH, "Content-Type": "text/turtle"},
    )
    assert response.status_code == 422
    document = response.json()
    assert set(document) == {"error", "message", "conforms", "violations", "warnings", "results"}
    assert document["error"] == "validation-failed"
    assert VENDOR_RULE in document["message"]


def test_browsers_get_an_html_error_page_with_the_message_escaped(client: TestClient) -> None:
    response = client.get(
        "/store",
        params={"graph": "https://example.org/a&b"},
        headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"},
    )
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>404 Not Found</h1>" in response.text
    assert "no graph &lt;https://example.org/a&amp;b&gt;" in response.text


def test_cors_allows_the_configured_origin_only(client: TestClient) -> None:
    allowed = client.get("/health", headers={"Origin": "https://dash.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://dash.example"
    other = client.get("/health", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
    preflight = client.options(
        "/store",
        headers={
            "Origin": "https://dash.example",
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "Authorization, Content-Type",
        },
    )
    assert preflight.status_code == 200
    assert "PUT" in preflight.headers["access-control-allow-methods"]


def test_one_json_log_line_per_request(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="citytools.http"):
        put_graph(client, EX + "graph/ops-log", VENDORS_TTL)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "citytools.http"]
    assert len(lines) == 1
    line = lines[0]
    assert (line["method"], line["route"], line["status"]) == ("PUT", "/store", 201)
    assert line["ms"] > 0


def test_sparql_answers_carry_cors_headers_for_the_configured_origin(client: TestClient) -> None:
    query = {"query": "ASK { ?s ?p ?o }"}
    allowed = client.get("/sparql", params=query, headers={"Origin": "https://dash.example"})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://dash.example"
    assert "ETag" in allowed.headers["access-control-expose-headers"]
    plain = client.get("/sparql", params=query)  # no Origin: answered in front of routing
    assert plain.status_code == 200
    assert plain.content == allowed.content
    assert "access-control-allow-origin" not in plain.headers


def test_a_sparql_get_answered_in_front_is_logged_and_its_errors_keep_their_shape(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="citytools.http"):
        bad = client.get("/sparql", params={"query": "SELECT * WHERE {"})
    assert bad.status_code == 400
    assert bad.json()["error"] == "malformed-input"
    assert bad.json()["message"].startswith("malformed SPARQL query")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "citytools.http"]
    assert [(line["method"], line["route"], line["status"]) for line in lines] == [
        ("GET", "/sparql", 400)
    ]
