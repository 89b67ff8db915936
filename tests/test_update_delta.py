"""The delta of a SPARQL Update, checked against pyoxigraph running the same update.

The W3C SPARQL 1.1 Update evaluation suite is not on this machine, so the check is
differential: from one dataset (a default graph, named graphs, one of them empty, blank
nodes), pyoxigraph's own `Store.update` runs the request on one copy (the oracle) and
`update_delta` computes the change for another, which is then applied; both copies must
end alike (isomorphic: blank nodes are minted on each side) or both refuse. Hand-written
requests cover each operation form; seeded random requests mix them. Separately: reads
are counted (the cost follows the change), protected graphs are refused.
"""

from __future__ import annotations

import functools
import hashlib
import random
import socket
from collections.abc import Iterator, Sequence

import pytest
import rdflib
from pyoxigraph import (
    BlankNode,
    DefaultGraph,
    Literal,
    NamedNode,
    Quad,
    Store,
    Triple,
    Variable,
)
from rdflib.compare import isomorphic

from citytools.errors import InputError, ReadOnlyGraph
from citytools.service.store.embedded import EmbeddedStore
from citytools.service.store.interface import GraphName, QueryResult, Term
from citytools.service.writes.update_delta import LOAD_REFUSED, UpdateDelta, update_delta

X = "http://x/"
PREFIX = f"PREFIX : <{X}> PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>\n"


def iri(name: str) -> NamedNode:
    return NamedNode(X + name)


G0, G1, G2, G3, G4 = (iri(f"g{i}") for i in range(5))
DATA = """
:s :p 1 . :s :q "a" . _:d1 :p 2 . _:d1 :q :s . :t :p :s .
GRAPH :g1 { :s :p 10 . :s :q "b"@en . _:a :p :s . _:a :q _:b . _:b :p 3 . }
GRAPH :g2 { :s :p 20 . :u :p 1 . :t :q :u . }
GRAPH :g3 { :s :p 1 . }
"""


@functools.cache
def dataset() -> list[Quad]:
    """The starting quads, with fixed blank node labels so that copies share them."""
    scratch = Store()
    scratch.update(PREFIX + f"INSERT DATA {{ {DATA} }}")
    labels: dict[BlankNode, BlankNode] = {}

    def fixed(term: Term) -> Term:
        if isinstance(term, BlankNode):
            return labels.setdefault(term, BlankNode(f"bn{len(labels)}"))
        return term

    quads = sorted(scratch, key=str)
    return [Quad(fixed(q.subject), q.predicate, fixed(q.object), q.graph_name) for q in quads]  # type: ignore[arg-type]


def fresh_store() -> Store:
    store = Store()
    store.extend(dataset())
    store.add_graph(G0)  # an empty named graph exists too
    return store


class Reads:
    """The engine's view of a pyoxigraph store (as `GraphStore` gives it), counting reads."""

    def __init__(self, store: Store) -> None:
        self.raw = store
        self.queries: list[str] = []
        self.graphs_read: list[GraphName] = []

    def query(
        self,
        sparql: str,
        *,
        substitutions: dict[Variable, Term] | None = None,
        default_graph: Sequence[GraphName] | None = None,
        named_graphs: Sequence[NamedNode] | None = None,
    ) -> QueryResult:
        assert default_graph is not None, "the engine must name the default graph"
        self.queries.append(sparql)
        return self.raw.query(
            sparql,
            substitutions=substitutions,
            default_graph=list(default_graph),
            named_graphs=None if named_graphs is None else list(named_graphs),
        )

    def graph_triples(self, graph: NamedNode | DefaultGraph) -> Iterator[Triple]:
        self.graphs_read.append(graph)
        for quad in self.raw.quads_for_pattern(None, None, None, graph):
            yield quad.triple

    def named_graphs(self) -> list[NamedNode]:
        return sorted((g for g in self.raw.named_graphs() if isinstance(g, NamedNode)), key=str)

    def has_graph(self, graph: NamedNode) -> bool:
        return bool(self.raw.contains_named_graph(graph))


def apply(store: Store, delta: UpdateDelta) -> None:
    """What the write path does with a delta, checking its contract on the way."""
    for graph, change in delta.changes.items():
        before = {q.triple for q in store.quads_for_pattern(None, None, None, graph)}
        assert change.removed <= before, f"{graph}: removes triples it does not hold"
        assert not change.added & before, f"{graph}: adds triples it already holds"
        existed = isinstance(graph, DefaultGraph) or store.contains_named_graph(graph)
        assert change.added or change.removed or change.exists_after is not None
        assert change.exists_after is None or change.exists_after != existed
        for triple in change.removed:
            store.remove(Quad(triple.subject, triple.predicate, triple.object, graph))
        store.extend(Quad(t.subject, t.predicate, t.object, graph) for t in change.added)
        if change.exists_after is True:
            assert isinstance(graph, NamedNode)
            store.add_graph(graph)
        elif change.exists_after is False:
            assert isinstance(graph, NamedNode)
            assert not change.added
            store.remove_graph(graph)


