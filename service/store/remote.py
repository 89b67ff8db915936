"""The remote backend of `GraphStore`: a SPARQL 1.1 store over HTTP (Oxigraph server,
Virtuoso), so that several service instances can share one store.

* **Reads** POST the query (form-encoded: Virtuoso 7.2 hangs on an
  `application/sparql-query` body) and parse the answer with pyoxigraph's own parsers;
  one graph is a Graph Store Protocol GET (`?graph=` / `?default`), the graph names a
  `SELECT ?g … GROUP BY ?g`.
* **The default graph** of a query is the union of all graphs, as the service promises:
  the store's own option gives it (Oxigraph: `union-default-graph`; Virtuoso's default
  graph is the union already), never a `default-graph-uri` per graph. A query with its
  own `FROM` gets no union option (Oxigraph would let the union win over the `FROM`).
* **Writes**: `apply` sends ONE SPARQL Update request per write, whose first operation
  moves the store version (below). On Oxigraph, one request is one transaction. A stored
  blank node cannot be named in a request there, so a graph that loses a blank-node triple
  (or gains one while it holds blank nodes) is rewritten whole in that same request:
  cleared, then its new content inserted by one `INSERT { … } WHERE {}`, where one label
  is one node. Virtuoso names a stored blank node (`<nodeID://b…>`), so nothing is
  rewritten there; but it commits each operation of a request by itself and parses only
  so much in one, so there a write is a request of bounded operations, not a transaction.
* **The version** lives in the store, in the graph `{base}graph/version`
  (`<{base}graph/version> owl:versionInfo n`), moved by the update of every write: every
  instance over the store reads the same number (ETags, caches) and sees the others'
  writes at once. It is read at most once per `VERSION_TTL`.
* **Timeouts**: a query past `CITYTOOLS_QUERY_TIMEOUT` raises `QueryTimeout` (HTTP 503)
  from httpx's read timeout; Virtuoso also gets its own `timeout`, which stops it there.

What each store does differently is in one place, its `Dialect`; docs/regions.md lists it.
The store layer imports nothing above it, so the SPARQL tokenizer (`sparql/lexer.py`
`spans`) is handed in by whoever opens the store.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, ClassVar, TypeVar

import httpx
from pyoxigraph import (
    BlankNode,
    DefaultGraph,
    Literal,
    NamedNode,
    Quad,
    QueryBoolean,
    QueryResultsFormat,
    QuerySolutions,
    RdfFormat,
    Store,
    Triple,
    Variable,
    parse,
    parse_query_results,
    serialize,
)

from citytools import __version__
from citytools import vocab as v
from citytools.errors import CityToolsError, InputError, QueryTimeout, ReadOnlyGraph
from citytools.service.store.interface import GraphChange, GraphName, QueryResult, Term
from citytools.settings import Settings

Tokenizer = Callable[[str], Iterable[tuple[str, str, int, int]]]  # kind, text, start, end
VERSION_TTL = 0.005  # seconds a version read serves (the calls of one request share it)
BULK_TIMEOUT = 300.0  # seconds a whole graph may take to arrive
_CONNECT_TIMEOUT = 5.0
_NTRIPLES = "application/n-triples"
_FORMS = ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")
_XSD_STRING = v.XSD.string
_T = TypeVar("_T", NamedNode, BlankNode, Literal, Triple)
_Item = tuple[GraphName, Triple]
# Virtuoso 7.2 parses at most ~4,990 triples in one DATA block ("memory exhausted") and
# ~1,000 in a template ("generated SQL text has exceeded 10000 lines").
DATA_BLOCK = 2000
TEMPLATE_BLOCK = 400


@dataclass(frozen=True)
class Endpoints:
    query: str
    update: str
    store: str


class Dialect:
    """What one kind of store needs: Oxigraph server's, the protocol as written."""

    name: ClassVar[str] = "oxigraph"
    server: ClassVar[str] = "Oxigraph/"  # how its `Server` header starts
    update_path: ClassVar[str] = "update"  # beside the query endpoint
    store_path: ClassVar[str] = "store"
    solutions: ClassVar[QueryResultsFormat] = QueryResultsFormat.JSON
    empty_graphs: ClassVar[bool] = True  # a named graph can exist with no triple
    atomic_request: ClassVar[bool] = True  # one update request is one transaction
    stored_default: ClassVar[bool] = True  # it has a default graph of its own

    def __init__(self, base_iri: str) -> None:
        self.version_graph = NamedNode(f"{base_iri}graph/version")

    def default_name(self) -> NamedNode | None:
        """The named graph standing in for the stored default graph (None: a real one)."""
        return None

    def hidden(self) -> frozenset[NamedNode]:
        """Graphs the service keeps out of graph lists, counts and dumps."""
        return frozenset({self.version_graph})

    def fields(self, *, union: bool, timeout: float) -> list[tuple[str, str]]:
        return [("union-default-graph", "true")] if union else []

    def solutions_of(self, response: httpx.Response) -> QuerySolutions | QueryBoolean:
        return parse_query_results(response.content, format=self.solutions)

    def blank_in(self, node: BlankNode) -> BlankNode:
        """A blank node as the service names it, from the store's label."""
        return node

    def blank_out(self, node: BlankNode) -> str | None:
        """Query text naming a stored blank node, when the store has a way."""
        return None

    def check(self, response: httpx.Response, timeout: float) -> None:
        """Raise what an answer that looks fine really means."""


