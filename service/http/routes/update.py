"""`POST /update`: SPARQL 1.1 Update, with the write token, SHACL-validated before commit.

The endpoints its SERVICE clauses call are checked first (`federation_check.py`; LOAD is
refused). Then `update_delta.py` works out what the request changes, by queries against
the store (nothing is executed, nothing copied), and the change goes through the one
write path (`writes.py`): validated, then committed with its provenance in one
transaction. Writers are serialised by the app's write lock, so the delta is still true
when it is committed.

The protocol's `using-graph-uri` / `using-named-graph-uri` and the service's base IRI are
written into the update text first (`update_text.py`).
"""

from __future__ import annotations

import json
from functools import partial

import anyio
from fastapi import APIRouter, Request
from pyoxigraph import NamedNode
from starlette.exceptions import HTTPException
from starlette.responses import Response

from citytools.errors import InputError, ParameterError
from citytools.report import ValidationReport
from citytools.service.http.auth import Writer
from citytools.service.http.body import (
    FORM,
    Params,
    form_and_url_params,
    media_type,
    single,
    text,
    url_params,
)
from citytools.service.http.deps import Context
from citytools.service.sparql.guard import check_services
from citytools.service.sparql.update_text import with_base, with_protocol_dataset
from citytools.service.store.interface import GraphName, graph_id
from citytools.service.writes.commit import Write, WritePath
from citytools.service.writes.update_delta import update_delta

router = APIRouter(tags=["SPARQL 1.1 Update"])

SPARQL_UPDATE = "application/sparql-update"
USING_PARAMETERS = ("using-graph-uri", "using-named-graph-uri")


@router.post("/update")
async def update(request: Request, ctx: Context, _: Writer) -> Response:
    """Run a SPARQL Update (form `update=` or an `application/sparql-update` body)."""
    kind = media_type(request)
    if kind == FORM:
        params = await form_and_url_params(request)
        if "query" in params:
            raise InputError("queries go to /sparql; /update takes update=…")
        operation = single(params, "update")
    elif kind == SPARQL_UPDATE:
        params = url_params(request)
        operation = text(await request.body(), "the update")
    else:
        raise HTTPException(
            415, f"POST the update as {FORM} (update=…) or as {SPARQL_UPDATE}, not '{kind}'"
        )
    if not operation or not operation.strip():
        raise InputError("no update: send update=… or an application/sparql-update body")
    operation = with_protocol_dataset(
        operation, _iris(params, USING_PARAMETERS[0]), _iris(params, USING_PARAMETERS[1])
    )
    operation = with_base(operation, ctx.settings.base_iri)
    check_services(operation, ctx.settings.federation_endpoints, ctx.settings.base_iri)
    async with ctx.write_lock, ctx.executor.writing():
        try:
            changed, report = await anyio.to_thread.run_sync(
                partial(run_update, ctx.ingestor.writes, operation)
            )
        finally:
            ctx.cache.written()
    summary = {
        "changed": [graph_id(graph) for graph in changed],
        "warnings": len(report.warnings),
    }
    return Response(json.dumps(summary).encode(), media_type="application/json")


def run_update(writes: WritePath, update: str) -> tuple[list[GraphName], ValidationReport]:
    """Work out what `update` changes and commit it through the one write path."""
    delta = update_delta(writes.store, update, protected=writes.protected())
    changes = [Write(graph, change) for graph, change in delta.changes.items()]
    committed = writes.commit(changes, label="SPARQL Update")
    return [w.graph for w in changes], committed.report


@router.get("/update", include_in_schema=False)
async def update_get() -> Response:
    raise HTTPException(
        405, "SPARQL Update must be POSTed; a GET never runs an update", headers={"Allow": "POST"}
    )


def _iris(params: Params, name: str) -> list[str]:
    iris = []
    for value in params.getlist(name):
        try:
            iris.append(NamedNode(value.strip()).value)
        except ValueError:
            raise ParameterError(name, f"{value!r} is not an absolute IRI") from None
    return iris