def _rdflib(term: Term) -> rdflib.term.Node:
    if isinstance(term, NamedNode):
        return rdflib.URIRef(term.value)
    if isinstance(term, BlankNode):
        return rdflib.BNode(term.value)
    if isinstance(term, Triple):  # its blank nodes, if any, are stored ones: same labels
        return rdflib.URIRef("urn:triple:" + hashlib.sha1(str(term).encode()).hexdigest())
    if term.language:
        return rdflib.Literal(term.value, lang=term.language)
    return rdflib.Literal(term.value, datatype=rdflib.URIRef(term.datatype.value))


def assert_same(oracle: Store, mine: Store) -> None:
    """Same named graphs, and the same quads up to blank node renaming (across graphs)."""
    assert set(oracle.named_graphs()) == set(mine.named_graphs())
    expected, actual = set(oracle), set(mine)
    if not any(isinstance(t, BlankNode) for q in expected | actual for t in (q.subject, q.object)):
        assert {str(q) for q in expected} == {str(q) for q in actual}
        return

    def graph(quads: set[Quad]) -> rdflib.Graph:
        # A quad as a triple whose predicate also names its graph: one isomorphism check
        # covers blank nodes shared by several graphs.
        out = rdflib.Graph()
        for q in quads:
            key = hashlib.sha1(f"{q.graph_name} {q.predicate}".encode()).hexdigest()
            out.add((_rdflib(q.subject), rdflib.URIRef(f"urn:q:{key}"), _rdflib(q.object)))
        return out

    assert len(expected) == len(actual), (sorted(map(str, expected)), sorted(map(str, actual)))
    assert isomorphic(graph(expected), graph(actual)), (
        sorted(map(str, expected)),
        sorted(map(str, actual)),
    )


def run_both(update: str, oracle: Store, mine: Store) -> str | None:
    """Run `update` on the oracle and, as a delta, on `mine`; the error, if both refuse."""
    try:
        oracle.update(update)
        oracle_error = None
    except (SyntaxError, OSError, RuntimeError, ValueError) as exc:
        oracle_error = f"{type(exc).__name__}: {exc}"
    try:
        delta: UpdateDelta | None = update_delta(Reads(mine), update)
        error = None
    except InputError as exc:
        delta, error = None, str(exc)
    assert error is None or oracle_error is not None, f"refused, pyoxigraph runs it: {error}"
    assert oracle_error is None or error is not None, f"accepted, pyoxigraph: {oracle_error}"
    if delta is not None:
        apply(mine, delta)
        assert_same(oracle, mine)
    return error


def differential(update: str) -> str | None:
    return run_both(update, fresh_store(), fresh_store())