class Virtuoso(Dialect):
    """Virtuoso 7: its default graph is the union of every graph (its own system graphs
    too: its `input:…-graph-exclude` pragmas would leave them out, but they break GRAPH
    patterns in 7.2.5, a count of 10 becoming 1); no default graph of its own (a named
    graph stands in); no empty graphs; one operation per transaction; ASK answered
    as a one-column SELECT; blank nodes named `nodeID://b…`; JSON results spell booleans
    `1`, so answers come as XML; a query stopped by `timeout` answers 200 with what it
    had (`X-SQL-State: S1TAT`); answers and graph reads are cut at `ResultSetMaxRows`."""

    name = "virtuoso"
    server = "Virtuoso/"
    update_path = "sparql-auth"
    store_path = "sparql-graph-crud-auth"
    solutions = QueryResultsFormat.XML
    empty_graphs = False
    atomic_request = False
    stored_default = False
    SYSTEM = (
        "http://www.openlinksw.com/schemas/virtrdf#",
        "http://www.w3.org/ns/ldp#",
        "http://localuriqaserver/sparql",
    )
    ASK_COLUMN = Variable("__ASK_RETVAL")
    _STORED = re.compile(r"vb[0-9]+")

    def __init__(self, base_iri: str, max_rows: int) -> None:
        super().__init__(base_iri)
        self.default_graph = NamedNode(f"{base_iri}graph/default")
        self.max_rows = max_rows

    def default_name(self) -> NamedNode:
        return self.default_graph

    def hidden(self) -> frozenset[NamedNode]:
        system = {NamedNode(g) for g in self.SYSTEM}
        return frozenset({self.version_graph, self.default_graph, *system})

    def fields(self, *, union: bool, timeout: float) -> list[tuple[str, str]]:
        return [("timeout", str(max(int(timeout * 1000), 1)))]

    def solutions_of(self, response: httpx.Response) -> QuerySolutions | QueryBoolean:
        body = response.content.replace(b"<bnode>nodeID://", b"<bnode>v")
        result = parse_query_results(body, format=self.solutions)
        if isinstance(result, QuerySolutions) and result.variables == [self.ASK_COLUMN]:
            answer = any(row[self.ASK_COLUMN] == Literal(1) for row in result)
            return parse_query_results(json.dumps({"boolean": answer}), QueryResultsFormat.JSON)
        return result

    def blank_in(self, node: BlankNode) -> BlankNode:
        return BlankNode(f"v{node.value}")

    def blank_out(self, node: BlankNode) -> str | None:
        stored = self._STORED.fullmatch(node.value)
        return f"<nodeID://{node.value[1:]}>" if stored else None

    def check(self, response: httpx.Response, timeout: float) -> None:
        if response.headers.get("x-sql-state") == "S1TAT":
            raise timed_out(timeout)
        if "x-sparql-maxrows" in response.headers:
            raise cut(self.max_rows)


DIALECTS = {d.name: d for d in (Dialect, Virtuoso)}


def timed_out(timeout: float) -> QueryTimeout:
    return QueryTimeout(
        f"query stopped after {timeout:g} s; narrow it or raise CITYTOOLS_QUERY_TIMEOUT"
    )


def cut(rows: int) -> CityToolsError:
    return CityToolsError(
        f"the store cut its answer at {rows} rows (Virtuoso's [SPARQL] ResultSetMaxRows): "
        "raise it in virtuoso.ini above CITYTOOLS_MAX_RESULTS and the largest graph"
    )


