"""A replica's view of the store: the checkpoint of the current version, read-only.

A replica process (`cluster.py`) answers reads itself, but only the primary writes. Its
`GraphStore` opens the checkpoint the primary published on the version board (the one
the query workers read) and opens the next one as soon as a newer version is published,
so a replica never reads older data than a write it could have seen answered.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn

from pyoxigraph import Store

from citytools.errors import CityToolsError
from citytools.service.store.embedded import StoreReads
from citytools.service.store.interface import GraphChange, GraphName
from citytools.service.store.snapshots import snapshot_path
from citytools.service.store.versions import VersionBoard

READ_ONLY = "a replica does not write: writes go to the primary process"


class CheckpointStore(StoreReads):
    def __init__(self, directory: Path, board: VersionBoard) -> None:
        self._directory = directory
        self._board = board
        self._lock = threading.Lock()
        self._opened: tuple[int, Store] | None = None

    @property
    def version(self) -> int:
        return self._board.current()[0]

    def _handle(self) -> Store:
        """The current version's checkpoint; a newer one may be published while it opens."""
        with self._lock:
            for _ in range(3):
                version = self.version
                if self._opened is not None and self._opened[0] == version:
                    return self._opened[1]
                try:
                    store = Store.read_only(str(snapshot_path(self._directory, version)))
                except (OSError, RuntimeError):  # replaced meanwhile by a newer checkpoint
                    continue
                self._opened = (version, store)
                return store
        raise CityToolsError("the store's checkpoint could not be opened; try again")

    def apply(self, changes: Mapping[GraphName, GraphChange]) -> NoReturn:
        raise CityToolsError(READ_ONLY)

    def close(self) -> None:
        with self._lock:
            self._opened = None