REQUESTS = [
    # INSERT DATA
    "INSERT DATA { :n :p 1 }",
    "INSERT DATA { :s :p 1 }",
    "INSERT DATA { GRAPH :g4 { :n :p _:x . _:x :q 1 } }",
    'INSERT DATA { GRAPH :g1 { :s :p 10 , 11 ; :q "c" } :s :p 1 }',
    "INSERT DATA { GRAPH :g0 { } GRAPH :g4 { } }",
    "INSERT DATA { :l :p ( 1 2 ) }",
    "INSERT DATA { :l :p [ :q 1 ; :q [ :r 2 ] ] }",
    'INSERT DATA { :s :p "01"^^xsd:integer . :s :p "1.0"^^xsd:double }',
    'insert data { :s :p """long\n"quoted" ; } {""" , \'x\'@en-GB }',
    # DELETE DATA
    "DELETE DATA { :s :p 1 }",
    "DELETE DATA { :s :p 999 }",
    'DELETE DATA { GRAPH :g1 { :s :p 10 } GRAPH :g2 { :s :p 20 } :s :q "a" }',
    "DELETE DATA { GRAPH :g4 { :s :p 1 } }",
    'DELETE DATA { :s :p "01"^^xsd:integer }',
    # DELETE WHERE
    "DELETE WHERE { ?s :p ?o }",
    "DELETE WHERE { GRAPH :g1 { ?s ?p ?o } }",
    "DELETE WHERE { GRAPH ?g { :s :p ?o } }",
    "DELETE WHERE { ?x :q ?y . ?x :p ?z }",
    "DELETE WHERE { GRAPH :g1 { ?a :q ?b . ?b :p ?c } }",
    "DELETE WHERE { :nothing ?p ?o }",
    "DELETE WHERE { ?s :p ?o . GRAPH ?g { ?s :p ?o } }",
    # DELETE / INSERT … WHERE
    "DELETE { ?s :p ?o } INSERT { ?s :p2 ?o } WHERE { ?s :p ?o }",
    "INSERT { GRAPH :g4 { ?s ?p ?o } } WHERE { ?s ?p ?o }",
    "WITH :g1 DELETE { ?s :p ?o } INSERT { ?s :p3 ?o } WHERE { ?s :p ?o }",
    "WITH :g1 INSERT { ?s :seen 1 } USING :g2 WHERE { ?s :p ?o }",
    "INSERT { :r :has ?g } USING NAMED :g1 USING NAMED :g2 WHERE { GRAPH ?g { ?s :p ?o } }",
    "INSERT { :r :has ?o } USING :g1 USING :g2 WHERE { ?s :p ?o }",
    "INSERT { :r :has ?g } USING :g1 WHERE { GRAPH ?g { ?s ?p ?o } }",
    "INSERT { :r :has ?o } USING NAMED :g1 WHERE { ?s ?p ?o }",
    "DELETE { GRAPH ?g { ?s ?p ?o } } WHERE { GRAPH ?g { ?s ?p ?o FILTER(isBlank(?s)) } }",
    "INSERT { ?s :p2 _:n . GRAPH :g2 { _:n :q ?s } } WHERE { ?s :p ?o }",
    "INSERT { ?o :p2 ?s . ?s ?o 1 . GRAPH ?o { ?s :x 1 } } WHERE { ?s :p ?o }",
    "INSERT { ?s :count ?n } "
    "WHERE { { SELECT ?s (COUNT(*) AS ?n) WHERE { ?s ?p ?o } GROUP BY ?s } }",
    "DELETE { ?s :p ?o } WHERE { ?s :p ?o FILTER NOT EXISTS { GRAPH :g3 { ?s :p ?o } } }",
    "INSERT { GRAPH :g2 { ?s :opt ?q } } WHERE { ?s :p ?o OPTIONAL { ?s :q ?q } }",
    'DELETE { GRAPH :g1 { ?s ?p ?o } } INSERT { GRAPH :g1 { ?s ?p "x" } } '
    "WHERE { GRAPH :g1 { ?s ?p ?o } FILTER(isLiteral(?o)) }",
    "INSERT { GRAPH ?g { :mark :in ?g } } WHERE { GRAPH ?g { } }",
    "INSERT { ?s :b ?b } WHERE { ?s :p ?o BIND(BNODE() AS ?b) }",
    "INSERT { :c :d :e } WHERE { }",
    "INSERT { :c :d :e } WHERE { :nothing ?p ?o }",
    "DELETE { :s :p 1 } WHERE { }",
    "DELETE { ?s ?p ?o } INSERT { ?s ?p ?o } WHERE { ?s ?p ?o }",
    "WITH :g4 INSERT { :a :b :c } WHERE { }",
    "INSERT { ?s :lit ?l } WHERE { ?s :p ?o BIND(STR(?o) AS ?l) }",
    "INSERT { ?s :p ?o } WHERE { VALUES (?s ?o) { (:v1 1) (:v2 UNDEF) } }",
    "DELETE { $s :p $o } WHERE { $s :p $o }",
    "INSERT { [] :from ?s } WHERE { ?s :p ?o }",
    "INSERT { ?s :list ( ?o 1 ) } WHERE { ?s :p ?o }",
    "DELETE { GRAPH :g1 { ?a ?p ?o } } WHERE { GRAPH :g1 { ?a :q ?b . ?a ?p ?o } }",
    "DELETE { ?x ?p ?o } WHERE { GRAPH :g1 { ?x :q ?y } ?x ?p ?o }",
    "INSERT { GRAPH :g3 { ?a :copy ?o } } WHERE { GRAPH :g1 { ?a :q ?o } }",
    # requests whose operations depend on each other
    "DROP ALL ; INSERT DATA { GRAPH :g { :a :b 1 } }",
    "CLEAR ALL ; INSERT DATA { :a :b 1 }",
    "INSERT DATA { :a :b 1 } ; DELETE WHERE { ?s :b ?o }",
    "INSERT DATA { GRAPH :g4 { :a :b 1 } } ; INSERT { ?s :c ?o } WHERE { GRAPH ?g { ?s :b ?o } }",
    "DELETE WHERE { ?s :p ?o } ; INSERT { ?s :gone 1 } WHERE { ?s :q ?o }",
    "CREATE GRAPH :g4 ; INSERT { :r :has ?g } WHERE { GRAPH ?g { } }",
    "DROP GRAPH :g1 ; INSERT DATA { GRAPH :g1 { :s :p 10 } }",
    "DROP GRAPH :g1 ; CREATE GRAPH :g1",
    "CREATE GRAPH :g4 ; DROP GRAPH :g4",
    "MOVE DEFAULT TO :g1 ; INSERT DATA { :a :b 1 }",
    "COPY :g1 TO DEFAULT ; DELETE WHERE { ?x :q ?y }",
    "DELETE DATA { :s :p 1 } ; INSERT DATA { :s :p 1 }",
    "WITH :g2 DELETE { ?s ?p ?o } WHERE { ?s ?p ?o } ; "
    "INSERT { GRAPH :g4 { ?s ?p ?o } } WHERE { GRAPH :g2 { ?s ?p ?o } }",
    "INSERT DATA { GRAPH :g2 { :new :p 5 } } ; "
    "DELETE { GRAPH :g2 { ?s :p ?o } } WHERE { GRAPH :g2 { ?s :p ?o FILTER(?o > 4) } }",
    "INSERT DATA { :a :b 1 } ; WITH :g1 INSERT { ?s :d ?o } WHERE { ?s :b ?o }",
    "INSERT DATA { GRAPH :g4 { :a :b 1 } } ; DELETE DATA { GRAPH :g4 { :a :b 1 } }",
    "INSERT DATA { GRAPH :g4 { :a :b 1 } } ; CLEAR GRAPH :g4 ; "
    "INSERT DATA { GRAPH :g4 { :a :b 2 } }",
    "CLEAR GRAPH :g1 ; INSERT { GRAPH :g1 { ?s ?p ?o } } WHERE { ?s ?p ?o }",
    "DROP DEFAULT ; INSERT { ?s :again ?o } WHERE { GRAPH :g1 { ?s :p ?o } } ; "
    "DELETE WHERE { ?s :again 3 }",
    "ADD :g1 TO :g2 ; DELETE WHERE { GRAPH :g2 { ?a :q ?b . ?b :p ?c } }",
    "INSERT { GRAPH :g4 { ?s ?p ?o } } WHERE { GRAPH :g1 { ?s ?p ?o } } ; "
    "DELETE WHERE { GRAPH :g4 { ?a :q ?b } } ; COPY :g4 TO :g1",
    # graph management
    "CLEAR GRAPH :g1",
    "CLEAR DEFAULT",
    "CLEAR NAMED",
    "CLEAR ALL",
    "DROP GRAPH :g2",
    "DROP DEFAULT",
    "DROP NAMED",
    "DROP ALL",
    "DROP GRAPH :nope",
    "DROP SILENT GRAPH :nope",
    "CLEAR GRAPH :nope",
    "CLEAR SILENT GRAPH :nope",
    "DROP GRAPH :g0",
    "CREATE GRAPH :g1",
    "CREATE SILENT GRAPH :g1",
    "CREATE GRAPH :g4",
    "CREATE GRAPH :g0",
    "ADD :g1 TO :g2",
    "ADD DEFAULT TO :g3",
    "ADD :nope TO :g1",
    "ADD SILENT GRAPH :g1 TO GRAPH :g4",
    "ADD :g2 TO DEFAULT",
    "COPY :g1 TO :g2",
    "COPY :g1 TO DEFAULT",
    "COPY DEFAULT TO :g4",
    "COPY :nope TO :g1",
    "COPY :g0 TO :g1",
    "COPY :g1 TO :g1",
    "COPY DEFAULT TO DEFAULT",
    "MOVE :g1 TO :g2",
    "MOVE DEFAULT TO :g1",
    "MOVE :g1 TO DEFAULT",
    "MOVE :nope TO :g1",
    "MOVE SILENT :nope TO :g1",
    "MOVE :g1 TO :g1",
    "MOVE :g0 TO :g4",
    "DROP GRAPH :g1 ; DROP GRAPH :g1",
    "DROP GRAPH :g1 ; DROP SILENT GRAPH :g1 ; CLEAR SILENT GRAPH :g1",
    # triple terms (RDF 1.2)
    "INSERT DATA { :a :b <<( :s :p 1 )>> } ; DELETE WHERE { ?a ?b <<( ?s ?p ?o )>> }",
    "INSERT DATA { :a :b <<( :s :p 1 )>> } ; INSERT { ?x :c ?t } WHERE { ?x :b ?t }",
    "INSERT { ?s :r <<( ?s :p ?o )>> } WHERE { ?s :p ?o }",
    "INSERT { ?s :r <<( ?s :p ?o )>> } WHERE { ?s :p ?o } ; "
    "DELETE { ?s :r ?t } INSERT { ?s :r2 ?t } WHERE { ?s :r ?t }",
    # text: errors, case, comments, base
    "INSERT DATA { :a :b }",
    "INSERT DATA { :a :b 1 } ; PREFIX y: <http://y/> INSERT DATA { y:a :b 1 }",
    "INSERT DATA { :a :b 1 } ;",
    "INSERT DATA { :a :b 1 } ; ;",
    "BASE <http://x/base/> INSERT DATA { <a> <b> <c> . GRAPH <g> { <a> <b> <../c> } }",
    "",
    "DELETE DATA { _:b :p 1 }",
    "DELETE WHERE { _:b ?p ?o }",
    "INSERT DATA { _:a :p 1 } ; INSERT DATA { _:a :p 2 }",
    "INSERT DATA { :a :b ?x }",
    "insert data { :a :b 1 } ; delete where { ?s :b 1 } ; Clear Graph :g1",
    'INSERT DATA { :a :b "x ; } {" } # a comment ; } {\n ; INSERT DATA { :a :b 2 }',
    "INSERT { ?s :p ?o } WHERE { ?s :p }",
    "DELETE { ?s :p _:b } WHERE { ?s :p ?o }",
]


