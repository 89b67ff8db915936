"""Prometheus metrics, one registry per app (so tests and several apps never share counters)."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    def __init__(self) -> None:
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
            "citytools_store_quads", "Quads in the store", registry=self.registry
        )

    def watch_store(self, quads: Callable[[], float]) -> None:
        """Read the quad count at scrape time rather than after every write."""
        self.store_quads.set_function(quads)

    def exposition(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
