"""Issue 9's reproductions, each through a real server (`citytools serve`).

* `DROP ALL ; INSERT DATA …` and `CLEAR ALL ; INSERT DATA …` kept nothing (the insert was
  lost): each now keeps exactly the insert, run twice as the W3C request is.
* A SERVICE after a comment ended by a carriage return got past the update's guard and
  the server connected to that host: now refused, and a listener there sees nothing.
* A one-line federated join between two instances was refused because rdflib could not
  parse it: now answered with the joined rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from listener_support import Listener
from serve_support import Server, start, stop

TOKEN = "regression-token"
WRITE = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/sparql-update"}
CT = "https://w3id.org/citytools/ontology#"

pytestmark = pytest.mark.slow


@pytest.fixture
def listener() -> Iterator[Listener]:
    opened = Listener()
    yield opened
    opened.close()


def serve(here: Path, *args: str, **env: str) -> Server:
    here.mkdir(exist_ok=True)
    return start(here, "--memory", *args, processes=1, CITYTOOLS_WRITE_TOKEN=TOKEN, **env)


def shutdown(server: Server) -> None:
    stop(server)
    if server.process.stdout is not None:
        server.process.stdout.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = serve(tmp_path)
    yield running
    shutdown(running)


def update(server: Server, text: str) -> httpx.Response:
    return httpx.post(server.url + "/update", content=text.encode(), headers=WRITE, timeout=30)


def count(server: Server, pattern: str) -> int:
    answer = server.get("/sparql", query=f"SELECT (COUNT(*) AS ?n) WHERE {{ {pattern} }}")
    return int(answer.json()["results"]["bindings"][0]["n"]["value"])


@pytest.mark.parametrize("clear", ["DROP ALL", "CLEAR ALL"])
def test_clearing_everything_then_inserting_keeps_the_insert(server: Server, clear: str) -> None:
    insert = 'INSERT DATA { GRAPH <urn:x:g> { <urn:x:a> <urn:x:p> "1" } }'
    reference = count(server, f"?a a <{CT}LocalAuthority>")
    for _ in range(2):  # the W3C request runs twice: the second run over the first's result
        assert update(server, f"{clear} ; {insert}").status_code == 200
        assert count(server, "GRAPH <urn:x:g> { ?s ?p ?o }") == 1
    # the service's own graphs are left alone: the 33 London authorities are still there
    assert count(server, f"?a a <{CT}LocalAuthority>") == reference == 33


def test_a_service_after_a_carriage_return_comment_is_refused_unreached(
    server: Server, listener: Listener
) -> None:
    endpoint = f"http://127.0.0.1:{listener.port}/sparql"
    text = (
        f"INSERT {{ GRAPH <urn:x:g> {{ ?s ?p ?o }} }} WHERE {{ # x\rSERVICE <{endpoint}> "
        "{ ?s ?p ?o } }"
    )
    refused = update(server, text)
    assert refused.status_code == 400
    assert refused.json()["error"] == "federation-refused"
    assert endpoint in refused.json()["message"]
    assert listener.connections() == 0
    assert count(server, "GRAPH <urn:x:g> { ?s ?p ?o }") == 0


def test_a_one_line_federated_join_between_two_instances(tmp_path: Path) -> None:
    other = serve(tmp_path / "other")
    try:
        endpoint = other.url + "/sparql"
        here = serve(tmp_path / "here", CITYTOOLS_FEDERATION_ALLOW=endpoint)
        try:
            query = (
                f"PREFIX ct: <{CT}> SELECT (COUNT(*) AS ?n) WHERE {{ ?a a ct:LocalAuthority . "
                f"SERVICE <{endpoint}> {{ ?a a ct:LocalAuthority }} }}"
            )
            answer = here.get("/sparql", query=query)
            assert answer.status_code == 200, answer.text
            assert answer.json()["results"]["bindings"][0]["n"]["value"] == "33"
        finally:
            shutdown(here)
    finally:
        shutdown(other)
