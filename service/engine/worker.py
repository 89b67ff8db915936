"""A query worker process: opens the store read-only and answers one request at a time.

Messages on the socket are length-prefixed pickles. The parent sends
`(store_version, QueryRequest)`; the worker answers `("ok", QueryAnswer)` or
`("error", exception class name, message)`. Before any message it sends one byte,
`READY`, once it has started (a single byte cannot be half read at a deadline).
The worker re-opens the store whenever the version it is told differs from the one it
opened, and exits when the parent closes the socket (or dies).
"""

from __future__ import annotations

import pickle
import signal
import socket
import struct
from pathlib import Path

from pyoxigraph import Store

from citytools.errors import CityToolsError
from citytools.service.engine.evaluate import evaluate, failure
from citytools.service.engine.execution import QueryRequest
from citytools.service.store.snapshots import snapshot_path

HEADER = struct.Struct("!Q")
READY = b"R"


def pack(message: object) -> bytes:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(payload)) + payload


def unpack(payload: bytes | bytearray) -> object:
    return pickle.loads(payload)


def serve(sock: socket.socket, snapshots: str, allowed: frozenset[str], version: int) -> None:
    """The worker's main loop (the target of its `multiprocessing.Process`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: parent decides
    sock.setblocking(True)
    directory = Path(snapshots)
    store: Store | None = _open(snapshot_path(directory, version))
    opened = version
    sock.sendall(READY)
    while (message := _receive(sock)) is not None:
        wanted, request = message
        if opened != wanted:
            store, opened = None, wanted  # a write happened: open the store anew
        reply, store = _answer(snapshot_path(directory, opened), store, request, allowed)
        sock.sendall(pack(reply))


def _answer(
    path: Path, store: Store | None, request: QueryRequest, allowed: frozenset[str]
) -> tuple[tuple[object, ...], Store | None]:
    """The reply to one request, and the handle to keep (None: open a fresh one next)."""
    try:
        store = store or Store.read_only(str(path))
        return ("ok", evaluate(store, request, allowed)), store
    except Exception as exc:  # a failure is this query's, not the worker's
        error = failure(exc)
    if type(error) is CityToolsError:  # maybe a store read: use a fresh handle next
        store = None
    return ("error", type(error).__name__, str(error)), store


def _open(path: Path) -> Store | None:
    """The checkpoint, or None to open it at the first request: a worker can boot while a
    write replaces the checkpoint of its version."""
    try:
        return Store.read_only(str(path))
    except (OSError, RuntimeError):
        return None


def _receive(sock: socket.socket) -> tuple[int, QueryRequest] | None:
    header = _exactly(sock, HEADER.size)
    if header is None:
        return None
    (size,) = HEADER.unpack(header)
    payload = _exactly(sock, size)
    if payload is None:
        return None
    message = unpack(payload)
    return message  # type: ignore[return-value]


def _exactly(sock: socket.socket, size: int) -> bytes | None:
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        count = sock.recv_into(view[got:])
        if count == 0:
            return None
        got += count
    return bytes(buffer)
