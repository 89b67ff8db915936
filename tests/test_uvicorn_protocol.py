"""`GET /sparql?query=…` answered inside uvicorn's HTTP protocol (`uvicorn_protocol.py`),
through a real uvicorn over a real store: the same answer and headers as the app's route,
304s, answers in order when requests are pipelined, what the path leaves to the app, the
metrics, and a keep-alive timer that never cuts a request the app is still answering."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from http_support import serving, settings_for
from serve_support import RUNAWAY

HACKNEY = "https://w3id.org/citytools/id/authority/E09000012"
LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
KEEP_ALIVE_SECONDS = 1
TIMEOUT_SECONDS = 2.5  # longer than the keep-alive: a runaway query outlives the timer
JSON = "application/sparql-results+json"


def lookup(subject: str = HACKNEY, note: str = "") -> str:
    return f"SELECT ?label WHERE {{ <{subject}> <{LABEL}> ?label }} #{note}"


def target(query: str) -> str:
    return "/sparql?query=" + quote(query, safe="")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    settings = settings_for(tmp_path_factory.mktemp("protocol"), query_timeout=TIMEOUT_SECONDS)
    with (
        serving(settings, timeout_keep_alive=KEEP_ALIVE_SECONDS) as url,
        httpx.Client(base_url=url, timeout=30, headers={"Accept": JSON}) as client,
    ):
        deadline = time.monotonic() + 60
        while not client.get("/health").json()["executor"]["inline"]["open"]:
            assert time.monotonic() < deadline, "the inline lane did not open"
            client.get(target(lookup(note="opening")))
            time.sleep(0.1)
        yield client


def answered_here(client: httpx.Client) -> int:
    count: int = client.get("/health").json()["process"]["answered_in_protocol"]
    return count


def labels(response: httpx.Response) -> list[str]:
    return [row["label"]["value"] for row in response.json()["results"]["bindings"]]


def without_date(response: httpx.Response) -> list[tuple[str, str]]:
    return sorted((k, v) for k, v in response.headers.multi_items() if k != "date")


def test_a_lookup_gets_the_same_answer_and_headers_as_from_the_route(
    client: httpx.Client,
) -> None:
    before = answered_here(client)
    # An Origin header (CORS) sends a request the whole way through the app.
    by_route = client.get(target(lookup(note="a")), headers={"Origin": "https://elsewhere"})
    in_protocol = client.get(target(lookup(note="a")))  # now cached: the protocol answers
    fresh = client.get(target(lookup(note="b")))  # evaluated by the lane, in the protocol
    again_by_route = client.get(target(lookup(note="b")), headers={"Origin": "https://x"})
    assert answered_here(client) - before == 2
    assert labels(in_protocol) == labels(fresh) == ["Hackney"]
    assert without_date(in_protocol) == without_date(by_route)
    assert without_date(fresh) == without_date(again_by_route)
    assert in_protocol.content == by_route.content
    assert fresh.content == again_by_route.content
    assert in_protocol.headers["etag"] != fresh.headers["etag"]


def test_a_revalidation_is_answered_304_in_the_protocol(client: httpx.Client) -> None:
    first = client.get(target(lookup(note="revalidated")))
    before = answered_here(client)
    revalidated = client.get(
        target(lookup(note="revalidated")), headers={"If-None-Match": first.headers["etag"]}
    )
    stale = client.get(target(lookup(note="revalidated")), headers={"If-None-Match": '"old"'})
    assert (revalidated.status_code, revalidated.content) == (304, b"")
    assert revalidated.headers["etag"] == first.headers["etag"]
    assert stale.status_code == 200
    assert stale.content == first.content
    assert answered_here(client) - before == 2


def test_what_the_path_declines_is_answered_by_the_app(client: httpx.Client) -> None:
    before = answered_here(client)
    malformed = client.get(target("SELECT ?x WHERE { ?x"))
    # Read as a lookup by the lane, refused by the engine: the route reports the error.
    too_long = client.get(
        target(lookup(note="limit").replace(" #", " LIMIT 99999999999999999999 #"))
    )
    with_format = client.get(target(lookup(note="format")) + "&format=json")
    description = client.get("/sparql", headers={"Accept": "text/turtle"})
    assert malformed.status_code == 400
    assert "malformed SPARQL query" in malformed.text
    assert too_long.status_code == 400
    assert "limit should be a non negative integer" in too_long.text
    assert labels(with_format) == ["Hackney"]
    assert description.status_code == 200
    assert "sd:Service" in description.text
    assert answered_here(client) == before


def test_the_request_metrics_count_answers_given_in_the_protocol(client: httpx.Client) -> None:
    def answered_200() -> float:
        text = client.get("/metrics").text
        pattern = (
            r'citytools_http_requests_total\{method="GET",route="/sparql",status="200"\} (\S+)'
        )
        found = re.search(pattern, text)
        return float(found.group(1)) if found else 0.0

    before, here = answered_200(), answered_here(client)
    for n in range(7):
        assert client.get(target(lookup(note=f"counted {n}"))).status_code == 200
    assert answered_here(client) - here == 7
    assert answered_200() - before == 7


# --- one connection, by hand --------------------------------------------------------------


def send(client: httpx.Client, data: bytes) -> socket.socket:
    port = httpx.URL(str(client.base_url)).port
    assert port is not None
    connection = socket.create_connection(("127.0.0.1", port), timeout=30)
    connection.sendall(data)
    return connection


def request(query: str, *, version: str = "1.1", close: bool = False) -> bytes:
    lines = [f"GET {target(query)} HTTP/{version}", "Host: 127.0.0.1", f"Accept: {JSON}"]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_responses(connection: socket.socket, count: int) -> list[tuple[int, bytes]]:
    """`count` responses (status, body) read off `connection` by their Content-Length."""
    buffer, responses = b"", []
    while len(responses) < count:
        head_end = buffer.find(b"\r\n\r\n")
        if head_end >= 0:
            head = buffer[:head_end].decode("latin-1")
            length = int(re.search(r"(?im)^content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
            if len(buffer) >= head_end + 4 + length:
                body = buffer[head_end + 4 : head_end + 4 + length]
                responses.append((int(head.split()[1]), body))
                buffer = buffer[head_end + 4 + length :]
                continue
        chunk = connection.recv(65536)
        assert chunk, f"the connection closed after {len(responses)} of {count} answers"
        buffer += chunk
    return responses


def test_pipelined_answers_keep_their_order_and_the_keep_alive_timer_waits(
    client: httpx.Client,
) -> None:
    """A lookup the protocol answers at once, then a runaway query in the same packet: the
    runaway's 503 comes after the timeout, past the keep-alive delay, on the same
    connection; then another lookup, which must wait for it."""
    started = time.monotonic()
    connection = send(
        client,
        request(lookup(note="pipelined 1")) + request(RUNAWAY) + request(lookup(note="p 2")),
    )
    with connection:
        responses = read_responses(connection, 3)
    assert [status for status, _ in responses] == [200, 503, 200]
    assert b"Hackney" in responses[0][1]
    assert b"query-timeout" in responses[1][1]
    assert b"Hackney" in responses[2][1]
    assert time.monotonic() - started >= TIMEOUT_SECONDS > KEEP_ALIVE_SECONDS


def test_http_1_0_and_connection_close_are_answered_and_closed(client: httpx.Client) -> None:
    before = answered_here(client)
    for data in (request(lookup(note="1.0"), version="1.0"), request(lookup(), close=True)):
        with send(client, data) as connection:
            [(status, body)] = read_responses(connection, 1)
            assert status == 200
            assert b"Hackney" in body
            assert connection.recv(1) == b""  # closed by the server
    assert answered_here(client) == before
