"""Several HTTP processes over one store: a primary that writes, replicas that read.

A Python process answers on one core at a time. `citytools serve --workers N` (default:
one per core) runs N processes on one listening socket. The primary opens the store for
writing, as a single process does. Once its store is ready it starts N - 1 replicas;
each opens the newest checkpoint read-only (`store/checkpoints.py`) and has query workers
and an inline lane of its own, so reads never wait for another process.

Writes: a replica passes each one to the primary over the primary's Unix socket
(`http/forward.py`). After committing, the primary takes a checkpoint and publishes its
version on the version board (`store/versions.py`) before it answers, so the next request on
any process reads the new data. The processes share one ETag epoch, so their validators
agree, and one Prometheus directory (prometheus_client's multiprocess mode), so
`/metrics` on any of them counts them all.

The primary restarts a replica that dies, and stops them all when it stops; a replica
whose primary has gone stops by itself.
"""

from __future__ import annotations

import secrets
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from citytools.service.store.versions import VersionBoard


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


class ReplicaProcesses(Protocol):
    """What the primary's HTTP app does with its replicas (`cli/replicas.py` runs them)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def health(self) -> dict[str, object]: ...


@dataclass(frozen=True)
class Primary:
    cluster: Cluster
    replicas: ReplicaProcesses


@dataclass(frozen=True)
class Replica:
    cluster: Cluster
