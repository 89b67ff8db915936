"""What every `citytools` command shares: the consoles, the store option, one-line errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from pyoxigraph import NamedNode
from rich.console import Console

from citytools.errors import CityToolsError
from citytools.service import bootstrap
from citytools.service.store import EmbeddedStore
from citytools.settings import Settings

out = Console()
err = Console(stderr=True, soft_wrap=True)  # one message, one line, whatever the width

StoreOption = Annotated[
    Path | None,
    typer.Option("--store", help="Embedded store directory [env CITYTOOLS_STORE]"),
]


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print `message` as one line (parser messages can hold newlines) and exit with `code`."""
    err.print(f"[bold red]error:[/] {' '.join(message.split())}", highlight=False)
    return typer.Exit(code)


def graph_option(text: str | None) -> NamedNode | None:
    """The `--graph` IRI; a usage error when it is not an absolute IRI."""
    if text is None:
        return None
    try:
        return NamedNode(text)
    except ValueError:
        raise fail(f"--graph takes an absolute IRI, not {text!r}") from None


def settings_with(store: Path | None) -> Settings:
    settings = Settings()
    return settings.model_copy(update={"store": store}) if store else settings


@contextmanager
def opened_store(settings: Settings) -> Iterator[EmbeddedStore]:
    location = bootstrap.StoreLocation.for_settings(settings)
    try:
        store = bootstrap.open_embedded(location, settings)
    except CityToolsError as exc:
        raise fail(str(exc)) from None
    try:
        yield store
    finally:
        store.close()
