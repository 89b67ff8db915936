"""VoID and the dumps: whole-dataset void:triples is the quad count, one subset per graph,
and a dump reloads into an empty store with the same quads."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest
import rdflib
from http_support import VENDORS_TTL, TestClient, put_graph, settings_for, started
from pyoxigraph import RdfFormat, Store

VOID = rdflib.Namespace("http://rdfs.org/ns/void#")
DCT = rdflib.Namespace("http://purl.org/dc/terms/")
BASE = "https://w3id.org/citytools/id/"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with started(settings_for(tmp_path_factory.mktemp("void"))) as client:
        put_graph(client, "https://example.org/graph/void", VENDORS_TTL)
        yield client


def quads(client: TestClient) -> int:
    rows = client.get(
        "/sparql", params={"query": "SELECT (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } }"}
    )
    return int(rows.json()["results"]["bindings"][0]["n"]["value"])


def test_void_counts_the_store_and_describes_each_graph(client: TestClient) -> None:
    answer = client.get("/.well-known/void", headers={"Accept": "text/turtle"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/turtle")
    graph = rdflib.Graph().parse(data=answer.text, format="turtle")
    dataset = rdflib.URIRef(BASE + "dataset")
    assert int(graph.value(dataset, VOID.triples)) == quads(client)
    assert graph.value(dataset, VOID.sparqlEndpoint) == rdflib.URIRef("http://testserver/sparql")
    assert str(graph.value(dataset, VOID.uriSpace)) == BASE
    dumps = set(graph.objects(dataset, VOID.dataDump))
    assert dumps == {
        rdflib.URIRef("http://testserver/dump.nq.gz"),
        rdflib.URIRef("http://testserver/dump.trig.gz"),
    }
    subsets = set(graph.objects(dataset, VOID.subset))
    named = client.get("/sparql", params={"query": "SELECT DISTINCT ?g { GRAPH ?g { } }"}).json()[
        "results"
    ]["bindings"]
    assert subsets == {rdflib.URIRef(row["g"]["value"]) for row in named}
    mine = rdflib.URIRef("https://example.org/graph/void")
    assert int(graph.value(mine, VOID.triples)) == 7  # VENDORS_TTL's triples
    london = rdflib.URIRef(BASE + "graph/reference/london-authorities")
    assert graph.value(london, DCT.license) is not None
    total = sum(int(graph.value(s, VOID.triples)) for s in subsets)
    assert total == quads(client)  # the subsets add up (no quad in the default graph)


@pytest.mark.parametrize(
    ("path", "fmt"), [("/dump.nq.gz", RdfFormat.N_QUADS), ("/dump.trig.gz", RdfFormat.TRIG)]
)
def test_a_dump_reloads_into_an_empty_store_with_the_same_quads(
    client: TestClient, path: str, fmt: RdfFormat, tmp_path: Path
) -> None:
    answer = client.get(path)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/gzip"
    reloaded = Store()
    reloaded.load(gzip.decompress(answer.content), format=fmt)
    assert len(reloaded) == quads(client)
    again = client.get(path, headers={"If-None-Match": answer.headers["etag"]})
    assert again.status_code == 304
