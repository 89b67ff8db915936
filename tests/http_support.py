"""Shared by the HTTP tests: a started app over a store on tmp_path, test data, small helpers."""

from __future__ import annotations

import json
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from starlette.exceptions import StarletteDeprecationWarning

from citytools.service.http.app import create_app
from citytools.service.http.server import http_server
from citytools.settings import Settings

with warnings.catch_warnings():
    # starlette warns when the test client runs on httpx rather than httpx2 (not installed).
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

TOKEN = "test-write-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
EX = "https://example.org/"
CT = "https://w3id.org/citytools/ontology#"
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"

VENDORS_TTL = b"""@prefix ct: <https://w3id.org/citytools/ontology#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
<https://example.org/vendor/acme> a ct:Vendor ; rdfs:label "Acme" .
<https://example.org/vendor/globex> a ct:Vendor ; rdfs:label "Globex" .
<https://example.org/system/widget> a ct:System ; rdfs:label "Widget" ;
    ct:manufacturer <https://example.org/vendor/acme> .
"""
MORE_TTL = b"""@prefix ct: <https://w3id.org/citytools/ontology#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
<https://example.org/vendor/initech> a ct:Vendor ; rdfs:label "Initech" .
"""
# A vendor without a name breaks ctsh:VendorLabel.
NAMELESS_TTL = b"""@prefix ct: <https://w3id.org/citytools/ontology#> .
<https://example.org/vendor/nameless> a ct:Vendor .
"""
VENDOR_RULE = "A vendor must have a name (rdfs:label)"
MALFORMED_TTL = b"""@prefix ct: <https://w3id.org/citytools/ontology#> .
<https://example.org/a> a ct:Vendor .
<https://example.org/b> <https://example.org/p> .
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(settings: Settings, **options: Any) -> Iterator[str]:
    """The app under a real uvicorn on 127.0.0.1 (in a thread), as `serve` runs it
    (`options`: more of uvicorn's `Config`); yields its base URL."""
    port = free_port()
    server = http_server(create_app(settings), host="127.0.0.1", port=port, **options)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive(), "the server stopped while starting"
        assert time.monotonic() < deadline, "the server did not start within 60 s"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        assert not thread.is_alive()


def settings_for(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"store": tmp_path / "store", "write_token": TOKEN}
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@contextmanager
def started(settings: Settings) -> Iterator[TestClient]:
    """The app with its lifespan running (store opened, reference seeded, workers up)."""
    with TestClient(create_app(settings)) as client:
        yield client


def quads(client: TestClient) -> int:
    """Quads in the store, as the service reports them."""
    response = client.get("/health")
    return int(response.json()["store"]["quads"])


def select(client: TestClient, query: str, **params: str) -> list[dict[str, str]]:
    """Rows of a SELECT as {variable: value}."""
    response = client.get("/sparql", params={"query": query, **params})
    assert response.status_code == 200, response.text
    document = json.loads(response.content)
    return [{k: b["value"] for k, b in row.items()} for row in document["results"]["bindings"]]


def put_graph(client: TestClient, graph: str, body: bytes, media_type: str = "text/turtle") -> int:
    response = client.put(
        "/store",
        params={"graph": graph},
        content=body,
        headers={**AUTH, "Content-Type": media_type},
    )
    assert response.status_code in (201, 204), response.text
    return response.status_code
