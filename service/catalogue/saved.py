"""The saved-query catalogue: `queries/*.rq` files with a YAML header in `#+` comments.

Every file is a valid SPARQL query. Its leading `#+` lines, with the `#+ ` taken off, are a
YAML document that says what it is (plain `#` comments among them are not part of it):

    #+ title: Shared systems
    #+ description: >-
    #+   Products that several authorities use for the same service area.
    #+ parameters:
    #+   min_authorities:
    #+     type: xsd:integer
    #+     default: 2
    #+     min: 1
    #+     description: Least number of authorities
    #+ chart: {kind: bar, label: [system_label, service_area_label], value: authorities}
    #+ tags: [systems, collaboration]

PyYAML reads it and pydantic models check it: an unknown key, a value of the wrong type or
a missing title is an error naming the file and the key. Every parameter is declared
(never guessed from variable names) and bound as a typed RDF term through the executor's
substitutions, never pasted into the text. `Catalogue.load` checks every file at start-up.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated, Any
from typing import Literal as OneOf

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pyoxigraph import Literal, NamedNode, QuerySolutions, Store, Variable

from citytools.errors import InputError, NotFound, ParameterError
from citytools.service.catalogue.params import ParamType, Resolver, TypeName, Value
from citytools.service.engine.execution import QueryRequest
from citytools.service.sparql.text import check_parameter_use
from citytools.service.store.interface import Term

RESERVED = frozenset({"format"})  # request options, not query parameters
_NAME = re.compile(r"[a-z][a-z0-9-]*")


def _lexical(value: object) -> object:
    """A YAML scalar as the text a URL would carry it in: 15, 0.5, false, 2000-01-01."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return str(value) if isinstance(value, int | float) else value


Lexical = Annotated[str, BeforeValidator(_lexical)]
Text = Annotated[str, Field(min_length=1)]


class _Header(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Parameter(_Header):
    """One entry of `parameters:`; its name is its key there."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
    type_name: TypeName = Field(alias="type")
    choices: tuple[str, ...] = ()  # an enum's words, and only an enum's
    description: Text
    required: bool = False
    default: Lexical | None = None
    minimum: Lexical | None = Field(default=None, alias="min")
    maximum: Lexical | None = Field(default=None, alias="max")

    @property
    def type(self) -> ParamType:
        return ParamType(self.type_name, self.choices)

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, name: str) -> str:
        if name in RESERVED:
            raise ValueError(f"'{name}' cannot name a parameter")
        return name

    @model_validator(mode="after")
    def _consistent(self) -> Parameter:
        kind = self.type
        if (kind.name == "enum") != bool(self.choices):
            raise ValueError("an enum lists its words in 'choices', and only an enum does")
        if self.default is not None and (self.required or kind.is_entity):
            raise ValueError("a required or entity parameter cannot have a default")
        if (self.minimum is not None or self.maximum is not None) and not kind.ordered:
            raise ValueError("min and max apply to integers, decimals and dates only")
        for given in (self.minimum, self.maximum, self.default):
            if given is not None:
                kind.scalar(self.name, given)  # ParameterError: of the wrong type
        if self.default is not None:
            _check_range(self, kind.scalar(self.name, self.default))
        return self

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


class Chart(_Header):
    kind: OneOf["bar", "stacked"]  # one bar per row; rows as shares of one 100% bar
    label: str | tuple[str, ...]  # the column(s) whose values, joined, label each row
    value: str  # the column with each row's number

    @property
    def labels(self) -> tuple[str, ...]:
        return (self.label,) if isinstance(self.label, str) else self.label

    def as_json(self) -> dict[str, str]:
        """`label` joins several columns with '+'."""
        return {"kind": self.kind, "label": "+".join(self.labels), "value": self.value}


class Header(_Header):
    title: Text
    description: Text
    parameters: dict[str, Parameter] = {}
    chart: Chart | None = None
    tags: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _named(cls, data: Any) -> Any:
        """Each parameter's key is its name."""
        given = data.get("parameters") if isinstance(data, dict) else None
        if not isinstance(given, dict):
            return data
        for name, spec in given.items():
            if isinstance(spec, dict) and "name" in spec:
                raise ValueError(f"parameter '{name}' is named by its key, not by 'name:'")
        named = {n: {**s, "name": n} if isinstance(s, dict) else s for n, s in given.items()}
        return {**data, "parameters": named}


@dataclass(frozen=True)
class SavedQuery:
    name: str
    title: str
    description: str
    text: str  # the whole file: valid SPARQL (the header is comments)
    parameters: tuple[Parameter, ...] = ()
    chart: Chart | None = None
    tags: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()

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
    header = _read_header(text)
    parameters = tuple(header.parameters.values())
    columns = _dry_run(text, parameters)
    check_parameter_use(text, [p.name for p in parameters])
    if header.chart is not None:
        for column in (*header.chart.labels, header.chart.value):
            if column not in columns:
                raise ValueError(f"the chart's column '{column}' is not in the SELECT")
    return SavedQuery(
        name,
        header.title,
        header.description,
        text,
        parameters,
        header.chart,
        header.tags,
        columns,
    )


def _read_header(text: str) -> Header:
    """The `#+` lines of the leading comments, `#+` taken off, as YAML."""
    lines, numbers = [], []  # the YAML, and each of its lines' number in the file
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            break  # the header ends at the first line of SPARQL
        if stripped.startswith("#+"):
            lines.append(stripped[2:].removeprefix(" "))
            numbers.append(number)
    try:
        data = yaml.load("\n".join(lines), Loader=_UniqueKeys)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {numbers[min(mark.line, len(numbers) - 1)]}: " if mark and numbers else ""
        raise ValueError(f"{where}the `#+` header is not valid YAML: {exc.problem}") from None
    if not isinstance(data, dict):
        raise ValueError("the `#+` header must be YAML keys: title, description, …")
    try:
        return Header.model_validate(data)
    except ValidationError as exc:
        raise ValueError("; ".join(_problem(e) for e in exc.errors(include_url=False))) from None


def _problem(error: Any) -> str:
    """One pydantic error as `header key 'parameters.top.defualt': unknown key`."""
    message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
    message = message.removeprefix("Value error, ")
    if not error["loc"]:
        return message
    return f"header key '{'.'.join(str(part) for part in error['loc'])}': {message}"


class _UniqueKeys(yaml.SafeLoader):
    """`yaml.SafeLoader` that refuses a key given twice in one mapping: PyYAML keeps the
    last one silently (yaml/pyyaml#165), and a second `description:` would drop the first."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key '{key}' is given twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


_SAMPLES = {
    "xsd:integer": "1",
    "xsd:decimal": "0.5",
    "xsd:date": "2000-01-01",
    "xsd:boolean": "true",
    "xsd:string": "x",
}


def _dry_run(text: str, parameters: tuple[Parameter, ...]) -> tuple[str, ...]:
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
