"""Real clients against a real server: SPARQLWrapper and rdflib's SPARQLStore over uvicorn,
and requests written by hand on one connection (pipelined, HTTP/1.0, `Connection: close`)."""

from __future__ import annotations

import csv
import io
import re
import socket
from collections.abc import Iterator
from urllib.parse import quote, urlencode

import httpx
import pytest
import rdflib
from http_support import AUTH, CT, EX, MORE_TTL, RDFS_LABEL, VENDORS_TTL, serving, settings_for
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from SPARQLWrapper import CSV, GET, JSON, POST, POSTDIRECTLY, TURTLE, XML, SPARQLWrapper

pytestmark = pytest.mark.slow

G1 = EX + "graph/protocol-one"
G2 = EX + "graph/protocol-two"
LABELS = f"SELECT ?label WHERE {{ ?v a <{CT}Vendor> ; <{RDFS_LABEL}> ?label }} ORDER BY ?label"
VENDORS = ["Acme", "Globex", "Initech"]
JSON_TYPE = "application/sparql-results+json"


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(settings_for(tmp_path_factory.mktemp("protocol"))) as url:
        for graph, body in ((G1, VENDORS_TTL), (G2, MORE_TTL)):
            response = httpx.put(
                f"{url}/store",
                params={"graph": graph},
                content=body,
                headers={**AUTH, "Content-Type": "text/turtle"},
                timeout=30,
            )
            assert response.status_code == 201, response.text
        yield url


def wrapper(base_url: str, query: str, method: str, fmt: str) -> SPARQLWrapper:
    client = SPARQLWrapper(f"{base_url}/sparql")
    client.setQuery(query)
    client.setMethod(method)
    client.setReturnFormat(fmt)
    return client


@pytest.mark.parametrize("method", [GET, POST])
def test_sparqlwrapper_json(base_url: str, method: str) -> None:
    results = wrapper(base_url, LABELS, method, JSON).queryAndConvert()
    assert isinstance(results, dict)
    assert [row["label"]["value"] for row in results["results"]["bindings"]] == VENDORS


@pytest.mark.parametrize("method", [GET, POST])
def test_sparqlwrapper_xml(base_url: str, method: str) -> None:
    document = wrapper(base_url, LABELS, method, XML).queryAndConvert()
    literals = document.getElementsByTagName("literal")  # type: ignore[union-attr]
    assert [node.firstChild.data for node in literals] == VENDORS


@pytest.mark.parametrize("method", [GET, POST])
def test_sparqlwrapper_csv(base_url: str, method: str) -> None:
    body = wrapper(base_url, LABELS, method, CSV).queryAndConvert()
    assert isinstance(body, bytes)
    assert [row["label"] for row in csv.DictReader(io.StringIO(body.decode()))] == VENDORS


def test_sparqlwrapper_direct_post_and_construct(base_url: str) -> None:
    query = f"CONSTRUCT {{ ?v a <{CT}Vendor> }} WHERE {{ GRAPH <{G1}> {{ ?v a <{CT}Vendor> }} }}"
    client = wrapper(base_url, query, POST, TURTLE)
    client.setRequestMethod(POSTDIRECTLY)
    body = client.queryAndConvert()
    assert isinstance(body, bytes)
    graph = rdflib.Graph().parse(data=body, format="turtle")
    assert set(graph.subjects()) == {
        rdflib.URIRef(EX + "vendor/acme"),
        rdflib.URIRef(EX + "vendor/globex"),
    }


def test_sparqlwrapper_update_with_the_token(base_url: str) -> None:
    client = SPARQLWrapper(f"{base_url}/sparql", updateEndpoint=f"{base_url}/update")
    client.addCustomHttpHeader("Authorization", AUTH["Authorization"])
    client.setMethod(POST)
    client.setQuery(
        f"INSERT DATA {{ GRAPH <{G2}> {{ <{EX}vendor/hooli> a <{CT}Vendor> ; "
        f'<{RDFS_LABEL}> "Hooli" }} }}'
    )
    client.query()
    results = wrapper(base_url, LABELS, GET, JSON).queryAndConvert()
    assert isinstance(results, dict)
    labels = [row["label"]["value"] for row in results["results"]["bindings"]]
    assert "Hooli" in labels


