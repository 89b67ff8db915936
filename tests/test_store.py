"""The embedded store: one atomic write of changes to several graphs, the single-writer lock,
dumps, versions."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from pyoxigraph import BlankNode, DefaultGraph, Literal, NamedNode, Quad, RdfFormat, Triple, parse

from citytools.errors import StoreBusy
from citytools.service.store.embedded import STAGING, EmbeddedStore
from citytools.service.store.interface import GraphChange, GraphName

G = NamedNode("https://example.org/graph/a")
H = NamedNode("https://example.org/graph/b")


def triples(n: int, prefix: str = "s") -> list[Triple]:
    p = NamedNode("https://example.org/p")
    return [
        Triple(NamedNode(f"https://example.org/{prefix}{i}"), p, Literal(str(i))) for i in range(n)
    ]


def put(store: EmbeddedStore, graph: GraphName, content: list[Triple]) -> None:
    """Make `graph` hold exactly `content`, as a Graph Store PUT does."""
    held = set(store.graph_triples(graph))
    store.apply({graph: GraphChange(added=set(content) - held, removed=held - set(content))})


def test_replace_graph_swaps_content_and_leaves_other_graphs(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "db")
    put(store, G, triples(10))
    put(store, H, triples(3, "h"))
    put(store, G, triples(4, "x"))
    assert {t.subject.value for t in store.graph_triples(G)} == {
        f"https://example.org/x{i}" for i in range(4)
    }
    assert sum(1 for _ in store.graph_triples(H)) == 3
    assert store.quad_count() == 7
    assert store.named_graphs() == [G, H]
    store.close()


def test_version_changes_on_every_write(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "db")
    seen = [store.version]
    put(store, G, triples(2))
    seen.append(store.version)
    store.apply({G: GraphChange(added=set(triples(1, "y")))})
    seen.append(store.version)
    store.apply({G: GraphChange(exists_after=False)})
    seen.append(store.version)
    assert len(set(seen)) == 4
    assert store.quad_count() == 0
    store.close()


def test_literals_with_quotes_and_newlines_survive_replace(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "db")
    tricky = Triple(G, NamedNode("https://example.org/p"), Literal('say "hi"\n} ; DROP ALL ; #'))
    put(store, G, [tricky])
    put(store, G, [triples(1)[0]])  # a removal: the write goes through SPARQL Update
    put(store, G, [tricky, *triples(1)])
    assert tricky in set(store.graph_triples(G))
    assert store.quad_count() == 2
    store.close()


def test_second_writer_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    first = EmbeddedStore(tmp_path / "db")
    code = (
        "import sys\nfrom pathlib import Path\n"
        "from citytools.service.store.embedded import EmbeddedStore\n"
        "from citytools.errors import StoreBusy\n"
        "try:\n    EmbeddedStore(Path(sys.argv[1]))\n"
        "except StoreBusy as e:\n    print(e); sys.exit(3)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "db")], capture_output=True, text=True
    )
    assert result.returncode == 3
    assert "in use by another process" in result.stdout
    first.close()
    # once released, the store opens again
    EmbeddedStore(tmp_path / "db").close()


def test_same_process_second_open_is_refused(tmp_path: Path) -> None:
    first = EmbeddedStore(tmp_path / "db")
    with pytest.raises(StoreBusy):
        EmbeddedStore(tmp_path / "db")
    first.close()


def test_dump_one_graph_as_trig_keeps_the_graph_name(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "db")
    put(store, G, triples(2))
    put(store, H, triples(5, "h"))
    buffer = io.BytesIO()
    store.dump(buffer, fmt=RdfFormat.TRIG, graph=G)
    quads = list(parse(buffer.getvalue(), format=RdfFormat.TRIG))
    assert len(quads) == 2
    assert {q.graph_name for q in quads} == {G}
    everything = io.BytesIO()
    store.dump(everything, fmt=RdfFormat.N_QUADS)
    assert len(list(parse(everything.getvalue(), format=RdfFormat.N_QUADS))) == 7
    store.close()


def test_memory_store_has_no_lock(tmp_path: Path) -> None:
    store = EmbeddedStore(None)
    put(store, G, triples(3))
    assert store.quad_count() == 3
    store.close()


def test_changes_to_several_graphs_commit_together(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "store")
    put(store, G, triples(1000))
    put(store, H, triples(5, "h"))
    edit = {
        G: GraphChange(removed=set(triples(2)), added=set(triples(3, prefix="new"))),
        H: GraphChange(exists_after=False),
        DefaultGraph(): GraphChange(added=set(triples(1, "d"))),
    }
    store.apply(edit)
    assert set(store.graph_triples(G)) == (set(triples(1000)) - set(triples(2))) | set(
        triples(3, prefix="new")
    )
    assert not store.has_graph(H)
    assert set(store.graph_triples(DefaultGraph())) == set(triples(1, "d"))
    store.close()


def test_an_empty_named_graph_can_exist(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "store")
    store.apply({G: GraphChange(exists_after=True)})
    assert store.has_graph(G)
    assert list(store.graph_triples(G)) == []
    store.close()


def test_blank_nodes_keep_their_identity_through_removals(tmp_path: Path) -> None:
    """Triples with stored blank nodes are removed and added as those very nodes (staged,
    then moved by one update), so a node shared by two graphs stays one node."""
    store = EmbeddedStore(tmp_path / "store")
    p, q = NamedNode("https://example.org/p"), NamedNode("https://example.org/q")
    node = BlankNode()
    store.apply({G: GraphChange(added={Triple(node, p, Literal("a")), *triples(2)})})
    [stored] = [t for t in store.graph_triples(G) if isinstance(t.subject, BlankNode)]
    change = {
        G: GraphChange(removed={stored}, added={Triple(stored.subject, q, Literal("b"))}),
        H: GraphChange(added={Triple(stored.subject, p, Literal("c"))}),
        DefaultGraph(): GraphChange(removed=set(), added={Triple(G, p, stored.subject)}),
    }
    store.apply(change)
    [kept] = [t for t in store.graph_triples(G) if isinstance(t.subject, BlankNode)]
    assert kept == Triple(stored.subject, q, Literal("b"))
    assert set(store.graph_triples(H)) == {Triple(stored.subject, p, Literal("c"))}
    assert not [g for g in store.raw.named_graphs() if "staging" in str(g)]
    store.close()


def test_staging_graphs_left_by_a_killed_write_are_dropped_on_open(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "store")
    stage = NamedNode(STAGING + "insert/0")
    store.raw.add(Quad(BlankNode(), NamedNode("https://example.org/p"), Literal("x"), stage))
    store.close()
    reopened = EmbeddedStore(tmp_path / "store")
    assert reopened.named_graphs() == []
    reopened.close()
