"""Prometheus metrics, one registry per app (so tests and several apps never share counters).

The processes of one service (`cluster.py`) keep their figures in one shared directory,
prometheus_client's multiprocess mode, and any of them exposes the sum over all.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    values,
)
from prometheus_client.exposition import generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


def _share(directory: Path) -> None:
    """Keep this process's figures in `directory` (a choice for the whole process, made
    before its first metric is created)."""
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]


class Metrics:
    def __init__(self, shared: Path | None = None) -> None:
        if shared is not None:
            _share(shared)
        self.shared = shared
        self._quads: Callable[[], float] | None = None
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._queries: dict[str, Histogram] = {}
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "citytools_http_requests",
            "HTTP requests by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "citytools_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.query_duration = Histogram(
            "citytools_query_duration_seconds",
            "Time to evaluate a SPARQL query (cache misses only)",
            ["kind"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.query_timeouts = Counter(
            "citytools_query_timeouts",
            "Queries stopped at CITYTOOLS_QUERY_TIMEOUT",
            registry=self.registry,
        )
        self.cache_hits = Counter(
            "citytools_response_cache_hits",
            "Answers served from the response cache or as 304 Not Modified",
            registry=self.registry,
        )
        self.store_quads = Gauge(
            "citytools_store_quads",
            "Quads in the store",
            multiprocess_mode="mostrecent",
            registry=self.registry,
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:  # `labels()` checks and locks each time: keep what it gives
            children = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def observe_query(self, kind: str, seconds: float) -> None:
        child = self._queries.get(kind)
        if child is None:
            child = self._queries[kind] = self.query_duration.labels(kind)
        child.observe(seconds)

    def watch_store(self, quads: Callable[[], float]) -> None:
        """Read the quad count at scrape time rather than after every write."""
        self._quads = quads

    def exposition(self) -> tuple[bytes, str]:
        if self._quads is not None:
            self.store_quads.set(self._quads())
        if self.shared is None:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        everyone = CollectorRegistry()
        MultiProcessCollector(everyone, path=str(self.shared))  # type: ignore[no-untyped-call]
        return generate_latest(everyone), CONTENT_TYPE_LATEST
