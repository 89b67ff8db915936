"""The query-shape reader of the inline lane: what it accepts, what it refuses, and that
the patterns it reads are the ones a real SPARQL parser (rdflib's) finds."""

from __future__ import annotations

import random
from typing import Any

import pytest
from pyoxigraph import Store
from rdflib.paths import Path as RdflibPath
from rdflib.plugins.sparql import prepareQuery
from rdflib.term import BNode, URIRef
from rdflib.term import Variable as RdflibVariable

from citytools.service.engine.lane_shape import MAX_PATTERNS, Shape, shape_of

EX = "http://example.org/"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
PREFIXES = f"PREFIX ex: <{EX}> PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"

Triple = tuple[str, str, str]  # "?name" for a variable, "const" for a constant, or the IRI


def ours(shape: Shape) -> list[Triple]:
    """Our reading, in the shape of `theirs`."""

    def position(name: str | None) -> str:
        return "const" if name is None else "?" + name.removeprefix("_:")

    return sorted(
        (
            position(p.subject),
            iri if (iri := shape.predicate_iris[i]) is not None else position(p.predicate),
            position(p.object),
        )
        for i, p in enumerate(shape.template.patterns)
    )


def theirs(sparql: str) -> list[Triple]:
    """The triple patterns rdflib's SPARQL algebra holds, wherever they are."""
    found: list[Triple] = []

    def position(term: Any, predicate: bool) -> str:
        if isinstance(term, RdflibVariable):
            return "?" + str(term)
        if isinstance(term, BNode):
            return "?" + str(term)
        if predicate and isinstance(term, URIRef):
            return str(term)
        assert not isinstance(term, RdflibPath)
        return "const"

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if getattr(node, "name", None) == "BGP":
                for s, p, o in node["triples"]:
                    found.append((position(s, False), position(p, True), position(o, False)))
            for value in node.values():
                walk(value)
        elif isinstance(node, list | tuple):
            for item in node:
                walk(item)

    walk(prepareQuery(sparql).algebra)
    return sorted(found)


ACCEPTED: list[tuple[str, list[Triple]]] = [
    (
        PREFIXES + "SELECT ?l WHERE { ex:a ex:system ?s . ?s rdfs:label ?l }",
        [("?s", LABEL, "?l"), ("const", EX + "system", "?s")],
    ),
    ("SELECT * { ?s ?p ?o }", [("?s", "?p", "?o")]),
    (
        "ASK { <http://x.org/a> <http://x.org/b> 'c'@en, \"d\"^^<http://x.org/t>, 1.5e3, true }",
        [("const", "http://x.org/b", "const")] * 4,
    ),
    (
        PREFIXES + "SELECT DISTINCT ?s WHERE { ?s a ex:C ; ex:p ?o ; . "
        "OPTIONAL { ?o ex:q ?z FILTER(?z != 'x') } FILTER(BOUND(?o) && STRLEN(?o) > 2) } "
        "ORDER BY DESC(?s) ?o LIMIT 5 OFFSET 2",
        [("?o", EX + "q", "?z"), ("?s", EX + "p", "?o"), ("?s", RDF_TYPE, "const")],
    ),
    (
        "CONSTRUCT { ?s <http://x.org/b> ?o } WHERE { <http://x.org/a> <http://x.org/p> ?s . "
        "{ ?s ?q ?o } }",
        [("?s", "?q", "?o"), ("const", "http://x.org/p", "?s")],
    ),
    (  # a comment ends at a carriage return too, as in pyoxigraph
        "SELECT * WHERE { <http://x.org/a> <http://x.org/b> ?o # note\r. ?o <http://x.org/c> ?z }",
        [("?o", "http://x.org/c", "?z"), ("const", "http://x.org/b", "?o")],
    ),
    (  # a "#" inside an IRI or a string is not a comment
        "SELECT * WHERE { <http://x.org/a#b> <http://x.org/c#d> '# x' . ?s ?p ?o }",
        [("?s", "?p", "?o"), ("const", "http://x.org/c#d", "const")],
    ),
    ("SELECT $x WHERE { $x <http://x.org/p> _:b }", [("?x", "http://x.org/p", "?b")]),
]


@pytest.mark.parametrize(("sparql", "expected"), ACCEPTED)
def test_accepted_queries_are_read_as_rdflib_reads_them(
    sparql: str, expected: list[Triple]
) -> None:
    shape = shape_of(sparql)
    assert shape is not None
    assert ours(shape) == expected
    if "\r" not in sparql:  # rdflib ends comments at line feeds only
        assert theirs(sparql) == expected


