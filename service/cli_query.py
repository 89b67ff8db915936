"""`citytools query` and `citytools queries`: saved and ad-hoc SPARQL from the terminal.

Both take the path the HTTP service takes: a saved query's parameters are typed and
bound by the catalogue, and `query_eval.evaluate` checks SERVICE against the
allow-list and serialises the answer (SPARQL JSON or CSV; Turtle for graphs).
"""

from __future__ import annotations

import csv
import io
import sys
from dataclasses import replace
from typing import Annotated

import typer
from rich.table import Column, Table

from citytools.errors import CityToolsError
from citytools.resources import queries_dir
from citytools.service.catalogue import Catalogue
from citytools.service.cli_common import StoreOption, fail, opened_store, out, settings_with
from citytools.service.execution import QueryAnswer, QueryRequest
from citytools.service.query_eval import evaluate
from citytools.service.query_resolver import StoreResolver
from citytools.service.store import EmbeddedStore
from citytools.settings import Settings

SOLUTION_TYPES = {"json": "application/sparql-results+json", "csv": "text/csv", "table": "text/csv"}


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
    """Print the answer: as serialised, or (for `table`) as a rich table from its CSV."""
    if fmt != "table" or answer.kind not in ("select", "ask"):
        sys.stdout.buffer.write(answer.body)
        if not answer.body.endswith(b"\n"):
            sys.stdout.buffer.write(b"\n")
    elif answer.kind == "ask":
        out.print(answer.body.decode().strip().splitlines()[-1])
    else:
        rows = list(csv.reader(io.StringIO(answer.body.decode("utf-8"))))
        table = Table(*rows[0]) if rows else Table()
        for row in rows[1:]:
            table.add_row(*row)
        out.print(table)
        out.print(f"{len(rows) - 1} row(s)")
    if answer.truncated:
        print(f"(truncated at {answer.rows} rows: CITYTOOLS_MAX_RESULTS)", file=sys.stderr)  # noqa: T201


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
) -> None:
    """Run a saved query (NAME --param k=v …) or an ad-hoc one (--sparql 'SELECT …')."""
    if fmt not in SOLUTION_TYPES:
        raise fail(f"--format must be one of {', '.join(SOLUTION_TYPES)}")
    if (name is None) == (sparql is None):
        raise fail("give either a saved query NAME or --sparql 'QUERY'")
    settings = settings_with(store)
    try:
        params = parse_params(param or [])
    except ValueError as exc:
        raise fail(str(exc)) from None
    with opened_store(settings) as opened:
        try:
            answer = run(opened, settings, name=name, sparql=sparql, params=params, fmt=fmt)
        except (CityToolsError, ValueError) as exc:
            raise fail(str(exc)) from None
    show(answer, fmt)
