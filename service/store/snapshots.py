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

Beside checkpoint `v{n}` lies `v{n}.delta` when the write that made version n knew what
it changed (`Delta`): the quads it removed and added, so that a copy of version n - 1 in
memory (the inline lane's, in every HTTP process) is brought to version n by the delta
instead of being made again from the checkpoint. It is kept until the next write.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from pyoxigraph import NamedNode, Quad, RdfFormat, Store, parse, serialize


def snapshot_path(directory: Path, version: int) -> Path:
    return directory / f"v{version}"


def stats_path(directory: Path, version: int) -> Path:
    """Where the inline lane keeps the checkpoint's statistics (`engine/lane.py`)."""
    return directory / f"v{version}.stats.json"


def delta_path(directory: Path, version: int) -> Path:
    """Where the change from version - 1 to `version` is kept, when it is known."""
    return directory / f"v{version}.delta"


@dataclass(frozen=True)
class Delta:
    """What one write did to the store, quad for quad: exactly the quads it removed (they
    were there) and added (they were not), the named graphs it dropped (their quads are
    among the removed) and the ones it made, empty ones included.

    Saved as N-Quads, removed then added, after a comment line that says where the
    removed end. Blank nodes keep their labels both ways (`pyoxigraph.parse` keeps them,
    where `Store.load` would name them anew), so a copy that applies the delta with
    `Store.remove` and `Store.extend` holds the same blank nodes as the checkpoint."""

    removed: list[Quad]
    added: list[Quad]
    dropped: list[NamedNode] = field(default_factory=list)
    created: list[NamedNode] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.removed) + len(self.added)

    def save(self, path: Path) -> None:
        """Written whole under another name, then renamed: readers never see half a file."""
        removed = serialize(self.removed, format=RdfFormat.N_QUADS) or b""
        added = serialize(self.added, format=RdfFormat.N_QUADS) or b""
        header = {
            "removed_bytes": len(removed),
            "dropped": [g.value for g in self.dropped],
            "created": [g.value for g in self.created],
        }
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(f"# {json.dumps(header)}\n".encode() + removed + added)
        partial.replace(path)

    @classmethod
    def load(cls, path: Path) -> Delta:
        first, _, body = path.read_bytes().partition(b"\n")
        header = json.loads(first.removeprefix(b"# "))
        cut = header["removed_bytes"]
        return cls(
            list(parse(body[:cut], format=RdfFormat.N_QUADS)),
            list(parse(body[cut:], format=RdfFormat.N_QUADS)),
            [NamedNode(g) for g in header["dropped"]],
            [NamedNode(g) for g in header["created"]],
        )

    def apply_to(self, store: Store) -> None:
        """Make `store`, a copy of the version before, a copy of the version after."""
        for quad in self.removed:
            store.remove(quad)
        for graph in self.dropped:
            store.remove_graph(graph)
        for graph in self.created:
            store.add_graph(graph)
        store.extend(self.added)


class Snapshots:
    def __init__(self, store: Store, directory: Path) -> None:
        self._store = store
        self.directory = directory
        shutil.rmtree(directory, ignore_errors=True)  # left by a server that was killed
        directory.mkdir(parents=True)

    def take(self, version: int, delta: Delta | None = None) -> Path:
        """A checkpoint of the store as it is now, for `version`, with the `delta` from the
        version before when it is known; older ones (and their statistics) are removed."""
        target = snapshot_path(self.directory, version)
        shutil.rmtree(target, ignore_errors=True)
        kept = {target}
        if delta is not None:
            kept.add(delta_path(self.directory, version))
            delta.save(delta_path(self.directory, version))
        self._store.backup(str(target))
        for old in self.directory.iterdir():
            if old in kept:
                continue
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink(missing_ok=True)
        return target

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
