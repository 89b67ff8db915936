"""The reader/writer gate between queries and writes, usable from any event loop.

Queries run together; a write waits for the queries in flight (each ends by its deadline
at the latest), holds new ones while it runs, and then bumps `version`, which tells the
query workers to re-open the store before their next query.

Why not `aiorwlock` (evaluated at 1.5.1, issue 10 item 4). It keeps the promise of
writer preference (a reader arriving while a writer waits queues behind it) and serves
writers in order, but not what `pool.py` needs of the gate:

* a lock is bound to the first event loop that uses it (`RuntimeError: ... is bound to
  a different event loop` on the next), while one executor serves several loops: the
  test suite's module-wide pool runs each test in its own `asyncio.run`;
* a lock is owned by the task that acquired it, and acquiring is awaited. The pool
  counts a query as a reader synchronously, in `_lend`, when it hands an idle worker to
  the first waiting request, from whichever task released that worker; that is how its
  queue stays first come, first served. A release from another task raises `Cannot
  release an un-acquired lock`;
* it has no version counter, no public count of readers (`health()["busy"]`) and no
  deadline on a wait (`InlineExecutor` gives up when its query timeout passes), and its
  waiters cannot double as the pool's wake-up when a worker is released (`changed`).

Wrapping it to add these would be more code than this module, so the gate stays ours.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Signal:
    """Wakes every waiter at each change. Futures are made on the waiter's running loop,
    so nothing here is bound to one event loop."""

    def __init__(self) -> None:
        self._waiters: set[asyncio.Future[None]] = set()

    async def wait(self, deadline: float | None) -> bool:
        """False when `deadline` (event-loop time) passed first."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._waiters.add(future)
        try:
            if deadline is None:
                await future
                return True
            await asyncio.wait_for(future, max(deadline - loop.time(), 0))
            return True
        except TimeoutError:
            return False
        finally:
            self._waiters.discard(future)

    def notify(self) -> None:
        for future in self._waiters:
            if not future.done():
                future.set_result(None)


class Gate:
    """Queries run together; a write waits for them, holds new ones, then bumps `version`."""

    def __init__(self) -> None:
        self.changed = Signal()
        self.readers = 0
        self.writer = False
        self.version = 0

    def leave(self) -> None:
        self.readers -= 1
        self.changed.notify()

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        while self.writer:
            await self.changed.wait(None)
        self.writer = True
        try:
            while self.readers:  # each ends by its deadline at the latest
                await self.changed.wait(None)
            yield
        finally:
            self.version += 1
            self.writer = False
            self.changed.notify()