class AskedAuth(httpx.Auth):
    """HTTP Basic or Digest, whichever the store's first challenge asks for."""

    requires_request_body = True

    def __init__(self, user: str, password: str) -> None:
        self._schemes: dict[str, httpx.Auth] = {
            "basic": httpx.BasicAuth(user, password),
            "digest": httpx.DigestAuth(user, password),
        }
        self._scheme: str | None = None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._scheme is None:
            response = yield request
            challenge = response.headers.get("www-authenticate", "")
            scheme = challenge.split(" ", 1)[0].lower()
            if response.status_code != 401 or scheme not in self._schemes:
                return
            self._scheme = scheme
        yield from self._schemes[self._scheme].auth_flow(request)


class RemoteStore:
    """A `GraphStore` over a SPARQL 1.1 store's Query, Update and Graph Store endpoints.

    `query` also takes pyoxigraph's `base_iri` and `use_default_graph_as_union`, so the
    service's query evaluation (`engine/evaluate.py`) runs on it as on a pyoxigraph store.
    """

    def __init__(
        self,
        client: httpx.Client,
        endpoints: Endpoints,
        dialect: Dialect,
        *,
        timeout: float,
        tokens: Tokenizer,
    ) -> None:
        self._client = client
        self.endpoints = endpoints
        self.dialect = dialect
        self._timeout = timeout
        self._tokens = tokens
        self._lock = threading.Lock()
        self._version: tuple[float, int] | None = None  # (read at, value)

    @classmethod
    def connect(cls, settings: Settings, tokens: Tokenizer) -> RemoteStore:
        """The store behind `settings.endpoint`: its kind told by its `Server` header (or
        CITYTOOLS_ENDPOINT_KIND), its other endpoints by its conventions unless set."""
        assert settings.endpoint is not None
        query = settings.endpoint
        auth = None
        if settings.endpoint_user is not None:
            password = settings.endpoint_password
            auth = AskedAuth(
                settings.endpoint_user, password.get_secret_value() if password else ""
            )
        client = httpx.Client(
            auth=auth,
            timeout=httpx.Timeout(settings.query_timeout, connect=_CONNECT_TIMEOUT),
            headers={"User-Agent": f"citytools/{__version__}"},
        )
        try:
            kind: str = settings.endpoint_kind
            if kind == "auto":
                kind = _detect(client, query)
            dialect: Dialect = Dialect(settings.base_iri)
            if kind == Virtuoso.name:
                dialect = Virtuoso(settings.base_iri, _virtuoso_rows(client, query, settings))
            endpoints = Endpoints(
                query,
                settings.update_endpoint or urllib.parse.urljoin(query, dialect.update_path),
                settings.store_endpoint or urllib.parse.urljoin(query, dialect.store_path),
            )
            store = cls(client, endpoints, dialect, timeout=settings.query_timeout, tokens=tokens)
            store._start_version()
        except BaseException:
            client.close()
            raise
        return store

    # --- reads ------------------------------------------------------------------------

    def query(
        self,
        sparql: str,
        *,
        substitutions: dict[Variable, Term] | None = None,
        default_graph: Sequence[GraphName] | None = None,
        named_graphs: Sequence[NamedNode] | None = None,
        base_iri: str | None = None,
        use_default_graph_as_union: bool = True,
    ) -> QueryResult:
        """As `GraphStore.query`: `default_graph=None` is the union of all graphs (or,
        with `use_default_graph_as_union=False`, the stored default graph alone).
        Substitutions are given to the store as a one-row VALUES at the top of every group
        (SEP-0007's binding for a query whose sub-SELECTs project what they use); a blank
        node, which VALUES cannot hold, is matched by the rows that hold it."""
        spans = list(self._tokens(sparql))
        form = next((t.upper() for k, t, _, _ in spans if k == "word" and t.upper() in _FORMS), "")
        bound = {var: str(t) for var, t in (substitutions or {}).items()}
        unnamed = {var: t for var, t in (substitutions or {}).items() if isinstance(t, BlankNode)}
        if unnamed and form != "SELECT":
            raise InputError("a blank node can bind only a SELECT's variables on a remote store")
        for var in unnamed:  # VALUES cannot hold one (Virtuoso's `<nodeID://…>` joins nothing)
            del bound[var]
        text = _bind(sparql, spans, bound)
        if base_iri is not None:
            text = f"BASE <{base_iri}>\n{text}"
        fields = [("query", text)]
        if default_graph is None and not use_default_graph_as_union:
            default_graph = [DefaultGraph()]
        if default_graph is not None:
            fields += self._dataset(default_graph, named_graphs, spans)
        elif named_graphs is not None:
            fields += [("named-graph-uri", g.value) for g in named_graphs]
        union = default_graph is None and not _reads_from(spans)
        fields += self.dialect.fields(union=union, timeout=self._timeout)
        graphs = form in ("CONSTRUCT", "DESCRIBE")
        accept = _NTRIPLES if graphs else self.dialect.solutions.media_type
        response = self._post(self.endpoints.query, fields, accept, self._timeout)
        if graphs:
            return _as_triples(self._triples(response))
        result = self.dialect.solutions_of(response)
        if unnamed and isinstance(result, QuerySolutions):
            return _matching(result, unnamed)
        return result

    def graph_triples(self, graph: NamedNode | DefaultGraph) -> Iterator[Triple]:
        if isinstance(graph, NamedNode) and graph in self.dialect.hidden():
            return iter(())
        params = self._graph_param(graph)
        try:
            response = self._client.get(
                self.endpoints.store,
                params=params,
                headers={"Accept": _NTRIPLES},
                timeout=httpx.Timeout(BULK_TIMEOUT, connect=_CONNECT_TIMEOUT),
            )
        except httpx.TimeoutException:
            raise CityToolsError(
                f"the store did not send {_shown(graph)} within {BULK_TIMEOUT:g} s"
            ) from None
        except httpx.TransportError as exc:
            raise unreachable(self.endpoints.store, exc) from None
        if response.status_code == 404:
            return iter(())
        _raise_for(response, self.endpoints.store)
        return iter(self._triples(response))

    def named_graphs(self) -> list[NamedNode]:
        pattern = "{}" if self.dialect.empty_graphs else "{ ?s ?p ?o }"
        # GROUP BY, not DISTINCT: Virtuoso takes 2 s over 17k quads with DISTINCT, 35 ms so
        rows = self._select(f"SELECT ?g WHERE {{ GRAPH ?g {pattern} }} GROUP BY ?g")
        hidden = self.dialect.hidden()
        graphs = {r["g"] for r in rows if isinstance(r["g"], NamedNode) and r["g"] not in hidden}
        return sorted((g for g in graphs if isinstance(g, NamedNode)), key=str)

    def has_graph(self, graph: NamedNode) -> bool:
        if graph in self.dialect.hidden():
            return False
        pattern = "{}" if self.dialect.empty_graphs else "{ ?s ?p ?o }"
        result = self._internal(f"ASK {{ GRAPH {graph} {pattern} }}")
        return bool(result)

    def quad_count(self) -> int:
        stand_in = self.dialect.default_name()
        hidden = ", ".join(str(g) for g in self.dialect.hidden() if g != stand_in)
        named = f"GRAPH ?g {{ ?s ?p ?o }} FILTER(?g NOT IN ({hidden}))"
        pattern = f"{{ ?s ?p ?o }} UNION {{ {named} }}" if self.dialect.stored_default else named
        rows = self._select(f"SELECT (COUNT(*) AS ?n) WHERE {{ {pattern} }}")
        return int(next(iter(rows))["n"].value)

    def dump(self, output: IO[bytes], *, fmt: RdfFormat, graph: GraphName | None = None) -> None:
        graphs: list[GraphName] = (
            [DefaultGraph(), *self.named_graphs()] if graph is None else [graph]
        )
        quads = (
            Quad(t.subject, t.predicate, t.object, g) for g in graphs for t in self.graph_triples(g)
        )
        if fmt.supports_datasets:
            serialize(quads, output, format=fmt)
        else:
            serialize((q.triple for q in quads), output, format=fmt)

    @property
    def version(self) -> int:
        """The store's write count, kept in the store itself; read at most once per
        VERSION_TTL (the calls of one request share one read)."""
        with self._lock:
            now = time.monotonic()
            if self._version is not None and now - self._version[0] < VERSION_TTL:
                return self._version[1]
        value = max(self._versions(), default=0)
        with self._lock:
            self._version = (now, value)
        return value

    # --- writes -----------------------------------------------------------------------

    def apply(self, changes: Mapping[GraphName, GraphChange]) -> None:
        """Every change, and the move of the version, in one update request."""
        hidden = self.dialect.hidden()
        for graph, change in changes.items():
            if change and isinstance(graph, NamedNode) and graph in hidden:
                raise ReadOnlyGraph(f"<{graph.value}> is kept by the service and is read-only")
        named = {self._name(g): c for g, c in changes.items()}
        write = self._requests if self.dialect.atomic_request else self._operations
        update = write(named)
        try:
            self._post(self.endpoints.update, [("update", update)], "*/*", None)
        finally:
            with self._lock:
                self._version = None  # read it again, whatever happened

    def flush(self) -> None:
        """Nothing to flush: the store commits each update itself."""

    def close(self) -> None:
        self._client.close()

    def _requests(self, changes: Mapping[GraphName, GraphChange]) -> str:
        """Operations of one atomic request: the version; drops; rewrites of graphs whose
        stored blank nodes change; creations; DELETE DATA; one INSERT of what is added
        (one template, so one blank-node label is one node across its graphs)."""
        operations = [self._bump()]
        removed: dict[GraphName, set[Triple]] = {}
        added: dict[GraphName, set[Triple]] = {}
        for graph, change in changes.items():
            if change.exists_after is False:
                operations.append(f"DROP SILENT {_target(graph)}")
                continue
            if self._rewrite(graph, change):
                operations.append(f"CLEAR SILENT {_target(graph)}")
                stored = set(self.graph_triples(graph))
                added[graph] = (stored - change.removed) | change.added
            else:
                removed[graph] = change.removed
                added[graph] = change.added
            if change.exists_after and isinstance(graph, NamedNode):
                operations.append(f"CREATE SILENT GRAPH {graph}")
        if any(removed.values()):
            operations.append(f"DELETE DATA {{ {_blocks(_items(removed), _plain)} }}")
        if any(added.values()):
            operations.append(f"INSERT {{ {_blocks(_items(added), _plain)} }} WHERE {{}}")
        return " ;\n".join(operations)

    def _rewrite(self, graph: GraphName, change: GraphChange) -> bool:
        """Whether the change touches stored blank nodes of the graph: it removes a triple
        with one, or adds one while the graph holds some (it may be theirs)."""
        if any(_has_blank(t) for t in change.removed):
            return True
        if not any(_has_blank(t) for t in change.added):
            return False
        pattern = "?s ?p ?o FILTER(isBlank(?s) || isBlank(?o))"
        if isinstance(graph, NamedNode):
            pattern = f"GRAPH {graph} {{ {pattern} }}"
        return bool(self._internal(f"ASK {{ {pattern} }}"))

    def _operations(self, changes: Mapping[GraphName, GraphChange]) -> str:
        """Operations of one request for a store that commits operation by operation and
        parses only so much at once (Virtuoso): the version moves first and last (answers
        cached while the write ran are not kept after it); deletions, then additions, in
        DATA blocks of at most DATA_BLOCK triples, stored blank nodes named as the store
        names them; triples with new blank nodes in templates, each blank-node structure
        whole in one (one label, one node), at most TEMPLATE_BLOCK triples where it can."""
        stored = self._stored
        removed: list[tuple[GraphName, Triple]] = []
        ground: list[tuple[GraphName, Triple]] = []
        fresh: list[tuple[GraphName, Triple]] = []
        dropped = []
        for graph, change in changes.items():
            removed += [(graph, t) for t in change.removed if stored(t)]
            if change.exists_after is False:
                dropped.append(f"DROP SILENT {_target(graph)}")
                continue
            for triple in change.added:
                (ground if stored(triple) else fresh).append((graph, triple))
        operations = [self._bump()]
        operations += [f"DELETE DATA {{ {_blocks(chunk, stored)} }}" for chunk in _chunks(removed)]
        operations += dropped
        operations += [f"INSERT DATA {{ {_blocks(chunk, stored)} }}" for chunk in _chunks(ground)]
        operations += [
            f"INSERT {{ {_blocks(chunk, self._made)} }} WHERE {{}}" for chunk in _structures(fresh)
        ]
        operations.append(self._bump())
        return " ;\n".join(operations)

    def _stored(self, triple: Triple) -> str:
        """A triple as DATA text, stored blank nodes named; "" when it holds a new one."""
        named = [self._named(t) for t in (triple.subject, triple.predicate, triple.object)]
        return "" if None in named else " ".join(n for n in named if n is not None)

    def _made(self, triple: Triple) -> str:
        """A triple as template text: stored blank nodes named, new ones as labels."""
        return " ".join(
            self._named(t) or str(t) for t in (triple.subject, triple.predicate, triple.object)
        )

    def _named(self, term: Term) -> str | None:
        return self.dialect.blank_out(term) if isinstance(term, BlankNode) else str(term)

    def _bump(self) -> str:
        """The version, one up (the triple is there: `connect` puts it in a new store;
        Virtuoso 7.2 inserts nothing from an OPTIONAL one's COALESCE)."""
        version, has = self.dialect.version_graph, v.OWL.versionInfo
        return (
            f"DELETE {{ GRAPH {version} {{ {version} {has} ?old }} }}\n"
            f"INSERT {{ GRAPH {version} {{ {version} {has} ?new }} }}\n"
            f"WHERE {{ GRAPH {version} {{ {version} {has} ?old }} BIND(?old + 1 AS ?new) }}"
        )

    def _versions(self) -> list[int]:
        graph = self.dialect.version_graph
        rows = self._select(
            f"SELECT ?n WHERE {{ GRAPH {graph} {{ {graph} {v.OWL.versionInfo} ?n }} }}",
        )
        return [int(r["n"].value) for r in rows if isinstance(r["n"], Literal)]

    def _start_version(self) -> None:
        """A store new to the service starts at version 0. (Two instances starting at once
        on a new store may each write it: each write then moves both numbers, and the
        version read is the largest.)"""
        if not self._versions():
            graph = self.dialect.version_graph
            update = f"INSERT DATA {{ GRAPH {graph} {{ {graph} {v.OWL.versionInfo} 0 }} }}"
            self._post(self.endpoints.update, [("update", update)], "*/*", None)

    # --- HTTP -------------------------------------------------------------------------

    def _post(
        self, url: str, fields: list[tuple[str, str]], accept: str, timeout: float | None
    ) -> httpx.Response:
        """POST a form; the store's errors as the product's (a timeout: QueryTimeout)."""
        limit = httpx.Timeout(timeout, connect=_CONNECT_TIMEOUT)
        try:
            response = self._client.post(
                url,
                content=urllib.parse.urlencode(fields).encode(),
                headers={"Accept": accept, "Content-Type": "application/x-www-form-urlencoded"},
                timeout=limit,
            )
        except httpx.TimeoutException:
            raise timed_out(timeout or 0.0) from None
        except httpx.TransportError as exc:
            raise unreachable(url, exc) from None
        _raise_for(response, url)
        self.dialect.check(response, timeout or 0.0)
        return response

    def _select(self, sparql: str) -> QuerySolutions:
        result = self._internal(sparql)
        assert isinstance(result, QuerySolutions)
        return result

    def _internal(self, sparql: str) -> QuerySolutions | QueryBoolean:
        """A bookkeeping query over the store's own default graph and every named graph."""
        fields = [("query", sparql), *self.dialect.fields(union=False, timeout=self._timeout)]
        response = self._post(
            self.endpoints.query, fields, self.dialect.solutions.media_type, self._timeout
        )
        return self.dialect.solutions_of(response)

    def _triples(self, response: httpx.Response) -> list[Triple]:
        dialect = self.dialect
        try:
            quads = parse(response.content, format=RdfFormat.N_TRIPLES)
            triples = [
                Triple(_blank(dialect, q.subject), q.predicate, _blank(dialect, q.object))
                for q in quads
            ]
        except SyntaxError as exc:
            raise CityToolsError(f"the store sent malformed N-Triples: {exc}") from None
        if isinstance(dialect, Virtuoso) and len(triples) >= dialect.max_rows:
            raise cut(dialect.max_rows)
        return triples

    # --- names ------------------------------------------------------------------------

    def _name(self, graph: GraphName) -> GraphName:
        """The graph as the store holds it (a stand-in for its missing default graph)."""
        stand_in = self.dialect.default_name()
        return stand_in if isinstance(graph, DefaultGraph) and stand_in is not None else graph

    def _graph_param(self, graph: GraphName) -> dict[str, str]:
        graph = self._name(graph)
        return {"graph": graph.value} if isinstance(graph, NamedNode) else {"default": ""}

    def _dataset(
        self,
        default: Sequence[GraphName],
        named: Sequence[NamedNode] | None,
        spans: Sequence[tuple[str, str, int, int]],
    ) -> list[tuple[str, str]]:
        """Protocol fields for a dataset; every named graph stays available (as in
        pyoxigraph) when the query reads named graphs and none are listed."""
        graphs = [self._name(g) for g in default]
        if graphs == [DefaultGraph()]:
            return [] if named is None else [("named-graph-uri", g.value) for g in named]
        if any(isinstance(g, DefaultGraph) for g in graphs):
            raise InputError(
                "the stored default graph cannot share a dataset with named graphs on "
                f"a remote {self.dialect.name} store"
            )
        if named is None and any(k == "word" and t.upper() == "GRAPH" for k, t, _, _ in spans):
            named = self.named_graphs()
        fields = [("default-graph-uri", g.value) for g in graphs if isinstance(g, NamedNode)]
        return fields + [("named-graph-uri", g.value) for g in named or ()]


