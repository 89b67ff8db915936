"""`/store`: the SPARQL 1.1 Graph Store Protocol — round trips, formats, tokens, validation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import rdflib
from http_support import (
    AUTH,
    CT,
    EX,
    MALFORMED_TTL,
    MORE_TTL,
    NAMELESS_TTL,
    VENDOR_RULE,
    VENDORS_TTL,
    TestClient,
    put_graph,
    quads,
    select,
    settings_for,
    started,
)
from pyoxigraph import NamedNode, RdfFormat, parse
from rdflib.compare import isomorphic

INVENTORY_CSV = (
    b"authority,service_area,lgsl,function,system,manufacturer,supplier,contract_start,"
    b"contract_end,annual_cost_gbp,hosting,standards,satisfaction,in_house_skill\n"
    b"Hackney,Adult social care,,frontline,Mosaic,Servelec Ltd,,2021-04-01,2026-03-31,"
    b"125000,saas,,4,expert\n"
    b"E09000001,Libraries,,corporate,Spydus,Civica UK Ltd,,,,,,,,\n"
)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with started(settings_for(tmp_path_factory.mktemp("store"))) as client:
        yield client


def vendors_in(client: TestClient, graph: str) -> set[str]:
    rows = select(client, f"SELECT ?v WHERE {{ GRAPH <{graph}> {{ ?v a <{CT}Vendor> }} }}")
    return {row["v"] for row in rows}


def graph_size(client: TestClient, graph: str) -> int:
    response = client.get("/store", params={"graph": graph, "format": "nt"})
    assert response.status_code == 200, response.text
    return len(list(parse(response.content, format=RdfFormat.N_TRIPLES)))


def test_round_trip_put_get_post_delete(client: TestClient) -> None:
    graph = EX + "graph/round-trip"
    assert put_graph(client, graph, VENDORS_TTL) == 201
    assert vendors_in(client, graph) == {EX + "vendor/acme", EX + "vendor/globex"}
    # A graph holds exactly its data: the GET is isomorphic to what was PUT.
    got = rdflib.Graph().parse(
        data=client.get("/store", params={"graph": graph, "format": "nt"}).text, format="nt"
    )
    assert isomorphic(got, rdflib.Graph().parse(data=VENDORS_TTL, format="turtle"))

    assert put_graph(client, graph, MORE_TTL) == 204  # replace
    assert vendors_in(client, graph) == {EX + "vendor/initech"}

    merged = client.post(
        "/store",
        params={"graph": graph},
        content=VENDORS_TTL,
        headers={**AUTH, "Content-Type": "text/turtle"},
    )
    assert merged.status_code == 204
    assert vendors_in(client, graph) == {
        EX + "vendor/initech",
        EX + "vendor/acme",
        EX + "vendor/globex",
    }

    data = (
        "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } "
        "FILTER(?g != <https://w3id.org/citytools/id/graph/provenance>) }"
    )
    before, size = int(select(client, data)[0]["n"]), graph_size(client, graph)
    dropped = client.delete("/store", params={"graph": graph}, headers=AUTH)
    assert dropped.status_code == 204
    assert int(select(client, data)[0]["n"]) == before - size
    assert client.get("/store", params={"graph": graph}).status_code == 404
    again = client.delete("/store", params={"graph": graph}, headers=AUTH)
    assert again.status_code == 404
    assert again.json()["error"] == "not-found"


@pytest.mark.parametrize(
    "rdf_format",
    [
        RdfFormat.TURTLE,
        RdfFormat.N_TRIPLES,
        RdfFormat.JSON_LD,
        RdfFormat.RDF_XML,
        RdfFormat.TRIG,
        RdfFormat.N_QUADS,
    ],
)
def test_get_in_every_rdf_format(client: TestClient, rdf_format: RdfFormat) -> None:
    graph = EX + "graph/formats"
    put_graph(client, graph, VENDORS_TTL)
    response = client.get(
        "/store", params={"graph": graph}, headers={"Accept": rdf_format.media_type}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(rdf_format.media_type)
    read = list(parse(response.content, format=rdf_format))
    labels = {q.object.value for q in read if q.predicate.value.endswith("#label")}
    assert {"Acme", "Globex", "Widget"} <= labels
    assert len(read) == graph_size(client, graph)
    if rdf_format.supports_datasets and rdf_format is not RdfFormat.JSON_LD:
        assert {q.graph_name for q in read} == {NamedNode(graph)}


def test_head_has_the_headers_of_get_and_no_body(client: TestClient) -> None:
    graph = EX + "graph/head"
    put_graph(client, graph, VENDORS_TTL)
    got = client.get("/store", params={"graph": graph})
    head = client.head("/store", params={"graph": graph})
    assert head.status_code == 200
    assert head.content == b""
    for name in ("content-type", "etag", "last-modified", "content-length"):
        assert head.headers[name] == got.headers[name]
    assert int(head.headers["content-length"]) == len(got.content)


def test_post_without_graph_creates_a_new_graph(client: TestClient) -> None:
    response = client.post(
        "/store", content=MORE_TTL, headers={**AUTH, "Content-Type": "text/turtle"}
    )
    assert response.status_code == 201
    location = response.headers["location"]
    assert location.startswith("https://w3id.org/citytools/id/graph/upload/")
    assert response.json()["graph"] == location
    assert vendors_in(client, location) == {EX + "vendor/initech"}
    second = client.post(
        "/store", content=MORE_TTL, headers={**AUTH, "Content-Type": "text/turtle"}
    )
    assert second.headers["location"] != location


def test_default_is_the_stored_default_graph_and_round_trips(client: TestClient) -> None:
    put_graph(client, EX + "graph/union-a", VENDORS_TTL)
    nt = {"Accept": "application/n-triples"}
    put = client.put(
        "/store",
        params={"default": ""},
        content=MORE_TTL,
        headers={**AUTH, "Content-Type": "text/turtle"},
    )
    assert put.status_code == 204, put.text  # the stored default graph always exists
    got = client.get("/store", params={"default": ""}, headers=nt)
    stored = rdflib.Graph().parse(data=got.text, format="nt")
    assert isomorphic(stored, rdflib.Graph().parse(data=MORE_TTL, format="turtle"))
    # the named graph's vendors are not in it: it is one graph, not the union
    assert (rdflib.URIRef(EX + "vendor/acme"), None, None) not in stored
    deleted = client.delete("/store", params={"default": ""}, headers=AUTH)
    assert deleted.status_code == 204
    assert client.get("/store", params={"default": ""}, headers=nt).text.strip() == ""
    assert vendors_in(client, EX + "graph/union-a") == {EX + "vendor/acme", EX + "vendor/globex"}


def test_the_service_graphs_are_read_only(client: TestClient) -> None:
    before = quads(client)
    for graph in (
        "https://w3id.org/citytools/id/graph/provenance",
        "https://w3id.org/citytools/id/graph/reference/london-authorities",
        "https://w3id.org/citytools/ontology",
    ):
        for method in ("PUT", "POST", "DELETE"):
            refused = client.request(
                method,
                "/store",
                params={"graph": graph},
                content=MORE_TTL,
                headers={**AUTH, "Content-Type": "text/turtle"},
            )
            assert refused.status_code == 403, (graph, method)
            assert refused.json()["error"] == "read-only-graph"
        assert client.get("/store", params={"graph": graph}).status_code == 200
    assert quads(client) == before


def test_whole_dataset_without_parameters(client: TestClient) -> None:
    graph = EX + "graph/dataset"
    put_graph(client, graph, VENDORS_TTL)
    response = client.get("/store", headers={"Accept": "application/n-quads"})
    assert response.headers["content-type"].startswith("application/n-quads")
    read = list(parse(response.content, format=RdfFormat.N_QUADS))
    assert len(read) == quads(client)
    assert NamedNode(graph) in {q.graph_name for q in read}


def test_multipart_with_several_files_into_one_graph(client: TestClient) -> None:
    graph = EX + "graph/multipart"
    response = client.put(
        "/store",
        params={"graph": graph},
        files=[
            ("file", ("vendors.ttl", VENDORS_TTL, "text/turtle")),
            ("file", ("more.ttl", MORE_TTL, "application/octet-stream")),
        ],
        headers=AUTH,
    )
    assert response.status_code == 201, response.text
    assert vendors_in(client, graph) == {
        EX + "vendor/acme",
        EX + "vendor/globex",
        EX + "vendor/initech",
    }


def test_multipart_with_a_bad_second_file_changes_nothing(client: TestClient) -> None:
    graph = EX + "graph/multipart-bad"
    put_graph(client, graph, MORE_TTL)
    before = quads(client)
    response = client.put(
        "/store",
        params={"graph": graph},
        files=[
            ("file", ("vendors.ttl", VENDORS_TTL, "text/turtle")),
            ("file", ("nameless.ttl", NAMELESS_TTL, "text/turtle")),
        ],
        headers=AUTH,
    )
    assert response.status_code == 422
    assert quads(client) == before
    assert vendors_in(client, graph) == {EX + "vendor/initech"}


def test_inventory_csv_upload(client: TestClient) -> None:
    graph = EX + "graph/inventory"
    assert put_graph(client, graph, INVENTORY_CSV, "text/csv") == 201
    rows = select(
        client,
        f"SELECT (COUNT(?d) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?d a <{CT}Deployment> }} }}",
    )
    assert rows == [{"n": "2"}]


def test_writes_need_the_right_token_and_change_nothing(client: TestClient) -> None:
    graph = EX + "graph/token"
    before = quads(client)
    body = {"content": VENDORS_TTL, "params": {"graph": graph}}
    missing = client.put("/store", headers={"Content-Type": "text/turtle"}, **body)  # type: ignore[arg-type]
    wrong = client.put(
        "/store",
        headers={"Content-Type": "text/turtle", "Authorization": "Bearer nope"},
        **body,  # type: ignore[arg-type]
    )
    not_bearer = client.put(
        "/store",
        headers={"Content-Type": "text/turtle", "Authorization": "Basic dXNlcjpwYXNz"},
        **body,  # type: ignore[arg-type]
    )
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert not_bearer.status_code == 401
    assert wrong.status_code == 403
    assert wrong.json() == {"error": "forbidden", "message": "the write token is wrong"}
    assert client.delete("/store", params={"graph": graph}).status_code == 401
    assert quads(client) == before


def test_writes_are_refused_when_no_token_is_set(tmp_path: Path) -> None:
    with started(settings_for(tmp_path, write_token=None)) as readonly:
        before = quads(readonly)
        response = readonly.put(
            "/store",
            params={"graph": EX + "graph/x"},
            content=VENDORS_TTL,
            headers={**AUTH, "Content-Type": "text/turtle"},
        )
        assert response.status_code == 403
        assert response.json()["message"] == "writes are disabled: set CITYTOOLS_WRITE_TOKEN"
        assert quads(readonly) == before


def test_invalid_data_is_422_with_the_report_and_changes_nothing(client: TestClient) -> None:
    graph = EX + "graph/invalid"
    put_graph(client, graph, MORE_TTL)
    before = quads(client)
    response = client.put(
        "/store",
        params={"graph": graph},
        content=NAMELESS_TTL,
        headers={**AUTH, "Content-Type": "text/turtle"},
    )
    assert response.status_code == 422
    report = response.json()
    assert report["error"] == "validation-failed"
    assert report["conforms"] is False
    assert any(VENDOR_RULE in r["message"] for r in report["results"])
    assert any(r["focusNode"] == EX + "vendor/nameless" for r in report["results"])
    assert quads(client) == before
    assert vendors_in(client, graph) == {EX + "vendor/initech"}


def test_the_report_comes_as_turtle_when_asked(client: TestClient) -> None:
    response = client.post(
        "/store",
        params={"graph": EX + "graph/invalid-ttl"},
        content=NAMELESS_TTL,
        headers={**AUTH, "Content-Type": "text/turtle", "Accept": "text/turtle"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/turtle")
    graph = rdflib.Graph().parse(data=response.content, format="turtle")
    sh = rdflib.Namespace("http://www.w3.org/ns/shacl#")
    report = graph.value(predicate=rdflib.RDF.type, object=sh.ValidationReport)
    assert graph.value(report, sh.conforms) == rdflib.Literal(False)
    messages = {str(graph.value(r, sh.resultMessage)) for r in graph.objects(report, sh.result)}
    assert any(VENDOR_RULE in m for m in messages)


def test_malformed_turtle_is_400_naming_the_line(client: TestClient) -> None:
    before = quads(client)
    response = client.put(
        "/store",
        params={"graph": EX + "graph/malformed"},
        content=MALFORMED_TTL,
        headers={**AUTH, "Content-Type": "text/turtle"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "malformed-input"
    assert "line 3" in response.json()["message"]
    assert quads(client) == before


def test_unknown_content_type_is_415(client: TestClient) -> None:
    response = client.put(
        "/store",
        params={"graph": EX + "graph/yaml"},
        content=b"a: b",
        headers={**AUTH, "Content-Type": "application/yaml"},
    )
    assert response.status_code == 415
    assert "text/turtle" in response.json()["message"]


def test_oversized_bodies_are_413_and_change_nothing(tmp_path: Path) -> None:
    with started(settings_for(tmp_path, max_body_mb=0.001)) as small:  # 1048 bytes
        before = quads(small)
        big = VENDORS_TTL + b"#" * 2000 + b"\n"
        declared = small.put(
            "/store",
            params={"graph": EX + "graph/big"},
            content=big,
            headers={**AUTH, "Content-Type": "text/turtle"},
        )
        assert declared.status_code == 413
        assert declared.json()["error"] == "payload-too-large"

        def chunks() -> Iterator[bytes]:  # streamed: no Content-Length to check up front
            yield from (big[i : i + 256] for i in range(0, len(big), 256))

        streamed = small.put(
            "/store",
            params={"graph": EX + "graph/big"},
            content=chunks(),
            headers={**AUTH, "Content-Type": "text/turtle"},
        )
        assert streamed.status_code == 413
        assert quads(small) == before


def test_etag_round_trip_on_a_graph(client: TestClient) -> None:
    graph = EX + "graph/etag"
    put_graph(client, graph, VENDORS_TTL)
    first = client.get("/store", params={"graph": graph})
    etag = first.headers["etag"]
    cached = client.get("/store", params={"graph": graph}, headers={"If-None-Match": etag})
    assert cached.status_code == 304
    put_graph(client, graph, MORE_TTL)
    changed = client.get("/store", params={"graph": graph}, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert b"Initech" in changed.content