def test_enough_requests() -> None:
    assert len(REQUESTS) >= 60


@pytest.mark.parametrize("update", REQUESTS)
def test_matches_pyoxigraph(update: str) -> None:
    differential(PREFIX + update)


def test_requests_in_sequence() -> None:
    """Each request starts from what the previous ones left, on both sides."""
    oracle, mine = fresh_store(), fresh_store()
    for update in [
        "DROP ALL ; INSERT DATA { GRAPH :g { :a :b 1 } }",
        "DROP ALL ; INSERT DATA { GRAPH :g { :a :b 1 } }",
        "CLEAR ALL ; INSERT DATA { :a :b _:x . _:x :c 2 }",
        "CLEAR ALL ; INSERT DATA { :a :b _:x . _:x :c 2 }",
        "INSERT { GRAPH :h { ?s ?p ?o } } WHERE { ?s ?p ?o }",
        "DELETE WHERE { GRAPH :h { ?x :c ?v } } ; MOVE :h TO DEFAULT",
        "COPY DEFAULT TO :g ; DELETE WHERE { ?s ?p ?o }",
    ]:
        assert run_both(PREFIX + update, oracle, mine) is None, update
    assert set(oracle.named_graphs()) == {iri("g")}


def test_errors_read_well() -> None:
    assert differential(PREFIX + "DROP GRAPH :nope") == (
        "the graph <http://x/nope> does not exist (SILENT ignores this)"
    )
    assert differential(PREFIX + "CREATE GRAPH :g1") == (
        "the graph <http://x/g1> already exists (SILENT ignores this)"
    )
    error = differential(PREFIX + "INSERT DATA { :a :b }")
    assert error is not None
    assert error.startswith("malformed update: ")


