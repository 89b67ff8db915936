"""What every `citytools` command shares: the consoles, the store and endpoint options, the
settings, and one-line errors (exit 2) for what a user can get wrong before any work starts:
a bad setting, a store that is not there, a store held by the server, a remote endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from pyoxigraph import NamedNode
from rich.console import Console

from citytools.errors import CityToolsError, StoreBusy
from citytools.service.runtime import bootstrap
from citytools.service.store.embedded import EmbeddedStore
from citytools.settings import Settings

out = Console()
err = Console(stderr=True, soft_wrap=True)  # one message, one line, whatever the width

StoreOption = Annotated[
    Path | None,
    typer.Option("--store", help="Embedded store directory [env CITYTOOLS_STORE]"),
]
EndpointOption = Annotated[
    str | None,
    typer.Option(
        "--endpoint",
        help="Remote SPARQL 1.1 endpoint instead of the embedded store [env CITYTOOLS_ENDPOINT]; "
        "not available in this version yet",
    ),
]

ENV_PREFIX = "CITYTOOLS_"
NO_ENDPOINT = (
    "the remote-endpoint backend (--endpoint / CITYTOOLS_ENDPOINT) is not available in this "
    "version yet; leave out --endpoint and CITYTOOLS_ENDPOINT to use the embedded store "
    "(--store DIR)"
)
# What to do instead, per refused command, while `serve` holds the store.
WHILE_SERVED = {
    "load": "load through the running service (PUT /store?graph=IRI with the write token, "
    "CITYTOOLS_WRITE_TOKEN) or stop the server first",
    "query": "query the running service (/sparql, /queries/NAME) or stop the server first",
    "export": "download the running service's dump (/dump.trig.gz, /dump.nq.gz) or query it "
    "(/sparql), or stop the server first",
    "serve": "stop the other server first, or serve another --store",
}


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


def settings_with(store: Path | None = None, endpoint: str | None = None) -> Settings:
    """The settings, with `--store` over CITYTOOLS_STORE; every setting error as one line.

    A remote endpoint is refused here, by every command alike, until that backend exists:
    reading the local store instead would answer about data the user did not ask for."""
    try:
        settings = Settings()
    except ValidationError as exc:
        raise fail("; ".join(_setting_problem(e) for e in exc.errors())) from None
    if endpoint or settings.endpoint:
        raise fail(NO_ENDPOINT)
    return settings.model_copy(update={"store": store}) if store else settings


def _setting_problem(error: ErrorDetails) -> str:
    """`CITYTOOLS_NAME: what is wrong (got 'value')` for one pydantic error."""
    name = ENV_PREFIX + "_".join(str(part) for part in error["loc"]).upper()
    cause = error.get("ctx", {}).get("error")
    # a validator's own message names the variable already; pydantic's start "Input should"
    message = str(cause).removeprefix(name).strip() if cause else error["msg"]
    message = message[:1].lower() + message[1:]
    return f"{name}: {message} (got {error['input']!r})"


def has_store(path: Path) -> bool:
    """Whether `path` holds a store: RocksDB writes `CURRENT` when it creates one."""
    return (path / "CURRENT").is_file()


@contextmanager
def opened_store(
    settings: Settings, command: str, *, create: bool = False
) -> Iterator[EmbeddedStore]:
    """The embedded store for `command`; only a writing command (`create`) may make one."""
    location = bootstrap.StoreLocation.for_settings(settings)
    path = location.path
    if not create and not has_store(path):
        what = "it holds no City Tools store" if path.exists() else "there is no such directory"
        raise fail(
            f"no store at {path}: {what}; check --store / CITYTOOLS_STORE, "
            f"or create one: `citytools serve --demo --store {path}` or "
            f"`citytools load FILE --store {path}`"
        )
    try:
        store = bootstrap.open_embedded(location, settings)
    except StoreBusy:
        raise fail(
            f"the store at {path} is in use by another process (is `citytools serve` running?); "
            f"`citytools {command}` cannot open it: {WHILE_SERVED[command]}"
        ) from None
    except CityToolsError as exc:
        raise fail(str(exc)) from None
    try:
        yield store
    finally:
        store.close()