def test_rdflib_sparqlstore(base_url: str) -> None:
    store = SPARQLStore(query_endpoint=f"{base_url}/sparql")
    graph = rdflib.Graph(store=store)
    rows = graph.query(
        f"SELECT ?label WHERE {{ GRAPH <{G1}> {{ ?v a <{CT}Vendor> ; <{RDFS_LABEL}> ?label }} }}"
    )
    assert sorted(str(row[0]) for row in rows) == ["Acme", "Globex"]  # type: ignore[index]
    acme = list(graph.triples((None, rdflib.RDFS.label, rdflib.Literal("Acme"))))
    assert [s for s, _, _ in acme] == [rdflib.URIRef(EX + "vendor/acme")]
    asked = graph.query(f"ASK {{ <{EX}vendor/globex> a <{CT}Vendor> }}")
    assert asked.askAnswer is True
    names = {str(context) for context in store.contexts()}
    assert {G1, G2} <= names
    store.close()


def test_head_and_conditional_get_over_the_wire(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        got = client.get("/store", params={"graph": G1})
        head = client.head("/store", params={"graph": G1})
        assert head.status_code == 200
        assert head.content == b""
        assert head.headers["content-length"] == str(len(got.content))
        cached = client.get(
            "/store", params={"graph": G1}, headers={"If-None-Match": got.headers["etag"]}
        )
        assert cached.status_code == 304
        assert cached.content == b""


# --- one connection, by hand --------------------------------------------------------------

ACME = f"SELECT ?label WHERE {{ <{EX}vendor/acme> <{RDFS_LABEL}> ?label }}"


def raw_request(method: str, query: str, *, version: str = "1.1", close: bool = False) -> bytes:
    """`query` by GET, or by form POST, as bytes on the wire."""
    target, body = "/sparql", b""
    if method == "GET":
        target += "?query=" + quote(query, safe="")
    else:
        body = urlencode({"query": query}).encode()
    lines = [f"{method} {target} HTTP/{version}", "Host: 127.0.0.1", f"Accept: {JSON_TYPE}"]
    if method == "POST":
        lines += ["Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(body)}"]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def read_responses(connection: socket.socket, count: int) -> list[tuple[int, bytes]]:
    """`count` responses (status, body) read off `connection` by their Content-Length."""
    buffer, responses = b"", []
    while len(responses) < count:
        head_end = buffer.find(b"\r\n\r\n")
        if head_end >= 0:
            head = buffer[:head_end].decode("latin-1")
            found = re.search(r"(?im)^content-length: *(\d+)", head)
            length = int(found.group(1)) if found else 0
            if len(buffer) >= head_end + 4 + length:
                responses.append(
                    (int(head.split()[1]), buffer[head_end + 4 : head_end + 4 + length])
                )
                buffer = buffer[head_end + 4 + length :]
                continue
        chunk = connection.recv(65536)
        assert chunk, f"the connection closed after {len(responses)} of {count} answers"
        buffer += chunk
    return responses


def connect(base_url: str, data: bytes) -> socket.socket:
    port = httpx.URL(base_url).port
    assert port is not None
    connection = socket.create_connection(("127.0.0.1", port), timeout=30)
    connection.sendall(data)
    return connection


def test_pipelined_requests_are_answered_in_order(base_url: str) -> None:
    """Answers ready at once (the lane, the cache), a worker's and errors, GETs and POSTs
    in one packet: each answered in turn on the same connection."""
    requests = [
        raw_request("GET", ACME + " # pipelined"),
        raw_request("POST", LABELS),
        raw_request("GET", "SELECT * WHERE { ?s ?p }"),
        raw_request("GET", ACME + " # pipelined"),
        raw_request("POST", ACME + " # posted"),
    ]
    with connect(base_url, b"".join(requests)) as connection:
        responses = read_responses(connection, len(requests))
    assert [status for status, _ in responses] == [200, 200, 400, 200, 200]
    assert b"Acme" in responses[0][1]
    assert all(name.encode() in responses[1][1] for name in VENDORS)
    assert b"malformed-input" in responses[2][1]
    assert responses[3][1] == responses[0][1]
    assert b"Acme" in responses[4][1]


@pytest.mark.parametrize(("version", "close"), [("1.0", False), ("1.1", True)])
def test_http_1_0_and_connection_close_are_answered_and_closed(
    base_url: str, version: str, close: bool
) -> None:
    for method in ("GET", "POST"):
        data = raw_request(method, ACME + f" # {version} {close}", version=version, close=close)
        with connect(base_url, data) as connection:
            [(status, body)] = read_responses(connection, 1)
            assert status == 200
            assert b"Acme" in body
            assert connection.recv(1) == b""  # closed by the server