# --- generated requests -------------------------------------------------------------------

SUBJECTS = [":s", ":t", ":u", ":n"]
PREDICATES = [":p", ":q"]
OBJECTS = [":s", ":u", "1", "2", '"a"', '"b"@en', "10"]
GRAPHS = [":g0", ":g1", ":g2", ":g3", ":g4", ":nope"]


class Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.labels = 0

    def pick(self, items: Sequence[str]) -> str:
        return self.rng.choice(items)

    def triple(self, *, blanks: bool = False, variables: bool = False) -> str:
        terms = [self.pick(SUBJECTS), self.pick(PREDICATES), self.pick(OBJECTS)]
        if variables:
            for position in range(3):
                if self.rng.random() < 0.5:
                    terms[position] = self.pick(["?s", "?p", "?o", "?x"][position : position + 2])
        if blanks and self.rng.random() < 0.3:
            self.labels += 1
            terms[self.pick([0, 2])] = f"_:n{self.labels}"  # type: ignore[index]
        return " ".join(terms)

    def block(self, *, blanks: bool = False, variables: bool = False, graphs: bool = True) -> str:
        parts = []
        for _ in range(self.rng.randint(1, 3)):
            triple = self.triple(blanks=blanks, variables=variables)
            roll = self.rng.random()
            if graphs and roll < 0.3:
                triple = f"GRAPH {self.pick(GRAPHS)} {{ {triple} }}"
            elif graphs and variables and roll < 0.5:
                triple = f"GRAPH ?g {{ {triple} }}"
            parts.append(triple + " .")
        return " ".join(parts)

    def where(self) -> str:
        pattern = self.triple(variables=True)
        roll = self.rng.random()
        if roll < 0.25:
            pattern = f"GRAPH ?g {{ {pattern} }}"
        elif roll < 0.4:
            pattern = f"GRAPH {self.pick(GRAPHS)} {{ {pattern} }}"
        extra = self.pick(
            [
                "",
                "OPTIONAL { ?s :q ?x }",
                "FILTER(isIRI(?s))",
                "FILTER NOT EXISTS { ?s :q ?o }",
                "BIND(BNODE() AS ?b)",
                "MINUS { GRAPH :g1 { ?s ?p ?o } }",
            ]
        )
        return f"{{ {pattern} {extra} }}"

    def graph_ref(self, *, default: bool = True) -> str:
        return "DEFAULT" if default and self.rng.random() < 0.25 else self.pick(GRAPHS)

    def operation(self) -> str:
        silent = "SILENT " if self.rng.random() < 0.3 else ""
        kind = self.rng.randrange(10)
        if kind == 0:
            return f"INSERT DATA {{ {self.block(blanks=True)} }}"
        if kind == 1:
            return f"DELETE DATA {{ {self.block()} }}"
        if kind == 2:
            return f"DELETE WHERE {{ {self.block(variables=True)} }}"
        if kind in (3, 4):
            head = f"WITH {self.pick(GRAPHS)} " if self.rng.random() < 0.25 else ""
            delete = (
                f"DELETE {{ {self.block(variables=True)} }} " if self.rng.random() < 0.6 else ""
            )
            insert = (
                f"INSERT {{ {self.block(variables=True, blanks=True)} }} "
                if not delete or self.rng.random() < 0.6
                else ""
            )
            using = ""
            if self.rng.random() < 0.25:
                using = " ".join(
                    f"USING {self.pick(['', 'NAMED '])}{self.pick(GRAPHS)}"
                    for _ in range(self.rng.randint(1, 2))
                )
            return f"{head}{delete}{insert}{using} WHERE {self.where()}"
        if kind == 5:
            scope = self.pick(["GRAPH " + self.pick(GRAPHS), "DEFAULT", "NAMED", "ALL"])
            return f"{self.pick(['CLEAR', 'DROP'])} {silent}{scope}"
        if kind == 6:
            return f"CREATE {silent}GRAPH {self.pick(GRAPHS)}"
        keyword = self.pick(["ADD", "COPY", "MOVE"])
        return f"{keyword} {silent}{self.graph_ref()} TO {self.graph_ref()}"

    def request(self) -> str:
        return " ;\n".join(self.operation() for _ in range(self.rng.randint(1, 4)))


