"""Query executors: evaluation that really stops at the timeout.

pyoxigraph has no timeout or cancellation and a thread cannot be killed, so on-disk
stores are queried by `ProcessExecutor`: a pool of worker processes (started with
`spawn`: the parent runs an event loop and holds the RocksDB handle, so it is never
forked), each holding a checkpoint of the store read-only (`snapshots.py`). A query goes
to an idle worker over a socket; at its deadline that worker is SIGKILLed (its CPU freed
at once), a replacement is started and `QueryTimeout` raised. With `inline=True`, a
query whose worst case is provably small is answered first by the inline lane
(`lane.py`), in this process, without the round trip. Writes go through
`writing()`, a reader/writer gate: it waits for queries in flight, holds new ones, takes
a new checkpoint once the write is done (with the write's delta beside it when the
store is an `EmbeddedStore`'s, which keeps it: the inline lanes apply it to their copies),
and then bumps a version that makes every worker re-open (the new checkpoint) before
its next query.

`InlineExecutor` evaluates in a thread over an in-process store, for the remote and
in-memory cases and for unit tests; its timeout can only abandon the thread.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import socket
from collections import deque
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import NoReturn

from pyoxigraph import Store

from citytools.errors import CityToolsError, FederationRefused, InputError, QueryTimeout
from citytools.service.engine import worker as worker_process
from citytools.service.engine.evaluate import evaluate, failure
from citytools.service.engine.execution import QueryAnswer, QueryRequest
from citytools.service.engine.gate import Gate
from citytools.service.engine.lane import InlineLane
from citytools.service.store.checkpoints import READ_ONLY
from citytools.service.store.embedded import EmbeddedStore
from citytools.service.store.snapshots import Delta, Snapshots
from citytools.service.store.versions import VersionBoard
from citytools.settings import Settings

_ERRORS: dict[str, type[CityToolsError]] = {
    cls.__name__: cls for cls in (CityToolsError, InputError, FederationRefused)
}
_EXIT_GRACE = 2.0  # seconds a worker gets to exit after its socket closes or a SIGKILL
_POLL = 0.005


def timed_out(timeout: float) -> QueryTimeout:
    return QueryTimeout(
        f"query stopped after {timeout:g} s; narrow it or raise CITYTOOLS_QUERY_TIMEOUT"
    )


def not_started(timeout: float) -> QueryTimeout:
    return QueryTimeout(
        f"query not started within {timeout:g} s: every query worker was busy or a write "
        "was in progress; try again, or raise CITYTOOLS_QUERY_TIMEOUT"
    )


@dataclass(eq=False)
class _Worker:
    process: BaseProcess
    sock: socket.socket
    booted: bool = False  # its one-byte "ready" has been read


class ProcessExecutor:
    """Evaluates each query in one of `workers` processes over a read-only checkpoint of
    the store (kept in `snapshots_dir`); a query past its deadline is stopped by SIGKILL of
    its worker.

    The primary executor is given the `store`: it takes the checkpoints, holds queries
    off while a write runs, and publishes each new version on `board` for the replicas
    of a cluster (`cluster.py`). A replica's executor is given no store but `board`, and
    follows the versions published there: its workers open whichever checkpoint is
    current; it never writes.

    Workers are started with `spawn`, which imports the parent's `__main__` module in each
    of them: it must be import-safe (`if __name__ == "__main__":`), as console scripts,
    uvicorn and pytest are.
    """

    def __init__(
        self,
        store: Store | None,
        snapshots_dir: Path,
        *,
        workers: int,
        settings: Settings,
        inline: bool = False,
        board: VersionBoard | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError("a process executor needs at least one worker")
        if store is None and board is None:
            raise ValueError("a replica's executor follows a version board")
        self._snapshots = Snapshots(store, snapshots_dir) if store is not None else None
        self._writer = EmbeddedStore.owning(store) if store is not None else None
        self._directory = snapshots_dir
        self._board = board
        self._lane = InlineLane(snapshots_dir, settings.inline_memory_quads) if inline else None
        self._size = workers
        self._allowed = settings.federation_endpoints
        self._context = multiprocessing.get_context("spawn")
        self._gate = Gate()
        self._workers: set[_Worker] = set()
        self._idle: deque[_Worker] = deque()
        self._reaping: set[asyncio.Task[None]] = set()
        self._waiting: deque[asyncio.Future[_Worker]] = deque()
        self._closed = False
        if self._snapshots is not None:
            self._snapshots.take(self._gate.version)
            self._publish()
        self._top_up()

    @property
    def version(self) -> int:
        """The store version queries read: the newest checkpoint's."""
        if self._snapshots is None and self._board is not None:
            return self._board.current()[0]
        return self._gate.version

    def _publish(self) -> None:
        if self._snapshots is not None and self._board is not None:
            self._board.publish(self._gate.version)

    def answer_now(self, request: QueryRequest) -> QueryAnswer | None:
        if self._lane is None or self._closed:
            return None
        return self._lane.answer(request, self.version)

    async def run(self, request: QueryRequest, *, timeout: float) -> QueryAnswer:
        answer = self.answer_now(request)
        if answer is not None:
            return answer
        deadline = asyncio.get_running_loop().time() + timeout
        worker = await self._acquire(deadline, timeout)
        try:
            reply = await self._ask(worker, request, deadline, timeout)
        finally:
            self._gate.leave()
        if reply[0] == "ok" and isinstance(reply[1], QueryAnswer):
            return reply[1]
        raise _ERRORS.get(str(reply[1]), CityToolsError)(reply[2])

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        snapshots = self._snapshots
        if snapshots is None:
            raise CityToolsError(READ_ONLY)
        try:
            async with self._gate.writing():
                begun = self._writer.writes if self._writer is not None else 0
                try:
                    yield
                finally:  # still holding queries off: they will open this checkpoint
                    delta = self._delta_since(begun)
                    await asyncio.to_thread(snapshots.take, self._gate.version + 1, delta)
        finally:
            self._publish()  # the replicas read the new checkpoint from now on
            self._dispatch()  # the queries held off meanwhile

    def _delta_since(self, begun: int) -> Delta | None:
        """What the store's writes since the `begun`-th did: nothing when none was made
        (every write of an `EmbeddedStore` is an `apply`), the last one's delta when it was
        the only one and it committed; else unknown (None: the lanes rebuild)."""
        writer = self._writer
        if writer is None:
            return None
        if writer.writes == begun:
            return Delta([], [])
        last = writer.last_delta
        if writer.writes == begun + 1 and last is not None and last[0] == writer.writes:
            return last[1]
        return None

    def health(self) -> dict[str, object]:
        alive = [w for w in self._workers if w.process.exitcode is None]
        return {
            "ready": bool(alive) and not self._closed,
            "mode": "process",
            "workers": len(alive),
            "booted": sum(w.booted for w in alive),
            "busy": self._gate.readers,
            "store_version": self.version,
            "inline": self._lane.health() if self._lane is not None else None,
        }

    def pids(self) -> list[int]:
        """The worker processes' ids (for tests and operators)."""
        return sorted(w.process.pid for w in self._workers if w.process.pid is not None)

    async def ready(self, timeout: float) -> bool:
        """Wait until every idle worker has opened the store; False if `timeout` passed."""
        deadline = asyncio.get_running_loop().time() + timeout
        booting = [w for w in self._idle if not w.booted]
        for worker in booting:  # out of the pool while this reads its socket
            self._idle.remove(worker)
        try:
            booted = await asyncio.gather(*(self._boot(w, deadline) for w in booting))
        finally:
            for worker in booting:
                self._release(worker)
        return all(booted)

    async def close(self) -> None:
        """Stop every worker and reap it: booted idle ones exit at end-of-file, the others
        are killed (a query still running then fails)."""
        if self._closed:
            return
        self._closed = True
        if self._lane is not None:
            self._lane.close()
        self._gate.changed.notify()
        for waiter in self._waiting:
            if not waiter.done():
                waiter.set_exception(CityToolsError("the query executor is closed"))
        self._waiting.clear()
        workers, idle = list(self._workers), set(self._idle)
        self._workers.clear()
        self._idle.clear()
        for worker in workers:
            if worker in idle:
                worker.sock.close()
            if worker not in idle or not worker.booted:  # busy, or booting: nothing to lose
                worker.process.kill()
        await asyncio.gather(*(_reap(w.process) for w in workers), *list(self._reaping))
        for worker in workers:
            if worker.process.exitcode is None:
                worker.process.kill()
                worker.process.join(_EXIT_GRACE)
        if self._snapshots is not None:
            self._snapshots.remove()

    async def _acquire(self, deadline: float, timeout: float) -> _Worker:
        """An idle worker now, or the first one released to this request: waiting requests
        are served in arrival order and a release wakes only the one it serves."""
        if self._closed:
            raise CityToolsError("the query executor is closed")
        worker = None if self._waiting else self._lend()
        if worker is not None:
            return worker
        waiter: asyncio.Future[_Worker] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            async with asyncio.timeout_at(deadline):
                return await waiter
        except BaseException as exc:  # the deadline passed, or the request was cancelled
            if waiter in self._waiting:
                self._waiting.remove(waiter)
            elif waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._gate.leave()  # it was handed a worker just too late: pass it on
                self._release(waiter.result())
            if isinstance(exc, TimeoutError):
                raise not_started(timeout) from None
            raise

    def _lend(self) -> _Worker | None:
        """An idle worker counted as a reader, unless a write holds queries off."""
        if self._gate.writer or self._closed:
            return None
        worker = self._take_idle()
        if worker is not None:
            self._gate.readers += 1
        return worker

    def _dispatch(self) -> None:
        """Hand idle workers to the requests waiting for one, first come first served."""
        while self._waiting:
            if self._waiting[0].done():  # cancelled while queued
                self._waiting.popleft()
                continue
            worker = self._lend()
            if worker is None:
                return
            self._waiting.popleft().set_result(worker)

    def _take_idle(self) -> _Worker | None:
        """An idle worker, booted ones first; dead ones are dropped and replaced."""
        for dead in [w for w in self._idle if w.process.exitcode is not None]:
            self._idle.remove(dead)
            dead.sock.close()
            self._workers.discard(dead)
            self._top_up()
        if not self._idle:
            return None
        worker = next((w for w in self._idle if w.booted), self._idle[0])
        self._idle.remove(worker)
        return worker

    async def _boot(self, worker: _Worker, deadline: float) -> bool:
        """Wait for the worker's "ready" byte: False at the deadline (it is kept, booting is
        not a query's fault), EOFError if it died. One byte cannot be half read."""
        if worker.booted:
            return True
        loop = asyncio.get_running_loop()
        try:
            data = await asyncio.wait_for(
                loop.sock_recv(worker.sock, 1), max(deadline - loop.time(), 0)
            )
        except TimeoutError:
            return False
        if not data:
            raise EOFError("the query worker closed its socket")
        worker.booted = True
        return True

    async def _ask(
        self, worker: _Worker, request: QueryRequest, deadline: float, timeout: float
    ) -> tuple[object, ...]:
        try:
            booted = await self._boot(worker, deadline)
        except (EOFError, OSError):
            await self._died(worker)
        except BaseException:
            self._release(worker)
            raise
        if not booted:
            self._release(worker)
            raise not_started(timeout)
        try:
            async with asyncio.timeout_at(deadline):  # no task per query, unlike wait_for
                reply = await self._exchange(worker, request)
        except TimeoutError:
            await self._kill(worker)
            raise timed_out(timeout) from None
        except (EOFError, OSError):
            await self._died(worker)
        except BaseException:  # cancelled mid-exchange: the worker's next bytes are stale
            self._kill(worker)
            raise
        self._release(worker)
        return reply

    async def _exchange(self, worker: _Worker, request: QueryRequest) -> tuple[object, ...]:
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(worker.sock, worker_process.pack((self.version, request)))
        reply = await _receive(worker.sock)
        if not isinstance(reply, tuple):
            raise EOFError("malformed reply from the query worker")
        return reply

    def _release(self, worker: _Worker) -> None:
        if self._closed:
            worker.sock.close()
            return
        self._idle.appendleft(worker)  # most recently used first: its caches are warm
        self._gate.changed.notify()
        self._dispatch()

    def _kill(self, worker: _Worker) -> asyncio.Task[None]:
        """SIGKILL the worker and start its replacement now; the task reaps it."""
        worker.process.kill()
        worker.sock.close()
        self._workers.discard(worker)
        self._top_up()
        self._dispatch()  # the replacement may serve a waiting request
        task = asyncio.ensure_future(_reap(worker.process))
        self._reaping.add(task)
        task.add_done_callback(self._reaping.discard)
        return task

    async def _died(self, worker: _Worker) -> NoReturn:
        await _reap(worker.process)  # it is exiting; its status says why
        reason = _exit_of(worker.process)
        await self._kill(worker)
        if self._closed:
            raise CityToolsError("the query executor closed while the query ran")
        raise CityToolsError(
            f"the query worker stopped unexpectedly ({reason}); the query was not answered"
        )

    def _top_up(self) -> None:
        """Start workers until the pool is full again; each boots in the background."""
        while not self._closed and len(self._workers) < self._size:
            parent, child = socket.socketpair()
            process = self._context.Process(
                target=worker_process.serve,
                args=(child, str(self._directory), self._allowed, self.version),
                name="citytools-query-worker",
                daemon=True,
            )
            process.start()
            child.close()
            parent.setblocking(False)
            self._workers.add(worker := _Worker(process, parent))
            self._idle.append(worker)
            self._gate.changed.notify()