# --- connecting ---------------------------------------------------------------------------


def unreachable(url: str, exc: Exception) -> CityToolsError:
    return CityToolsError(f"the SPARQL store at {url} cannot be reached: {exc}")


def _detect(client: httpx.Client, query: str) -> str:
    """The store's kind from the `Server` header of a trivial query."""
    try:
        response = client.post(query, data={"query": "ASK {}"})
    except httpx.TransportError as exc:
        raise unreachable(query, exc) from None
    server = response.headers.get("server", "")
    for dialect in DIALECTS.values():
        if server.startswith(dialect.server):
            return dialect.name
    raise CityToolsError(
        f"the SPARQL store at {query} is neither Oxigraph server nor Virtuoso "
        f"(Server: {server or 'not said'}); say which with CITYTOOLS_ENDPOINT_KIND"
    )


def _virtuoso_rows(client: httpx.Client, query: str, settings: Settings) -> int:
    """Virtuoso's [SPARQL] ResultSetMaxRows, which cuts answers and graph reads silently;
    refused when an answer of CITYTOOLS_MAX_RESULTS rows would not fit under it."""
    setting = "bif:cfg_item_value(bif:virtuoso_ini_path(), 'SPARQL', 'ResultSetMaxRows')"
    try:
        response = client.post(
            query,
            data={"query": f"SELECT ({setting} AS ?rows) WHERE {{}}"},
            headers={"Accept": QueryResultsFormat.XML.media_type},
        )
    except httpx.TransportError as exc:
        raise unreachable(query, exc) from None
    _raise_for(response, query)
    result = parse_query_results(response.content, format=QueryResultsFormat.XML)
    assert isinstance(result, QuerySolutions)
    value = next(iter(result))["rows"]
    rows = int(value.value) if isinstance(value, Literal) and value.value.isdigit() else 0
    if 0 < rows <= settings.max_results:
        raise CityToolsError(
            f"Virtuoso at {query} cuts answers at {rows} rows ([SPARQL] ResultSetMaxRows) "
            f"without saying so: raise it in virtuoso.ini above CITYTOOLS_MAX_RESULTS "
            f"({settings.max_results}) and the largest graph"
        )
    return rows or 2**62


