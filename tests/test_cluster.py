"""`citytools serve --workers 2`: a primary and a replica on one port, as real processes.

What must hold whichever process a request reaches: the same answers and validators,
a write made through either is seen by the next read on both, errors keep their shape,
/metrics counts every process; a dead replica is replaced, and nothing outlives the
primary."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from http_support import AUTH, EX, MORE_TTL, NAMELESS_TTL, TOKEN, VENDORS_TTL
from prometheus_client.parser import text_string_to_metric_families
from serve_support import Server, cleanup, descendants, start, stop

pytestmark = pytest.mark.slow

GRAPH = EX + "graph/cluster"
COUNT = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH <" + GRAPH + "> { ?s ?p ?o } }"
VIA = "1.1 citytools-replica"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp_path = tmp_path_factory.mktemp("cluster")
    running = start(tmp_path, "--memory", CITYTOOLS_WRITE_TOKEN=TOKEN)
    try:
        yield running
    finally:
        cleanup(running)


def health(server: Server) -> dict[str, object]:
    found: dict[str, object] = server.get("/health").json()
    return found


def role_pids(server: Server, attempts: int = 60) -> dict[str, set[int]]:
    """The pids that answered /health, by role (every request on a new connection)."""
    seen: dict[str, set[int]] = {}
    for _ in range(attempts):
        process = health(server)["process"]
        assert isinstance(process, dict)
        seen.setdefault(process["role"], set()).add(process["pid"])
    return seen


def count(server: Server) -> int:
    rows = server.get("/sparql", query=COUNT).json()["results"]["bindings"]
    return int(rows[0]["n"]["value"])


def labels(server: Server, iri: str) -> list[str]:
    """A lookup the inline lane can take."""
    query = f"SELECT ?l WHERE {{ <{iri}> <http://www.w3.org/2000/01/rdf-schema#label> ?l }}"
    rows = server.get("/sparql", query=query).json()["results"]["bindings"]
    return [row["l"]["value"] for row in rows]


def until_forwarded(write: Callable[[], httpx.Response], attempts: int = 40) -> httpx.Response:
    """Repeat `write` (each on a new connection) until a replica forwarded one."""
    for _ in range(attempts):
        response = write()
        if response.headers.get("via") == VIA:
            return response
    raise AssertionError(f"no write reached the replica in {attempts} attempts")


def test_requests_are_spread_over_both_processes(server: Server) -> None:
    seen = role_pids(server)
    assert set(seen) == {"primary", "replica"}
    assert len(seen["primary"]) == len(seen["replica"]) == 1


def test_both_processes_give_the_same_answer_and_validators(server: Server) -> None:
    query = "SELECT ?a WHERE { ?a a <https://w3id.org/citytools/ontology#LocalAuthority> }"
    answers = [server.get("/sparql", query=query) for _ in range(30)]
    assert {a.status_code for a in answers} == {200}
    assert len({a.content for a in answers}) == 1
    assert len(answers[0].json()["results"]["bindings"]) == 33
    assert len({(a.headers["etag"], a.headers["last-modified"]) for a in answers}) == 1
    revalidated = [
        httpx.get(
            server.url + "/sparql",
            params={"query": query},
            headers={"If-None-Match": answers[0].headers["etag"]},
        )
        for _ in range(30)
    ]
    assert {r.status_code for r in revalidated} == {304}


def test_a_write_through_either_process_is_read_at_once_by_both(server: Server) -> None:
    def put(body: bytes) -> httpx.Response:
        return httpx.put(
            server.url + "/store",
            params={"graph": GRAPH},
            content=body,
            headers={**AUTH, "Content-Type": "text/turtle"},
            timeout=60,
        )

    forwarded = until_forwarded(lambda: put(VENDORS_TTL))
    assert forwarded.status_code in (201, 204)
    triples = {VENDORS_TTL: count(server)}
    assert put(MORE_TTL).status_code == 204
    triples[MORE_TTL] = count(server)
    assert triples[VENDORS_TTL] > triples[MORE_TTL] > 0  # data and provenance
    for body in (VENDORS_TTL, MORE_TTL, VENDORS_TTL, MORE_TTL):
        assert put(body).status_code == 204
        # Twelve reads, each on a new connection: both processes see the write already,
        # through a worker (the count) and through the inline lane (the lookup).
        assert [count(server) for _ in range(12)] == [triples[body]] * 12
        acme = [] if body is MORE_TTL else ["Acme"]
        assert [labels(server, EX + "vendor/acme") for _ in range(12)] == [acme] * 12
    etags = {server.get("/sparql", query=COUNT).headers["etag"] for _ in range(12)}
    assert len(etags) == 1


def test_a_replica_passes_on_the_primarys_refusals(server: Server) -> None:
    """What only the primary can judge (the data) comes back from it through the replica;
    the token every process checks itself (tests/test_write_auth.py)."""
    before = count(server)
    invalid = until_forwarded(
        lambda: httpx.put(
            server.url + "/store",
            params={"graph": GRAPH},
            content=NAMELESS_TTL,
            headers={**AUTH, "Content-Type": "text/turtle"},
        )
    )
    assert invalid.status_code == 422
    assert invalid.json()["error"] == "validation-failed"
    assert invalid.json()["violations"] >= 1
    assert count(server) == before


def test_metrics_count_the_requests_of_every_process(server: Server) -> None:
    key = (
        "citytools_http_requests_total",
        (("method", "GET"), ("route", "/sparql"), ("status", "200")),
    )

    def requests() -> float:
        text = server.get("/metrics").text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if (sample.name, tuple(sorted(sample.labels.items()))) == key:
                    return sample.value
        return 0.0

    before = requests()
    for _ in range(30):
        assert server.get("/sparql", query="ASK {}").status_code == 200
    assert requests() == before + 30


def test_a_killed_replica_is_replaced_and_the_port_keeps_answering(server: Server) -> None:
    (victim,) = role_pids(server)["replica"]
    os.kill(victim, signal.SIGKILL)
    answered = 0
    deadline = time.monotonic() + 20
    replicas: set[int] = set()
    while time.monotonic() < deadline and not replicas - {victim}:
        process = health(server)["process"]
        assert isinstance(process, dict)
        answered += 1
        if process["role"] == "replica":
            replicas.add(process["pid"])
    assert replicas - {victim}, "no new replica answered within 20 s"
    assert victim not in replicas
    primary = next(
        p
        for p in (health(server)["process"] for _ in range(60))
        if isinstance(p, dict) and p["role"] == "primary"
    )
    assert primary["replicas"] == {"wanted": 1, "running": 1, "restarts": 1}


def test_sigterm_stops_every_process(tmp_path: Path) -> None:
    server = start(tmp_path, "--memory")
    family = descendants(server.process.pid)
    try:
        assert len(family) >= 6  # a replica, four query workers, resource trackers
        assert stop(server) == 0
    finally:
        cleanup(server)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in family):
        time.sleep(0.1)
    assert not [p for p in family if Path(f"/proc/{p}").exists()]


def test_a_replica_stops_when_its_primary_is_killed(tmp_path: Path) -> None:
    server = start(tmp_path, "--memory")
    (replica,) = role_pids(server)["replica"]
    cleanup(server)  # SIGKILL: no chance to stop the replica
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and Path(f"/proc/{replica}").exists():
        time.sleep(0.1)
    assert not Path(f"/proc/{replica}").exists()
    with pytest.raises(httpx.TransportError):
        server.get("/health")
