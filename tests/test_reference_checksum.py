"""The reference graphs' checksum: of the canonical form (RDFC-1.0), so blank-node labels
do not count and blank-node structure does."""

from __future__ import annotations

from pathlib import Path

from pyoxigraph import BlankNode, NamedNode, Triple

from citytools.loaders.iris import Minter
from citytools.service.runtime.bootstrap import _checksum, ensure_reference, reference_graphs
from citytools.service.store.embedded import EmbeddedStore

P = NamedNode("http://example.org/p")
Q = NamedNode("http://example.org/q")
X = NamedNode("http://example.org/x")


def test_the_same_graph_labelled_afresh_and_in_another_order_has_one_checksum() -> None:
    a, b = BlankNode("a"), BlankNode("b")
    c, d = BlankNode("c"), BlankNode("d")
    first = [Triple(X, P, a), Triple(a, Q, b), Triple(b, P, X)]
    again = [Triple(d, P, X), Triple(X, P, c), Triple(c, Q, d)]
    assert _checksum(first) == _checksum(again)


def test_graphs_differing_only_in_blank_node_structure_have_different_checksums() -> None:
    a, b = BlankNode("a"), BlankNode("b")
    chain = [Triple(X, P, a), Triple(a, P, b)]  # x -> a -> b
    fork = [Triple(X, P, a), Triple(b, P, b)]  # x -> a, and b -> b
    # With every label read as `_:b` both were "<x> <p> _:b", "_:b <p> _:b".
    assert _checksum(chain) != _checksum(fork)


def test_every_parse_of_the_shipped_reference_graphs_has_the_same_checksums() -> None:
    minter = Minter("https://w3id.org/citytools/id/")
    first, second = reference_graphs(minter), reference_graphs(minter)
    assert any(isinstance(t.object, BlankNode) for t in next(iter(first.values())))
    assert {g: _checksum(t) for g, t in first.items()} == {
        g: _checksum(t) for g, t in second.items()
    }


def test_a_graph_without_blank_nodes_is_hashed_as_it_is() -> None:
    triples = [Triple(X, P, Q), Triple(Q, P, X)]
    assert _checksum(triples) == _checksum(list(reversed(triples)))
    assert _checksum(triples) != _checksum(triples[:1])


def test_a_store_opened_again_rewrites_no_reference_graph(tmp_path: Path) -> None:
    minter = Minter("https://w3id.org/citytools/id/")
    store = EmbeddedStore(tmp_path / "store")
    try:
        assert len(ensure_reference(store, minter)) == 4
        assert ensure_reference(store, minter) == []  # the ontology's blank nodes included
    finally:
        store.close()