def _raise_for(response: httpx.Response, url: str) -> None:
    if response.is_success:
        return
    said = " ".join(response.text.split())[:600] or response.reason_phrase
    if response.status_code in (400, 422):
        raise InputError(f"the store refused the request: {said}")
    if response.status_code in (401, 403):
        raise CityToolsError(
            f"the store at {url} refused the credentials (HTTP {response.status_code}): "
            "check CITYTOOLS_ENDPOINT_USER and CITYTOOLS_ENDPOINT_PASSWORD"
        )
    raise CityToolsError(f"the store at {url} failed (HTTP {response.status_code}): {said}")


# --- SPARQL text --------------------------------------------------------------------------


def _reads_from(spans: Sequence[tuple[str, str, int, int]]) -> bool:
    """Whether the query names its default graph with FROM (not only FROM NAMED)."""
    words = [t.upper() for k, t, _, _ in spans if k == "word"]
    return any(
        word == "FROM" and (i + 1 == len(words) or words[i + 1] != "NAMED")
        for i, word in enumerate(words)
    )


def _bind(
    sparql: str, spans: Sequence[tuple[str, str, int, int]], values: dict[Variable, str]
) -> str:
    """`sparql` with a one-row VALUES of `values` opening every group graph pattern: not a
    VALUES data block, not a CONSTRUCT template, not the braces around a sub-SELECT."""
    if not values:
        return sparql
    table = f" VALUES ({' '.join(str(var) for var in values)}) {{ ({' '.join(values.values())}) }} "
    cuts: list[int] = []
    skip = False  # the next '{' opens a data block or a template
    depth = skipped = 0
    for index, (kind, text, _, end) in enumerate(spans):
        word = text.upper() if kind == "word" else ""
        if word == "VALUES" or (word == "CONSTRUCT" and _next_is(spans, index, "{")):
            skip = True
        elif word == "CONSTRUCT":
            raise InputError("CONSTRUCT WHERE cannot take bound values on a remote store")
        elif kind == "other" and text == "{":
            depth += 1
            if skip:
                skip, skipped = False, depth
            elif not skipped and not _next_is(spans, index, "SELECT"):
                cuts.append(end)
        elif kind == "other" and text == "}":
            if depth == skipped:
                skipped = 0
            depth -= 1
    pieces, last = [], 0
    for position in cuts:
        pieces += [sparql[last:position], table]
        last = position
    return "".join([*pieces, sparql[last:]])


