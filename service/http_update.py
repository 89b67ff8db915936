"""`POST /update`: SPARQL 1.1 Update, with the write token, SHACL-validated before commit.

See `update_plan.py` for how an update is checked. Writers are serialised by the
app's write lock (so the checked plan is still true when applied); readers are held
only while the validated outcome is written (`executor.writing()`).

SPARQL 1.1 Protocol §2.2.3: `using-graph-uri` / `using-named-graph-uri` (in the URL or
the form) give the dataset of every operation's WHERE, as `USING` / `USING NAMED`
clauses would; they are written into the update as such (`DELETE WHERE { P }` becomes
`DELETE { P } USING … WHERE { P }`, its definition). An update that names its own dataset
(`USING`, `USING NAMED` or `WITH`) as well is refused. Relative IRIs resolve against the
service's base IRI, `CITYTOOLS_BASE_IRI` (the one data IRIs are minted under): stored data
never depends on the host name a client used.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
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
)
from citytools.service.http_deps import Context
from citytools.service.sparql_scan import _TOKEN, refuse_remote
from citytools.service.update_plan import plan_update

router = APIRouter(tags=["SPARQL 1.1 Update"])

SPARQL_UPDATE = "application/sparql-update"
USING_PARAMETERS = ("using-graph-uri", "using-named-graph-uri")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


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
        params = request.query_params
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


Token = tuple[str, str, int, int]  # kind, text, start, end


def _tokens(sparql: str) -> list[Token]:
    return [
        (m.lastgroup or "other", m.group(), m.start(), m.end())
        for m in _TOKEN.finditer(sparql)
        if m.lastgroup not in ("comment", "space")
    ]


def _operations(tokens: Sequence[Token]) -> list[list[Token]]:
    """The tokens of each operation: split at the top-level `;`, braces balanced."""
    operations: list[list[Token]] = [[]]
    depth = 0
    for token in tokens:
        kind, word = token[0], token[1]
        if kind == "other" and word in "{}":
            depth += 1 if word == "{" else -1
        if depth == 0 and kind == "other" and word == ";":
            operations.append([])
        else:
            operations[-1].append(token)
    return operations


def _top_level(operation: Sequence[Token]) -> list[tuple[int, str]]:
    """(index, upper-case keyword) of each word outside braces."""
    words, depth = [], 0
    for index, (kind, word, _, _) in enumerate(operation):
        if kind == "other" and word in "{}":
            depth += 1 if word == "{" else -1
        elif depth == 0 and kind == "word":
            words.append((index, word.upper()))
    return words


def _group_end(operation: Sequence[Token], start: int) -> int:
    """The index of the `}` closing the group that opens at token `start`."""
    depth = 0
    for index in range(start, len(operation)):
        word = operation[index][1]
        if operation[index][0] == "other" and word in "{}":
            depth += 1 if word == "{" else -1
            if depth == 0:
                return index
    raise InputError("malformed update: a '{' is not closed")


def with_protocol_dataset(update: str, default: Sequence[str], named: Sequence[str]) -> str:
    """The update with the protocol's dataset written as USING / USING NAMED clauses."""
    if not default and not named:
        return update
    using = " ".join([*(f"USING <{g}>" for g in default), *(f"USING NAMED <{g}>" for g in named)])
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement) in the text
    for operation in _operations(_tokens(update)):
        words = _top_level(operation)
        keywords = [word for _, word in words]
        if "WITH" in keywords or "USING" in keywords:
            raise InputError(
                "the update names its dataset (USING, USING NAMED or WITH) and the request "
                "gives one too (using-graph-uri / using-named-graph-uri): give only one"
            )
        for position, (index, word) in enumerate(words):
            if word != "WHERE" or position == 0:
                continue
            if words[position - 1][1] == "DELETE" and words[position - 1][0] == index - 1:
                # DELETE WHERE { P } is DELETE { P } WHERE { P }, where USING can go.
                close = _group_end(operation, index + 1)
                pattern = update[operation[index + 1][2] : operation[close][3]]
                edits.append((operation[index][2], operation[index][2], f"{pattern} {using} "))
            elif "INSERT" in keywords or "DELETE" in keywords:
                edits.append((operation[index][2], operation[index][2], f"{using} "))
    for start, end, replacement in sorted(edits, reverse=True):
        update = update[:start] + replacement + update[end:]
    return update


def with_base(update: str, base: str) -> str:
    """The update with `BASE <base>` in front when it holds a relative IRI."""
    relative = any(
        kind == "iri" and not _SCHEME.match(word[1:-1]) for kind, word, _, _ in _tokens(update)
    )
    return f"BASE <{base}> {update}" if relative else update  # same line: line numbers hold