@pytest.mark.parametrize("seed", range(300))
def test_generated_requests_match_pyoxigraph(seed: int) -> None:
    differential(PREFIX + Generator(seed).request())


@pytest.mark.parametrize("seed", range(40))
def test_generated_sequences_match_pyoxigraph(seed: int) -> None:
    """Requests one after the other: later ones meet the blank nodes earlier ones made."""
    oracle, mine = fresh_store(), fresh_store()
    generator = Generator(1000 + seed)
    for _ in range(8):
        run_both(PREFIX + generator.request(), oracle, mine)


def test_generated_requests_mostly_run() -> None:
    """The generator makes requests that do something, not mostly errors."""
    errors = sum(differential(PREFIX + Generator(seed).request()) is not None for seed in range(60))
    assert errors < 20


# --- cost ---------------------------------------------------------------------------------

BIG = iri("big")


@pytest.fixture(scope="module")
def big_store() -> EmbeddedStore:
    store = EmbeddedStore(None)
    store.raw.extend(Quad(iri(f"r{i}"), iri("p"), Literal(str(i)), BIG) for i in range(50_000))
    store.raw.add(Quad(iri("s"), iri("p"), Literal("old"), BIG))
    return store


class Counted(Reads):
    def __init__(self, store: EmbeddedStore) -> None:
        super().__init__(store.raw)
        self.store = store

    def query(
        self,
        sparql: str,
        *,
        substitutions: dict[Variable, Term] | None = None,
        default_graph: Sequence[GraphName] | None = None,
        named_graphs: Sequence[NamedNode] | None = None,
    ) -> QueryResult:
        assert default_graph is not None, "the engine must name the default graph"
        self.queries.append(sparql)
        return self.store.query(
            sparql,
            substitutions=substitutions,
            default_graph=default_graph,
            named_graphs=named_graphs,
        )


