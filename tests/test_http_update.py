"""`/update`: SPARQL 1.1 Update with the token, SHACL-validated before anything is written."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from http_support import (
    AUTH,
    CT,
    EX,
    MORE_TTL,
    RDFS_LABEL,
    VENDOR_RULE,
    VENDORS_TTL,
    TestClient,
    put_graph,
    quads,
    select,
    settings_for,
    started,
)

G = EX + "graph/update"
LABELS = (
    f"SELECT ?label WHERE {{ GRAPH <{G}> {{ ?v a <{CT}Vendor> ; <{RDFS_LABEL}> ?label }} }} "
    "ORDER BY ?label"
)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with started(settings_for(tmp_path_factory.mktemp("update"))) as client:
        put_graph(client, G, VENDORS_TTL)
        yield client


def labels(client: TestClient) -> list[str]:
    return [row["label"] for row in select(client, LABELS)]


def test_insert_is_written_and_reported(client: TestClient) -> None:
    text = (
        f"INSERT DATA {{ GRAPH <{G}> {{ <{EX}vendor/umbrella> a <{CT}Vendor> ; "
        f'<{RDFS_LABEL}> "Umbrella" }} }}'
    )
    response = client.post("/update", data={"update": text}, headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json() == {"changed": [G], "warnings": 0}
    assert "Umbrella" in labels(client)


def test_sparql_update_body_and_delete_where_over_any_graph(client: TestClient) -> None:
    text = f"DELETE WHERE {{ GRAPH ?g {{ <{EX}vendor/globex> <{RDFS_LABEL}> ?l . }} }}"
    # Removing Globex's only label would break the vendor rule: refused as a whole.
    refused = client.post(
        "/update",
        content=text.encode(),
        headers={**AUTH, "Content-Type": "application/sparql-update"},
    )
    assert refused.status_code == 422
    assert "Globex" in labels(client)
    rename = (
        f'DELETE {{ GRAPH ?g {{ ?v <{RDFS_LABEL}> "Globex" }} }} '
        f'INSERT {{ GRAPH ?g {{ ?v <{RDFS_LABEL}> "Globex Corporation" }} }} '
        f'WHERE {{ GRAPH ?g {{ ?v <{RDFS_LABEL}> "Globex" }} }}'
    )
    done = client.post(
        "/update",
        content=rename.encode(),
        headers={**AUTH, "Content-Type": "application/sparql-update"},
    )
    assert done.status_code == 200, done.text
    assert "Globex Corporation" in labels(client)
    assert "Globex" not in labels(client)


def test_invalid_update_is_422_with_the_report_and_changes_nothing(client: TestClient) -> None:
    before, names = quads(client), labels(client)
    text = f"INSERT DATA {{ GRAPH <{G}> {{ <{EX}vendor/nameless> a <{CT}Vendor> }} }}"
    response = client.post("/update", data={"update": text}, headers=AUTH)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation-failed"
    assert body["conforms"] is False
    assert [r["focusNode"] for r in body["results"] if VENDOR_RULE in r["message"]] == [
        EX + "vendor/nameless"
    ]
    assert quads(client) == before
    assert labels(client) == names


def test_an_update_that_names_no_graph_writes_the_stored_default_graph(
    client: TestClient,
) -> None:
    text = f'INSERT DATA {{ <{EX}vendor/x> <{RDFS_LABEL}> "X" }}'
    response = client.post("/update", data={"update": text}, headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json() == {"changed": ["default"], "warnings": 0}
    stored = client.get(
        "/store", params={"default": ""}, headers={"Accept": "application/n-triples"}
    )
    assert stored.text.strip() == f'<{EX}vendor/x> <{RDFS_LABEL}> "X" .'
    # Queries still see it through the union of all graphs.
    union = f'ASK {{ <{EX}vendor/x> <{RDFS_LABEL}> "X" }}'
    assert client.get("/sparql", params={"query": union}).json()["boolean"] is True
    cleared = client.post("/update", data={"update": "CLEAR DEFAULT"}, headers=AUTH)
    assert cleared.json()["changed"] == ["default"]
    assert client.get("/store", params={"default": ""}).text.strip() == ""


def test_the_service_graphs_are_read_only(client: TestClient) -> None:
    before = quads(client)
    provenance = "https://w3id.org/citytools/id/graph/provenance"
    reference = "https://w3id.org/citytools/id/graph/reference/lgsl"
    for text in (
        f"CLEAR GRAPH <{provenance}>",
        f"INSERT DATA {{ GRAPH <{reference}> {{ <{EX}a> <{EX}b> 1 }} }}",
        f"DELETE WHERE {{ GRAPH <{reference}> {{ ?s <{RDFS_LABEL}> ?o }} }}",
        "DROP GRAPH <https://w3id.org/citytools/ontology>",
    ):
        response = client.post("/update", data={"update": text}, headers=AUTH)
        assert response.status_code == 403, text
        assert response.json()["error"] == "read-only-graph"
    assert quads(client) == before


def test_token_is_required_and_checked(client: TestClient) -> None:
    before = quads(client)
    text = f"DROP GRAPH <{G}>"
    missing = client.post("/update", data={"update": text})
    wrong = client.post("/update", data={"update": text}, headers={"Authorization": "Bearer x"})
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert wrong.status_code == 403
    assert quads(client) == before


def test_get_is_405_and_never_runs(client: TestClient) -> None:
    before = quads(client)
    response = client.get("/update", params={"update": f"DROP GRAPH <{G}>"}, headers=AUTH)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert quads(client) == before


def test_malformed_or_failing_update_is_400(client: TestClient) -> None:
    before = quads(client)
    response = client.post("/update", data={"update": "INSERT DATA { <a> "}, headers=AUTH)
    assert response.status_code == 400
    assert response.json()["message"].startswith("malformed update:")
    missing = (
        f"DROP GRAPH <{EX}graph/missing> ; INSERT DATA {{ GRAPH <{G}> {{ <{EX}x> <{EX}p> 1 }} }}"
    )
    failed = client.post("/update", data={"update": missing}, headers=AUTH)
    assert failed.status_code == 400
    assert failed.json()["message"] == (
        f"the graph <{EX}graph/missing> does not exist (SILENT ignores this)"
    )
    assert quads(client) == before


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (f"LOAD <http://127.0.0.1:9/data.ttl> INTO GRAPH <{G}>", "malformed-input"),
        (
            f"INSERT {{ GRAPH <{G}> {{ ?s ?p ?o }} }} "
            "WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }",
            "federation-refused",
        ),
    ],
)
def test_network_access_is_refused_before_running(client: TestClient, text: str, code: str) -> None:
    before = quads(client)
    response = client.post("/update", data={"update": text}, headers=AUTH)
    assert response.status_code == 400
    assert response.json()["error"] == code
    assert quads(client) == before


def test_labels_that_mention_service_are_not_refused(client: TestClient) -> None:
    text = (
        f"INSERT DATA {{ GRAPH <{G}> {{ <{EX}vendor/svc> a <{CT}Vendor> ; "
        f'<{RDFS_LABEL}> "Service Desk SERVICE <http://x> LOAD" }} }}'
    )
    assert client.post("/update", data={"update": text}, headers=AUTH).status_code == 200


def test_an_updated_graph_is_reloaded_by_the_same_file(client: TestClient) -> None:
    graph = EX + "graph/update-reload"
    put_graph(client, graph, MORE_TTL)
    text = f'INSERT DATA {{ GRAPH <{graph}> {{ <{EX}vendor/initech> <{RDFS_LABEL}> "Extra" }} }}'
    assert client.post("/update", data={"update": text}, headers=AUTH).status_code == 200
    # The update dropped the source checksum, so the same file is not a no-op any more.
    assert put_graph(client, graph, MORE_TTL) == 204
    extra = f'SELECT ?v WHERE {{ GRAPH <{graph}> {{ ?v <{RDFS_LABEL}> "Extra" }} }}'
    assert select(client, extra) == []


def test_an_update_invalidates_cached_answers(client: TestClient) -> None:
    first = client.get("/sparql", params={"query": LABELS})
    etag = first.headers["etag"]
    text = (
        f"INSERT DATA {{ GRAPH <{G}> {{ <{EX}vendor/hooli> a <{CT}Vendor> ; "
        f'<{RDFS_LABEL}> "Hooli" }} }}'
    )
    assert client.post("/update", data={"update": text}, headers=AUTH).status_code == 200
    after = client.get("/sparql", params={"query": LABELS}, headers={"If-None-Match": etag})
    assert after.status_code == 200
    assert "Hooli" in after.text


def test_where_without_graph_reads_the_stored_default_graph(client: TestClient) -> None:
    """As SPARQL 1.1 Update says: a WHERE that names no graph matches the default graph,
    which for updates is the stored default graph, not the union queries see."""
    note = f"<{EX}note>"
    other = EX + "graph/update-other"
    put_graph(client, other, MORE_TTL)
    tag_all = (
        f'INSERT {{ GRAPH <{G}> {{ ?v {note} "vendor" }} }} '
        f"WHERE {{ GRAPH ?g {{ ?v a <{CT}Vendor> }} }}"
    )
    tag_default = (
        f'INSERT {{ GRAPH <{G}> {{ ?v {note} "default" }} }} WHERE {{ ?v a <{CT}Vendor> }}'
    )
    for text in (tag_all, tag_default):
        done = client.post("/update", data={"update": text}, headers=AUTH)
        assert done.status_code == 200, done.text
    count = f"SELECT (COUNT(?v) AS ?n) WHERE {{ GRAPH <{G}> {{ ?v {note} ?what }} }}"
    vendors = f"SELECT (COUNT(DISTINCT ?v) AS ?n) WHERE {{ GRAPH ?g {{ ?v a <{CT}Vendor> }} }}"
    assert select(client, count) == select(client, vendors)  # the default graph has none
    assert int(select(client, count)[0]["n"]) >= 3  # Acme, Globex (G) and Initech (other)
    removed = client.post(
        "/update",
        data={"update": f"DELETE WHERE {{ GRAPH <{G}> {{ ?v {note} ?what }} }}"},
        headers=AUTH,
    )
    assert removed.status_code == 200, removed.text
    assert removed.json()["changed"] == [G]
    assert select(client, count) == [{"n": "0"}]
    client.delete("/store", params={"graph": other}, headers=AUTH)
