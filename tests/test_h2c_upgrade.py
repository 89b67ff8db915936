"""Requests that ask to upgrade to HTTP/2 in clear text (`Upgrade: h2c`), as Java's HTTP
client sends its POSTs (Apache Jena, Spring, Ktor), answered as plain HTTP/1.1
(`service/http/upgrade.py`): their body reaches the route whether it comes with the head
or after it, and the requests pipelined behind them are answered too. Through the
service's own protocol over a real store, through the adapter alone, and from Jena's
`rsparql --post` (which sends those headers) when Debian's Jena is installed."""

from __future__ import annotations

import fcntl
import json
import re
import shutil
import socket
import struct
import subprocess
import termios
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
import uvicorn
from http_support import CT, RDFS_LABEL, TOKEN, free_port, serving, settings_for

from citytools.service.http.upgrade import UpgradeIgnoringProtocol

pytestmark = pytest.mark.slow

# What Java's HTTP client adds to a request on an http:// URL.
UPGRADE = (
    "Connection: Upgrade, HTTP2-Settings\r\n"
    "HTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n"
    "Upgrade: h2c\r\n"
)
HACKNEY = "https://w3id.org/citytools/id/authority/E09000012"
AUTHORITIES = f"SELECT (COUNT(*) AS ?n) WHERE {{ ?a a <{CT}LocalAuthority> }}"
HACKNEY_LABEL = f'ASK {{ <{HACKNEY}> <{RDFS_LABEL}> "Hackney" }}'
JSON = "application/sparql-results+json"
FORM = "application/x-www-form-urlencoded"
SPARQL_QUERY = "application/sparql-query;charset=utf-8"


def request(method: str, target: str, media_type: str | None, body: bytes, *headers: str) -> bytes:
    """A request with `headers` and the upgrade headers Java's HTTP client adds."""
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", *headers]
    if media_type is not None:
        lines.append(f"Content-Type: {media_type}")
    head = "\r\n".join(lines) + f"\r\n{UPGRADE}Content-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


def sparql_form(query: str) -> bytes:
    return request("POST", "/sparql", FORM, urlencode({"query": query}).encode(), f"Accept: {JSON}")


def sparql_direct(query: str) -> bytes:
    return request("POST", "/sparql", SPARQL_QUERY, query.encode(), f"Accept: {JSON}")


def read_responses(connection: socket.socket, count: int) -> list[tuple[int, bytes]]:
    """`count` responses (status, body) read off `connection` by their Content-Length."""
    buffer = b""
    responses: list[tuple[int, bytes]] = []
    while len(responses) < count:
        head_end = buffer.find(b"\r\n\r\n")
        if head_end >= 0:
            head = buffer[:head_end].decode("latin-1")
            found = re.search(r"(?im)^content-length: *(\d+)", head)
            assert found, head
            end = head_end + 4 + int(found.group(1))
            if len(buffer) >= end:
                responses.append((int(head.split()[1]), buffer[head_end + 4 : end]))
                buffer = buffer[end:]
                continue
        chunk = connection.recv(65536)
        assert chunk, f"the connection closed after {len(responses)} of {count} answers"
        buffer += chunk
    return responses


def rx_queue(local_port: int, remote_port: int) -> int | None:
    """Bytes waiting in the receive queue of the socket (127.0.0.1:local_port ↔
    127.0.0.1:remote_port), from /proc/net/tcp; None while it does not exist."""
    wanted = (f"0100007F:{local_port:04X}", f"0100007F:{remote_port:04X}")
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if (fields[1], fields[2]) == wanted:
            return int(fields[4].split(":")[1], 16)
    return None


def read_by_server(connection: socket.socket) -> None:
    """Wait until what was sent on `connection` has been read by the server: acked by its
    kernel (our send queue is empty), then taken from its socket's receive queue. So
    what is sent next reaches the server in a read of its own."""
    server_port = connection.getpeername()[1]
    client_port = connection.getsockname()[1]
    deadline = time.monotonic() + 30
    while True:
        unsent = struct.unpack("i", fcntl.ioctl(connection, termios.TIOCOUTQ, b"\0" * 4))[0]
        if unsent == 0 and rx_queue(server_port, client_port) == 0:
            return
        assert time.monotonic() < deadline, "the server did not read the request head"
        time.sleep(0.01)


def connect(port: int) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", port), timeout=30)
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return connection


def solutions(body: bytes) -> Any:
    document = json.loads(body)
    if "boolean" in document:
        return document["boolean"]
    return [{k: v["value"] for k, v in row.items()} for row in document["results"]["bindings"]]


