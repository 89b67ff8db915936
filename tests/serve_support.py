"""`citytools serve` as a real process, for the tests that run it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from http_support import free_port

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


def descendants(pid: int) -> list[int]:
    """Every process below `pid`: its children, theirs, and so on."""
    found, queue = [], [pid]
    while queue:
        below = children(queue.pop())
        found += below
        queue += below
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


def start(
    tmp_path: Path, *args: str, timeout: float = 10.0, processes: int = 2, **env: str
) -> Server:
    """`citytools serve` in `processes` HTTP processes, once every one of them answers with
    its query workers booted."""
    port = free_port()
    environment = {
        **os.environ,
        "CITYTOOLS_QUERY_TIMEOUT": str(timeout),
        "CITYTOOLS_STORE": str(tmp_path / "unused-store"),
        **env,
    }
    process = subprocess.Popen(
        [CITYTOOLS, "serve", "--port", str(port), "--workers", str(processes), *args],
        cwd=tmp_path,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    server = Server(process, f"http://127.0.0.1:{port}")
    ready: set[int] = set()  # pids of the processes seen ready
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
        try:
            health = server.get("/health").json()
        except httpx.TransportError:
            time.sleep(0.1)
            continue
        if health["status"] == "ok" and health["executor"]["booted"] == 2:
            ready.add(health["process"]["pid"])
            if len(ready) == processes:
                return server
        else:
            server.get("/sparql", query="ASK {}")  # boots a worker
        time.sleep(0.05)
    process.kill()
    raise AssertionError("the server did not become ready within 90 s")


def stop(server: Server) -> int:
    server.process.send_signal(signal.SIGTERM)
    return server.process.wait(timeout=30)


def cleanup(server: Server) -> None:
    """Kill the server if it still runs and close its output pipe."""
    if server.process.poll() is None:
        server.process.kill()
        server.process.wait()
    if server.process.stdout:
        server.process.stdout.close()