def test_an_insert_into_a_new_graph_reads_nothing(big_store: EmbeddedStore) -> None:
    reads = Counted(big_store)
    delta = update_delta(reads, PREFIX + "INSERT DATA { GRAPH :new { :a :b 1 } }")
    assert reads.graphs_read == []
    assert len(reads.queries) <= 3
    assert delta.changes[iri("new")].added == {
        Triple(
            iri("a"),
            iri("b"),
            Literal("1", datatype=NamedNode("http://www.w3.org/2001/XMLSchema#integer")),
        )
    }
    assert delta.changes[iri("new")].exists_after is True


def test_an_edit_in_a_big_graph_reads_what_it_matches(big_store: EmbeddedStore) -> None:
    reads = Counted(big_store)
    delta = update_delta(
        reads,
        PREFIX + 'DELETE { GRAPH :big { :s :p ?o } } INSERT { GRAPH :big { :s :p "new" } } '
        "WHERE { GRAPH :big { :s :p ?o } }",
    )
    assert reads.graphs_read == []
    assert len(reads.queries) <= 3
    change = delta.changes[BIG]
    assert change.removed == {Triple(iri("s"), iri("p"), Literal("old"))}
    assert change.added == {Triple(iri("s"), iri("p"), Literal("new"))}


def test_operations_after_a_change_elsewhere_still_read_no_big_graph(
    big_store: EmbeddedStore,
) -> None:
    reads = Counted(big_store)
    update_delta(
        reads,
        PREFIX + "INSERT DATA { :a :b 1 } ; DELETE WHERE { ?s :b ?o } ; "
        "INSERT DATA { GRAPH :big { :s :p 2 } } ; DELETE DATA { GRAPH :big { :r1 :p '1' } }",
    )
    assert BIG not in reads.graphs_read  # the DELETE WHERE reads the changed default graph
    assert len(reads.queries) <= 6


def test_a_where_over_a_changed_graph_reads_that_graph_only(big_store: EmbeddedStore) -> None:
    reads = Counted(big_store)
    update_delta(reads, PREFIX + "INSERT DATA { :a :b 1 } ; INSERT { :a :c ?o } WHERE { :a :b ?o }")
    assert reads.graphs_read == [DefaultGraph()]  # the overlay: the changed default graph


# --- protected graphs ---------------------------------------------------------------------

PROTECTED = [G3]  # :g3 plays a service graph: provenance, reference data


@pytest.mark.parametrize(
    "update",
    [
        "INSERT DATA { GRAPH :g3 { :a :b 1 } }",
        "INSERT DATA { GRAPH :g3 { :s :p 1 } }",
        "DELETE DATA { GRAPH :g3 { :s :p 1 } }",
        "DELETE WHERE { GRAPH :g3 { ?s ?p ?o } }",
        "DELETE WHERE { GRAPH ?g { :s :p 1 } }",
        "INSERT { GRAPH :g3 { ?s :x 1 } } WHERE { ?s :p ?o }",
        "INSERT { GRAPH ?g { :mark :in ?g } } WHERE { GRAPH ?g { ?s ?p ?o } }",
        "WITH :g3 INSERT { :a :b ?o } WHERE { ?s ?p ?o }",
        "WITH :g3 DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }",
        "DROP GRAPH :g3",
        "DROP SILENT GRAPH :g3",
        "CLEAR GRAPH :g3",
        "CREATE SILENT GRAPH :g3",
        "COPY :g1 TO :g3",
        "MOVE :g1 TO :g3",
        "ADD :g1 TO :g3",
        "ADD :nope TO :g3",
        "MOVE :g3 TO :g4",
        "INSERT DATA { :a :b 1 } ; DROP GRAPH :g3",
    ],
)
def test_writing_into_a_protected_graph_is_refused(update: str) -> None:
    with pytest.raises(ReadOnlyGraph, match="<http://x/g3>"):
        update_delta(Reads(fresh_store()), PREFIX + update, protected=PROTECTED)


def test_a_protected_graph_not_yet_there_cannot_be_created() -> None:
    with pytest.raises(ReadOnlyGraph, match="<http://x/g4>"):
        update_delta(Reads(fresh_store()), PREFIX + "CREATE GRAPH :g4", protected=[G4])


