"""`/queries`: the saved-query catalogue, one OpenAPI operation per query, answers in every format.

`GET /queries` lists the catalogue (JSON, or HTML for browsers); `GET /queries/{name}`
runs a query with its parameters from the query string (SPARQL JSON/XML/CSV/TSV, or
an HTML table with a chart and the parameters form) by `format=` or `Accept`;
`GET /queries/{name}.rq` is the query text. A route is generated per query when the
router is built, so `/docs` shows each one with its typed parameters.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import replace
from urllib.parse import urlencode

import anyio
from fastapi import APIRouter, Request
from pyoxigraph import QueryBoolean
from starlette.responses import RedirectResponse, Response

from citytools import vocab as v
from citytools.errors import NotFound, ParameterError
from citytools.service.catalogue.resolver import StoreResolver
from citytools.service.catalogue.saved import Catalogue, SavedQuery
from citytools.service.http import conneg
from citytools.service.http.body import Params, single, url_params
from citytools.service.http.cache import (
    TRUNCATED_HEADER,
    CachedAnswer,
    CacheKey,
    validator_headers,
)
from citytools.service.http.deps import AppContext, context_of
from citytools.service.http.pages import queries as query_pages
from citytools.service.store.interface import GraphStore

SPARQL_QUERY = "application/sparql-query; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
HTML = conneg.Offer("html", "text/html", "", ("application/xhtml+xml",))  # the page
FORMAT_NAMES = [o.name for o in (*conneg.SOLUTIONS, HTML)]
ILLUSTRATIVE = f"ASK {{ ?graph {v.ILLUSTRATIVE} true }}"
ANSWER_TYPES = {o.media_type: {"schema": {"type": "string"}} for o in conneg.SOLUTIONS}

Handler = Callable[[Request], Awaitable[Response]]


def queries_router(catalogue: Catalogue) -> APIRouter:
    """Routes for every query of `catalogue`; the app reaches its store through `context_of`."""
    router = APIRouter(tags=["Saved queries"])
    pages = query_pages.Pages()

    @router.get(
        "/queries",
        summary="The saved-query catalogue",
        openapi_extra={"parameters": [_format_parameter(["json", HTML.name])]},
    )
    async def list_queries(request: Request) -> Response:
        """Every saved query with its parameters, as JSON or an HTML page."""
        root = request.scope.get("root_path", "")
        if _wants(request, url_params(request), (conneg.JSON,)) is HTML:
            body = pages.render("queries.html", queries=list(catalogue), root=root)
            return Response(body, media_type=HTML_TYPE)
        listing = [
            {
                **q.as_json(),
                "url": f"{root}/queries/{q.name}",
                "sparql": f"{root}/queries/{q.name}.rq",
            }
            for q in catalogue
        ]
        return Response(json.dumps({"queries": listing}), media_type="application/json")

    for query in catalogue:
        router.add_api_route(
            f"/queries/{query.name}",
            _runner(catalogue, query, pages),
            methods=["GET"],
            operation_id=query.name,
            summary=query.title,
            description=query.description,
            openapi_extra={"parameters": _parameters(query)},
            responses={200: {"content": {**ANSWER_TYPES, "text/html": {}}}},
        )

    @router.get("/", include_in_schema=False)
    async def home(request: Request) -> Response:
        """Until the linked-data browser's home page: the catalogue is where people start."""
        return RedirectResponse(f"{request.scope.get('root_path', '')}/queries", 307)

    @router.get("/queries/{name}.rq", summary="The text of a saved query")
    async def query_text(name: str) -> Response:
        """The `.rq` file, header included: a valid SPARQL query."""
        return Response(catalogue.get(name).text, media_type=SPARQL_QUERY)

    @router.get("/queries/{name}", include_in_schema=False)
    async def unknown_query(name: str) -> Response:
        raise NotFound(f"no saved query '{name}'; see /queries for the list")

    return router


