"""`citytools query` and `citytools queries`: saved and ad-hoc SPARQL from the terminal.

Both take the path the HTTP service takes: a saved query's parameters are typed and
bound by the catalogue, and `query_eval.evaluate` checks SERVICE against the
allow-list and serialises the answer (SPARQL JSON or CSV; Turtle for graphs).
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from typing import Annotated, Any

import typer
from rich.cells import cell_len
from rich.table import Column, Table

from citytools.errors import CityToolsError
from citytools.resources import queries_dir
from citytools.service.catalogue.resolver import StoreResolver
from citytools.service.catalogue.saved import Catalogue
from citytools.service.cli.common import (
    EndpointOption,
    StoreOption,
    fail,
    opened_store,
    out,
    settings_with,
)
from citytools.service.engine.evaluate import evaluate
from citytools.service.engine.execution import QueryAnswer, QueryRequest
from citytools.service.store.embedded import EmbeddedStore
from citytools.settings import Settings

SPARQL_JSON = "application/sparql-results+json"
# `table` reads SPARQL JSON: it tells IRIs from literals, which decides what to show first
SOLUTION_TYPES = {"json": SPARQL_JSON, "csv": "text/csv", "table": SPARQL_JSON}


def parse_params(pairs: list[str]) -> dict[str, str]:
    """`k=v` pairs as a mapping; a pair without `=` is a usage error."""
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--param takes k=v, not {pair!r}")
        params[key.strip()] = value
    return params


def run(
    store: EmbeddedStore,
    settings: Settings,
    *,
    name: str | None,
    sparql: str | None,
    params: dict[str, str],
    fmt: str,
) -> QueryAnswer:
    if name is not None:
        request = Catalogue.load(queries_dir()).request(name, params, StoreResolver(store))
    else:
        if params:
            raise ValueError("--param goes with a saved query NAME, not with --sparql")
        request = QueryRequest(sparql=sparql or "")
    request = replace(
        request, solutions_format=SOLUTION_TYPES[fmt], max_results=settings.max_results
    )
    return evaluate(store.raw, request, settings.federation_endpoints)


def show(answer: QueryAnswer, fmt: str) -> None:
    """Print the answer: as serialised, or (for `table`) as a rich table from its JSON."""
    if fmt != "table" or answer.kind not in ("select", "ask"):
        sys.stdout.buffer.write(answer.body)
        if not answer.body.endswith(b"\n"):
            sys.stdout.buffer.write(b"\n")
    elif answer.kind == "ask":
        out.print("true" if json.loads(answer.body)["boolean"] else "false")
    else:
        document = json.loads(answer.body)
        names: list[str] = document["head"]["vars"]
        bindings: list[dict[str, Any]] = document["results"]["bindings"]
        table, hidden = solutions_table(names, bindings, out.width)
        out.print(table)
        out.print(f"{len(bindings)} row(s)")
        if hidden:
            out.print(
                f"{len(hidden)} more column(s): {', '.join(hidden)}; use --format csv for all",
                highlight=False,
                soft_wrap=True,
            )
    if answer.truncated:
        print(f"(truncated at {answer.rows} rows: CITYTOOLS_MAX_RESULTS)", file=sys.stderr)  # noqa: T201


CELL_MIN = 12  # narrowest a column gets for its cells (longer ones fold), beside its header
BORDERS = 3  # a rich column's padding and rule; the table adds one more rule


def solutions_table(
    names: list[str], bindings: list[dict[str, Any]], width: int
) -> tuple[Table, list[str]]:
    """A table that fits `width` with every header whole, and the columns left out.

    Columns holding text or numbers come first, IRI columns (a label column usually sits
    beside them) last, each in query order; once the next one does not fit beside those
    taken, it and the rest are left out, so a narrow terminal shows the readable ones.
    Text folds down to CELL_MIN characters; IRIs do not fold.
    Widths are worked out here: rich, short of room, cuts headers to `au…`."""
    texts = {n: [_cell(b.get(n)) for b in bindings] for n in names}
    natural = {n: max([cell_len(n), *map(cell_len, texts[n])]) for n in names}
    iri_only = {n for n in names if all(b[n]["type"] != "literal" for b in bindings if n in b)}
    # an IRI folded over lines is hard to read or copy: shown whole or not at all
    least = {
        n: natural[n] if n in iri_only else max(cell_len(n), min(CELL_MIN, natural[n]))
        for n in names
    }
    room = width - 1  # the table's left rule
    taken: list[str] = []
    for name in sorted(names, key=lambda n: (n in iri_only, names.index(n))):
        if least[name] + BORDERS > room and taken:
            break
        taken.append(name)
        room -= least[name] + BORDERS
    columns = [n for n in names if n in taken]
    widths = _spread(room, {n: least[n] for n in columns}, natural)
    table = Table(*(Column(n, width=widths[n], overflow="fold") for n in columns))
    for row in range(len(bindings)):
        table.add_row(*(texts[n][row] for n in columns))
    return table, [n for n in names if n not in taken]


def _spread(room: int, widths: dict[str, int], natural: dict[str, int]) -> dict[str, int]:
    """`widths` grown by `room` characters, each column towards its natural width in
    proportion to what it lacks, so the longest cells fold least."""
    lacking = {n: natural[n] - w for n, w in widths.items()}
    total = sum(lacking.values())
    if total <= room:
        return {n: natural[n] for n in widths}
    return {n: w + lacking[n] * max(room, 0) // total for n, w in widths.items()}


def _cell(term: dict[str, Any] | None) -> str:
    """A SPARQL JSON term as text: an IRI or literal as its value (unset: empty)."""
    if term is None:
        return ""
    value = term["value"]
    if term["type"] == "triple":  # an RDF 1.2 triple term
        return f"<<( {' '.join(_cell(value[k]) for k in ('subject', 'predicate', 'object'))} )>>"
    return f"_:{value}" if term["type"] == "bnode" else str(value)


def queries() -> None:
    """List the saved queries with their parameters."""
    table = Table(Column("name", no_wrap=True), "parameters", "title")
    for query in Catalogue.load(queries_dir()):
        parameters = ", ".join(
            f"{p.name}: {p.type}"
            + (f" = {p.default}" if p.default is not None else "")
            + ("" if p.required else " (optional)")
            for p in query.parameters
        )
        table.add_row(query.name, parameters or "none", query.title)
    out.print(table)


def query(
    name: Annotated[str | None, typer.Argument(help="Saved query name")] = None,
    sparql: Annotated[str | None, typer.Option("--sparql", help="Ad-hoc query text")] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="k=v (repeatable)")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, json or csv")] = "table",
    store: StoreOption = None,
    endpoint: EndpointOption = None,
) -> None:
    """Run a saved query (NAME --param k=v …) or an ad-hoc one (--sparql 'SELECT …')."""
    if fmt not in SOLUTION_TYPES:
        raise fail(f"--format must be one of {', '.join(SOLUTION_TYPES)}")
    if (name is None) == (sparql is None):
        raise fail("give either a saved query NAME or --sparql 'QUERY'")
    settings = settings_with(store, endpoint)
    try:
        params = parse_params(param or [])
    except ValueError as exc:
        raise fail(str(exc)) from None
    with opened_store(settings, "query") as opened:
        try:
            answer = run(opened, settings, name=name, sparql=sparql, params=params, fmt=fmt)
        except (CityToolsError, ValueError) as exc:
            raise fail(str(exc)) from None
    show(answer, fmt)
