"""The package layout shows the data flow: subpackages import only those below them.

file → loader → validation → store → query → page: `store` and `sparql` at the bottom,
then `validation`, `writes`, `engine`, `catalogue`, `runtime`, `http` (with its routes and
pages) and `cli` on top. A module importing a layer above its own (even lazily, inside a
function) fails here, so no import cycle can hide between subpackages.
"""

from __future__ import annotations

import re
from pathlib import Path

SERVICE = Path(__file__).resolve().parent.parent / "service"
LAYERS = [
    "store",
    "sparql",
    "validation",
    "writes",
    "engine",
    "catalogue",
    "runtime",
    "http",
    "cli",
]
IMPORT = re.compile(r"from citytools\.service\.([a-z_]+)")


def imports() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in SERVICE.rglob("*.py"):
        parts = path.relative_to(SERVICE).parts
        if len(parts) == 1:
            continue  # service/__init__.py
        found.setdefault(parts[0], set()).update(IMPORT.findall(path.read_text()))
    return found


def test_every_subpackage_is_a_layer() -> None:
    packages = {p.name for p in SERVICE.iterdir() if (p / "__init__.py").exists()}
    assert packages == set(LAYERS)


def test_subpackages_import_only_layers_below_them() -> None:
    upward = {
        (package, target)
        for package, targets in imports().items()
        for target in targets
        if LAYERS.index(target) > LAYERS.index(package)
    }
    assert upward == set()


def test_each_subpackage_stays_small() -> None:
    """A folder of more than about a dozen modules is asking to be cut."""
    for folder in [SERVICE, *(p for p in SERVICE.rglob("*") if p.is_dir())]:
        modules = [p for p in folder.glob("*.py") if p.name != "__init__.py"]
        assert len(modules) <= 14, folder
