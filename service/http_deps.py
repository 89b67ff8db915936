"""What routes get from the app: one context built by the lifespan, and its `Annotated` alias.

Routes declare `ctx: Context` (and `_: Writer` for writes, see `auth.py`); the
dependency is an `async def`, so FastAPI does not send it to the thread pool.
`/sparql` calls `context_of(request)` itself: resolving even one dependency costs
about a third of a cached answer's time.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import Response

from citytools.service.cluster import Primary, Replica
from citytools.service.execution import QueryExecutor
from citytools.service.http_cache import (
    CacheKey,
    ResponseCache,
    Validators,
    not_modified,
    not_modified_response,
)
from citytools.service.http_metrics import Metrics
from citytools.service.ingest import Ingestor
from citytools.service.store import GraphStore
from citytools.settings import Settings


@dataclass
class AppContext:
    settings: Settings
    store: GraphStore
    executor: QueryExecutor
    ingestor: Ingestor
    metrics: Metrics
    cache: ResponseCache
    role: Primary | Replica | None = None  # in a cluster of processes (`cluster.py`)
    # Serialises writers, so an update's validated plan is still true when it is applied.
    write_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def revalidate(
        self, request: Request, key: CacheKey, *, conditional: bool = True
    ) -> tuple[int, Validators, Response | None]:
        """The store version and validators for `key`, and a 304 when the client's copy
        (If-None-Match / If-Modified-Since) is still current."""
        version, validators = self.cache.validators(key)
        if conditional and not_modified(request, validators):
            self.metrics.cache_hits.inc()
            return version, validators, not_modified_response(validators)
        return version, validators, None


def context_of(request: Request) -> AppContext:
    """The context, for the hot path (`/sparql`), which skips dependency resolution."""
    context: AppContext | None = getattr(request.app.state, "context", None)
    if context is None:
        raise RuntimeError("the app is not started: use it inside its lifespan")
    return context


async def get_context(request: Request) -> AppContext:
    return context_of(request)


Context = Annotated[AppContext, Depends(get_context)]