def _next_is(spans: Sequence[tuple[str, str, int, int]], index: int, text: str) -> bool:
    return index + 1 < len(spans) and spans[index + 1][1].upper() == text


def _target(graph: GraphName) -> str:
    return "DEFAULT" if isinstance(graph, DefaultGraph) else f"GRAPH {graph}"


def _blocks(triples: Iterable[tuple[GraphName, Triple]], statement: Callable[[Triple], str]) -> str:
    """Update text of `triples`, a block per graph."""
    graphs: dict[GraphName, list[str]] = {}
    for graph, triple in triples:
        text = statement(triple)
        if text:
            graphs.setdefault(graph, []).append(f"{text} .\n")
    return "\n".join(
        "".join(lines)
        if isinstance(graph, DefaultGraph)
        else f"GRAPH {graph} {{\n{''.join(lines)}}}"
        for graph, lines in graphs.items()
    )


def _chunks(items: Sequence[_Item]) -> Iterator[Sequence[_Item]]:
    for start in range(0, len(items), DATA_BLOCK):
        yield items[start : start + DATA_BLOCK]


def _structures(items: Sequence[_Item]) -> Iterator[list[_Item]]:
    """`items` (each with a new blank node) in groups of at most TEMPLATE_BLOCK, every set
    of triples joined by blank nodes kept in one group (a larger one alone)."""
    parent: dict[BlankNode, BlankNode] = {}

    def root(node: BlankNode) -> BlankNode:
        while parent.setdefault(node, node) != node:
            node = parent[node]
        return node

    for _, triple in items:
        nodes = [t for t in (triple.subject, triple.object) if isinstance(t, BlankNode)]
        for node in nodes[1:]:
            parent[root(node)] = root(nodes[0])
    structures: dict[BlankNode, list[_Item]] = {}
    for item in items:
        first = next(t for t in (item[1].subject, item[1].object) if isinstance(t, BlankNode))
        structures.setdefault(root(first), []).append(item)
    group: list[_Item] = []
    for structure in structures.values():
        if group and len(group) + len(structure) > TEMPLATE_BLOCK:
            yield group
            group = []
        group += structure
    if group:
        yield group


