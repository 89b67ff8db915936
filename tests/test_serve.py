"""`citytools serve` as a user runs it: a real process, a real uvicorn, real query workers.

The promise under test: a runaway query is stopped at the timeout (its CPU freed) while
/health and small queries keep being answered; the server stops cleanly on SIGTERM.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from serve_support import RUNAWAY, Server, cleanup, cpu_ticks, descendants, start, stop

pytestmark = pytest.mark.slow


@pytest.fixture
def memory_server(tmp_path: Path) -> Iterator[Server]:
    server = start(tmp_path, "--memory", timeout=1.5)
    try:
        yield server
    finally:
        cleanup(server)


def test_a_runaway_query_is_cut_while_others_are_answered(memory_server: Server) -> None:
    server = memory_server
    outcome: dict[str, object] = {}

    def runaway() -> None:
        started = time.monotonic()
        response = server.get("/sparql", query=RUNAWAY)
        outcome.update(
            status=response.status_code, body=response.json(), took=time.monotonic() - started
        )

    thread = threading.Thread(target=runaway)
    thread.start()
    time.sleep(0.3)  # the runaway holds one worker now
    for _ in range(3):
        started = time.monotonic()
        assert server.get("/health").status_code == 200
        answer = server.get(
            "/sparql", query="ASK { ?s a <https://w3id.org/citytools/ontology#LocalAuthority> }"
        )
        assert answer.json()["boolean"] is True
        assert time.monotonic() - started < 1.0
    thread.join(timeout=30)
    assert outcome["status"] == 503
    assert outcome["body"]["error"] == "query-timeout"  # type: ignore[index]
    assert 1.5 <= float(outcome["took"]) < 4.0  # type: ignore[arg-type]
    time.sleep(3.0)  # the killed worker's replacement boots
    workers = descendants(server.process.pid)
    assert len(workers) >= 6, "a replica, two query workers each, the resource trackers"
    before = {pid: cpu_ticks(pid) for pid in workers if Path(f"/proc/{pid}").exists()}
    time.sleep(1.0)
    growth = [
        cpu_ticks(pid) - ticks for pid, ticks in before.items() if Path(f"/proc/{pid}").exists()
    ]
    assert max(growth) <= 5, growth  # idle: at most 50 ms of CPU in one second


def test_sigterm_stops_the_server_and_removes_the_memory_store(memory_server: Server) -> None:
    store_line = ""
    assert stop(memory_server) == 0
    output = memory_server.process.stdout.read().decode() if memory_server.process.stdout else ""
    store_line = next(line for line in output.splitlines() if "store:" in line)
    store_dir = Path(store_line.rsplit("store: ", 1)[1].rstrip(")"))
    assert store_dir.name.startswith("citytools-memory-")
    assert not store_dir.exists()


def test_demo_serves_the_illustrative_inventory(tmp_path: Path) -> None:
    server = start(tmp_path, "--demo", "--store", str(tmp_path / "demo"))
    try:
        rows = server.get("/queries/region-comparison", format="json").json()["results"]["bindings"]
        london = next(r for r in rows if r["region_label"]["value"] == "London")
        assert int(london["authorities"]["value"]) == 33
        # The demo inventory has 400 rows: one contract each.
        assert int(london["contracts"]["value"]) == 400
        flags = server.get(
            "/sparql",
            query="SELECT ?g WHERE { ?g <https://w3id.org/citytools/ontology#illustrative> true }",
        ).json()["results"]["bindings"]
        assert {f["g"]["value"].rsplit("/", 1)[1] for f in flags} == {"inventory", "projects"}
    finally:
        assert stop(server) == 0
        if server.process.stdout:
            server.process.stdout.close()
