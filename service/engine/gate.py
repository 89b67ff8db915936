"""The reader/writer gate between queries and writes, usable from any event loop.

Queries run together; a write waits for the queries in flight (each ends by its deadline
at the latest), holds new ones while it runs, and then bumps `version`, which tells the
query workers to re-open the store before their next query.
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
