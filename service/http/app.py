"""The HTTP app factory: `create_app(settings)` builds everything, nothing happens at import.

The lifespan opens the backend (store + query executor, seeding the reference
graphs on first use) unless the caller passes them, builds the ingest path, and
on shutdown closes what it opened. Routes reach all of it through
`http_deps.Context`.

Middleware, outermost first: on a replica, write forwarding to the primary
(`forward.py`); request observer (JSON log line + metrics) → CORS (only when
`CITYTOOLS_CORS_ORIGINS` is set) → body-size limit → routes, `/sparql` first. Every
request takes this one way, reads by SPARQL included.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import APIRouter, FastAPI
from starlette.middleware.cors import CORSMiddleware

from citytools import __version__
from citytools.resources import queries_dir
from citytools.service.catalogue.saved import Catalogue
from citytools.service.engine.execution import QueryExecutor
from citytools.service.engine.pool import ProcessExecutor
from citytools.service.http import errors
from citytools.service.http.cache import ResponseCache
from citytools.service.http.deps import AppContext
from citytools.service.http.forward import ForwardWrites
from citytools.service.http.metrics import Metrics
from citytools.service.http.middleware import BodyLimit, Observer
from citytools.service.http.routes import ops as ops_routes
from citytools.service.http.routes import sparql as sparql_routes
from citytools.service.http.routes import store as store_routes
from citytools.service.http.routes import update as update_routes
from citytools.service.http.routes import void as void_routes
from citytools.service.http.routes.queries import queries_router
from citytools.service.runtime import bootstrap
from citytools.service.runtime.cluster import Cluster, Primary, Replica
from citytools.service.store.interface import GraphStore
from citytools.service.store.versions import LocalVersions, VersionBoard
from citytools.settings import Settings

DESCRIPTION = (
    "A linked-data knowledge graph of the IT systems London's local authorities run: "
    "SPARQL 1.1 Query, Update and Graph Store protocols, saved queries and pages."
)
WORKER_BOOT_SECONDS = 60.0
EXPOSED_HEADERS = ["ETag", "Last-Modified", "Location", "X-CityTools-Truncated", "Warning"]


def routers(catalogue: Catalogue) -> list[APIRouter]:
    """Every route group of the service after `/sparql`, in matching order."""
    return [
        update_routes.router,
        store_routes.router,
        ops_routes.router,
        void_routes.router,
        queries_router(catalogue),
    ]


def create_app(
    settings: Settings,
    *,
    store: GraphStore | None = None,
    executor: QueryExecutor | None = None,
    catalogue: Catalogue | None = None,
    role: Primary | Replica | None = None,
) -> FastAPI:
    """The service over `settings`; a given store/executor is used as is and not closed.

    `role` makes it one process of a cluster (`cluster.py`): the primary, which starts
    its replicas once its store is ready, or a replica over the primary's checkpoints.
    The saved queries are the shipped `queries/` unless a catalogue is given; a broken
    query file fails here, naming the file."""
    if (store is None) != (executor is None):
        raise ValueError("pass both a store and the executor that reads it, or neither")
    catalogue = catalogue if catalogue is not None else Catalogue.load(queries_dir())
    cluster = role.cluster if role is not None else None
    metrics = Metrics(cluster.metrics if cluster is not None else None)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = store is None or executor is None
        if store is None or executor is None:
            backend_store, backend_executor = await anyio.to_thread.run_sync(
                bootstrap.open_backend, settings, role
            )
            if isinstance(backend_executor, ProcessExecutor):  # ready = every worker booted
                await backend_executor.ready(WORKER_BOOT_SECONDS)
        else:
            backend_store, backend_executor = store, executor
        try:
            ingestor = await anyio.to_thread.run_sync(
                bootstrap.build_ingestor, backend_store, settings
            )
            metrics.watch_store(lambda: float(backend_store.quad_count()))
            app.state.context = AppContext(
                settings=settings,
                store=backend_store,
                executor=backend_executor,
                ingestor=ingestor,
                metrics=metrics,
                cache=_cache(cluster, backend_store, backend_executor),
                role=role,
            )
            if isinstance(role, Primary):
                await role.replicas.start()
            yield
        finally:
            app.state.context = None
            if isinstance(role, Primary):
                await role.replicas.stop()
            if owned:
                await backend_executor.close()
                backend_store.close()

    app = FastAPI(
        # `/sparql` first, in the app's own router: matched before anything else, without
        # the indirection of an included router (about 7 µs of a 40 µs cached answer).
        routes=sparql_routes.router.routes,
        # Requests are measured once, by `Observer` (Prometheus); FastAPI's OpenTelemetry
        # would be a second place, and looks for providers on every request (about 8 µs).
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
        title="City Tools Graph",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    errors.install(app)
    for router in routers(catalogue):
        app.include_router(router)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "HEAD", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Accept", "If-None-Match"],
            expose_headers=EXPOSED_HEADERS,
        )
    app.add_middleware(Observer, metrics=metrics)
    if isinstance(role, Replica):  # outermost: the primary observes what it answers
        app.add_middleware(ForwardWrites, primary=role.cluster.primary_socket)
    return app


def _cache(cluster: Cluster | None, store: GraphStore, executor: QueryExecutor) -> ResponseCache:
    """Keyed by the version of the data queries read: the cluster's version board, or
    the executor's checkpoint, or (with no checkpoints) the store's own write count. Not
    by the live store's count when queries read checkpoints: a query answered from the
    checkpoint before a write must not be kept as the answer after it."""
    if cluster is not None:
        return ResponseCache(VersionBoard(cluster.board_path), epoch=cluster.epoch)
    if isinstance(executor, ProcessExecutor):
        return ResponseCache(LocalVersions(lambda: executor.version))
    return ResponseCache(LocalVersions(lambda: store.version))
