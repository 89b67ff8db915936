"""Several HTTP processes over one store: a primary that writes, replicas that read.

A Python process answers on one core at a time. `citytools serve --workers N` (default:
one per core) runs N processes on one listening socket. The primary opens the store for
writing, as a single process does. Once its store is ready it starts N - 1 replicas;
each opens the newest checkpoint read-only (`checkpoint_store.py`) and has query workers
and an inline lane of its own, so reads never wait for another process.

Writes: a replica passes each one to the primary over the primary's Unix socket
(`http_forward.py`). After committing, the primary takes a checkpoint and publishes its
version on the version board (`versions.py`) before it answers, so the next request on
any process reads the new data. The processes share one ETag epoch, so their validators
agree, and one Prometheus directory (prometheus_client's multiprocess mode), so
`/metrics` on any of them counts them all.

The primary restarts a replica that dies, and stops them all when it stops; a replica
whose primary has gone stops by itself.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import secrets
import shutil
import signal
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path

from citytools.service.versions import VersionBoard
from citytools.settings import Settings

RESTART_CHECK_SECONDS = 1.0
STOP_GRACE_SECONDS = 10.0


@dataclass(frozen=True)
class Cluster:
    """What the processes of one service share."""

    runtime: Path  # a private directory: the primary's socket, the board, the metrics
    snapshots: Path  # the store's checkpoints
    epoch: str  # of every ETag

    @classmethod
    def create(cls, snapshots: Path) -> Cluster:
        runtime = Path(tempfile.mkdtemp(prefix="citytools-"))  # short: socket paths are
        cluster = cls(runtime, snapshots, secrets.token_hex(4))
        cluster.metrics.mkdir()
        VersionBoard(cluster.board_path, create=True).close()
        return cluster

    @property
    def primary_socket(self) -> Path:
        return self.runtime / "primary.sock"

    @property
    def board_path(self) -> Path:
        return self.runtime / "version"

    @property
    def metrics(self) -> Path:
        return self.runtime / "metrics"

    def listen_primary(self) -> socket.socket:
        """The Unix socket on which the primary takes the replicas' writes."""
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self.primary_socket))
        listener.listen(64)
        return listener

    def remove(self) -> None:
        shutil.rmtree(self.runtime, ignore_errors=True)


@dataclass(frozen=True)
class Primary:
    cluster: Cluster
    replicas: Replicas


@dataclass(frozen=True)
class Replica:
    cluster: Cluster


class Replicas:
    """The primary's replica processes: started when its store is ready, restarted when
    one dies, stopped with it."""

    def __init__(
        self, count: int, settings: Settings, listener: socket.socket, cluster: Cluster
    ) -> None:
        self._count = count
        self._settings = settings
        self._listener = listener
        self._cluster = cluster
        self._context = multiprocessing.get_context("spawn")
        self._processes: list[BaseProcess] = []
        self._watch: asyncio.Task[None] | None = None
        self.restarts = 0

    async def start(self) -> None:
        self._processes = [self._spawn() for _ in range(self._count)]
        self._watch = asyncio.create_task(self._restart_the_dead())

    def health(self) -> dict[str, object]:
        running = sum(p.exitcode is None for p in self._processes)
        return {"wanted": self._count, "running": running, "restarts": self.restarts}

    def pids(self) -> list[int]:
        return [p.pid for p in self._processes if p.pid is not None and p.exitcode is None]

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        for process in self._processes:
            if process.exitcode is None and process.pid is not None:
                os.kill(process.pid, signal.SIGTERM)  # uvicorn's graceful shutdown
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while any(p.exitcode is None for p in self._processes) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for process in self._processes:
            if process.exitcode is None:
                process.kill()
            process.join(STOP_GRACE_SECONDS)

    def _spawn(self) -> BaseProcess:
        process = self._context.Process(
            target=run_replica,
            args=(self._settings, self._listener, self._cluster),
            name="citytools-replica",
        )
        process.start()
        return process

    async def _restart_the_dead(self) -> None:
        while True:
            await asyncio.sleep(RESTART_CHECK_SECONDS)
            for index, process in enumerate(self._processes):
                # Exit code 0 is a clean stop (Ctrl-C reaches the whole process group).
                if process.exitcode not in (None, 0):
                    process.join()
                    self._processes[index] = self._spawn()
                    self.restarts += 1


def run_replica(settings: Settings, listener: socket.socket, cluster: Cluster) -> None:
    """A replica process: the service over the newest checkpoint, on the shared socket."""
    from citytools.service.app import create_app
    from citytools.service.http_middleware import configure_logging
    from citytools.service.uvicorn_protocol import http_server

    configure_logging(settings)
    server = http_server(create_app(settings, role=Replica(cluster)))
    parent = os.getppid()

    def follow_parent() -> None:  # an orphan replica would hold the port forever
        while not server.should_exit:
            if os.getppid() != parent:
                server.should_exit = True
            time.sleep(RESTART_CHECK_SECONDS)

    threading.Thread(target=follow_parent, daemon=True).start()
    server.run(sockets=[listener])
