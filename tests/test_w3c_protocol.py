"""The W3C SPARQL 1.1 Protocol and Graph Store Protocol test suites, over a real server.

Every entry of the manifests in tests/data/w3c/ (read by `w3c_manifest`) is one test.
Each entry maps, by the local name of its IRI, to a small function below that sends
the entry's own requests (method, path, headers and body as the manifest writes
them) to the route of ours that answers them and checks the manifest's expected
response (status, result format and boolean, Content-Type, RDF body up to
isomorphism, Location). An entry with no function fails, so the mapping stays
complete when the manifests change.

Adaptations that apply everywhere:

* Paths: the manifests' `/sparql/` is `/sparql` for queries and `/update` for
  updates (the protocol lets a service use separate endpoints); `/gsp` is `/store`.
* Writes need the bearer token (SPEC: `/update` and writes to `/store`), which the
  manifests do not model: every request carries it.
* Graph Store GETs answer the graph with the product's PROV-O statements about the
  upload (subject = the graph IRI) stored inside it (SPEC, Inputs: "with PROV-O
  provenance"); they are checked to be there and then set aside before the
  isomorphism test.
* Each test starts from a store holding only what the server started with: graphs
  that earlier tests made are dropped first. Tests that `CLEAR ALL`/`DROP ALL` also
  remove this throwaway store's reference graphs, which no later test needs.

Other adaptations (direct graph identification, the read-only `?default`) are at
the entries they concern.
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from urllib.parse import quote

import httpx
import pytest
import rdflib
from http_support import TOKEN, serving, settings_for
from rdflib.compare import isomorphic
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
PROV_GENERATED = rdflib.URIRef("http://www.w3.org/ns/prov#generatedAtTime")
GRAPHS = "SELECT DISTINCT ?g WHERE { GRAPH ?g { } }"


# --- the server ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    """uvicorn on 127.0.0.1 over a store on tmp_path, with a write token."""
    with (
        serving(settings_for(tmp_path_factory.mktemp("w3c"))) as url,
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        yield client


def graph_names(client: httpx.Client) -> set[str]:
    response = client.get("/sparql", params={"query": GRAPHS})
    assert response.status_code == 200, response.text
    return {row["g"]["value"] for row in response.json()["results"]["bindings"]}


@pytest.fixture(scope="module")
def initial_graphs(server: httpx.Client) -> set[str]:
    return graph_names(server)


@pytest.fixture
def client(server: httpx.Client, initial_graphs: set[str]) -> httpx.Client:
    """The server, with the graphs earlier tests made dropped."""
    for name in sorted(graph_names(server) - initial_graphs):
        dropped = server.delete("/store", params={"graph": name}, headers=AUTH)
        assert dropped.status_code == 204, dropped.text
    return server


# --- running an entry ---------------------------------------------------------------------


class Run:
    """One entry's connection: sends its requests and checks the expected responses."""

    def __init__(
        self,
        client: httpx.Client,
        entry: Entry,
        *,
        provenance: bool = True,
        charset_optional: bool = False,
    ) -> None:
        self.client = client
        self.entry = entry
        self.provenance = provenance  # graphs hold the product's provenance of their upload
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
            assert response.status_code in (201, 204), response.text

    def send(self, request: Request, path: str) -> httpx.Response:
        """The request as written, to `path` (raw: its percent-encoding is kept)."""
        headers = {**dict(request.headers), **AUTH}
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
            graph = self.graph_of(request, response)
            wanted = rdflib.Graph().parse(data=expected.body, format=syntax_of(wanted_type))
            assert isomorphic(graph, wanted), (
                f"{where}: the graph differs from the expected one:\n{graph.serialize(format='nt')}"
            )
        if expected.location is not None:
            location = response.headers.get("location")
            assert location, f"{where}: no Location header"
            self.variables[expected.location] = location

    def graph_of(self, request: Request, response: httpx.Response) -> rdflib.Graph:
        """The response's graph, without the product's provenance of the addressed graph."""
        graph = parse_rdf(response)
        name = addressed_graph(str(response.request.url))
        if name is None or not self.provenance:
            return graph
        provenance = rdflib.URIRef(name)
        assert (provenance, PROV_GENERATED, None) in graph, f"no provenance of <{name}>"
        graph.remove((provenance, None, None))
        return graph

    def _fill(self, text: str) -> str:
        for variable, value in self.variables.items():
            text = text.replace(variable, value)
        return text


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


def addressed_graph(url: str) -> str | None:
    """The graph a `/store?graph=…` URL names (decoded once), None for any other URL."""
    found = re.search(r"/store\?graph=([^&]*)", url)
    return httpx.QueryParams(f"graph={found.group(1)}")["graph"] if found else None


def contains(graph: rdflib.Graph, pattern: rdflib.Graph) -> bool:
    """Whether `graph` holds `pattern`, its blank nodes standing for any node."""
    names: dict[rdflib.BNode, str] = {}

    def term(node: rdflib.term.Node) -> str:
        if isinstance(node, rdflib.BNode):
            return names.setdefault(node, f"?b{len(names)}")
        return str(node.n3())

    body = " ".join(f"{term(s)} {term(p)} {term(o)} ." for s, p, o in pattern)
    return bool(graph.query(f"ASK {{ {body} }}").askAnswer)


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
        return "/store?graph=" + quote(f"http://{entry.authority}{path}", safe="")

    return route


def quads(client: httpx.Client) -> int:
    response = client.get("/health")
    return int(response.json()["store"]["quads"])


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
    assert quads(run.client) == 0  # CLEAR ALL


@implements("update_post_direct")
def update_post_direct(run: Run) -> None:
    run.all(on_update)
    assert quads(run.client) == 0  # CLEAR ALL


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
    """SPEC: the default graph is the union of the named graphs, and `/store?default` is
    read-only (a write there would land in a graph no query sees). So the PUT is refused
    with 405 and `Allow: GET, HEAD`; the data goes into a named graph instead, and the GET
    of `?default` must answer as expected (200, Turtle) with a graph that holds the
    expected one (the union holds the other graphs too, so not isomorphic)."""
    put, get = run.requests
    refusal = run.send(put, on_store(put.path))
    assert refusal.status_code == 405, refusal.text
    assert refusal.headers["allow"] == "GET, HEAD"
    graph = "http://www.example/gsp/default-graph-content"
    stored = run.send(put, "/store?graph=" + quote(graph, safe=""))
    assert stored.status_code == 201, stored.text
    response = run.send(get, on_store(get.path))
    assert response.status_code == 200, response.text
    wanted_type = get.expected.header("content-type")
    assert wanted_type is not None
    assert same_media_type(response.headers["content-type"], wanted_type)
    assert get.expected.body is not None
    wanted = rdflib.Graph().parse(data=get.expected.body, format=syntax_of(wanted_type))
    assert contains(parse_rdf(response), wanted)


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


@pytest.mark.parametrize("entry", [pytest.param(e, id=e.key) for e in ENTRIES])
def test_w3c(client: httpx.Client, entry: Entry) -> None:
    implementation = IMPLEMENTATIONS.get(entry.key)
    if implementation is None:
        pytest.fail(f"no implementation for the manifest entry <{entry.iri}> ({entry.name})")
    implementation(Run(client, entry))
