"""RDF inputs (SPEC.md, input 3): how another region contributes its graph.

Parsed by pyoxigraph. A syntax error raises `InputError` with pyoxigraph's
own message, which names the line and column ("Parser error at line 3
column 11: ..."); its RDF/XML parser gives no position, so for XML that is
not well-formed the line comes from Python's expat instead.

Each source is stored as one named graph, so in N-Quads and TriG the triples
of every named graph are kept together in that one graph (with a warning
naming the graphs): the graph names of the file are not kept, and a triple
stated more than once is kept once. Blank nodes get fresh ids, so two files
that both say `_:b0` do not share a node.

`lines` is filled only for N-Triples and N-Quads, where each statement is one
line: a subject maps to the line of its first statement. pyoxigraph's parser
reports no positions for Turtle, TriG, RDF/XML or JSON-LD statements.
"""

from __future__ import annotations

from xml.parsers import expat

from pyoxigraph import DefaultGraph, NamedNode, RdfFormat, parse

from citytools.errors import InputError
from citytools.loaders.base import Parsed

FORMATS: dict[str, RdfFormat] = {
    "turtle": RdfFormat.TURTLE,
    "ntriples": RdfFormat.N_TRIPLES,
    "nquads": RdfFormat.N_QUADS,
    "trig": RdfFormat.TRIG,
    "rdfxml": RdfFormat.RDF_XML,
    "jsonld": RdfFormat.JSON_LD,
}
_LINE_BASED = ("ntriples", "nquads")


def parse_rdf(data: bytes, *, source: str, kind: str) -> Parsed:
    fmt = FORMATS[kind]
    parsed = Parsed(kind)
    graphs: dict[str, int] = {}
    try:
        for quad in parse(data, fmt, rename_blank_nodes=True):
            parsed.triples.append(quad.triple)
            if not isinstance(quad.graph_name, DefaultGraph):
                name = str(quad.graph_name)
                graphs[name] = graphs.get(name, 0) + 1
    except SyntaxError as exc:
        raise InputError(f"{source}: {fmt.name} syntax error: {_where(exc, data, kind)}") from None
    if graphs:
        parsed.warning(
            None,
            f"{sum(graphs.values())} triple(s) in named graph(s) {', '.join(sorted(graphs))} "
            "are kept in this source's one graph",
        )
    if kind in _LINE_BASED:
        _map_lines(data, parsed)
    # One triple stated twice (or in two of the file's graphs, now merged) is one triple of
    # the source graph: keep it once, so counts such as void:triples match what is stored.
    parsed.triples = list(dict.fromkeys(parsed.triples))
    return parsed


def _where(exc: SyntaxError, data: bytes, kind: str) -> str:
    """pyoxigraph's message (with its position); for RDF/XML, expat's line when it has one."""
    message = str(exc.msg)
    if exc.lineno is None and kind == "rdfxml":
        parser = expat.ParserCreate()
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        try:
            parser.Parse(data, True)
        except expat.ExpatError as xml_error:
            return f"line {xml_error.lineno} column {xml_error.offset + 1}: {message}"
    return message


def _map_lines(data: bytes, parsed: Parsed) -> None:
    """Subject → line of its first statement, when every statement sits on its own line."""
    statements = [
        number
        for number, text in enumerate(data.split(b"\n"), start=1)
        if text.strip() and not text.lstrip().startswith(b"#")
    ]
    if len(statements) != len(parsed.triples):
        return  # a statement spans lines or shares one: no reliable map
    for number, triple in zip(statements, parsed.triples, strict=True):
        if isinstance(triple.subject, NamedNode):
            parsed.lines.setdefault(triple.subject.value, number)