def _runner(catalogue: Catalogue, query: SavedQuery, pages: query_pages.Pages) -> Handler:
    async def run_saved_query(request: Request) -> Response:
        ctx = context_of(request)
        params = url_params(request)
        wanted = _wants(request, params, conneg.SOLUTIONS)
        raw = _raw_parameters(params)
        resolver = StoreResolver(ctx.store)
        try:
            base = await anyio.to_thread.run_sync(catalogue.request, query.name, raw, resolver)
        except ParameterError as exc:
            if wanted is not HTML:
                raise
            # A first visit without parameters gets the form, not an error.
            error, status = (None, 200) if not raw else (str(exc), 422)
            body = await _page(request, ctx, pages, query, raw, error=error)
            return Response(body, status, media_type=HTML_TYPE)
        offer = conneg.JSON if wanted is HTML else wanted
        request_data = replace(
            base, solutions_format=offer.media_type, max_results=ctx.settings.max_results
        )
        key: CacheKey = (
            "queries",
            query.name,
            json.dumps(request_data.substitutions, sort_keys=True),
            wanted.name,
        )
        version, validators, unchanged = ctx.revalidate(request, key)
        if unchanged is not None:
            return unchanged
        if wanted is HTML:
            answer, fresh = await ctx.answer(version, (*key, "json"), request_data)
            body = await _page(request, ctx, pages, query, raw, answer=answer)
            headers = validator_headers(validators) if fresh else {}
            return Response(body, headers=headers, media_type=HTML_TYPE)
        answer, fresh = await ctx.answer(version, key, request_data)
        headers = {**(validator_headers(validators) if fresh else {}), **dict(answer.headers)}
        return Response(answer.body, headers=headers, media_type=answer.media_type)

    run_saved_query.__doc__ = query.description
    return run_saved_query


def _wants(request: Request, params: Params, offers: tuple[conneg.Offer, ...]) -> conneg.Offer:
    """The format: `format=` wins over `Accept`; browsers get the HTML page."""
    name = single(params, "format")
    accept = request.headers.get("accept")
    if name is None and conneg.prefers_html(conneg.parse_accept(accept)):
        return HTML
    names = [name] if name is not None else []
    return conneg.choose_one(accept, names, (*offers, HTML), "the saved query's answer")


def _raw_parameters(params: Params) -> dict[str, str]:
    raw = {}
    for name in params:
        if name == "format":
            continue
        values = params.getlist(name)
        if len(values) > 1:
            raise ParameterError(name, f"given {len(values)} times; give it once")
        raw[name] = values[0]
    return raw


async def _page(
    request: Request,
    ctx: AppContext,
    pages: query_pages.Pages,
    query: SavedQuery,
    raw: dict[str, str],
    *,
    answer: CachedAnswer | None = None,
    error: str | None = None,
) -> str:
    """The HTML page: banner, form, chart, table and links to the other formats."""
    root = request.scope.get("root_path", "")
    illustrative = await anyio.to_thread.run_sync(_illustrative, ctx.store)
    table, figure, rows = None, None, 0
    if answer is not None:
        variables, solutions = query_pages.solutions(answer.body)
        bound = {p.name for p in query.parameters if raw.get(p.name) or p.default is not None}
        table = query_pages.table(
            variables, solutions, hidden=bound, base_iri=ctx.settings.base_iri, root=root
        )
        if query.chart is not None:
            figure = query_pages.chart(query.chart, solutions, query.title)
        rows = len(solutions)
    given = {k: value for k, value in raw.items() if value.strip()}
    links = {
        name: f"{root}/queries/{query.name}?{urlencode({**given, 'format': name})}"
        for name in ("json", "csv", "tsv", "xml")
    }
    return pages.render(
        "query.html",
        query=query,
        values=raw,
        error=error,
        table=table,
        chart=figure,
        rows=rows,
        truncated=answer is not None and any(h[0] == TRUNCATED_HEADER for h in answer.headers),
        illustrative=illustrative,
        links=links,
        root=root,
    )


def _illustrative(store: GraphStore) -> bool:
    """True when any loaded source graph is marked illustrative (demo data)."""
    answer = store.query(ILLUSTRATIVE)
    return bool(answer) if isinstance(answer, QueryBoolean) else False


def _format_parameter(names: list[str]) -> dict[str, object]:
    return {
        "name": "format",
        "in": "query",
        "required": False,
        "description": "Answer format (overrides Accept)",
        "schema": {"type": "string", "enum": names},
    }


def _parameters(query: SavedQuery) -> list[dict[str, object]]:
    """The OpenAPI parameters of one saved query: its own, typed, and `format`."""
    described = []
    for p in query.parameters:
        schema = p.type.schema()
        if p.default is not None:
            schema["default"] = _json_value(p.type.name, p.default)
        for keyword, bound in (("minimum", p.minimum), ("maximum", p.maximum)):
            if bound is not None and p.type.name != "xsd:date":
                schema[keyword] = _json_value(p.type.name, bound)
        described.append(
            {
                "name": p.name,
                "in": "query",
                "required": p.required,
                "description": f"{p.description} ({p.type.help()})",
                "schema": schema,
            }
        )
    return [*described, _format_parameter(FORMAT_NAMES)]


def _json_value(type_name: str, text: str) -> object:
    """A header value (default, min, max) as the JSON value its schema type expects."""
    if type_name == "xsd:integer":
        return int(text)
    if type_name == "xsd:decimal":
        return float(text)
    if type_name == "xsd:boolean":
        return text.strip().lower() in ("true", "1")
    return text