def _items(triples: Mapping[GraphName, set[Triple]]) -> Iterator[_Item]:
    return ((graph, triple) for graph, some in triples.items() for triple in some)


def _plain(triple: Triple) -> str:
    return f"{triple.subject} {triple.predicate} {triple.object}"


def _has_blank(triple: Triple) -> bool:
    return isinstance(triple.subject, BlankNode) or isinstance(triple.object, BlankNode)


def _blank(dialect: Dialect, term: _T) -> _T | BlankNode:
    return dialect.blank_in(term) if isinstance(term, BlankNode) else term


def _shown(graph: GraphName) -> str:
    return f"<{graph.value}>" if isinstance(graph, NamedNode) else "the default graph"


# --- answers ------------------------------------------------------------------------------


def _as_triples(triples: list[Triple]) -> QueryResult:
    """Parsed triples as pyoxigraph's own CONSTRUCT answer (what the serialisers read)."""
    scratch = Store()
    scratch.extend(Quad(t.subject, t.predicate, t.object, DefaultGraph()) for t in triples)
    return scratch.query("CONSTRUCT WHERE { ?s ?p ?o }")


def _matching(result: QuerySolutions, wanted: dict[Variable, BlankNode]) -> QuerySolutions:
    """The solutions whose variables hold the wanted blank nodes (each must be projected)."""
    variables = result.variables
    if not set(wanted) <= set(variables):
        raise InputError("a blank node can bind only a projected variable on a remote store")
    rows = [
        {var.value: _json_term(row[var]) for var in variables if row[var] is not None}
        for row in result
        if all(row[var] == node for var, node in wanted.items())
    ]
    document = {"head": {"vars": [var.value for var in variables]}, "results": {"bindings": rows}}
    answer = parse_query_results(json.dumps(document), QueryResultsFormat.JSON)
    assert isinstance(answer, QuerySolutions)
    return answer


def _json_term(term: Term | None) -> dict[str, str]:
    if isinstance(term, NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, Literal):
        if term.language:
            return {"type": "literal", "value": term.value, "xml:lang": term.language}
        if term.datatype != _XSD_STRING:
            return {"type": "literal", "value": term.value, "datatype": term.datatype.value}
        return {"type": "literal", "value": term.value}
    raise InputError(f"a remote store cannot carry {term!r} here")
