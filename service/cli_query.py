"""`citytools query` and `citytools queries`: saved and ad-hoc SPARQL from the terminal."""

from __future__ import annotations

import csv
import io
import json
import sys
from typing import Annotated

import typer
from pyoxigraph import QueryBoolean, QuerySolutions, QueryTriples, RdfFormat, serialize
from rich.console import Console
from rich.table import Table

from citytools.errors import CityToolsError

out = Console()
OUTPUT_FORMATS = ("table", "json", "csv")


def _cell(term: object) -> str:
    return "" if term is None else str(getattr(term, "value", term))


def render(result: QuerySolutions | QueryTriples | QueryBoolean, fmt: str) -> None:
    """Print a query answer as a rich table, SPARQL-style JSON rows, or CSV."""
    if isinstance(result, QueryBoolean):
        out.print("true" if bool(result) else "false")
        return
    if isinstance(result, QueryTriples):
        sys.stdout.buffer.write(serialize(result, format=RdfFormat.TURTLE) or b"")
        return
    columns = [var.value for var in result.variables]
    rows = [[_cell(solution[c]) for c in columns] for solution in result]
    if fmt == "json":
        sys.stdout.write(json.dumps([dict(zip(columns, r, strict=True)) for r in rows], indent=2))
        sys.stdout.write("\n")
    elif fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
        sys.stdout.write(buffer.getvalue())
    else:
        table = Table(*columns, show_lines=False)
        for row in rows:
            table.add_row(*row)
        out.print(table)
        out.print(f"{len(rows)} row(s)")


def register(app: typer.Typer) -> None:
    """Add the query commands to the main CLI (kept here so cli.py stays small)."""
    from citytools.service.cli import StoreOption, fail, opened_store, settings_with

    @app.command()
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
        if fmt not in OUTPUT_FORMATS:
            raise fail(f"--format must be one of {', '.join(OUTPUT_FORMATS)}")
        if (name is None) == (sparql is None):
            raise fail("give either a saved query NAME or --sparql 'QUERY'")
        settings = settings_with(store)
        with opened_store(settings) as opened:
            try:
                if sparql is not None:
                    result = opened.query(sparql)
                else:
                    raise fail("saved queries are not available yet")
                render(result, fmt)
            except SyntaxError as exc:
                raise fail(f"malformed query: {exc}") from None
            except CityToolsError as exc:
                raise fail(str(exc)) from None
        _ = param