def test_from_is_told_apart_from_from_named() -> None:
    only_named = shape_of("SELECT * FROM NAMED <http://x.org/g> WHERE { ?s ?p ?o }")
    default = shape_of("SELECT * FROM <http://x.org/g> FROM NAMED <http://x.org/h> { ?s ?p ?o }")
    assert only_named is not None
    assert default is not None
    assert (only_named.template.reads_from, default.template.reads_from) == (False, True)


def test_queries_that_differ_in_constants_share_one_analysis() -> None:
    first = shape_of(PREFIXES + "SELECT * WHERE { <http://x.org/1> ex:p ?o } # run 1")
    second = shape_of(PREFIXES + "SELECT * WHERE { <http://x.org/2> ex:p ?o } # run 2")
    assert first is not None
    assert second is not None
    assert first.template is second.template


def test_a_relative_or_based_predicate_is_read_as_any_predicate() -> None:
    relative = shape_of("SELECT * WHERE { ?s <p> ?o }")
    based = shape_of("BASE <http://x.org/> SELECT * WHERE { ?s <http://x.org/p> ?o }")
    assert relative is not None
    assert based is not None
    assert relative.predicate_iris == (None,) == based.predicate_iris


REFUSED = {
    "union": "SELECT * WHERE { { ?s ?p ?o } UNION { ?a ?b ?c } }",
    "graph": "SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }",
    "values": "SELECT * WHERE { VALUES ?s { <http://x.org/a> } ?s ?p ?o }",
    "bind": "SELECT * WHERE { ?s ?p ?o BIND(1 AS ?x) }",
    "minus": "SELECT * WHERE { ?s ?p ?o MINUS { ?s ?p 1 } }",
    "exists": "SELECT * WHERE { ?s ?p ?o FILTER EXISTS { ?s ?p 1 } }",
    "not exists": "SELECT * WHERE { ?s ?p ?o FILTER NOT EXISTS { ?s ?p 1 } }",
    "exists in expression": "SELECT * WHERE { ?s ?p ?o FILTER(?o && EXISTS { ?s ?p 1 }) }",
    "subquery": "SELECT * WHERE { { SELECT ?s WHERE { ?s ?p ?o } } }",
    "aggregate": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }",
    "group by": "SELECT ?s WHERE { ?s ?p ?o } GROUP BY ?s",
    "service": "SELECT * WHERE { SERVICE <http://x.org/sparql> { ?s ?p ?o } }",
    "describe": "DESCRIBE <http://x.org/a>",
    "construct where": "CONSTRUCT WHERE { ?s ?p ?o }",
    "path *": "SELECT * WHERE { ?s <http://x.org/p>* ?o }",
    "path +": "SELECT * WHERE { ?s <http://x.org/p>+ ?o }",
    "path ?": "SELECT * WHERE { ?s <http://x.org/p>? ?o }",
    "path /": "SELECT * WHERE { ?s <http://x.org/p>/<http://x.org/q> ?o }",
    "path |": "SELECT * WHERE { ?s <http://x.org/p>|<http://x.org/q> ?o }",
    "path ^": "SELECT * WHERE { ?s ^<http://x.org/p> ?o }",
    "path !": "SELECT * WHERE { ?s !<http://x.org/p> ?o }",
    "blank node brackets": "SELECT * WHERE { ?s <http://x.org/p> [ <http://x.org/q> ?o ] }",
    "collection": "SELECT * WHERE { ?s <http://x.org/p> ( 1 2 ) }",
    "quoted triple": "SELECT * WHERE { << ?s ?p ?o >> <http://x.org/p> ?z }",
    "regex": "SELECT * WHERE { ?s ?p ?o FILTER REGEX(?o, ?o) }",
    "less-than in a filter": "SELECT * WHERE { FILTER(?a<?b).?x?y?z.FILTER(?c>?d) }",
    "iri in a filter": "SELECT * WHERE { ?s ?p ?o FILTER(?s = <http://x.org/a>) }",
    "signed number": "SELECT * WHERE { ?s <http://x.org/p> -3 }",
    "long string": 'SELECT * WHERE { ?s ?p """x""" }',
    "unicode escape": "SELECT * WHERE { ?s <http://x.org/\\u0070> ?o }",
    "redeclared prefix": "PREFIX a: <http://x.org/> PREFIX a: <http://y.org/> "
    "SELECT * WHERE { ?s a:p ?o }",
    "undeclared prefix": "SELECT * WHERE { ?s ex:p ?o }",
    "select expression": "SELECT (STR(?o) AS ?x) WHERE { ?s ?p ?o }",
    "two triples without a dot": "SELECT * WHERE { ?s ?p ?o ?a ?b ?c }",
    "non-SPARQL whitespace": "SELECT *\u00a0WHERE { ?s ?p ?o }",
    "trailing garbage": "SELECT * WHERE { ?s ?p ?o } garbage",
    "too many patterns": "SELECT * WHERE { "
    + " . ".join(f"?s{i} <http://x.org/p> ?s{i + 1}" for i in range(MAX_PATTERNS + 1))
    + " }",
    "too long": "SELECT * WHERE { ?s ?p ?o } #" + "x" * 5000,
    "nesting too deep": "SELECT * WHERE " + "{" * 2000 + "}" * 2000,
    "update": "INSERT DATA { <http://x.org/a> <http://x.org/b> 1 }",
    "optional in an optional": "SELECT * WHERE { ?s ?p ?o OPTIONAL { ?o ?q ?z "
    "OPTIONAL { ?z ?r ?w } } }",
    "optional in a group": "SELECT * WHERE { ?s ?p ?o { ?o ?q ?z OPTIONAL { ?z ?r ?w } } }",
}


