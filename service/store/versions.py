"""The store version and the time it last changed: what caches, ETags and Last-Modified
are keyed on.

`LocalVersions` follows a counter in this process. `VersionBoard` is shared by the
processes of one service (`cluster.py`): a 16-byte memory-mapped file that the primary
writes after each write it commits, and that every replica reads on each request, so
that all of them name the same data with the same validators.

HTTP dates have one-second resolution, so each change moves the time by at least one
second: If-Modified-Since can never mistake a later write for the answer a client holds.
"""

from __future__ import annotations

import mmap
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

_SEQUENCE = struct.Struct("<q")  # odd while a write is under way (a sequence lock)
_LAYOUT = struct.Struct("<qd")  # version, changed at (Unix time, whole seconds)
_SIZE = _SEQUENCE.size + _LAYOUT.size


class Versions(Protocol):
    def current(self) -> tuple[int, float]:
        """(version, when it was first seen: Unix time in whole seconds)."""
        ...


def _next_time(previous: float) -> float:
    return max(float(int(time.time())), previous + 1.0)


class LocalVersions:
    def __init__(self, version: Callable[[], int]) -> None:
        self._version = version
        self._seen = version()
        self._changed = float(int(time.time()))

    def current(self) -> tuple[int, float]:
        version = self._version()
        if version != self._seen:
            self._seen, self._changed = version, _next_time(self._changed)
        return version, self._changed


class VersionBoard:
    """The shared board: `publish` in the one process that writes, `current` anywhere."""

    def __init__(self, path: Path, *, create: bool = False) -> None:
        if create:
            path.write_bytes(_SEQUENCE.pack(0) + _LAYOUT.pack(0, float(int(time.time()))))
        with path.open("r+b") as file:
            self._map = mmap.mmap(file.fileno(), _SIZE)

    def current(self) -> tuple[int, float]:
        # A read never pairs one write's version with another's time: an old version with
        # a newer time would let a stale answer pass If-Modified-Since as current.
        while True:
            (before,) = _SEQUENCE.unpack_from(self._map)
            version, changed = _LAYOUT.unpack_from(self._map, _SEQUENCE.size)
            (after,) = _SEQUENCE.unpack_from(self._map)
            if before == after and not before % 2:
                return int(version), float(changed)

    def publish(self, version: int) -> None:
        (sequence,) = _SEQUENCE.unpack_from(self._map)
        _, changed = self.current()
        _SEQUENCE.pack_into(self._map, 0, sequence + 1)
        _LAYOUT.pack_into(self._map, _SEQUENCE.size, version, _next_time(changed))
        _SEQUENCE.pack_into(self._map, 0, sequence + 2)

    def close(self) -> None:
        self._map.close()
