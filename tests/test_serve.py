"""`citytools serve` as a user runs it: a real process, a real uvicorn, real query workers.

The promise under test: a runaway query is stopped at the timeout (its CPU freed) while
/health and small queries keep being answered; the server stops cleanly on SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from http_support import free_port

pytestmark = pytest.mark.slow

CITYTOOLS = str(Path(sys.executable).with_name("citytools"))
RUNAWAY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l . ?m ?n ?o }"


def children(pid: int) -> list[int]:
    """Child processes of `pid` (of any of its threads), from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError):
            continue
        if parent == pid:
            found.append(int(stat.parent.name))
    return found


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


class Server:
    def __init__(self, process: subprocess.Popen[bytes], url: str) -> None:
        self.process = process
        self.url = url

    def get(self, path: str, **params: str) -> httpx.Response:
        return httpx.get(self.url + path, params=params, timeout=30)


def start(tmp_path: Path, *args: str, timeout: float = 10.0) -> Server:
    port = free_port()
    env = {
        **os.environ,
        "CITYTOOLS_QUERY_TIMEOUT": str(timeout),
        "CITYTOOLS_STORE": str(tmp_path / "unused-store"),
    }
    process = subprocess.Popen(
        [CITYTOOLS, "serve", "--port", str(port), *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    server = Server(process, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
        try:
            health = server.get("/health").json()
        except httpx.TransportError:
            time.sleep(0.1)
            continue
        if health["status"] == "ok" and health["executor"]["booted"] == 2:
            return server
        server.get("/sparql", query="ASK {}")  # boots a worker
        time.sleep(0.1)
    process.kill()
    raise AssertionError("the server did not become ready within 90 s")


def stop(server: Server) -> int:
    server.process.send_signal(signal.SIGTERM)
    return server.process.wait(timeout=30)


@pytest.fixture
def memory_server(tmp_path: Path) -> Iterator[Server]:
    server = start(tmp_path, "--memory", timeout=1.5)
    try:
        yield server
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()
        if server.process.stdout:
            server.process.stdout.close()


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
    workers = children(server.process.pid)
    assert len(workers) >= 3, "two query workers and the resource tracker"
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