class InlineExecutor:
    """Evaluates in a thread over an in-process store (`asyncio.to_thread`).

    For a remote or in-memory store and for unit tests. Its timeout can only abandon the
    thread: the caller gets `QueryTimeout` at the deadline, but pyoxigraph cannot be
    interrupted, so the evaluation runs on, holding a CPU and a thread of the default
    executor, until it ends by itself. Use `ProcessExecutor` for on-disk stores.
    """

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._allowed = settings.federation_endpoints
        self._gate = Gate()
        self._closed = False

    async def run(self, request: QueryRequest, *, timeout: float) -> QueryAnswer:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._gate.writer:
            if not await self._gate.changed.wait(deadline):
                raise not_started(timeout)
        if self._closed:
            raise CityToolsError("the query executor is closed")
        self._gate.readers += 1
        try:
            work = asyncio.to_thread(evaluate, self._store, request, self._allowed)
            return await asyncio.wait_for(work, max(deadline - loop.time(), 0))
        except TimeoutError:
            raise timed_out(timeout) from None
        except CityToolsError:
            raise
        except Exception as exc:
            raise failure(exc) from exc
        finally:
            self._gate.leave()

    def answer_now(self, request: QueryRequest) -> QueryAnswer | None:
        return None  # a thread is no safer place than the event loop for a query

    def writing(self) -> AbstractAsyncContextManager[None]:
        return self._gate.writing()

    def health(self) -> dict[str, object]:
        return {"ready": not self._closed, "mode": "inline", "busy": self._gate.readers}

    async def close(self) -> None:
        self._closed = True


async def _receive(sock: socket.socket) -> object:
    """One message from a worker; EOFError when it has gone."""
    loop = asyncio.get_running_loop()
    (size,) = worker_process.HEADER.unpack(await _exactly(loop, sock, worker_process.HEADER.size))
    return worker_process.unpack(await _exactly(loop, sock, size))


async def _exactly(loop: asyncio.AbstractEventLoop, sock: socket.socket, size: int) -> bytearray:
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        count = await loop.sock_recv_into(sock, view[got:])
        if count == 0:
            raise EOFError("the query worker closed its socket")
        got += count
    return buffer


async def _reap(process: BaseProcess) -> None:
    """Wait (without blocking the loop) up to a grace period for the process to exit, and
    collect its status. Polling is safe when several callers reap the same process."""
    for _ in range(int(_EXIT_GRACE / _POLL)):
        if process.exitcode is not None:  # polls waitpid, which collects the zombie
            return
        await asyncio.sleep(_POLL)


def _exit_of(process: BaseProcess) -> str:
    code = process.exitcode
    if code is None:
        return "still running"
    return f"killed by signal {-code}" if code < 0 else f"exit code {code}"
