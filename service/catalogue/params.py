"""Saved-query parameter types: text from a URL or the command line in, a typed RDF term out.

Each type is declared in a query's header (`type:` of a parameter, `saved.py`):
`xsd:integer`, `xsd:decimal`, `xsd:date`, `xsd:boolean`, `xsd:string`, `enum` (with
its words in `choices:`), or an entity type (`authority`, `system`, `standard`,
`project`, `service_area`) whose value is a name, a code or an IRI that a
`Resolver` looks up in the store. A value that does not fit raises
`ParameterError` naming the parameter (HTTP 422).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Literal as OneOf
from typing import Protocol

from pyoxigraph import Literal, NamedNode

from citytools import vocab as v
from citytools.errors import ParameterError

TypeName = OneOf[
    "xsd:integer",
    "xsd:decimal",
    "xsd:date",
    "xsd:boolean",
    "xsd:string",
    "enum",
    "authority",
    "system",
    "standard",
    "project",
    "service_area",
]
ENTITY_KINDS = ("authority", "system", "standard", "project", "service_area")
ORDERED_TYPES = ("xsd:integer", "xsd:decimal", "xsd:date")  # the ones `min`/`max` apply to
ENTITY_HELP = {
    "authority": "a GSS code (E09000012), a name (Hackney) or an IRI",
    "system": "a product name (Mosaic) or an IRI",
    "standard": "a standard's name or identifier, or an IRI",
    "project": "a project's name or an IRI",
    "service_area": "a service area's name, an LGSL id (e.g. 1138) or an IRI",
}
MAX_TEXT = 500  # longest parameter value accepted, in characters

_INTEGER = re.compile(r"[+-]?\d{1,18}")
_DECIMAL = re.compile(r"[+-]?(\d{1,18}(\.\d{0,18})?|\.\d{1,18})")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_BOOLEANS = {"true": "true", "1": "true", "false": "false", "0": "false"}

Value = NamedNode | Literal


class Resolver(Protocol):
    def lookup(self, kind: str, text: str) -> list[NamedNode]:
        """Every resource of entity type `kind` that `text` names (a name, code or IRI)."""
        ...


@dataclass(frozen=True)
class ParamType:
    """A declared parameter type, e.g. `xsd:date`, `enum(supplier,manufacturer)`, `authority`."""

    name: TypeName
    choices: tuple[str, ...] = ()  # only for enumerations

    @property
    def is_entity(self) -> bool:
        return self.name in ENTITY_KINDS

    @property
    def ordered(self) -> bool:
        return self.name in ORDERED_TYPES

    def __str__(self) -> str:
        return f"enum({','.join(self.choices)})" if self.name == "enum" else self.name

    def scalar(self, parameter: str, raw: str) -> Literal:
        """The typed literal `raw` stands for (not for entity types)."""
        text = raw.strip()
        if self.name == "xsd:integer":
            if not _INTEGER.fullmatch(text):
                raise ParameterError(parameter, f"{_shown(raw)} is not a whole number")
            return Literal(str(int(text)), datatype=v.XSD.integer)
        if self.name == "xsd:decimal":
            return Literal(str(_decimal(parameter, text)), datatype=v.XSD.decimal)
        if self.name == "xsd:date":
            return Literal(_date(parameter, text).isoformat(), datatype=v.XSD.date)
        if self.name == "xsd:boolean":
            value = _BOOLEANS.get(text.lower())
            if value is None:
                raise ParameterError(parameter, f"{_shown(raw)} is not true or false")
            return Literal(value, datatype=v.XSD.boolean)
        if self.name == "enum":
            wanted = text.lower()
            for choice in self.choices:
                if choice.lower() == wanted:
                    return Literal(choice)
            raise ParameterError(
                parameter, f"{_shown(raw)} is not one of {', '.join(self.choices)}"
            )
        return Literal(raw)  # xsd:string: bound as given (it is never pasted into the text)

    def value(self, parameter: str, raw: str, resolver: Resolver) -> Value:
        """The term `raw` stands for; entity names are looked up through `resolver`."""
        if len(raw) > MAX_TEXT:
            raise ParameterError(parameter, f"longer than {MAX_TEXT} characters")
        if not raw.strip():
            raise ParameterError(parameter, "is empty")
        if not self.is_entity:
            return self.scalar(parameter, raw)
        found = resolver.lookup(self.name, raw.strip())
        what = self.name.replace("_", " ")
        if not found:
            raise ParameterError(parameter, f"no {what} {_shown(raw)} in the graph")
        if len(found) > 1:
            names = ", ".join(f"<{iri.value}>" for iri in found[:5])
            raise ParameterError(
                parameter, f"{_shown(raw)} names {len(found)} of them ({names}); give the IRI"
            )
        return found[0]

    def order_key(self, term: Literal) -> Decimal:
        """The value of a literal of an ordered type as a number, for `min`/`max` checks."""
        if self.name == "xsd:date":
            return Decimal(date.fromisoformat(term.value).toordinal())
        return Decimal(term.value)

    def schema(self) -> dict[str, object]:
        """The JSON Schema of the parameter in OpenAPI."""
        if self.name == "xsd:integer":
            return {"type": "integer"}
        if self.name == "xsd:decimal":
            return {"type": "number"}
        if self.name == "xsd:date":
            return {"type": "string", "format": "date"}
        if self.name == "xsd:boolean":
            return {"type": "boolean"}
        if self.name == "enum":
            return {"type": "string", "enum": list(self.choices)}
        return {"type": "string"}

    def help(self) -> str:
        """What a value looks like, for forms and documentation."""
        if self.is_entity:
            return ENTITY_HELP[self.name]
        if self.name == "enum":
            return "one of " + ", ".join(self.choices)
        return {
            "xsd:integer": "a whole number",
            "xsd:decimal": "a number such as 0.5",
            "xsd:date": "a date, YYYY-MM-DD",
            "xsd:boolean": "true or false",
        }.get(self.name, "text")


def _decimal(parameter: str, text: str) -> Decimal:
    if not _DECIMAL.fullmatch(text):
        raise ParameterError(parameter, f"{_shown(text)} is not a decimal number such as 0.5")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ParameterError(parameter, f"{_shown(text)} is not a decimal number") from None
    # Canonical xsd:decimal: no exponent, no trailing zeros beyond one decimal place.
    canonical = format(number.normalize(), "f")
    return Decimal(canonical if "." in canonical else canonical + ".0")


def _date(parameter: str, text: str) -> date:
    if _DATE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise ParameterError(parameter, f"{_shown(text)} is not a date (YYYY-MM-DD)")


def _shown(raw: str) -> str:
    """The value as quoted in a message, shortened so a message stays readable."""
    return repr(raw if len(raw) <= 60 else raw[:57] + "...")
