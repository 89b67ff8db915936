"""What routes get from the app: one context built by the lifespan, and its `Annotated` alias.

Routes declare `ctx: Context` (and `_: Writer` for writes, see `auth.py`); the
dependency is an `async def`, so FastAPI does not send it to the thread pool.
`/sparql` calls `context_of(request)` itself: resolving even one dependency costs
about a third of a cached answer's time.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import Response

from citytools.errors import QueryTimeout
from citytools.service.engine.execution import QueryAnswer, QueryExecutor, QueryRequest
from citytools.service.http.cache import (
    TRUNCATED_HEADER,
    CachedAnswer,
    CacheKey,
    ResponseCache,
    Validators,
    not_modified,
    not_modified_response,
)
from citytools.service.http.metrics import Metrics
from citytools.service.runtime.cluster import Primary, Replica
from citytools.service.store.interface import GraphStore
from citytools.service.writes.ingest import Ingestor
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
    # Queries being evaluated, by cache entry: the same query asked again meanwhile waits
    # for that evaluation instead of starting its own (a dashboard opened by many at once).
    _in_flight: dict[tuple[int, CacheKey], asyncio.Future[tuple[CachedAnswer, bool]]] = field(
        default_factory=dict
    )

    async def answer(
        self, version: int, key: CacheKey, request: QueryRequest
    ) -> tuple[CachedAnswer, bool]:
        """The answer to `request`: from the cache, from the same query already under way,
        or evaluated now; and whether it may carry the validators of `version` (False when
        a write came in while it was evaluated)."""
        ready = self.answer_now(version, key, request)
        if ready is not None:
            return ready
        flight = (version, key)
        running = self._in_flight.get(flight)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[tuple[CachedAnswer, bool]] = (
            asyncio.get_running_loop().create_future()
        )
        self._in_flight[flight] = future
        try:
            answered = await self._evaluate(request)
        except BaseException as exc:  # the waiting requests fail alike
            future.set_exception(exc if isinstance(exc, Exception) else _abandoned())
            future.exception()  # retrieved here: no warning when nobody else waits
            raise
        finally:
            del self._in_flight[flight]
        outcome = (answered, self.cache.put(version, key, answered))
        future.set_result(outcome)
        return outcome

    def answer_now(
        self, version: int, key: CacheKey, request: QueryRequest
    ) -> tuple[CachedAnswer, bool] | None:
        """`answer`, when it needs no waiting: from the cache or the inline lane; None
        when the query is under way already or needs a worker."""
        cached = self.cache.get(version, key)
        if cached is not None:
            self.metrics.cache_hits.inc()
            return cached, True
        if (version, key) in self._in_flight:
            return None
        started = time.perf_counter()
        answer = self.executor.answer_now(request)
        if answer is None:
            return None
        answered = self._answered(answer, request, started)
        return answered, self.cache.put(version, key, answered)

    async def _evaluate(self, request: QueryRequest) -> CachedAnswer:
        started = time.perf_counter()
        try:
            answer = await self.executor.run(request, timeout=self.settings.query_timeout)
        except QueryTimeout:
            self.metrics.query_timeouts.inc()
            raise
        return self._answered(answer, request, started)

    def _answered(self, answer: QueryAnswer, request: QueryRequest, started: float) -> CachedAnswer:
        self.metrics.observe_query(answer.kind, time.perf_counter() - started)
        headers: tuple[tuple[str, str], ...] = ()
        if answer.truncated:
            limit = request.max_results
            note = f'199 citytools "answer truncated to {limit} results (CITYTOOLS_MAX_RESULTS)"'
            headers = ((TRUNCATED_HEADER, "true"), ("Warning", note))
        return CachedAnswer(answer.body, answer.media_type, answer.kind, headers)

    def revalidate(
        self, request: Request, key: CacheKey, *, conditional: bool = True
    ) -> tuple[int, Validators, Response | None]:
        """The store version and validators for `key`, and a 304 when the client's copy
        (If-None-Match / If-Modified-Since) is still current."""
        headers = request.headers
        version, validators, current = self.validate(
            key,
            headers.get("if-none-match") if conditional else None,
            headers.get("if-modified-since") if conditional else None,
        )
        return version, validators, not_modified_response(validators) if current else None

    def validate(
        self, key: CacheKey, if_none_match: str | None, if_modified_since: str | None
    ) -> tuple[int, Validators, bool]:
        """The store version and validators for `key`, and whether the client's copy, by
        the values of its conditional headers, is still current (counted as a cache hit)."""
        version, validators = self.cache.validators(key)
        current = not_modified(if_none_match, if_modified_since, validators)
        if current:
            self.metrics.cache_hits.inc()
        return version, validators, current


def _abandoned() -> QueryTimeout:
    return QueryTimeout("the same query, asked just before, was abandoned; ask again")


def context_of(request: Request) -> AppContext:
    """The context, for the hot path (`/sparql`), which skips dependency resolution."""
    context: AppContext | None = getattr(request.app.state, "context", None)
    if context is None:
        raise RuntimeError("the app is not started: use it inside its lifespan")
    return context


async def get_context(request: Request) -> AppContext:
    return context_of(request)


Context = Annotated[AppContext, Depends(get_context)]
