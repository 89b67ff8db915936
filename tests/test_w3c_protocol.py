"""The W3C SPARQL 1.1 Protocol and Graph Store Protocol test suites, over a real server.

Every entry of the manifests in tests/data/w3c/ (read by `w3c_manifest`) is one test. It
sends the entry's requests as the manifest writes them (method, headers, body, and the
query string with its percent-encoding kept) and checks every expectation the manifest
states, as it states it: the status or status class, the result format and ASK boolean,
the Content-Type, the RDF body (the whole graph, isomorphic with rdflib: nothing is set
aside), and the Location, bound to the manifest's template variable for the requests that
follow. Each entry maps, by the local name of its IRI, to a small function below that says
which of our endpoints its requests go to; an entry with no function fails, so the mapping
stays complete when the manifests change. The expected results are never adapted: an
entry we do not pass is marked `xfail(strict=True)` in `DEVIATIONS` with the reason, so it
counts as a failure and fails loudly once it passes.

The liberties taken, all of them:

* **Paths.** The manifests leave the endpoints' paths to the runner. `/sparql/` is our
  `/sparql` for queries and `/update` for updates (the protocol lets a service use
  separate endpoints); `/gsp` is `/store`, with `?graph=…` and `?default` as written.
  Direct graph identification (`/gsp/person/1.ttl`, the request URL being the graph IRI
  `http://www.example/gsp/person/1.ttl`) has no route of ours (SPEC fixes
  `/store?graph=IRI`), so the same IRI is given indirectly: `/store?graph=http%3A%2F%2F…`.
* **The write token.** Requests to `/update` and `PUT`/`POST`/`DELETE` requests to
  `/store` carry `Authorization: Bearer …` (SPEC: writes need it; the manifests do not
  model authentication). Reads go without it.
* **A fresh store per entry**, as the manifests assume (`put_get_repeat_indirect` expects
  its first PUT to create the graph). The fresh store is a copy of a store as its first
  start leaves it (`pristine`). An entry that writes (`writes`: graph data, an update, a
  Graph Store write not meant to be refused) gets its own server over its own copy; the
  entries that write nothing share one server over one copy, and each must find the
  store at the version it started with and leave it there, so each meets exactly the
  pristine store (that server's answer cache may already hold an answer to the same
  request, the same bytes for the same store version). The entries' `ut:graphData`
  files are PUT into their named graphs first. (One server reset by `DROP ALL` between
  entries would not give a fresh store: `DROP ALL` leaves the service's graphs, and the
  provenance graph would keep the record of every earlier entry's writes, which the
  write path itself reads.)

A fresh store is not an empty one: the service always keeps graphs of its own, the
reference data, the ontology and the provenance graph (SPEC: reference data "is put into
its own named graphs automatically when a store is first used"). They are invisible to
every entry, and `test_no_request_can_see_the_service_graphs` shows it, request by
request, from the manifests themselves: each Graph Store request names a graph of the
test's own or `?default` (the stored default graph, empty in a fresh store); each query
and update the server is meant to evaluate reads data only in a dataset its request
names (`default-graph-uri`, `named-graph-uri`, `using-…`, `FROM`, `USING`), in a
`GRAPH <iri>` of the test's own, or in the stored default graph (an update that names no
graph), or reads no data at all (`ASK {}`, `CONSTRUCT … WHERE {}`). A query over the
whole union, where the reference data would show, would be listed there and counted as a
deviation, not edited.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
import rdflib
from http_support import TOKEN, serving, settings_for
from rdflib.compare import isomorphic
from rdflib.plugins.sparql.algebra import translateQuery, translateUpdate
from rdflib.plugins.sparql.parser import parseQuery, parseUpdate
from rdflib.plugins.sparql.parserutils import CompValue
from w3c_manifest import Entry, Request, entries

pytestmark = pytest.mark.slow

ENTRIES = entries()
AUTH = {"authorization": f"Bearer {TOKEN}"}
SOLUTION_TYPES = {
    "boolean": ("application/sparql-results+json", "application/sparql-results+xml"),
    "tabular": (
        "application/sparql-results+json",
        "application/sparql-results+xml",
        "text/csv",
        "text/tab-separated-values",
    ),
}
# What the manifest's names allow for CONSTRUCT/DESCRIBE: "RDF/XML, Turtle, N-Triples, RDFa".
RDF_TYPES = {
    "application/rdf+xml": "xml",
    "text/turtle": "turtle",
    "application/n-triples": "nt",
}
RDF_SYNTAX = {**RDF_TYPES, "application/ld+json": "json-ld"}
SRES = "{http://www.w3.org/2005/sparql-results#}"
GRAPHS = "SELECT DISTINCT ?g WHERE { GRAPH ?g { } }"

# The graphs the service keeps itself (SPEC; settings_for keeps the default base IRI).
BASE = "https://w3id.org/citytools/id/"
PROVENANCE = BASE + "graph/provenance"
REFERENCE = BASE + "graph/reference/"
ONTOLOGY = "https://w3id.org/citytools/ontology"


def is_service_graph(iri: str) -> bool:
    return iri in (PROVENANCE, ONTOLOGY) or iri.startswith(REFERENCE)


# Entries we do not pass, counted as failures: key -> why (the product bug or the suite's
# requirement we cannot meet). Each is xfail(strict=True): it fails loudly once it passes.
DEVIATIONS: dict[str, str] = {}


# --- the server: a fresh store per entry ---------------------------------------------------


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store as its first start leaves it (the service's own graphs and nothing else),
    closed, to be copied for each entry."""
    root = tmp_path_factory.mktemp("w3c-pristine")
    with (
        serving(settings_for(root)) as url,
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        names = graph_names(client)
        assert {PROVENANCE, ONTOLOGY} <= names, names
        assert all(is_service_graph(name) for name in names), sorted(names)
        default = client.get("/store", params={"default": ""}, headers={"accept": "text/turtle"})
        assert default.status_code == 200, default.text
        assert len(parse_rdf(default)) == 0, default.text
    return root / "store"


@pytest.fixture
def fresh(pristine: Path, tmp_path: Path) -> Iterator[httpx.Client]:
    """uvicorn on 127.0.0.1, with a write token, over a fresh copy of the pristine store."""
    shutil.copytree(pristine, tmp_path / "store")
    with (
        serving(settings_for(tmp_path)) as url,
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def shared(pristine: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """One server over a copy of the pristine store, for the entries that write nothing:
    `test_w3c` checks that the store's version is the one it started with before and after
    each of them, so each meets the pristine store (a fresh one) and leaves it so."""
    root = tmp_path_factory.mktemp("w3c-shared")
    shutil.copytree(pristine, root / "store")
    with (
        serving(settings_for(root)) as url,
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def pristine_version(shared: httpx.Client) -> int:
    return store_version(shared)


def graph_names(client: httpx.Client) -> set[str]:
    response = client.get("/sparql", params={"query": GRAPHS})
    assert response.status_code == 200, response.text
    return {row["g"]["value"] for row in response.json()["results"]["bindings"]}


# --- running an entry ---------------------------------------------------------------------


class Run:
    """One entry's connection: sends its requests and checks the expected responses."""

    def __init__(
        self, client: httpx.Client, entry: Entry, *, charset_optional: bool = False
    ) -> None:
        self.client = client
        self.entry = entry
        self.charset_optional = charset_optional  # "charset=utf-8" expected may be left out
        self.variables: dict[str, str] = {}  # mf:expectedLocation templates

    @property
    def requests(self) -> tuple[Request, ...]:
        return self.entry.requests

    def load_graph_data(self) -> None:
        """`ut:graphData`: each file into the named graph its label names."""
        for data in self.entry.graph_data:
            response = self.client.put(
                "/store",
                params={"graph": data.name},
                content=data.file.read_bytes(),
                headers={**AUTH, "content-type": "application/n-triples"},
            )
            assert response.status_code == 201, response.text

    def send(self, request: Request, path: str) -> httpx.Response:
        """The request as written, to `path` (raw: its percent-encoding is kept), with the
        write token when it goes to a write route."""
        headers = dict(request.headers)
        if is_write(request.method, path):
            headers.update(AUTH)
        body = None
        if request.body is not None:
            body = self._fill(request.body).encode(request.encoding.lower())
        return self.client.request(request.method, self._fill(path), headers=headers, content=body)

    def perform(self, request: Request, path: str) -> httpx.Response:
        """Send, then check the status, format, headers, body and Location expected."""
        response = self.send(request, path)
        self.check(request, response)
        return response

    def all(self, *routes: Callable[[str], str]) -> list[httpx.Response]:
        """Every request in order; the i-th goes to routes[i] (the last route for the rest)."""
        return [
            self.perform(r, routes[min(i, len(routes) - 1)](r.path))
            for i, r in enumerate(self.requests)
        ]

    def check(self, request: Request, response: httpx.Response) -> None:
        expected = request.expected
        where = f"{request.method} {response.request.url}"
        assert expected.allows(response.status_code), (
            f"{where}: status {response.status_code}, expected one of "
            f"{', '.join(expected.statuses)}: {response.text[:500]}"
        )
        if expected.format is not None:
            value = result_of(expected.format, response)
            if expected.boolean is not None:
                assert value is expected.boolean, f"{where}: answer {value}"
        wanted_type = expected.header("content-type")
        if wanted_type is not None:
            actual = response.headers.get("content-type", "")
            assert same_media_type(actual, wanted_type, self.charset_optional), (
                f"{where}: Content-Type {response.headers.get('content-type')!r}, "
                f"expected {wanted_type!r}"
            )
        if expected.body is not None:
            graph = parse_rdf(response)
            wanted = rdflib.Graph().parse(data=expected.body, format=syntax_of(wanted_type))
            assert isomorphic(graph, wanted), (
                f"{where}: the graph differs from the expected one:\n{graph.serialize(format='nt')}"
            )
        if expected.location is not None:
            location = response.headers.get("location")
            assert location, f"{where}: no Location header"
            self.variables[expected.location] = location

    def _fill(self, text: str) -> str:
        for variable, value in self.variables.items():
            text = text.replace(variable, value)
        return text


def is_write(method: str, path: str) -> bool:
    """Whether a request to `path` (ours) goes to a route that needs the write token."""
    route = urlsplit(path).path
    return route == "/update" or (route == "/store" and method not in ("GET", "HEAD"))


def result_of(kind: str, response: httpx.Response) -> bool | int:
    """Check `mf:expectedFormat`; the boolean of an ASK, else the number of rows/triples."""
    media_type = media_type_of(response)
    if kind == "RDF":
        assert media_type in RDF_TYPES, f"{media_type!r} is not one of {sorted(RDF_TYPES)}"
        return len(parse_rdf(response))
    assert media_type in SOLUTION_TYPES[kind], f"{media_type!r} is not a {kind} result"
    if media_type == "application/sparql-results+json":
        document = json.loads(response.content)
        if kind == "boolean":
            assert isinstance(document["boolean"], bool)
            return bool(document["boolean"])
        return len(document["results"]["bindings"])
    if media_type == "application/sparql-results+xml":
        root = ET.fromstring(response.content)
        if kind == "boolean":
            found = root.find(f"{SRES}boolean")
            assert found is not None, response.text
            assert found.text in ("true", "false"), response.text
            return found.text == "true"
        return len(root.findall(f"{SRES}results/{SRES}result"))
    delimiter = "," if media_type == "text/csv" else "\t"
    return len(list(csv.reader(io.StringIO(response.text), delimiter=delimiter))) - 1


def media_type_of(response: httpx.Response) -> str:
    return str(response.headers.get("content-type", "")).split(";")[0].strip().lower()


def same_media_type(actual: str, expected: str, charset_optional: bool = False) -> bool:
    """Equal media types with equal parameters (names and charset values case-insensitive);
    with `charset_optional`, an expected `charset=utf-8` may be missing."""

    def parts(value: str) -> tuple[str, frozenset[str]]:
        kind, *params = (p.strip().lower() for p in value.split(";"))
        return kind, frozenset(p.replace(" ", "") for p in params if p)

    if parts(actual) == parts(expected):
        return True
    kind, params = parts(expected)
    return charset_optional and parts(actual) == (kind, params - {"charset=utf-8"})


def syntax_of(content_type: str | None) -> str:
    kind = (content_type or "text/turtle").split(";")[0].strip().lower()
    return RDF_SYNTAX[kind]


def parse_rdf(response: httpx.Response) -> rdflib.Graph:
    return rdflib.Graph().parse(data=response.content, format=syntax_of(media_type_of(response)))


# --- where each request goes --------------------------------------------------------------


def on_query(path: str) -> str:
    """`/sparql/…` -> `/sparql…`, the query endpoint."""
    return "/sparql" + path.removeprefix("/sparql/")


def on_update(path: str) -> str:
    """`/sparql/…` -> `/update…`, the update endpoint."""
    return "/update" + path.removeprefix("/sparql/")


def on_store(path: str) -> str:
    """`/gsp…` -> `/store…` (indirect identification: `?graph=`, `?default`)."""
    assert path == "/gsp" or path.startswith("/gsp?"), path
    return "/store" + path.removeprefix("/gsp")


def on_store_direct(entry: Entry) -> Callable[[str], str]:
    """Direct identification (the graph IRI is the request URL) as indirect identification.

    SPEC fixes the Graph Store route as `/store` with `?graph=IRI`; there is no route per
    graph. The IRI a direct request names, `http://{authority}/gsp/…`, is given with
    `?graph=` instead; the requests, bodies and expectations are otherwise as written.
    """

    def route(path: str) -> str:
        assert path.startswith("/gsp/"), path
        return "/store?graph=" + quote(direct_iri(entry, path), safe="")

    return route


def direct_iri(entry: Entry, path: str) -> str:
    return f"http://{entry.authority}{path}"


def quads(client: httpx.Client) -> int:
    response = client.get("/health")
    return int(response.json()["store"]["quads"])


def store_version(client: httpx.Client) -> int:
    """The store's version: it changes on every write."""
    response = client.get("/health")
    return int(response.json()["store"]["version"])


def writes(entry: Entry) -> bool:
    """Whether the entry means to change the store: it loads graph data, or sends an update
    or a Graph Store write that is not to be refused."""
    if entry.graph_data:
        return True
    for request in entry.requests:
        if all(status.startswith("4") for status in request.expected.statuses):
            continue
        if entry.type == "GraphStoreProtocolTest":
            if request.method not in ("GET", "HEAD"):
                return True
        elif _is_update(request):
            return True
    return False


# --- what each request can see ------------------------------------------------------------
#
# Conservative: a request is cleared only when every pattern it evaluates is confined, by
# SPARQL's own rules, to graphs that are not the service's; anything not understood here
# is reported.

Context = rdflib.term.Node | None  # None: the default graph; an IRI or a variable: GRAPH


@dataclass(frozen=True)
class Unknown:
    """A pattern that reads data where this analysis cannot follow."""

    why: str


@dataclass(frozen=True)
class Dataset:
    """A dataset a request names (protocol parameters, FROM, USING); None when it names none."""

    default: tuple[str, ...]
    named: tuple[str, ...]

    def clear_of_service_graphs(self, context: Context) -> bool:
        graphs = self.default if context is None else self.named
        return not any(is_service_graph(g) for g in graphs)


def service_graph_reads(entry: Entry) -> list[str]:
    """How each request of the entry could see a service graph (empty: none can)."""
    found: list[str] = []
    for index, request in enumerate(entry.requests, start=1):
        if all(status.startswith("4") for status in request.expected.statuses):
            continue  # to be refused, before any data is read
        where = f"request {index} ({request.method} {request.path[:60]})"
        if entry.type == "GraphStoreProtocolTest":
            found += [f"{where}: {why}" for why in _gsp_reads(entry, request)]
        else:
            found += [f"{where}: {why}" for why in _operation_reads(request)]
    return found


def _gsp_reads(entry: Entry, request: Request) -> Iterator[str]:
    url = urlsplit(request.path)
    if url.path.startswith("/gsp/"):
        graph: str | None = direct_iri(entry, url.path)
    else:
        params = parse_qs(url.query, keep_blank_values=True)
        graph = params["graph"][0] if "graph" in params else None  # ?default, or POST /gsp
        if graph is not None and "$" in graph:
            graph = None  # a template: the graph an earlier request of the entry created
    if graph is not None and is_service_graph(graph):
        yield f"addresses the service graph <{graph}>"


def _operation(request: Request) -> tuple[str | None, str, dict[str, list[str]]]:
    """("query" or "update" or None, its text, the protocol parameters) of a request."""
    url = urlsplit(request.path)
    params = parse_qs(url.query, keep_blank_values=True)
    content_type = (request.header("content-type") or "").split(";")[0].strip()
    body = request.body or ""
    if content_type == "application/x-www-form-urlencoded":
        for name, values in parse_qs(body, keep_blank_values=True).items():
            params.setdefault(name, []).extend(values)
    for kind in ("query", "update"):
        if kind in params:
            return kind, params[kind][0], params
        if content_type == f"application/sparql-{kind}":
            return kind, body, params
    return None, body, params


def _is_update(request: Request) -> bool:
    return _operation(request)[0] == "update"


def _operation_reads(request: Request) -> Iterator[str]:
    kind, text, params = _operation(request)
    if kind == "query":
        yield from _query_reads(text, params)
    elif kind == "update":
        yield from _update_reads(text, params)
    else:
        yield "neither a query nor an update"


def _query_reads(text: str, params: dict[str, list[str]]) -> Iterator[str]:
    query = translateQuery(parseQuery(text)).algebra
    dataset = _dataset(
        params, "default-graph-uri", "named-graph-uri", _field(query, "datasetClause")
    )
    for context in _contexts(query):
        yield from _judge(context, dataset, default_is_stored=False)


def _update_reads(text: str, params: dict[str, list[str]]) -> Iterator[str]:
    for operation in translateUpdate(parseUpdate(text)).algebra:
        if operation.name in ("InsertData", "DeleteData", "Clear", "Drop", "Create"):
            continue  # they read nothing
        if operation.name != "Modify":
            yield f"{operation.name} is not analysed"
            continue
        dataset = _dataset(
            params, "using-graph-uri", "using-named-graph-uri", _field(operation, "using")
        )
        if dataset is None and _field(operation, "withClause") is not None:
            dataset = Dataset((str(operation["withClause"]),), ())
        for context in _contexts(operation["where"]):
            yield from _judge(context, dataset, default_is_stored=True)


def _dataset(
    params: dict[str, list[str]], default: str, named: str, clauses: Iterable[CompValue] | None
) -> Dataset | None:
    """The protocol's parameters replace the operation's FROM / USING clauses."""
    if default in params or named in params:
        return Dataset(tuple(params.get(default, ())), tuple(params.get(named, ())))
    if clauses:
        found = [(_field(c, "default"), _field(c, "named")) for c in clauses]
        return Dataset(
            tuple(str(d) for d, _ in found if d is not None),
            tuple(str(n) for _, n in found if n is not None),
        )
    return None


def _judge(
    context: Context | Unknown, dataset: Dataset | None, *, default_is_stored: bool
) -> Iterator[str]:
    if isinstance(context, Unknown):
        yield context.why
    elif isinstance(context, rdflib.URIRef):
        if is_service_graph(str(context)):
            yield f"reads the service graph <{context}>"
    elif dataset is not None:
        if not dataset.clear_of_service_graphs(context):
            yield f"names a service graph in its dataset {dataset}"
    elif context is None:
        if not default_is_stored:
            yield "reads the default graph of queries, the union of all graphs"
    else:
        yield f"GRAPH {context.n3()} ranges over every named graph"


def _field(node: CompValue, name: str) -> Any:
    """A field of a parsed SPARQL node, None when absent (`CompValue.get(name)` answers
    `name` itself then)."""
    return dict.get(node, name)


def _contexts(node: object, graph: Context = None) -> Iterator[Context | Unknown]:
    """The graph of each pattern that reads data."""
    if isinstance(node, CompValue):
        if node.name in ("Graph", "GraphGraphPattern"):
            inner = _field(node, "p" if node.name == "Graph" else "graph")
            yield from _contexts(inner, _field(node, "term"))
            return
        if node.name in ("BGP", "TriplesBlock") and _field(node, "triples"):
            yield graph
        elif node.name == "DescribeQuery":
            yield graph  # DESCRIBE reads the resources' descriptions
        elif "Service" in node.name:
            yield Unknown("SERVICE reads another endpoint")
        for key, value in node.items():
            if key != "_vars":
                yield from _contexts(value, graph)
    elif isinstance(node, list | tuple):
        for value in node:
            yield from _contexts(value, graph)


# --- SPARQL 1.1 Protocol: queries ---------------------------------------------------------

IMPLEMENTATIONS: dict[str, Callable[[Run], None]] = {}


def implements(key: str) -> Callable[[Callable[[Run], None]], Callable[[Run], None]]:
    def register(function: Callable[[Run], None]) -> Callable[[Run], None]:
        assert key not in IMPLEMENTATIONS, key
        IMPLEMENTATIONS[key] = function
        return function

    return register


@implements("query_post_form")
def query_post_form(run: Run) -> None:
    run.all(on_query)


@implements("query_dataset_default_graphs_get")
def query_dataset_default_graphs_get(run: Run) -> None:
    run.load_graph_data()
    run.all(on_query)


@implements("query_dataset_default_graphs_post")
def query_dataset_default_graphs_post(run: Run) -> None:
    run.load_graph_data()
    run.all(on_query)


@implements("query_dataset_named_graphs_post")
def query_dataset_named_graphs_post(run: Run) -> None:
    run.load_graph_data()
    run.all(on_query)


@implements("query_dataset_named_graphs_get")
def query_dataset_named_graphs_get(run: Run) -> None:
    run.load_graph_data()
    run.all(on_query)


@implements("query_dataset_full")
def query_dataset_full(run: Run) -> None:
    run.load_graph_data()
    run.all(on_query)


@implements("query_multiple_dataset")
def query_multiple_dataset(run: Run) -> None:
    # The protocol's named graphs replace the query's FROM: with FROM <data3> honoured
    # the default graph would hold data3, which this ASK does not test; it tests that
    # data1 and data2 are the named graphs.
    run.load_graph_data()
    run.all(on_query)


@implements("query_get")
def query_get(run: Run) -> None:
    run.all(on_query)


@implements("query_content_type_select")
def query_content_type_select(run: Run) -> None:
    (response,) = run.all(on_query)
    assert result_of("tabular", response) == 1


@implements("query_content_type_ask")
def query_content_type_ask(run: Run) -> None:
    run.all(on_query)


@implements("query_content_type_describe")
def query_content_type_describe(run: Run) -> None:
    run.all(on_query)


@implements("query_content_type_construct")
def query_content_type_construct(run: Run) -> None:
    # `<s>` and `<p>` are relative: they resolve against the service's base IRI.
    (response,) = run.all(on_query)
    assert result_of("RDF", response) == 1


@implements("query_post_direct")
def query_post_direct(run: Run) -> None:
    run.all(on_query)


# --- SPARQL 1.1 Protocol: updates (POSTed to /update, checked by a query on /sparql) ------


@implements("update_dataset_default_graph")
def update_dataset_default_graph(run: Run) -> None:
    run.all(on_update, on_query)


@implements("update_dataset_default_graphs")
def update_dataset_default_graphs(run: Run) -> None:
    run.all(on_update, on_query)


@implements("update_dataset_named_graphs")
def update_dataset_named_graphs(run: Run) -> None:
    run.all(on_update, on_query)


@implements("update_dataset_full")
def update_dataset_full(run: Run) -> None:
    run.all(on_update, on_query)


@implements("update_post_form")
def update_post_form(run: Run) -> None:
    run.all(on_update)


@implements("update_post_direct")
def update_post_direct(run: Run) -> None:
    run.all(on_update)


@implements("update_base_uri")
def update_base_uri(run: Run) -> None:
    run.all(on_update, on_query)


# --- SPARQL 1.1 Protocol: requests that must be refused -----------------------------------


def refused(run: Run, route: Callable[[str], str]) -> None:
    """The request is refused (4xx, as the manifest says) and the store is unchanged."""
    before = quads(run.client)
    run.all(route)
    assert quads(run.client) == before


@implements("bad_query_method")
def bad_query_method(run: Run) -> None:
    refused(run, on_query)


@implements("bad_multiple_queries")
def bad_multiple_queries(run: Run) -> None:
    refused(run, on_query)


@implements("bad_query_wrong_media_type")
def bad_query_wrong_media_type(run: Run) -> None:
    refused(run, on_query)


@implements("bad_query_missing_form_type")
def bad_query_missing_form_type(run: Run) -> None:
    refused(run, on_query)


@implements("bad_query_missing_direct_type")
def bad_query_missing_direct_type(run: Run) -> None:
    refused(run, on_query)


@implements("bad_query_non_utf8")
def bad_query_non_utf8(run: Run) -> None:
    refused(run, on_query)


@implements("bad_query_syntax")
def bad_query_syntax(run: Run) -> None:
    refused(run, on_query)


@implements("bad_update_get")
def bad_update_get(run: Run) -> None:
    # `GET …?update=CLEAR ALL` is refused on the update endpoint and on the query one.
    refused(run, on_update)
    refused(run, on_query)


@implements("bad_multiple_updates")
def bad_multiple_updates(run: Run) -> None:
    refused(run, on_update)


@implements("bad_update_wrong_media_type")
def bad_update_wrong_media_type(run: Run) -> None:
    refused(run, on_update)


@implements("bad_update_missing_form_type")
def bad_update_missing_form_type(run: Run) -> None:
    refused(run, on_update)


@implements("bad_update_non_utf8")
def bad_update_non_utf8(run: Run) -> None:
    refused(run, on_update)


@implements("bad_update_syntax")
def bad_update_syntax(run: Run) -> None:
    refused(run, on_update)


@implements("bad_update_dataset_conflict")
def bad_update_dataset_conflict(run: Run) -> None:
    refused(run, on_update)


# --- Graph Store Protocol: direct identification (as indirect, see on_store_direct) -------


@implements("put_get_repeat_direct")
def put_get_repeat_direct(run: Run) -> None:
    run.all(on_store_direct(run.entry))


@implements("put_delete_get_delete_direct")
def put_delete_get_delete_direct(run: Run) -> None:
    run.all(on_store_direct(run.entry))


@implements("post_get_post_get_direct")
def post_get_post_get_direct(run: Run) -> None:
    run.all(on_store_direct(run.entry))


@implements("head_existing_direct")
def head_existing_direct(run: Run) -> None:
    _, head = run.all(on_store_direct(run.entry))
    assert head.content == b""


# --- Graph Store Protocol: indirect identification ----------------------------------------


@implements("put_get_repeat_indirect")
def put_get_repeat_indirect(run: Run) -> None:
    run.all(on_store)


@implements("put_get_default")
def put_get_default(run: Run) -> None:
    # `?default` is the stored default graph (SPEC): what the PUT stores, the GET returns.
    run.all(on_store)


@implements("put_delete_get_delete_indirect")
def put_delete_get_delete_indirect(run: Run) -> None:
    run.all(on_store)


@implements("post_get_post_get_indirect")
def post_get_post_get_indirect(run: Run) -> None:
    run.all(on_store)


@implements("post_get_new_graph")
def post_get_new_graph(run: Run) -> None:
    # The second request puts the Location (an absolute IRI) into `?graph=` as it is.
    run.all(on_store)


@implements("head_existing_indirect")
def head_existing_indirect(run: Run) -> None:
    _, head = run.all(on_store)
    assert head.content == b""


@implements("head_non_existing_indirect")
def head_non_existing_indirect(run: Run) -> None:
    run.all(on_store)


@implements("put_get_uri_pct_encoded_indirect")
def put_get_uri_pct_encoded_indirect(run: Run) -> None:
    run.all(on_store)
    assert "http://www.example/gsp/person/1.ttl" in graph_names(run.client)


@implements("put_get_uri_pct_encoded_twice")
def put_get_uri_pct_encoded_twice(run: Run) -> None:
    run.all(on_store)
    names = graph_names(run.client)
    assert {"http://www.example/gsp/person/1.ttl", "http://www.example/gsp/person/%31.ttl"} <= names


# --- the tests ----------------------------------------------------------------------------


def test_the_manifests_hold_the_47_entries_of_the_issue() -> None:
    assert len(ENTRIES) == 47
    assert len({e.key for e in ENTRIES}) == 47
    assert {e.key for e in ENTRIES} == set(IMPLEMENTATIONS), "stale or missing implementations"
    assert set(DEVIATIONS) <= set(IMPLEMENTATIONS), "a deviation of no entry"


def test_no_request_can_see_the_service_graphs() -> None:
    """The service's own graphs, in every fresh store, change no entry's outcome: no request
    reads them (see the module's docstring). An entry that could see them would have to be
    counted as a deviation."""
    found = {e.key: why for e in ENTRIES if (why := service_graph_reads(e))}
    assert set(found) <= set(DEVIATIONS), found


def test_the_analysis_finds_a_query_over_the_union() -> None:
    """The check above is not vacuous: it reports what would see the service graphs."""
    union = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    assert list(_query_reads(union, {})) == [
        "reads the default graph of queries, the union of all graphs"
    ]
    assert list(_query_reads("ASK { GRAPH ?g { ?s ?p ?o } }", {})) == [
        "GRAPH ?g ranges over every named graph"
    ]
    assert list(_query_reads(f"ASK {{ GRAPH <{PROVENANCE}> {{ ?s ?p ?o }} }}", {})) == [
        f"reads the service graph <{PROVENANCE}>"
    ]
    assert list(_query_reads(union, {"default-graph-uri": [ONTOLOGY]}))
    assert list(_query_reads("ASK { FILTER EXISTS { ?s ?p ?o } }", {}))
    assert list(_query_reads("DESCRIBE <http://example.org/>", {}))
    assert list(
        _update_reads(
            "INSERT { GRAPH <http://x/> { ?s ?p ?o } } WHERE { GRAPH ?g { ?s ?p ?o } }", {}
        )
    )
    assert not list(
        _update_reads("INSERT { GRAPH <http://x/> { ?s ?p ?o } } WHERE { ?s ?p ?o }", {})
    )
    assert not list(_query_reads(union, {"default-graph-uri": ["http://example.org/g"]}))
    assert not list(_query_reads("ASK {}", {}))


def marked(entry: Entry) -> object:
    reason = DEVIATIONS.get(entry.key)
    marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
    return pytest.param(entry, id=entry.key, marks=marks)


@pytest.mark.parametrize("entry", [marked(e) for e in ENTRIES])
def test_w3c(request: pytest.FixtureRequest, entry: Entry) -> None:
    """The entry on a fresh store: its own server if it writes, else the shared one, which
    must hold the pristine store before and after it."""
    implementation = IMPLEMENTATIONS.get(entry.key)
    if implementation is None:
        pytest.fail(f"no implementation for the manifest entry <{entry.iri}> ({entry.name})")
    if writes(entry):
        implementation(Run(request.getfixturevalue("fresh"), entry))
        return
    client: httpx.Client = request.getfixturevalue("shared")
    version = request.getfixturevalue("pristine_version")
    assert store_version(client) == version, "an earlier entry changed the shared store"
    implementation(Run(client, entry))
    assert store_version(client) == version, f"{entry.key} writes nothing, yet changed the store"
