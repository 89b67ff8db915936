"""Evaluating one `QueryRequest` on a pyoxigraph store: the work of a query worker
process (and of the inline executor, in a thread).

Order matters: the SERVICE allow-list is checked before pyoxigraph sees the query,
because pyoxigraph contacts SERVICE endpoints as soon as a query starts.
"""

from __future__ import annotations

from pyoxigraph import (
    BlankNode,
    Literal,
    NamedNode,
    QueryBoolean,
    QuerySolutions,
    QueryTriples,
    RdfFormat,
    Store,
    Triple,
    Variable,
    parse,
)

from citytools.errors import CityToolsError, InputError
from citytools.service.engine.execution import QueryAnswer, QueryKind, QueryRequest
from citytools.service.sparql.guard import check_services
from citytools.service.sparql.lexer import tokens
from citytools.service.sparql.results import (
    graph_format,
    solutions_format,
    write_boolean,
    write_solutions,
    write_triples,
)

Term = NamedNode | BlankNode | Literal | Triple
QueryResult = QuerySolutions | QueryBoolean | QueryTriples
Dataset = dict[str, list[NamedNode] | bool | None]


def evaluate(store: Store, request: QueryRequest, allowed: frozenset[str]) -> QueryAnswer:
    """The serialised answer; InputError for malformed SPARQL or substitutions,
    FederationRefused for a SERVICE outside `allowed`."""
    solutions_fmt = solutions_format(request.solutions_format)
    graph_fmt = graph_format(request.graph_format)
    check_services(request.sparql, allowed, request.base_iri)
    result = _query(store, request, reads_from=_has_from(request.sparql))
    kind: QueryKind
    try:
        if isinstance(result, QueryBoolean):
            kind, written = "ask", write_boolean(result, solutions_fmt)
        elif isinstance(result, QuerySolutions):
            kind, written = "select", write_solutions(result, solutions_fmt, request.max_results)
        else:
            kind = "describe" if _form(request.sparql) == "DESCRIBE" else "construct"
            written = write_triples(result, graph_fmt, request.max_results)
    except Exception as exc:  # evaluation runs lazily, inside the writing
        error = failure(exc)
    else:
        return QueryAnswer(written.body, written.media_type, kind, written.rows, written.truncated)
    # Raised here, the error holds no frame that holds the result: pyoxigraph results must
    # be dropped on the thread that made them, and the error may travel to another.
    del result
    raise error


def evaluate_small(store: Store, request: QueryRequest, *, reads_from: bool) -> QueryAnswer:
    """The answer of a SELECT, ASK or CONSTRUCT known to fit `max_results` (the inline
    lane's): solutions are serialised whole, uncounted; the query has been read, so it
    calls no SERVICE and whether it has FROM is known."""
    result = _query(store, request, reads_from=reads_from)
    if isinstance(result, QuerySolutions | QueryBoolean):
        fmt = solutions_format(request.solutions_format)
        kind: QueryKind = "select" if isinstance(result, QuerySolutions) else "ask"
        body = result.serialize(format=fmt) or b""
        return QueryAnswer(body, fmt.media_type, kind, None, False)
    written = write_triples(result, graph_format(request.graph_format), request.max_results)
    return QueryAnswer(written.body, written.media_type, "construct", written.rows, False)


def _query(store: Store, request: QueryRequest, *, reads_from: bool) -> QueryResult:
    substitutions = {
        _variable(name): term_of(name, text) for name, text in request.substitutions.items()
    }
    try:
        return store.query(
            request.sparql,
            base_iri=request.base_iri,
            substitutions=substitutions or None,
            **_dataset(request, reads_from),  # type: ignore[arg-type]
        )
    except SyntaxError as exc:
        raise InputError(f"malformed SPARQL query: {exc}") from None
    except (RuntimeError, ValueError) as exc:  # e.g. a substituted variable not projected
        raise InputError(f"the query cannot run as asked: {exc}") from None


def failure(exc: Exception) -> CityToolsError:
    """What the caller is told: the product's own errors as they are, anything else (a
    SERVICE endpoint that failed, a store read error) as an evaluation failure."""
    if isinstance(exc, CityToolsError):
        return exc
    return CityToolsError(f"query evaluation failed: {exc}")


def term_of(name: str, text: str) -> Term:
    """The one RDF term that `text` (N-Triples syntax) spells; anything else is refused,
    so a value can never add to the query."""
    try:
        quads = list(parse(f"<urn:x:s> <urn:x:p> {text} .".encode(), format=RdfFormat.N_TRIPLES))
    except SyntaxError:
        quads = []
    if len(quads) != 1:
        raise InputError(f"the value for ?{name} is not one RDF term in N-Triples syntax: {text!r}")
    term: Term = quads[0].object
    return term


def _variable(name: str) -> Variable:
    try:
        return Variable(name)
    except ValueError:
        raise InputError(f"{name!r} is not a SPARQL variable name") from None


def _dataset(request: QueryRequest, reads_from: bool) -> Dataset:
    """Protocol graphs when given; else the query's own FROM; else the union of every
    named graph (pyoxigraph ignores FROM when asked for the union)."""
    named = _iris(request.named_graphs)
    if request.default_graph is not None:
        return {"default_graph": _iris(request.default_graph), "named_graphs": named}
    if reads_from:
        return {"named_graphs": named}
    return {"use_default_graph_as_union": True, "named_graphs": named}


def _iris(values: tuple[str, ...] | None) -> list[NamedNode] | None:
    if values is None:
        return None
    try:
        return [NamedNode(value) for value in values]
    except ValueError as exc:
        raise InputError(f"a graph name is not an IRI: {exc}") from None


def _has_from(sparql: str) -> bool:
    """Whether the query names its default graph with FROM (not only FROM NAMED)."""
    if "from" not in sparql.lower():
        return False
    words = [text.upper() for kind, text in tokens(sparql) if kind == "word"]
    return any(
        word == "FROM" and (i + 1 == len(words) or words[i + 1] != "NAMED")
        for i, word in enumerate(words)
    )


def _form(sparql: str) -> str | None:
    forms = ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")
    return next(
        (t.upper() for kind, t in tokens(sparql) if kind == "word" and t.upper() in forms), None
    )
