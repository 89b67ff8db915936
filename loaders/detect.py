"""Which loader reads an input, and the one entry point that runs it.

The kind comes from `--format` (a SPEC.md name, or a media type such as
`text/turtle`) when given, else from the file extension. A CSV is an
inventory or a projects file according to its header; a `.json` file is
JSON-LD when it uses `@context`, `@graph` or `@id`, else OCDS.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import PurePath

from citytools.errors import InputError
from citytools.loaders.base import Parsed
from citytools.loaders.csvtable import decode, header_names
from citytools.loaders.inventory import parse_inventory
from citytools.loaders.iris import Minter
from citytools.loaders.ocds import parse_ocds
from citytools.loaders.projects import parse_projects
from citytools.loaders.rdf import FORMATS, parse_rdf

KINDS = ("inventory-csv", "projects-csv", "ocds", *FORMATS)
# "csv" and "json" are decided by content (see module docstring)
EXTENSIONS = {
    ".csv": "csv",
    ".json": "json",
    ".ttl": "turtle",
    ".turtle": "turtle",
    ".nt": "ntriples",
    ".nq": "nquads",
    ".trig": "trig",
    ".rdf": "rdfxml",
    ".owl": "rdfxml",
    ".xml": "rdfxml",
    ".jsonld": "jsonld",
}
MEDIA_TYPES = {
    "text/turtle": "turtle",
    "application/x-turtle": "turtle",
    "application/n-triples": "ntriples",
    "application/n-quads": "nquads",
    "application/trig": "trig",
    "application/rdf+xml": "rdfxml",
    "application/ld+json": "jsonld",
    "text/csv": "csv",
    "application/json": "ocds",
}
_JSON_LD_KEYS = re.compile(rb'"@(?:context|graph|id)"\s*:')
_SNIFF_BYTES = 65_536


def _inventory(data: bytes, source: str, kind: str, minter: Minter) -> Parsed:
    return parse_inventory(data, source=source, minter=minter)


def _projects(data: bytes, source: str, kind: str, minter: Minter) -> Parsed:
    return parse_projects(data, source=source, minter=minter)


def _ocds(data: bytes, source: str, kind: str, minter: Minter) -> Parsed:
    return parse_ocds(data, source=source, minter=minter)


def _rdf(data: bytes, source: str, kind: str, minter: Minter) -> Parsed:
    return parse_rdf(data, source=source, kind=kind)  # RDF brings its own IRIs


_LOADERS: dict[str, Callable[[bytes, str, str, Minter], Parsed]] = {
    "inventory-csv": _inventory,
    "projects-csv": _projects,
    "ocds": _ocds,
    **dict.fromkeys(FORMATS, _rdf),
}


def parse_source(data: bytes, *, source: str, kind: str | None, minter: Minter) -> Parsed:
    """Parse `data` with the loader its kind names (None: detect it from `source` and content).

    The loader's own findings are stamped with `source`, as the validator's are, so a
    report over several files says which file each line is in."""
    detected = detect_kind(data, source=source, kind=kind)
    parsed = _LOADERS[detected](data, source, detected, minter)
    findings = parsed.report.findings
    findings[:] = [f if f.source else replace(f, source=source) for f in findings]
    return parsed


def detect_kind(data: bytes, *, source: str, kind: str | None = None) -> str:
    """One of `KINDS` for the input; InputError when it cannot be told."""
    if kind is not None:
        named = kind.strip().lower()
        guess = named if named in KINDS else MEDIA_TYPES.get(named.split(";")[0].strip())
        if guess is None:
            raise InputError(
                f"{source}: unknown input kind '{kind}'; use one of: {', '.join(KINDS)}"
            )
    else:
        guess = EXTENSIONS.get(PurePath(source).suffix.lower())
        if guess is None:
            raise InputError(
                f"{source}: cannot tell the input kind from the file name; name the kind "
                f"(--format) as one of: {', '.join(KINDS)}"
            )
    if guess == "csv":
        return csv_kind(data, source)
    if guess == "json":
        return "jsonld" if _JSON_LD_KEYS.search(data[:_SNIFF_BYTES]) else "ocds"
    return guess


def csv_kind(data: bytes, source: str) -> str:
    """`inventory-csv` or `projects-csv`, by the columns the header names."""
    line, names = header_names(decode(data, source))
    if not names:
        raise InputError(f"{source}: line 1: no header row (the file is empty)")
    if "project" in names or "lead_authority" in names:
        return "projects-csv"
    if "authority" in names or "service_area" in names:
        return "inventory-csv"
    raise InputError(
        f"{source}: line {line}: the header names neither an inventory (authority, "
        "service_area, system, ...) nor a projects file (project, lead_authority, ...); "
        "use --format inventory-csv or projects-csv"
    )
