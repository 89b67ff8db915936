"""Saved-query answers as HTML: SPARQL JSON results into table cells, a chart, the pages.

A column `x_label` names the resource in column `x`, so it becomes that cell's link
text; a parameter's column repeats the parameter and is shown in the form instead.
Numbers keep their full precision in JSON and CSV; here shares read as
percentages and values as pounds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from citytools import vocab as v
from citytools.errors import InputError
from citytools.service.catalogue.saved import Chart
from citytools.service.http.pages import charts

Binding = Mapping[str, str]  # one SPARQL JSON term: {"type": …, "value": …, "datatype": …}
Solution = Mapping[str, Binding]
NUMERIC = {v.XSD[t].value for t in ("integer", "decimal", "double", "float", "int", "long")}


@dataclass(frozen=True)
class Cell:
    text: str
    href: str | None = None
    numeric: bool = False


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[Cell]]


def solutions(body: bytes) -> tuple[list[str], list[Solution]]:
    """The variables and rows of a SPARQL 1.1 JSON results document."""
    try:
        document = json.loads(body)
        return list(document["head"]["vars"]), list(document["results"]["bindings"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"the answer is not SPARQL JSON results: {exc}") from None


def table(
    variables: Sequence[str],
    rows: Sequence[Solution],
    *,
    hidden: set[str],
    base_iri: str,
    root: str = "",
) -> Table:
    """Cells to show: labels fold into links, hidden and always-empty columns are left out."""
    hidden = hidden | {f"{c}_label" for c in hidden}  # a hidden resource's name goes too
    labelled = {c for c in variables if f"{c}_label" in variables}
    shown = [
        c
        for c in variables
        if c not in hidden
        and not (c.endswith("_label") and c.removesuffix("_label") in labelled)
        and (not rows or any(c in row for row in rows))
    ]
    cells = []
    for row in rows:
        line = []
        for column in shown:
            term = row.get(column)
            label = row.get(f"{column}_label") if column in labelled else None
            line.append(_cell(column, term, label, base_iri, root))
        cells.append(line)
    return Table(shown, cells)


def _cell(
    column: str, term: Binding | None, label: Binding | None, base_iri: str, root: str
) -> Cell:
    if term is None:
        return Cell("")
    value = term.get("value", "")
    if term.get("type") == "uri":
        # Without a label, an IRI under the base reads shorter without it.
        short = value.removeprefix(base_iri)
        return Cell(label["value"] if label is not None else short, link(value, base_iri, root))
    if term.get("datatype") in NUMERIC:
        return Cell(number(column, value), numeric=True)
    return Cell(value)


def link(iri: str, base_iri: str, root: str = "") -> str:
    """The page of a resource: `/id/…` under the base, else `/resource?iri=…`."""
    if iri.startswith(base_iri):
        return f"{root}/id/{quote(iri[len(base_iri) :], safe='/')}"
    return f"{root}/resource?iri={quote(iri, safe='')}"


def number(column: str, text: str) -> str:
    """A number as people read it: shares in %, values in £, others with separators."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        return text
    if column.endswith("share"):
        return f"{value * 100:.1f}%"
    if column.endswith("value"):
        return f"£{value:,.0f}"
    if value == value.to_integral_value():
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def chart(spec: Chart, rows: Sequence[Solution], title: str) -> Markup | None:
    """The chart a query's header asks for, or None when no row has a number for it."""
    labels, values = [], []
    for row in rows:
        value = row.get(spec.value)
        try:
            number_value = float(value["value"]) if value is not None else None
        except ValueError:
            number_value = None
        if number_value is None:
            continue
        parts = [row[c]["value"] for c in spec.labels if row.get(c) is not None]
        labels.append(" — ".join(parts) or "(none)")
        values.append(number_value)
    if not values:
        return None
    if spec.kind == "stacked":
        return charts.stacked_chart(labels, values, title=title)
    return charts.bar_chart(labels, values, title=title)


class Pages:
    """The Jinja2 templates of the saved-query pages (autoescaped)."""

    def __init__(self) -> None:
        self.environment = Environment(
            loader=PackageLoader("citytools.service.http.pages", "templates"),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(self, template: str, **context: Any) -> str:
        return self.environment.get_template(template).render(**context)
