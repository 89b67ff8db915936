"""The primary's replica processes: each runs the HTTP service over the newest checkpoint
on the shared listening socket (`runtime/cluster.py` says what they share). They are
started when the primary's store is ready, restarted when one dies, stopped with it."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import socket
import threading
import time
from multiprocessing.process import BaseProcess

from citytools.service.http.app import create_app
from citytools.service.http.middleware import configure_logging
from citytools.service.http.server import http_server
from citytools.service.runtime.cluster import Cluster, Replica
from citytools.settings import Settings

RESTART_CHECK_SECONDS = 1.0
STOP_GRACE_SECONDS = 10.0


class Replicas:
    """The primary's replica processes."""

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
