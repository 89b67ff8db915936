"""`GET/POST /sparql`: the SPARQL 1.1 Protocol query endpoint and its Service Description.

The one way in for a read by SPARQL: a GET, a form POST and an `application/sparql-query`
POST each read their parameters, then take the same path (`_answer`): a 304 when the
client's copy is current, else `AppContext.answer` decides once whether the answer is
ready now (the cache, the inline lane) or is worth a worker. Errors are raised to the
handlers of `errors.py` and requests are counted by `middleware.Observer`, as on every
route.

This is the hot path, so its routes are `PlainRoute`s: parameters are read by hand from
the query string or body, and the only dependency is the app context. Relative IRIs in a
query resolve against the service's base IRI, `CITYTOOLS_BASE_IRI` (SPARQL 1.1
Protocol: a service-defined base), so `<authority/E09000012>` names the same resource as
in the data.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import anyio
from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from pyoxigraph import BlankNode, Literal, NamedNode, QuerySolutions, Triple, serialize
from starlette.exceptions import HTTPException
from starlette.responses import Response

from citytools import vocab as v
from citytools.errors import InputError, ParameterError
from citytools.service.engine.execution import QueryRequest
from citytools.service.http import conneg
from citytools.service.http.body import (
    FORM,
    Params,
    form_and_url_params,
    media_type,
    single,
    text,
    url_params,
)
from citytools.service.http.cache import (
    CachedAnswer,
    CacheKey,
    Validators,
    validator_headers,
)
from citytools.service.http.deps import AppContext, context_of
from citytools.service.store.interface import GraphStore
from citytools.settings import Settings


class PlainRoute(APIRoute):
    """A route whose endpoint takes the request and returns its response itself: FastAPI's
    handler would first solve the endpoint's dependencies, and in doing so decode the
    whole query string (a query in a URL is mostly percent escapes), which costs about
    as much as answering a cached query. The route is documented by its `openapi_extra`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint: Callable[[Request], Coroutine[Any, Any, Response]] = self.endpoint
        return endpoint


router = APIRouter(tags=["SPARQL 1.1 Protocol"], route_class=PlainRoute)

SPARQL_QUERY = "application/sparql-query"
SPARQL_UPDATE = "application/sparql-update"
UPDATE_REFUSED = "SPARQL Update is not accepted on /sparql: POST it to /update (with the token)"
PROTOCOL_PARAMETERS = [
    {"name": "query", "in": "query", "schema": {"type": "string"}},
    {"name": "default-graph-uri", "in": "query", "schema": {"type": "array"}},
    {"name": "named-graph-uri", "in": "query", "schema": {"type": "array"}},
    {"name": "format", "in": "query", "schema": {"type": "string"}},
]


@dataclass(frozen=True)
class Formats:
    """What the client accepts for each family; None = nothing acceptable in it."""

    solutions: conneg.Offer | None
    graphs: conneg.Offer | None

    def key(self) -> tuple[str, str]:
        return (
            self.solutions.name if self.solutions else "-",
            self.graphs.name if self.graphs else "-",
        )


@router.get("/sparql", openapi_extra={"parameters": PROTOCOL_PARAMETERS})
async def sparql_get(request: Request) -> Response:
    """Query by `?query=`; without one, the SPARQL 1.1 Service Description."""
    ctx = context_of(request)
    params = url_params(request)
    if "update" in params:
        raise InputError(UPDATE_REFUSED + " (a GET never executes an update)")
    query = single(params, "query")
    if query is None:
        return await _service_description(request, ctx, params)
    return await _answer(request, ctx, query, params, conditional=True)


@router.post("/sparql", openapi_extra={"parameters": PROTOCOL_PARAMETERS})
async def sparql_post(request: Request) -> Response:
    """Query by form-encoded `query=` or an `application/sparql-query` body."""
    ctx = context_of(request)
    kind = media_type(request)
    if kind == FORM:
        params = await form_and_url_params(request)
        if "update" in params:
            raise InputError(UPDATE_REFUSED)
        query = single(params, "query")
    elif kind == SPARQL_QUERY:
        params = url_params(request)
        query = text(await request.body(), "the query")
    elif kind == SPARQL_UPDATE:
        raise InputError(UPDATE_REFUSED)
    else:
        raise HTTPException(
            415, f"POST the query as {FORM} (query=…) or as {SPARQL_QUERY}, not '{kind}'"
        )
    if not query:
        raise InputError("no query: send query=… or an application/sparql-query body")
    return await _answer(request, ctx, query, params, conditional=False)


def negotiate(request: Request, params: Params) -> Formats:
    """`format=` wins over Accept."""
    return Formats(
        *conneg.choose(
            request.headers.get("accept"),
            params.getlist("format"),
            conneg.SOLUTIONS,
            conneg.GRAPHS,
            what="a query answer",
        )
    )


def _graph_iris(params: Params, name: str) -> tuple[str, ...]:
    iris = []
    for value in params.getlist(name):
        try:
            iris.append(NamedNode(value.strip()).value)
        except ValueError:
            raise ParameterError(name, f"{value!r} is not an absolute IRI") from None
    return tuple(iris)


