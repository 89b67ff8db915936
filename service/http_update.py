"""`POST /update`: SPARQL 1.1 Update, with the write token, SHACL-validated before commit.

See `update_plan.py` for how an update is checked. Writers are serialised by the
app's write lock (so the checked plan is still true when applied); readers are held
only while the validated outcome is written (`executor.writing()`).

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
from citytools.service.auth import Writer
from citytools.service.http_body import (
    FORM,
    Params,
    form_and_url_params,
    media_type,
    single,
    text,
    url_params,
)
from citytools.service.http_deps import Context
from citytools.service.sparql_scan import refuse_remote
from citytools.service.update_plan import plan_update
from citytools.service.update_text import with_base, with_protocol_dataset

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
    refuse_remote(operation, ctx.settings.federation_endpoints)
    async with ctx.write_lock:
        plan = await anyio.to_thread.run_sync(
            partial(plan_update, ctx.store, operation, ctx.ingestor.validator)
        )
        if plan.text:
            async with ctx.executor.writing():
                await anyio.to_thread.run_sync(ctx.store.update, plan.text)
            ctx.cache.written()
    summary = {
        "changed": [graph.value for graph in plan.changed],
        "warnings": len(plan.report.warnings),
    }
    return Response(json.dumps(summary).encode(), media_type="application/json")


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