# --- the service, as `citytools serve` runs it --------------------------------------------


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with serving(settings_for(tmp_path_factory.mktemp("h2c"))) as url:
        found = httpx.URL(url).port
        assert found is not None
        yield found


@pytest.mark.parametrize("first", [sparql_form, sparql_direct], ids=["form", "direct"])
def test_a_query_with_its_body_in_the_same_segment_is_answered(port: int, first: Any) -> None:
    with connect(port) as connection:
        connection.sendall(first(AUTHORITIES) + sparql_direct(HACKNEY_LABEL))
        answers = read_responses(connection, 2)
    assert [status for status, _ in answers] == [200, 200]
    assert solutions(answers[0][1]) == [{"n": "33"}]
    assert solutions(answers[1][1]) is True


@pytest.mark.parametrize("first", [sparql_form, sparql_direct], ids=["form", "direct"])
def test_a_query_with_its_body_after_the_head_is_answered(port: int, first: Any) -> None:
    data = first(AUTHORITIES)
    head_end = data.index(b"\r\n\r\n") + 4
    with connect(port) as connection:
        connection.sendall(data[:head_end])
        read_by_server(connection)
        # The body, then a pipelined request, also asking for the upgrade.
        connection.sendall(data[head_end:] + sparql_form(HACKNEY_LABEL))
        answers = read_responses(connection, 2)
    assert [status for status, _ in answers] == [200, 200]
    assert solutions(answers[0][1]) == [{"n": "33"}]
    assert solutions(answers[1][1]) is True


def test_a_lookup_asking_for_the_upgrade_is_answered_and_so_is_the_next(port: int) -> None:
    lookup = f"SELECT ?label WHERE {{ <{HACKNEY}> <{RDFS_LABEL}> ?label }}"
    get = request("GET", "/sparql?query=" + quote(lookup, safe=""), None, b"", f"Accept: {JSON}")
    with connect(port) as connection:
        connection.sendall(get + sparql_form(AUTHORITIES))
        answers = read_responses(connection, 2)
    assert [status for status, _ in answers] == [200, 200]
    assert solutions(answers[0][1]) == [{"label": "Hackney"}]
    assert solutions(answers[1][1]) == [{"n": "33"}]


def test_writes_asking_for_the_upgrade_reach_their_routes(port: int) -> None:
    graph = "https://example.org/graph/h2c"
    update = (
        f"INSERT DATA {{ GRAPH <{graph}> {{ <https://example.org/vendor/h2c> a <{CT}Vendor> ; "
        f'<{RDFS_LABEL}> "Upgraded" }} }}'
    ).encode()
    turtle = (f'<https://example.org/vendor/put> a <{CT}Vendor> ; <{RDFS_LABEL}> "Put" .').encode()
    put_target = "/store?graph=" + quote("https://example.org/graph/h2c-put", safe="")
    token = f"Authorization: Bearer {TOKEN}"
    update_type, turtle_type = "application/sparql-update", "text/turtle"
    labels = f"SELECT ?l WHERE {{ ?v a <{CT}Vendor> ; <{RDFS_LABEL}> ?l }} ORDER BY ?l"
    with connect(port) as connection:
        connection.sendall(
            request("POST", "/update", update_type, update)
            + request("PUT", put_target, turtle_type, turtle)
            + request("POST", "/update", update_type, update, token)
            + request("PUT", put_target, turtle_type, turtle, token)
            + sparql_form(labels)
        )
        answers = read_responses(connection, 5)
    assert [status for status, _ in answers] == [401, 401, 200, 201, 200]
    assert json.loads(answers[2][1])["changed"] == [graph]
    assert json.loads(answers[3][1])["triples"] == 2
    assert solutions(answers[4][1]) == [{"l": "Put"}, {"l": "Upgraded"}]


def test_a_websocket_upgrade_is_refused_and_the_server_goes_on(port: int) -> None:
    websocket = (
        b"GET /sparql HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"
        b"Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"
    )
    with connect(port) as connection:
        connection.sendall(websocket)
        [(status, _)] = read_responses(connection, 1)
    assert status == 403  # the app has no websocket route
    with connect(port) as connection:
        connection.sendall(sparql_form(HACKNEY_LABEL))
        [(status, body)] = read_responses(connection, 1)
    assert (status, solutions(body)) == (200, True)