@pytest.mark.parametrize("update", ["DROP ALL", "CLEAR ALL", "DROP NAMED", "CLEAR NAMED"])
def test_bulk_drops_leave_protected_graphs_alone(update: str) -> None:
    store = fresh_store()
    delta = update_delta(Reads(store), PREFIX + update, protected=PROTECTED)
    assert G3 not in delta.changes
    assert delta.changes[G1].removed  # the others do go
    assert (DefaultGraph() in delta.changes) == update.endswith("ALL")


@pytest.mark.parametrize(
    "update",
    [
        "INSERT { GRAPH :g4 { ?s ?p ?o } } WHERE { GRAPH :g3 { ?s ?p ?o } }",
        "COPY :g3 TO :g4",
        "ADD :g3 TO DEFAULT",
        "DELETE WHERE { GRAPH ?g { :s :p 10 } }",  # matches in :g1 only
        "DELETE DATA { GRAPH :g3 { :s :p 999 } }",  # nothing there to remove
    ],
)
def test_reading_a_protected_graph_is_allowed(update: str) -> None:
    oracle, mine = fresh_store(), fresh_store()
    oracle.update(PREFIX + update)
    apply(mine, update_delta(Reads(mine), PREFIX + update, protected=PROTECTED))
    assert_same(oracle, mine)


# --- what is refused before anything runs -------------------------------------------------


def test_load_is_refused() -> None:
    for update in [
        "LOAD <http://example.org/data.ttl>",
        "LOAD SILENT <http://a> INTO GRAPH <http://b>",
    ]:
        with pytest.raises(InputError, match="LOAD is not accepted"):
            update_delta(Reads(fresh_store()), update)
    assert LOAD_REFUSED == "LOAD is not accepted: send the data to /store instead"


def test_the_syntax_check_calls_no_service() -> None:
    """The syntax check runs the request on an empty store, SERVICE written as GRAPH."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    endpoint = f"http://127.0.0.1:{listener.getsockname()[1]}/sparql"
    try:
        update = (
            f"INSERT {{ ?s ?p ?o }} WHERE {{ SERVICE SILENT <{endpoint}> {{ ?s ?p ?o }} }} ; "
            "INSERT DATA { <http://a> <http://b> }"
        )
        with pytest.raises(InputError, match="malformed update"):
            update_delta(Reads(fresh_store()), update)
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody called
    finally:
        listener.close()


def test_an_insert_into_a_blank_node_graph_is_refused() -> None:
    """pyoxigraph would make a graph named by a blank node; the service names graphs by IRI."""
    update = (
        "INSERT { GRAPH ?g { <http://a> <http://b> <http://c> } } WHERE { BIND(BNODE() AS ?g) }"
    )
    with pytest.raises(InputError, match="blank node"):
        update_delta(Reads(fresh_store()), update)


def test_stored_blank_nodes_are_removed_as_the_store_holds_them() -> None:
    store = fresh_store()
    update = PREFIX + "DELETE WHERE { GRAPH :g1 { ?a :q ?b . ?b :p ?c } }"
    removed = update_delta(Reads(store), update).changes[G1].removed
    assert len(removed) == 2
    assert removed <= {q.triple for q in store.quads_for_pattern(None, None, None, G1)}
    assert all(isinstance(t.subject, BlankNode) for t in removed)


def test_many_lookups_in_a_big_graph_are_lookups(big_store: EmbeddedStore) -> None:
    reads = Counted(big_store)
    body = " ".join(f":r{i} :p '{i}' . :x{i} :p 1 ." for i in range(100))
    delta = update_delta(reads, PREFIX + f"DELETE DATA {{ GRAPH :big {{ {body} }} }}")
    assert len(delta.changes[BIG].removed) == 100
    assert reads.graphs_read == []  # 200 lookups: a probe says the graph is far bigger
    assert len(reads.queries) <= 3


def test_many_lookups_in_a_small_graph_read_it_once() -> None:
    store = Store()
    store.update(
        "INSERT DATA { GRAPH <http://x/g> { "
        + " ".join(f"_:b{i} <http://x/p> {i} ." for i in range(100))
        + " } }"
    )
    reads = Reads(store)
    # Copying each triple with an added object: the inserts hold stored blank nodes.
    update = (
        "INSERT { GRAPH <http://x/g> { ?s <http://x/p> 1000 } } "
        "WHERE { GRAPH <http://x/g> { ?s <http://x/p> ?o } }"
    )
    delta = update_delta(reads, update)
    assert len(delta.changes[NamedNode("http://x/g")].added) == 100
    assert reads.graphs_read == [NamedNode("http://x/g")]
    assert len(reads.queries) <= 3
