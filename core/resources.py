"""Where the shipped artefacts live: the ontology, shapes, queries, reference and demo data.

Resolved through the installed package, so a wheel install and an editable
install find the same files.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable

ONTOLOGY_IRI = "https://w3id.org/citytools/ontology"
SHAPES_IRI = "https://w3id.org/citytools/shapes"


def _dir(package: str) -> Traversable:
    return files(f"citytools.{package}")


def ontology_file() -> Traversable:
    return _dir("ontology") / "citytools.ttl"


def shapes_file() -> Traversable:
    return _dir("shapes") / "citytools-shapes.ttl"


def queries_dir() -> Traversable:
    return _dir("queries")


def reference_file(name: str) -> Traversable:
    return _dir("reference") / name


def demo_file(name: str) -> Traversable:
    return _dir("demo") / name
