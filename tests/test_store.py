"""The embedded store: atomic graph replacement, the single-writer lock, dumps, versions."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from pyoxigraph import BlankNode, Literal, NamedNode, RdfFormat, Triple, parse

from citytools.errors import StoreBusy
from citytools.service.store import EmbeddedStore

G = NamedNode("https://example.org/graph/a")
H = NamedNode("https://example.org/graph/b")


def triples(n: int, prefix: str = "s") -> list[Triple]:
    p = NamedNode("https://example.org/p")
    return [
        Triple(NamedNode(f"https://example.org/{prefix}{i}"), p, Literal(str(i))) for i in range(n)
    ]


def test_replace_graph_swaps_content_and_leaves_other_graphs(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "db")
    store.replace_graph(G, triples(10))
    store.replace_graph(H, triples(3, "h"))
    store.replace_graph(G, triples(4, "x"))
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
    store.replace_graph(G, triples(2))
    seen.append(store.version)
    store.add_to_graph(G, triples(1, "y"))
    seen.append(store.version)
    store.drop_graph(G)
    seen.append(store.version)
    assert len(set(seen)) == 4
    assert store.quad_count() == 0
    store.close()


def test_literals_with_quotes_and_newlines_survive_replace(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "db")
    tricky = Triple(G, NamedNode("https://example.org/p"), Literal('say "hi"\n} ; DROP ALL ; #'))
    store.replace_graph(G, [tricky])
    store.replace_graph(G, [tricky, *triples(1)])  # the second write goes through SPARQL Update
    assert tricky in set(store.graph_triples(G))
    assert store.quad_count() == 2
    store.close()


def test_second_writer_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    first = EmbeddedStore(tmp_path / "db")
    code = (
        "import sys\nfrom pathlib import Path\n"
        "from citytools.service.store import EmbeddedStore\n"
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
    store.replace_graph(G, triples(2))
    store.replace_graph(H, triples(5, "h"))
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
    store.replace_graph(G, triples(3))
    assert store.quad_count() == 3
    store.close()


def test_replace_writes_only_the_difference_and_keeps_the_rest(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "store")
    graph = NamedNode("https://example.org/g")
    first = triples(1000)
    store.replace_graph(graph, first)
    edited = [*first[:-2], *triples(3, prefix="new")]  # 2 removed, 3 added
    store.replace_graph(graph, edited)
    assert set(store.graph_triples(graph)) == set(edited)
    version = store.version
    store.replace_graph(graph, edited)  # nothing changed: still one write, same content
    assert store.version == version + 1
    assert set(store.graph_triples(graph)) == set(edited)
    store.replace_graph(graph, triples(10, prefix="other"))  # mostly different: drop + insert
    assert set(store.graph_triples(graph)) == set(triples(10, prefix="other"))
    store.close()


def test_replace_with_blank_nodes_drops_and_inserts(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "store")
    graph = NamedNode("https://example.org/g")
    p = NamedNode("https://example.org/p")
    store.replace_graph(graph, [Triple(BlankNode(), p, Literal("a"))])
    store.replace_graph(graph, [Triple(BlankNode(), p, Literal("b"))])
    assert [t.object for t in store.graph_triples(graph)] == [Literal("b")]
    store.close()