# --- the adapter alone, under any ASGI app ------------------------------------------------


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers `METHOD path body header-names` (the lifespan is not supported)."""
    assert scope["type"] == "http"
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    names = b",".join(name for name, _ in scope["headers"])
    text = b" ".join((scope["method"].encode(), scope["path"].encode(), body, names))
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", b"%d" % len(text))],
        }
    )
    await send({"type": "http.response.body", "body": text})


@pytest.fixture(scope="module")
def echo_port() -> Iterator[int]:
    found = free_port()
    config = uvicorn.Config(
        echo, port=found, http=UpgradeIgnoringProtocol, ws="none", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-echo", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive(), "the server stopped while starting"
        assert time.monotonic() < deadline, "the server did not start within 30 s"
        time.sleep(0.01)
    yield found
    server.should_exit = True
    thread.join(timeout=30)


def test_the_adapter_frames_chunked_and_pipelined_bodies(echo_port: int) -> None:
    chunked = (
        f"POST /chunked HTTP/1.1\r\nHost: x\r\n{UPGRADE}Transfer-Encoding: chunked\r\n\r\n"
        "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    ).encode()
    with connect(echo_port) as connection:
        connection.sendall(
            chunked + request("POST", "/one", None, b"1") + request("POST", "/two", None, b"2")
        )
        bodies = [body for _, body in read_responses(connection, 3)]
    assert bodies == [
        b"POST /chunked abcde host,connection,http2-settings,transfer-encoding",
        b"POST /one 1 host,connection,http2-settings,content-length",
        b"POST /two 2 host,connection,http2-settings,content-length",
    ]


def test_the_adapter_answers_http_1_0_and_websocket_it_cannot_perform(echo_port: int) -> None:
    one_oh = request("POST", "/old", None, b"body").replace(b"HTTP/1.1", b"HTTP/1.0")
    websocket = b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
    with connect(echo_port) as connection:
        connection.sendall(one_oh)
        [(_, body)] = read_responses(connection, 1)
        assert connection.recv(1) == b""  # HTTP/1.0: closed after the answer
    assert body == b"POST /old body host,connection,http2-settings,content-length"
    with connect(echo_port) as connection:  # uvicorn with no websocket library: plain HTTP
        connection.sendall(websocket + request("GET", "/next", None, b""))
        bodies = [body for _, body in read_responses(connection, 2)]
    assert bodies == [
        b"GET /ws  host,connection",
        b"GET /next  host,connection,http2-settings,content-length",
    ]


# --- Apache Jena --------------------------------------------------------------------------

JAVA_LIBRARIES = Path("/usr/share/java")
# What `arq.rsparql` needs of Debian's libapache-jena-java and its dependencies.
JENA_CLASSPATH = (
    "jena-cmds",
    "jena-arq",
    "jena-base",
    "jena-core",
    "jena-iri",
    "commons-codec",
    "commons-compress",
    "commons-csv",
    "commons-io",
    "commons-lang3",
    "dexx.collection",
    "guava",
    "gson",
    "slf4j-api",
    "slf4j-nop",
    "thrift",
    "protobuf",
)


def xerces_messages(into: Path) -> Path:
    """Debian's jena-core (4.5.0-2) moves Jena's copy of Xerces to `xerces.*` but leaves its
    message bundles under `org/apache/jena/ext/xerces`; Jena cannot start without them,
    so they are copied to where the classes look."""
    prefix = "org/apache/jena/ext/"
    with zipfile.ZipFile(JAVA_LIBRARIES / "jena-core.jar") as jar:
        for name in jar.namelist():
            if name.startswith(prefix + "xerces/") and name.endswith(".properties"):
                target = into / name.removeprefix(prefix)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(jar.read(name))
    return into


@pytest.mark.skipif(
    not (JAVA_LIBRARIES / "jena-cmds.jar").exists() or shutil.which("java") is None,
    reason="Apache Jena's rsparql is not installed (apt-get install libapache-jena-java)",
)
def test_jena_rsparql_posts_a_query_and_reads_the_answer(port: int, tmp_path: Path) -> None:
    jars = [str(JAVA_LIBRARIES / f"{name}.jar") for name in JENA_CLASSPATH]
    classpath = ":".join([str(xerces_messages(tmp_path / "xerces")), *jars])
    service = f"http://127.0.0.1:{port}/sparql"
    answers = [
        subprocess.run(
            [
                "java",
                "-cp",
                classpath,
                "arq.rsparql",
                "--service",
                service,
                "--post",
                "--results=CSV",
                query,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        for query in (AUTHORITIES, HACKNEY_LABEL)
    ]
    assert [answer.returncode for answer in answers] == [0, 0], answers
    assert answers[0].stdout.split() == ["n", "33"]
    assert answers[1].stdout.split() == ["_askResult", "true"]
