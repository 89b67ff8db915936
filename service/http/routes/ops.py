"""Operations: `GET /health`, `GET /metrics`, and `POST /validate` (a report, no write)."""

from __future__ import annotations

import json
import os
from functools import partial
from typing import Protocol, runtime_checkable

import anyio
from fastapi import APIRouter, Request
from starlette.responses import Response

from citytools.report import ValidationReport
from citytools.service.http.deps import AppContext, Context
from citytools.service.http.errors import report_response
from citytools.service.http.sources import read_sources
from citytools.service.runtime.cluster import Primary, Replica
from citytools.service.writes.ingest import Ingestor, Source

router = APIRouter(tags=["Operations"])


@runtime_checkable
class ReportsHealth(Protocol):
    """An executor that can say whether its workers are up (`{"ready": bool, …}`)."""

    def health(self) -> dict[str, object]: ...


@router.get("/health")
async def health(ctx: Context) -> Response:
    """Liveness and readiness: 200 when the store answers and the query workers are up."""
    problems = []
    try:
        quads = await anyio.to_thread.run_sync(ctx.store.quad_count)
    except Exception as exc:  # any failure means "not ready", reported rather than raised
        quads = None
        problems.append(f"store: {exc}")
    workers = ctx.executor.health() if isinstance(ctx.executor, ReportsHealth) else None
    if workers is not None and not workers.get("ready", True):
        problems.append("query workers are not running")
    document = {
        "status": "unavailable" if problems else "ok",
        "store": {"open": quads is not None, "quads": quads, "version": ctx.store.version},
        "executor": workers,
        "process": _process(ctx),
        "problems": problems,
    }
    return Response(
        json.dumps(document).encode(),
        503 if problems else 200,
        {"Cache-Control": "no-store"},
        media_type="application/json",
    )


def _process(ctx: AppContext) -> dict[str, object]:
    """Which process of the service answered, and (on the primary) how its replicas are."""
    document: dict[str, object] = {
        "role": "replica" if isinstance(ctx.role, Replica) else "single",
        "pid": os.getpid(),
    }
    if isinstance(ctx.role, Primary):
        document.update(role="primary", replicas=ctx.role.replicas.health())
    return document


@router.get("/metrics")
async def metrics(ctx: Context) -> Response:
    """Prometheus text exposition."""
    body, content_type = await anyio.to_thread.run_sync(ctx.metrics.exposition)
    return Response(body, headers={"Cache-Control": "no-store"}, media_type=content_type)


@router.post("/validate")
async def validate(request: Request, ctx: Context) -> Response:
    """The SHACL report for the posted data (200 either way: see `conforms`); nothing is stored."""
    sources = await read_sources(request, "validate")
    report = await anyio.to_thread.run_sync(partial(check_all, ctx.ingestor, sources))
    return report_response(request, report, 200)


def check_all(ingestor: Ingestor, sources: list[Source]) -> ValidationReport:
    report = ValidationReport()
    for source in sources:
        _, found = ingestor.check(source)
        report.extend(found)
    return report
