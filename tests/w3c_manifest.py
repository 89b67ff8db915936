"""Reading the W3C SPARQL 1.1 Protocol and Graph Store Protocol test manifests.

The manifests (tests/data/w3c/, see its README) describe each test as a connection
of HTTP requests in the W3C HTTP vocabulary (`ht:Request`: method, path, headers,
body) with the expected response (`ht:resp`: `mf:expectedStatus`,
`mf:expectedFormat`, `mf:expectedBoolean`, expected headers and RDF body,
`mf:expectedLocation`) and the named graphs to load first (`ut:graphData`).
This module turns them into plain data, in manifest order, following `mf:include`;
`tests/test_w3c_protocol.py` runs them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path

import rdflib
from rdflib.collection import Collection
from rdflib.namespace import RDF, RDFS
from rdflib.term import Node

DATA = Path(__file__).parent / "data" / "w3c"
MANIFESTS = (DATA / "protocol" / "manifest.ttl", DATA / "graph-store-protocol" / "manifest.ttl")

MF = rdflib.Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
HT = rdflib.Namespace("http://www.w3.org/2011/http#")
HTS = rdflib.Namespace("http://www.w3.org/2011/http-statusCodes#")
CNT = rdflib.Namespace("http://www.w3.org/2011/content#")
UT = rdflib.Namespace("http://www.w3.org/2009/sparql/tests/test-update#")


@dataclass(frozen=True)
class Expected:
    """What the response to one request must be."""

    statuses: tuple[str, ...]  # "201", or a class such as "2xx"
    format: str | None = None  # "boolean", "tabular" or "RDF"
    boolean: bool | None = None
    headers: tuple[tuple[str, str], ...] = ()
    body: str | None = None  # RDF, in the syntax the expected Content-Type names
    location: str | None = None  # template variable bound to the Location header

    def allows(self, status: int) -> bool:
        return any(s in (str(status), f"{status // 100}xx") for s in self.statuses)

    def header(self, name: str) -> str | None:
        return next((v for n, v in self.headers if n == name.lower()), None)


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # as written: starts with /sparql/ or /gsp
    headers: tuple[tuple[str, str], ...]  # names in lower case
    body: str | None
    encoding: str  # cnt:characterEncoding of the body
    expected: Expected

    def header(self, name: str) -> str | None:
        return next((v for n, v in self.headers if n == name.lower()), None)


@dataclass(frozen=True)
class GraphData:
    file: Path
    name: str  # the graph's IRI (rdfs:label)


@dataclass(frozen=True)
class Entry:
    """One manifest entry."""

    iri: str
    name: str
    comment: str
    type: str  # local name: ProtocolTest, GraphStoreProtocolTest
    manifest: str  # rdfs:label of the manifest that lists it
    authority: str  # ht:connectionAuthority, e.g. "www.example"
    requires: tuple[str, ...] = ()  # local names of mf:requires
    graph_data: tuple[GraphData, ...] = ()
    requests: tuple[Request, ...] = field(default=())

    @property
    def key(self) -> str:
        """The local name of the entry's IRI, unique across both manifests."""
        return self.iri.rpartition("#")[2]


def entries() -> list[Entry]:
    """Every entry of both manifests, in manifest order."""
    found: list[Entry] = []
    for manifest in MANIFESTS:
        found.extend(read_manifest(manifest))
    return found


def read_manifest(path: Path) -> list[Entry]:
    """The entries listed by `mf:entries` of the manifest at `path` and of those it includes."""
    graph = rdflib.Graph().parse(path, format="turtle", publicID=path.resolve().as_uri())
    manifest = rdflib.URIRef(path.resolve().as_uri())
    found: list[Entry] = []
    for included in _list(graph, graph.value(manifest, MF.include)):
        found.extend(read_manifest(_local_file(included)))
    label = str(graph.value(manifest, RDFS.label) or path.name)
    for node in _list(graph, graph.value(manifest, MF.entries)):
        found.append(_entry(graph, node, label))
    return found


def _entry(graph: rdflib.Graph, node: Node, manifest: str) -> Entry:
    action = graph.value(node, MF.action)
    return Entry(
        iri=str(node),
        name=str(graph.value(node, MF.name) or ""),
        comment=str(graph.value(node, RDFS.comment) or ""),
        type=_local(graph.value(node, RDF.type)),
        manifest=manifest,
        authority=str(graph.value(action, HT.connectionAuthority) or ""),
        requires=tuple(sorted(_local(r) for r in graph.objects(node, MF.requires))),
        graph_data=tuple(
            GraphData(_local_file(graph.value(data, UT.graph)), str(graph.value(data, RDFS.label)))
            for data in graph.objects(node, UT.graphData)
        ),
        requests=tuple(_request(graph, r) for r in _list(graph, graph.value(action, HT.requests))),
    )


def _request(graph: rdflib.Graph, node: Node) -> Request:
    body = graph.value(node, HT.body)
    return Request(
        method=str(graph.value(node, HT.methodName)),
        path=str(graph.value(node, HT.absolutePath)),
        headers=_headers(graph, graph.value(node, HT.headers)),
        body=None if body is None else str(graph.value(body, CNT.chars)),
        encoding=str(graph.value(body, CNT.characterEncoding) or "UTF-8"),
        expected=_expected(graph, graph.value(node, HT.resp)),
    )


def _expected(graph: rdflib.Graph, node: Node | None) -> Expected:
    boolean = graph.value(node, MF.expectedBoolean)
    body = graph.value(node, HT.body)
    location = graph.value(node, MF.expectedLocation)
    fmt = graph.value(node, MF.expectedFormat)
    return Expected(
        statuses=tuple(sorted(_status(s) for s in graph.objects(node, MF.expectedStatus))),
        format=None if fmt is None else str(fmt),
        boolean=None if boolean is None else str(boolean) == "true",
        headers=_headers(graph, graph.value(node, HT.headers)),
        body=None if body is None else str(graph.value(body, CNT.chars)),
        location=None if location is None else str(location),
    )


def _status(node: Node) -> str:
    """`hts:StatusCode2xx` -> "2xx"; `hts:NoContent` -> "204"."""
    name = _local(node)
    if name.startswith("StatusCode"):
        return name.removeprefix("StatusCode")
    snake = re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name).upper()  # NoContent -> NO_CONTENT
    return str(HTTPStatus[snake].value)


def _headers(graph: rdflib.Graph, node: Node | None) -> tuple[tuple[str, str], ...]:
    return tuple(
        (str(graph.value(h, HT.fieldName)).lower(), str(graph.value(h, HT.fieldValue)))
        for h in _list(graph, node)
    )


def _list(graph: rdflib.Graph, node: Node | None) -> list[Node]:
    return [] if node is None else list(Collection(graph, node))


def _local(node: Node | None) -> str:
    text = str(node or "")
    return text.rpartition("#")[2] if "#" in text else text.rpartition("/")[2]


def _local_file(node: Node | None) -> Path:
    """A manifest-relative IRI (resolved against the file:// base) as a path."""
    text = str(node)
    if not text.startswith("file://"):
        raise ValueError(f"{text} is not a file next to the manifest")
    return Path(text.removeprefix("file://"))
