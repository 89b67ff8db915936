"""The write token is checked by whichever process a write reaches (issue 9).

`citytools serve --workers 2` as real processes: a replica refuses a write without the
right token itself (no `Via`, never a 503 for a primary it did not need), with the same
answer as the primary, and passes on only the writes that carry it.

Which process answered: each write goes on a new connection, after a `GET /health` on
that same connection (one TCP connection is served by the one process that accepted it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from http_support import AUTH, EX, TOKEN, VENDORS_TTL
from serve_support import Server, cleanup, start

pytestmark = pytest.mark.slow

GRAPH = EX + "graph/write-auth"
ORIGIN = "https://app.example.org"
VIA = "1.1 citytools-replica"
MIN_WRITES = 20
MAX_WRITES = 120  # until both processes have answered, at least MIN_WRITES in all
DISABLED = {"error": "forbidden", "message": "writes are disabled: set CITYTOOLS_WRITE_TOKEN"}
MISSING = {
    "error": "unauthorized",
    "message": "this write needs a token: send 'Authorization: Bearer <token>'",
}
WRONG = {"error": "forbidden", "message": "the write token is wrong"}

Write = Callable[[httpx.Client, dict[str, str]], httpx.Response]


def put_store(client: httpx.Client, headers: dict[str, str]) -> httpx.Response:
    return client.put(
        "/store",
        params={"graph": GRAPH},
        content=VENDORS_TTL,
        headers={**headers, "Content-Type": "text/turtle"},
    )


def post_update(client: httpx.Client, headers: dict[str, str]) -> httpx.Response:
    update = f"INSERT DATA {{ GRAPH <{GRAPH}> {{ <{EX}a> <{EX}b> <{EX}c> }} }}"
    return client.post(
        "/update",
        content=update.encode(),
        headers={**headers, "Content-Type": "application/sparql-update"},
    )


def post_update_form(client: httpx.Client, headers: dict[str, str]) -> httpx.Response:
    update = f"INSERT DATA {{ GRAPH <{GRAPH}> {{ <{EX}a> <{EX}b> <{EX}c> }} }}"
    return client.post("/update", data={"update": update}, headers=headers)


WRITES: tuple[Write, ...] = (put_store, post_update, post_update_form)


def answered(server: Server, write: Write, headers: dict[str, str]) -> tuple[str, httpx.Response]:
    """`write` on a new connection, and the role of the process that answered it."""
    connections = 0

    def trace(event: str, _info: dict[str, Any]) -> None:
        nonlocal connections
        connections += event == "connection.connect_tcp.complete"

    with httpx.Client(base_url=server.url, timeout=60) as client:
        client.event_hooks["request"] = [lambda r: r.extensions.update(trace=trace)]
        role = client.get("/health").json()["process"]["role"]
        response = write(client, headers)
    assert connections == 1  # the write went on the connection /health was answered on
    assert isinstance(role, str)
    return role, response


def spread(server: Server, headers: dict[str, str]) -> list[tuple[str, httpx.Response]]:
    """Writes with `headers`, each on a new connection, until both processes answered."""
    answers: list[tuple[str, httpx.Response]] = []
    while len(answers) < MIN_WRITES or {role for role, _ in answers} != {"primary", "replica"}:
        assert len(answers) < MAX_WRITES, "the writes never reached both processes"
        answers.append(answered(server, WRITES[len(answers) % len(WRITES)], headers))
    return answers


def graph_size(server: Server) -> int:
    query = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{GRAPH}> {{ ?s ?p ?o }} }}"
    rows = server.get("/sparql", query=query).json()["results"]["bindings"]
    return int(rows[0]["n"]["value"])


def refused_by(answers: list[tuple[str, httpx.Response]]) -> set[str]:
    """The roles that answered, each answer a JSON error the process gave itself."""
    for _, response in answers:
        assert "via" not in response.headers, "a refused write was passed on"
        assert response.headers["content-type"] == "application/json"
    return {role for role, _ in answers}


@pytest.fixture
def tokenless(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start(tmp_path_factory.mktemp("tokenless"), "--memory", CITYTOOLS_WRITE_TOKEN="")
    try:
        yield running
    finally:
        cleanup(running)


def test_with_no_token_set_every_process_refuses_every_write_itself(tokenless: Server) -> None:
    answers = spread(tokenless, AUTH)
    assert {r.status_code for _, r in answers} == {403}  # never 503
    assert [r.json() for _, r in answers] == [DISABLED] * len(answers)
    assert refused_by(answers) == {"primary", "replica"}
    assert graph_size(tokenless) == 0


# Started once the tokenless server is gone (that one is per test): one cluster at a time.
@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start(
        tmp_path_factory.mktemp("token"),
        "--memory",
        CITYTOOLS_WRITE_TOKEN=TOKEN,
        CITYTOOLS_CORS_ORIGINS=ORIGIN,
    )
    try:
        yield running
    finally:
        cleanup(running)


def test_a_missing_or_malformed_token_is_401_from_every_process(server: Server) -> None:
    for headers in ({}, {"Authorization": f"Basic {TOKEN}"}, {"Authorization": "Bearer"}):
        answers = spread(server, headers)
        assert [r.json() for _, r in answers] == [MISSING] * len(answers)
        assert {r.status_code for _, r in answers} == {401}
        assert {r.headers["www-authenticate"] for _, r in answers} == {'Bearer realm="citytools"'}
        assert refused_by(answers) == {"primary", "replica"}
    assert graph_size(server) == 0


def test_a_wrong_token_is_403_from_every_process(server: Server) -> None:
    answers = spread(server, {"Authorization": "Bearer not-the-token", "Origin": ORIGIN})
    assert [r.json() for _, r in answers] == [WRONG] * len(answers)
    assert {r.status_code for _, r in answers} == {403}
    # The replica answers through its own app: CORS headers as the primary gives them.
    assert {r.headers.get("access-control-allow-origin") for _, r in answers} == {ORIGIN}
    assert refused_by(answers) == {"primary", "replica"}
    assert graph_size(server) == 0


def test_the_right_token_is_still_passed_on_to_the_primary(server: Server) -> None:
    answers = spread(server, AUTH)
    assert {r.status_code for _, r in answers} <= {200, 201, 204}
    via = {(role, r.headers.get("via")) for role, r in answers}
    assert via == {("primary", None), ("replica", VIA)}
    for _, response in answers:  # a forwarded answer too has one Date and one Server
        assert len(response.headers.get_list("date")) == 1
        assert len(response.headers.get_list("server")) == 1
    assert graph_size(server) > 0
