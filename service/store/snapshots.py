"""Frozen copies of the on-disk store for the query workers, one per store version.

pyoxigraph's docs call reading beside a concurrent writer undefined, and it is: a worker
that opens the live directory read-only can find SST files that its MANIFEST lists already
deleted by the writer's background compaction ("Corruption: … No such file"). A RocksDB
checkpoint (`Store.backup`: hard links on the same filesystem, a few milliseconds once the
memtable is flushed) freezes a consistent file set that compaction cannot take away.

Workers open the checkpoint of the version they are told. A new one is taken at the end
of every write, while the write gate still holds every query off, and the older ones are
removed then: no query can use them any more, because each worker re-opens before its
next query when the version changed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from pyoxigraph import Store


def snapshot_path(directory: Path, version: int) -> Path:
    return directory / f"v{version}"


def stats_path(directory: Path, version: int) -> Path:
    """Where the inline lane keeps the checkpoint's statistics (`inline_lane.py`)."""
    return directory / f"v{version}.stats.json"


class Snapshots:
    def __init__(self, store: Store, directory: Path) -> None:
        self._store = store
        self.directory = directory
        shutil.rmtree(directory, ignore_errors=True)  # left by a server that was killed
        directory.mkdir(parents=True)

    def take(self, version: int) -> Path:
        """A checkpoint of the store as it is now, for `version`; older ones (and their
        statistics) are removed."""
        target = snapshot_path(self.directory, version)
        shutil.rmtree(target, ignore_errors=True)
        self._store.backup(str(target))
        for old in self.directory.iterdir():
            if old == target:
                continue
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink(missing_ok=True)
        return target

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
