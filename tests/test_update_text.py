"""The update text rewrites: the protocol's dataset as USING clauses, the service's base IRI.

Each rewrite is checked by running it: the rewritten update on a pyoxigraph store must do
what the protocol says the original does with that dataset.
"""

from __future__ import annotations

import pytest
from pyoxigraph import NamedNode, Quad, Store

from citytools.errors import InputError
from citytools.service.sparql.update_text import with_base, with_protocol_dataset

EX = "https://example.org/"
G1, G2, OUT = NamedNode(EX + "g1"), NamedNode(EX + "g2"), NamedNode(EX + "out")
S, P = NamedNode(EX + "s"), NamedNode(EX + "p")


def store() -> Store:
    data = Store()
    data.add(Quad(S, P, NamedNode(EX + "one"), G1))
    data.add(Quad(S, P, NamedNode(EX + "two"), G2))
    return data


def objects(data: Store, graph: NamedNode) -> set[str]:
    return {q.object.value for q in data.quads_for_pattern(None, None, None, graph)}


def test_no_protocol_dataset_leaves_the_text_alone() -> None:
    text = "INSERT { GRAPH <https://example.org/out> { ?s ?p ?o } } WHERE { ?s ?p ?o }"
    assert with_protocol_dataset(text, [], []) == text


def test_using_graph_uri_is_the_default_graph_of_the_where() -> None:
    text = f"INSERT {{ GRAPH <{OUT.value}> {{ ?s ?p ?o }} }} WHERE {{ ?s ?p ?o }}"
    rewritten = with_protocol_dataset(text, [G1.value], [])
    assert f"USING <{G1.value}>" in rewritten
    data = store()
    data.update(rewritten)
    assert objects(data, OUT) == {EX + "one"}


def test_using_named_graph_uri_gives_the_named_graphs() -> None:
    text = f"INSERT {{ GRAPH <{OUT.value}> {{ ?s ?p ?o }} }} WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}"
    data = store()
    data.update(with_protocol_dataset(text, [], [G2.value]))
    assert objects(data, OUT) == {EX + "two"}


def test_delete_where_becomes_delete_using_where() -> None:
    text = f"DELETE WHERE {{ GRAPH <{G1.value}> {{ ?s ?p ?o }} }}"
    rewritten = with_protocol_dataset(text, [], [G1.value])
    assert rewritten.startswith(
        f"DELETE {{ GRAPH <{G1.value}> {{ ?s ?p ?o }} }} USING NAMED <{G1.value}> WHERE"
    )
    data = store()
    data.update(rewritten)
    assert objects(data, G1) == set()
    assert objects(data, G2) == {EX + "two"}


def test_every_operation_of_a_request_gets_the_dataset() -> None:
    text = (
        f"INSERT {{ GRAPH <{OUT.value}> {{ ?s ?p ?o }} }} WHERE {{ ?s ?p ?o }} ;\n"
        f"INSERT DATA {{ GRAPH <{OUT.value}> {{ <{EX}x> <{EX}p> 'braces {{ ; }} in a string' }} }}"
        " ;\n"
        f"DELETE {{ GRAPH <{G2.value}> {{ ?s ?p ?o }} }} WHERE {{ ?s ?p ?o }}"
    )
    rewritten = with_protocol_dataset(text, [G2.value], [])
    assert rewritten.count("USING") == 2  # INSERT DATA has no WHERE
    data = store()
    data.update(rewritten)
    assert objects(data, OUT) == {EX + "two", "braces { ; } in a string"}
    assert objects(data, G2) == set()


@pytest.mark.parametrize(
    "text",
    [
        f"WITH <{G1.value}> DELETE {{ ?s ?p ?o }} WHERE {{ ?s ?p ?o }}",
        f"INSERT {{ GRAPH <{OUT.value}> {{ ?s ?p ?o }} }} USING <{G2.value}> WHERE {{ ?s ?p ?o }}",
    ],
)
def test_a_dataset_in_the_text_and_in_the_request_is_refused(text: str) -> None:
    with pytest.raises(InputError, match="give only one"):
        with_protocol_dataset(text, [G1.value], [])


def test_base_is_added_only_for_relative_iris_and_on_the_same_line() -> None:
    absolute = f"INSERT DATA {{ GRAPH <{G1.value}> {{ <{EX}a> <{EX}b> <{EX}c> }} }}"
    assert with_base(absolute, EX) == absolute
    relative = "INSERT DATA {\n GRAPH <g> { <a> <b> <c> } }"
    rewritten = with_base(relative, EX)
    assert rewritten.count("\n") == relative.count("\n")
    data = Store()
    data.update(rewritten)
    assert [q.graph_name.value for q in data] == [EX + "g"]
    # "<" inside a string is not an IRI
    assert with_base(
        f'INSERT DATA {{ GRAPH <{G1.value}> {{ <{EX}a> <{EX}b> "<c>" }} }}', EX
    ).startswith("INSERT")
