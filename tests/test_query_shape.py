"""The shapes the inline lane admits: what it accepts, what it refuses, and that the
patterns it reads are the ones a real SPARQL parser (rdflib's) finds — for every text of a
skeleton, whatever its constants hold."""

from __future__ import annotations

import random
from typing import Any

import pytest
from pyoxigraph import Store
from rdflib.paths import Path as RdflibPath
from rdflib.plugins.sparql import prepareQuery
from rdflib.term import URIRef
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
        return "const" if name is None else "?" + name

    return sorted(
        (
            position(p.subject),
            iri if (iri := shape.predicates[i]) is not None else position(p.predicate),
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
    ("SELECT * { <http://x.org/a> ?p ?o }", [("const", "?p", "?o")]),
    (
        "ASK { <http://x.org/a> <http://x.org/b> 'c'@en, \"d\"^^<http://x.org/t>, 1.5e3 }",
        [("const", "http://x.org/b", "const")] * 3,
    ),
    (
        PREFIXES + "SELECT DISTINCT ?s WHERE { ?s a ex:C ; ex:p ?o ; . "
        "FILTER(BOUND(?o) && STRLEN(?o) > 2 && ?o != <http://x.org/z>) } "
        "ORDER BY DESC(?s) ?o LIMIT 5 OFFSET 2",
        [("?s", EX + "p", "?o"), ("?s", RDF_TYPE, "const")],
    ),
    (
        "CONSTRUCT { ?s <http://x.org/b> ?o } WHERE { <http://x.org/a> <http://x.org/p> ?s . "
        "?s ?q ?o }",
        [("?s", "?q", "?o"), ("const", "http://x.org/p", "?s")],
    ),
    (  # a comment ends at a carriage return too, as in pyoxigraph
        "SELECT * WHERE { <http://x.org/a> <http://x.org/b> ?o # note\r. ?o <http://x.org/c> ?z }",
        [("?o", "http://x.org/c", "?z"), ("const", "http://x.org/b", "?o")],
    ),
    (  # a "#" inside an IRI or a string is not a comment
        "SELECT * WHERE { <http://x.org/a#b> <http://x.org/c#d> '# x', ?o }",
        [("const", "http://x.org/c#d", "?o"), ("const", "http://x.org/c#d", "const")],
    ),
    ("SELECT $x WHERE { $x <http://x.org/p> 7 }", [("?x", "http://x.org/p", "const")]),
    (  # less-than, as the lexer reads it inside an expression
        "SELECT * WHERE { ?x <http://x.org/p> 7 ; <http://x.org/n> ?n FILTER(?n < 3) }",
        [("?x", "http://x.org/n", "?n"), ("?x", "http://x.org/p", "const")],
    ),
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


def test_queries_that_differ_in_constants_share_one_analysis() -> None:
    first = shape_of(PREFIXES + "SELECT * WHERE { <http://x.org/1> ex:p ?o } # run 1")
    second = shape_of(PREFIXES + "SELECT * WHERE { <http://x.org/2> ex:p ?o } # run 2")
    assert first is not None
    assert second is not None
    assert first.template is second.template
    assert first.predicates == second.predicates == (EX + "p",)


def test_a_relative_predicate_is_refused() -> None:
    assert shape_of("SELECT * WHERE { <http://x.org/a> <p> ?o }") is None
    assert shape_of("PREFIX e: <x/> SELECT * WHERE { <http://x.org/a> e:p ?o }") is None


REFUSED = {
    "union": "SELECT * WHERE { { <a:s> ?p ?o } UNION { <a:s> ?b ?c } }",
    "graph": "SELECT * WHERE { GRAPH ?g { <a:s> ?p ?o } }",
    "optional": "SELECT * WHERE { <a:s> ?p ?o OPTIONAL { ?o ?q ?z } }",
    "nested group": "SELECT * WHERE { <a:s> ?p ?o { ?o ?q ?z } }",
    "values": "SELECT * WHERE { VALUES ?s { <http://x.org/a> } ?s ?p ?o }",
    "bind": "SELECT * WHERE { <a:s> ?p ?o BIND(1 AS ?x) }",
    "minus": "SELECT * WHERE { <a:s> ?p ?o MINUS { ?s ?p 1 } }",
    "exists": "SELECT * WHERE { <a:s> ?p ?o FILTER EXISTS { ?s ?p 1 } }",
    "not exists": "SELECT * WHERE { <a:s> ?p ?o FILTER NOT EXISTS { ?s ?p 1 } }",
    "exists in expression": "SELECT * WHERE { <a:s> ?p ?o FILTER(?o && EXISTS { ?s ?p 1 }) }",
    "subquery": "SELECT * WHERE { { SELECT ?s WHERE { <a:s> ?p ?s } } }",
    "aggregate": "SELECT (COUNT(*) AS ?n) WHERE { <a:s> ?p ?o }",
    "group by": "SELECT ?p WHERE { <a:s> ?p ?o } GROUP BY ?p",
    "service": "SELECT * WHERE { SERVICE <http://x.org/sparql> { <a:s> ?p ?o } }",
    "describe": "DESCRIBE <http://x.org/a>",
    "construct where": "CONSTRUCT WHERE { <a:s> ?p ?o }",
    "base": "BASE <http://x.org/> SELECT * WHERE { <a> <http://x.org/p> ?o }",
    "from": "SELECT * FROM <http://x.org/g> WHERE { <a:s> ?p ?o }",
    "path *": "SELECT * WHERE { <a:s> <http://x.org/p>* ?o }",
    "path /": "SELECT * WHERE { <a:s> <http://x.org/p>/<http://x.org/q> ?o }",
    "path ^": "SELECT * WHERE { <a:s> ^<http://x.org/p> ?o }",
    "path !": "SELECT * WHERE { <a:s> !<http://x.org/p> ?o }",
    "blank node label": "SELECT * WHERE { <a:s> <http://x.org/p> _:b }",
    "blank node brackets": "SELECT * WHERE { <a:s> <http://x.org/p> [ <http://x.org/q> ?o ] }",
    "collection": "SELECT * WHERE { <a:s> <http://x.org/p> ( 1 2 ) }",
    "quoted triple": "SELECT * WHERE { << <a:s> ?p ?o >> <http://x.org/p> ?z }",
    "regex": "SELECT * WHERE { <a:s> ?p ?o FILTER REGEX(?o, ?o) }",
    "filter of an unbound variable": "SELECT * WHERE { <a:s> ?p ?o FILTER(?z = 1) }",
    "order by an expression": "SELECT * WHERE { <a:s> ?p ?o } ORDER BY STR(?o)",
    "less-than the mask reads as an IRI": "SELECT * WHERE { <a:s> ?p ?n FILTER(?n<3&&?n>1) }",
    "signed number": "SELECT * WHERE { <a:s> <http://x.org/p> -3 }",
    "long string": 'SELECT * WHERE { <a:s> ?p """x""" }',
    "escape": "SELECT * WHERE { <a:s> <http://x.org/\\u0070> ?o }",
    "redeclared prefix": "PREFIX a: <http://x.org/> PREFIX a: <http://y.org/> "
    "SELECT * WHERE { <a:s> a:p ?o }",
    "undeclared prefix": "SELECT * WHERE { <a:s> ex:p ?o }",
    "select expression": "SELECT (STR(?o) AS ?x) WHERE { <a:s> ?p ?o }",
    "two triples without a dot": "SELECT * WHERE { <a:s> ?p ?o ?o ?b ?c }",
    "non-SPARQL whitespace": "SELECT *\u00a0WHERE { <a:s> ?p ?o }",
    "trailing garbage": "SELECT * WHERE { <a:s> ?p ?o } garbage",
    "unanchored": "SELECT * WHERE { ?s <http://x.org/p> ?o }",
    "a cartesian product": "SELECT * WHERE { <a:s> <a:p> ?x . <a:t> <a:p> ?y }",
    "too many patterns": "SELECT * WHERE { <a:s> "
    + " . ".join(f"<a:p> ?s{i} . ?s{i}" for i in range(MAX_PATTERNS + 1))
    + " <a:p> ?z }",
    "too long": "SELECT * WHERE { <a:s> ?p ?o } #" + "x" * 5000,
    "update": "INSERT DATA { <http://x.org/a> <http://x.org/b> 1 }",
}


@pytest.mark.parametrize("sparql", REFUSED.values(), ids=REFUSED.keys())
def test_everything_outside_the_closed_set_is_refused(sparql: str) -> None:
    assert shape_of(sparql) is None


# -------------------------------------------------------------- generated queries

SUBJECTS = ["?s", "?o", "?x", "$y", "ex:a", f"<{EX}b>"]
PREDICATES = ["ex:p", "ex:q", "rdfs:label", f"<{EX}r>", "a", "?p"]
OBJECTS = [*SUBJECTS, "'text'", '"t"@en', '"5"^^ex:int', "7", "2.5", "false"]


def spacing(rng: random.Random) -> str:
    return rng.choice([" ", "  ", "\n", "\t", " # a comment\n", "\n\n "])


def generated(seed: int) -> tuple[str, set[str]]:
    """A query of the grammar the lane reads, and the variables its FILTERs and ORDER BY
    read."""
    rng = random.Random(seed)
    parts, used = [], set()
    for _ in range(rng.randint(1, 2)):
        subject = rng.choice(SUBJECTS)
        verbs = []
        for _ in range(rng.randint(1, 2)):
            objects = " , ".join(rng.choice(OBJECTS) for _ in range(rng.randint(1, 2)))
            verbs.append(f"{rng.choice(PREDICATES)}{spacing(rng)}{objects}")
        parts.append(f"{subject} {f' ;{spacing(rng)}'.join(verbs)} .")
        if rng.random() < 0.4:
            name = rng.choice(["?s", "?o", "?x"])
            used.add(name[1:])
            value = rng.choice(["7", "<http://x.org/z>", '"a"'])
            parts.append(f"FILTER({name} != {value})")
    form = rng.choice(["SELECT *", "SELECT DISTINCT ?s ?o", "ASK"])
    tail = (
        ""
        if form == "ASK"
        else rng.choice(["", " LIMIT 10", " ORDER BY ?s", " ORDER BY DESC(?s) LIMIT 3 OFFSET 1"])
    )
    if "ORDER" in tail:
        used.add("s")
    body = spacing(rng).join(parts)
    return f"{PREFIXES}{form} WHERE {{{spacing(rng)}{body} }}{tail}", used


def admissible(triples: list[Triple], used: set[str]) -> bool:
    """The lane's rule, applied to rdflib's reading: one to three patterns, one anchored,
    linked through variables; FILTER and ORDER BY on their variables."""
    if not 0 < len(triples) <= MAX_PATTERNS or all(
        s != "const" and o != "const" for s, _, o in triples
    ):
        return False
    names = [{t for t in triple if t.startswith("?")} for triple in triples]
    rest = [n for n in names if n]
    linked = rest.pop() if rest else set()
    while rest:
        joined = [n for n in rest if n & linked]
        if not joined:
            return False
        for n in joined:
            rest.remove(n)
            linked |= n
    return {"?" + name for name in used} <= linked


@pytest.mark.parametrize("seed", range(300))
def test_generated_queries_are_read_and_admitted_as_rdflib_reads_them(seed: int) -> None:
    sparql, used = generated(seed)
    Store().query(sparql)  # valid SPARQL for pyoxigraph too
    shape, expected = shape_of(sparql), theirs(sparql)
    if not admissible(expected, used):
        assert shape is None, sparql
        return
    assert shape is not None, sparql
    assert ours(shape) == expected, sparql


NASTY = "#<>{}()?$'.;,SERVICE UNION a:b _:c \t"  # what an IRI or a string may hold


@pytest.mark.parametrize("seed", range(100))
def test_every_text_of_a_skeleton_is_read_alike(seed: int) -> None:
    """The analysis is made from the first text of a skeleton and kept for the others:
    whatever their IRIs and strings hold, rdflib must read them alike."""
    rng = random.Random(seed)

    def text(allowed: str) -> str:
        return "".join(rng.choice(allowed) for _ in range(rng.randint(0, 12)))

    iri_chars = "".join(c for c in NASTY if c not in "<>{}# \t") + "xyz/"
    string_chars = "".join(c for c in NASTY if c != "'")
    subject, predicate = f"<http://x.org/{text(iri_chars)}>", f"<http://x.org/p{text(iri_chars)}>"
    sparql = (
        f"SELECT ?l WHERE {{ {subject} {predicate} ?s ."
        f" ?s <{LABEL}> ?l FILTER(?l != '{text(string_chars)}') }} # {text(NASTY)}"
    )
    Store().query(sparql)
    shape = shape_of(sparql)
    assert shape is not None, sparql
    assert ours(shape) == theirs(sparql), sparql