@pytest.mark.parametrize("sparql", REFUSED.values(), ids=REFUSED.keys())
def test_everything_outside_the_grammar_is_refused(sparql: str) -> None:
    assert shape_of(sparql) is None


# -------------------------------------------------------------- generated queries

NAMES = ["?s", "?o", "?x", "$y", "?label"]
PREDICATES = ["ex:p", "ex:q", "rdfs:label", f"<{EX}r>", "a", "?p"]
OBJECTS = [*NAMES, "ex:c", f"<{EX}d>", "'text'", '"t"@en', '"5"^^ex:int', "7", "2.5", "false"]


def spacing(rng: random.Random) -> str:
    return rng.choice([" ", "  ", "\n", "\t", " # a comment\n", "\n\n "])


def triples(rng: random.Random) -> str:
    space = spacing(rng)
    subject = rng.choice([*NAMES, "ex:a", f"<{EX}b>"])
    verbs = []
    for _ in range(rng.randint(1, 2)):
        objects = f" ,{space}".join(rng.choice(OBJECTS) for _ in range(rng.randint(1, 2)))
        verbs.append(f"{rng.choice(PREDICATES)}{space}{objects}")
    return f"{subject} {f' ;{space}'.join(verbs)}"


def group(rng: random.Random, depth: int = 0) -> str:
    parts = [triples(rng) + " ."]
    for _ in range(rng.randint(0, 2)):
        choice = rng.random()
        if choice < 0.3 and depth == 0:  # OPTIONAL is read at the top of WHERE only
            parts.append(f"OPTIONAL {group(rng, depth + 1)}")
        elif choice < 0.5:
            value = rng.choice([o for o in OBJECTS if not o.startswith("<")])  # no IRI: refused
            parts.append(f"FILTER({rng.choice(NAMES)} != {value})")
        elif choice < 0.6 and depth < 2:
            parts.append(group(rng, depth + 1))
        else:
            parts.append(triples(rng) + " .")
    return "{" + spacing(rng) + spacing(rng).join(parts) + " }"


def generated(seed: int) -> str:
    rng = random.Random(seed)
    form = rng.choice(["SELECT *", "SELECT DISTINCT ?s ?o", "ASK"])
    tail = rng.choice(["", " LIMIT 10", " ORDER BY ?s", " ORDER BY DESC(?o) LIMIT 3 OFFSET 1"])
    if form == "ASK":
        tail = ""
    return f"{PREFIXES}{form} WHERE {group(rng)}{tail}"


@pytest.mark.parametrize("seed", range(300))
def test_generated_queries_are_read_as_rdflib_reads_them(seed: int) -> None:
    sparql = generated(seed)
    Store().query(sparql)  # valid SPARQL for pyoxigraph too
    shape = shape_of(sparql)
    if len(theirs(sparql)) > MAX_PATTERNS:
        assert shape is None
        return
    assert shape is not None, sparql
    assert ours(shape) == theirs(sparql), sparql