@dataclass(frozen=True)
class Asked:
    """A query as a protocol request asks it: its text, dataset and acceptable formats."""

    query: str
    default_graph: tuple[str, ...]  # SPARQL 1.1 Protocol §2.1.4: given graphs make up
    named_graphs: tuple[str, ...]  # the whole dataset; none = the product's default
    formats: Formats

    def key(self) -> CacheKey:
        given = bool(self.default_graph or self.named_graphs)
        return (
            "sparql",
            self.query,
            " ".join(self.default_graph) if given else "*",
            " ".join(self.named_graphs) if given else "*",
            *self.formats.key(),
        )

    def request(self, settings: Settings) -> QueryRequest:
        """What to evaluate. An unacceptable family still gets its default: the answer's
        kind is known only after evaluation, and is checked then (`headers`)."""
        given = bool(self.default_graph or self.named_graphs)
        return QueryRequest(
            sparql=self.query,
            default_graph=self.default_graph if given else None,
            named_graphs=self.named_graphs if given else None,
            solutions_format=(self.formats.solutions or conneg.JSON).media_type,
            graph_format=(self.formats.graphs or conneg.TURTLE).media_type,
            max_results=settings.max_results,
            base_iri=settings.base_iri,
        )

    def headers(self, cached: CachedAnswer, validators: Validators | None) -> dict[str, str]:
        """The answer's headers besides its type, with the validators when given (the
        answer is still current at their version); 406 when its kind has no acceptable
        format."""
        solutions = cached.kind in ("select", "ask")
        if (self.formats.solutions if solutions else self.formats.graphs) is None:
            family = conneg.SOLUTIONS if solutions else conneg.GRAPHS
            raise conneg.not_acceptable(f"the answer of a {cached.kind.upper()} query", family)
        headers = dict(cached.headers)
        if validators is not None:
            headers.update(validator_headers(validators))
        return headers


async def _answer(
    request: Request, ctx: AppContext, query: str, params: Params, *, conditional: bool
) -> Response:
    asked = Asked(
        query,
        _graph_iris(params, "default-graph-uri"),
        _graph_iris(params, "named-graph-uri"),
        negotiate(request, params),
    )
    key = asked.key()
    version, validators, unchanged = ctx.revalidate(request, key, conditional=conditional)
    if unchanged is not None:
        return unchanged
    cached, fresh = await ctx.answer(version, key, asked.request(ctx.settings))
    headers = asked.headers(cached, validators if conditional and fresh else None)
    return Response(cached.body, headers=headers, media_type=cached.media_type)


async def _service_description(request: Request, ctx: AppContext, params: Params) -> Response:
    offer = negotiate(request, params).graphs
    if offer is None:
        raise conneg.not_acceptable("the service description (RDF)", conneg.GRAPHS)
    endpoint = str(request.url.replace(query=None, fragment=None))
    key: CacheKey = ("service-description", endpoint, offer.name)
    version, validators, unchanged = ctx.revalidate(request, key)
    if unchanged is not None:
        return unchanged
    cached = ctx.cache.get(version, key)
    if cached is None:
        federation = bool(ctx.settings.federation_endpoints)
        triples = await anyio.to_thread.run_sync(describe, ctx.store, endpoint, federation)
        body = serialize(triples, format=offer.rdf_format, prefixes=SD_PREFIXES) or b""
        cached = CachedAnswer(body, offer.content_type, "graph")
        ctx.cache.put(version, key, cached)
    else:
        ctx.metrics.cache_hits.inc()
    return Response(
        cached.body, headers=validator_headers(validators), media_type=cached.media_type
    )


SD_PREFIXES = {"sd": str(v.SD), "void": str(v.VOID), "formats": str(v.FORMATS)}
GRAPH_SIZES = "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"


def describe(store: GraphStore, endpoint: str, federation: bool) -> list[Triple]:
    """The SPARQL 1.1 Service Description: endpoint, formats, features, default dataset."""
    service, dataset, default = BlankNode(), BlankNode(), BlankNode()
    features = [v.SD.UnionDefaultGraph, *([v.SD.BasicFederatedQuery] if federation else [])]
    triples = [
        Triple(service, v.RDF.type, v.SD.Service),
        Triple(service, v.SD.endpoint, NamedNode(endpoint)),
        Triple(service, v.SD.supportedLanguage, v.SD.SPARQL11Query),
        *(Triple(service, v.SD.feature, f) for f in features),
        *(
            Triple(service, v.SD.resultFormat, v.FORMATS[o.w3c_name])
            for o in (*conneg.SOLUTIONS, *conneg.GRAPHS)
        ),
        Triple(service, v.SD.defaultDataset, dataset),
        Triple(dataset, v.RDF.type, v.SD.Dataset),
        Triple(dataset, v.SD.defaultGraph, default),
        Triple(default, v.RDF.type, v.SD.Graph),
    ]
    sizes = store.query(GRAPH_SIZES)
    assert isinstance(sizes, QuerySolutions)
    total = 0
    for row in sizes:
        graph, count = row["g"], row["n"]
        if not isinstance(graph, NamedNode) or not isinstance(count, Literal):
            continue
        total += int(count.value)
        named, described = BlankNode(), BlankNode()
        triples += [
            Triple(dataset, v.SD.namedGraph, named),
            Triple(named, v.RDF.type, v.SD.NamedGraph),
            Triple(named, v.SD.name, graph),
            Triple(named, v.SD.graph, described),
            Triple(described, v.RDF.type, v.SD.Graph),
            Triple(described, v.VOID.triples, _integer(int(count.value))),
        ]
    triples.append(Triple(default, v.VOID.triples, _integer(total)))
    return triples


def _integer(value: int) -> Literal:
    return Literal(str(value), datatype=v.XSD.integer)
