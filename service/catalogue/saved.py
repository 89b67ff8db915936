"""The saved-query catalogue: `queries/*.rq` files with a `#+` metadata header.

Every file is a valid SPARQL query whose leading comment lines declare what it is:

    #+ title: Systems of an authority
    #+ description: Every system an authority uses, by service area, …
    #+ param: authority | authority | required | The authority: GSS code, name or IRI
    #+ param: min_authorities | xsd:integer | default 2 | min 2 | Least number of authorities
    #+ chart: bar | label=system_label | value=authorities
    #+ tags: authorities, systems

Every parameter is declared (never guessed from variable names) and bound as a
typed RDF term through the executor's substitutions, never pasted into the text.
`Catalogue.load` checks every file at start-up and names the file that is broken.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from pathlib import Path

from pyoxigraph import Literal, NamedNode, QuerySolutions, Store, Variable

from citytools.errors import InputError, NotFound, ParameterError
from citytools.service.catalogue.params import ParamType, Resolver, Value
from citytools.service.engine.execution import QueryRequest
from citytools.service.sparql.text import check_parameter_use
from citytools.service.store.interface import Term

RESERVED = frozenset({"format"})  # request options, not query parameters
CHART_KINDS = ("bar", "stacked")
_HEADER = re.compile(r"#\+\s*([a-z_]+)\s*:\s*(.*)")
_NAME = re.compile(r"[a-z][a-z0-9-]*")
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Parameter:
    name: str
    type: ParamType
    description: str
    required: bool = False
    default: str | None = None
    minimum: str | None = None
    maximum: str | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "type": str(self.type),
            "required": self.required,
            "default": self.default,
            "min": self.minimum,
            "max": self.maximum,
            "description": self.description,
            "accepts": self.type.help(),
        }


@dataclass(frozen=True)
class Chart:
    kind: str  # "bar": one bar per row; "stacked": rows as shares of one 100% bar
    labels: tuple[str, ...]  # columns whose values, joined, label each row ("a+b")
    value: str  # column with each row's number

    def as_json(self) -> dict[str, str]:
        """As the header spells it: `label` joins several columns with '+'."""
        return {"kind": self.kind, "label": "+".join(self.labels), "value": self.value}


@dataclass(frozen=True)
class SavedQuery:
    name: str
    title: str
    description: str
    text: str  # the whole file: valid SPARQL (the header is comments)
    parameters: tuple[Parameter, ...] = ()
    chart: Chart | None = None
    tags: tuple[str, ...] = ()
    columns: tuple[str, ...] = field(default=())

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name == name), None)

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "parameters": [p.as_json() for p in self.parameters],
            "columns": list(self.columns),
            "chart": None if self.chart is None else self.chart.as_json(),
            "tags": list(self.tags),
        }


class Catalogue:
    """The saved queries by name, each checked when loaded."""

    def __init__(self, queries: list[SavedQuery]) -> None:
        self._queries = {q.name: q for q in sorted(queries, key=lambda q: q.name)}

    @classmethod
    def load(cls, directory: Path | Traversable) -> Catalogue:
        """Every `*.rq` in `directory`; InputError naming the file when one is broken."""
        files = sorted(
            (f for f in directory.iterdir() if f.name.endswith(".rq")), key=lambda f: f.name
        )
        return cls([parse_file(f.name, f.read_text(encoding="utf-8")) for f in files])

    def __iter__(self) -> Iterator[SavedQuery]:
        return iter(self._queries.values())

    def __len__(self) -> int:
        return len(self._queries)

    def __contains__(self, name: object) -> bool:
        return name in self._queries

    def get(self, name: str) -> SavedQuery:
        query = self._queries.get(name)
        if query is None:
            raise NotFound(f"no saved query '{name}'; see /queries for the list")
        return query

    def request(self, name: str, raw_params: Mapping[str, str], resolver: Resolver) -> QueryRequest:
        """The query with its parameters typed and bound; ParameterError (422) when one is wrong."""
        query = self.get(name)
        return QueryRequest(sparql=query.text, substitutions=bind(query, raw_params, resolver))


def bind(query: SavedQuery, raw_params: Mapping[str, str], resolver: Resolver) -> dict[str, str]:
    """Variable name -> term in N-Triples syntax, for every parameter given or defaulted."""
    for given in raw_params:
        if query.parameter(given) is None:
            known = ", ".join(p.name for p in query.parameters) or "none"
            raise ParameterError(given, f"'{query.name}' has no such parameter (it takes: {known})")
    bound: dict[str, str] = {}
    for parameter in query.parameters:
        raw = raw_params.get(parameter.name)
        if raw is None or not raw.strip():
            if parameter.required:
                raise ParameterError(parameter.name, f"is required: {parameter.description}")
            raw = parameter.default
        if raw is None:
            continue  # optional without a default: the variable stays unbound
        term = parameter.type.value(parameter.name, raw, resolver)
        _check_range(parameter, term)
        bound[parameter.name] = str(term)
    return bound


def _check_range(parameter: Parameter, term: Value) -> None:
    if not isinstance(term, Literal) or not parameter.type.ordered:
        return
    kind, value = parameter.type, parameter.type.order_key(term)
    low = parameter.minimum
    if low is not None and value < kind.order_key(kind.scalar(parameter.name, low)):
        raise ParameterError(parameter.name, f"must be at least {low}, not {term.value}")
    high = parameter.maximum
    if high is not None and value > kind.order_key(kind.scalar(parameter.name, high)):
        raise ParameterError(parameter.name, f"must be at most {high}, not {term.value}")


# --- reading and checking one file ----------------------------------------------------------


def parse_file(file_name: str, text: str) -> SavedQuery:
    """One `.rq` file as a `SavedQuery`; InputError naming the file when it is broken."""
    try:
        return _parse(file_name, text)
    except (ValueError, ParameterError) as exc:
        raise InputError(f"saved query {file_name}: {exc}") from None


def _parse(file_name: str, text: str) -> SavedQuery:
    name = file_name.removesuffix(".rq")
    if not _NAME.fullmatch(name):
        raise ValueError("the file name must be lower-case letters, digits and '-', ending .rq")
    fields: dict[str, str] = {}
    parameters: list[Parameter] = []
    chart = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped.startswith("#+"):
            if stripped and not stripped.startswith("#"):
                break  # the header ends at the first line of SPARQL
            continue
        match = _HEADER.fullmatch(stripped)
        if match is None:
            raise ValueError(f"line {number}: a header line reads '#+ key: value'")
        key, value = match.group(1), match.group(2).strip()
        if key == "param":
            parameters.append(_parameter(number, value))
        elif key == "chart":
            chart = _chart(number, value)
        elif key in ("title", "description", "tags"):
            # A repeated description continues the previous one.
            fields[key] = (
                f"{fields[key]} {value}" if key == "description" and key in fields else value
            )
        else:
            raise ValueError(f"line {number}: unknown header key '{key}'")
    for key in ("title", "description"):
        if not fields.get(key):
            raise ValueError(f"the header has no '#+ {key}:'")
    names = [p.name for p in parameters]
    if len(set(names)) != len(names):
        raise ValueError("a parameter is declared twice")
    columns = _dry_run(text, parameters)
    check_parameter_use(text, names)
    if chart is not None:
        for column in (*chart.labels, chart.value):
            if column not in columns:
                raise ValueError(f"the chart's column '{column}' is not in the SELECT")
    tags = tuple(t.strip() for t in fields.get("tags", "").split(",") if t.strip())
    return SavedQuery(
        name, fields["title"], fields["description"], text, tuple(parameters), chart, tags, columns
    )


def _parameter(number: int, value: str) -> Parameter:
    """`name | type | required|optional|default V | [min V |] [max V |] description`."""
    parts = [p.strip() for p in value.split("|")]
    where = f"line {number}"
    if len(parts) < 4:
        raise ValueError(f"{where}: a parameter reads 'name | type | required | description'")
    name, type_text, *options, description = parts
    if not _VARIABLE.fullmatch(name) or name in RESERVED:
        raise ValueError(f"{where}: '{name}' cannot name a parameter")
    kind = ParamType.parse(type_text)
    settings: dict[str, str] = {}
    for option in options:
        word, _, argument = option.partition(" ")
        if word not in ("required", "optional", "default", "min", "max") or word in settings:
            raise ValueError(f"{where}: unexpected '{option}' in parameter '{name}'")
        if (word in ("required", "optional")) == bool(argument.strip()):
            raise ValueError(f"{where}: '{option}' is not 'required', 'optional' or '{word} V'")
        settings[word] = argument.strip()
    presence = [w for w in ("required", "optional", "default") if w in settings]
    if len(presence) != 1:
        raise ValueError(f"{where}: say exactly one of required, optional or default V")
    if ("min" in settings or "max" in settings) and not kind.ordered:
        raise ValueError(f"{where}: min and max apply to integers, decimals and dates only")
    if "default" in settings and kind.is_entity:
        raise ValueError(f"{where}: an entity parameter cannot have a default")
    if not description:
        raise ValueError(f"{where}: parameter '{name}' has no description")
    parameter = Parameter(
        name,
        kind,
        description,
        required="required" in settings,
        default=settings.get("default"),
        minimum=settings.get("min"),
        maximum=settings.get("max"),
    )
    for bound in (parameter.minimum, parameter.maximum, parameter.default):
        if bound is not None:
            kind.scalar(name, bound)  # a bound or default of the wrong type fails here
    if parameter.default is not None:
        _check_range(parameter, kind.scalar(name, parameter.default))
    return parameter


def _chart(number: int, value: str) -> Chart:
    """`bar | label=COLUMN[+COLUMN…] | value=COLUMN`."""
    kind, *options = (p.strip() for p in value.split("|"))
    settings = dict(o.partition("=")[::2] for o in options)
    if kind not in CHART_KINDS or set(settings) != {"label", "value"}:
        kinds = " or ".join(CHART_KINDS)
        raise ValueError(f"line {number}: a chart reads '{kinds} | label=COLUMN | value=COLUMN'")
    labels = tuple(c.strip() for c in settings["label"].split("+"))
    return Chart(kind, labels, settings["value"].strip())


_SAMPLES = {
    "xsd:integer": "1",
    "xsd:decimal": "0.5",
    "xsd:date": "2000-01-01",
    "xsd:boolean": "true",
    "xsd:string": "x",
}


def _dry_run(text: str, parameters: list[Parameter]) -> tuple[str, ...]:
    """Run the query on an empty store with every parameter bound: it must parse, be a
    SELECT, and project every parameter (pyoxigraph binds only projected variables)."""
    substitutions: dict[Variable, Term] = {}
    for p in parameters:
        if p.type.is_entity:
            substitutions[Variable(p.name)] = NamedNode("urn:citytools:dry-run")
        else:
            sample = p.type.choices[0] if p.type.choices else _SAMPLES[p.type.name]
            substitutions[Variable(p.name)] = p.type.scalar(p.name, sample)
    try:
        result = Store().query(text, substitutions=substitutions, use_default_graph_as_union=True)
    except SyntaxError as exc:
        raise ValueError(f"the query does not parse: {exc}") from None
    except RuntimeError as exc:
        raise ValueError(f"a parameter must be in the SELECT clause ({exc})") from None
    if not isinstance(result, QuerySolutions):
        raise ValueError("a saved query must be a SELECT")
    return tuple(variable.value for variable in result.variables)
