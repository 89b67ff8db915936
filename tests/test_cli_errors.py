"""A CLI that says what is wrong (issue 14): each mistake a user can make before any work
starts is one line on stderr, exit code 2, nothing on stdout, no traceback, nothing created.

The matrix runs in-process through Typer's CliRunner (as tests/test_cli.py does): an
uncaught exception there is `result.exception` other than SystemExit, so "exit 2 through
SystemExit" means no traceback would be printed. A few cases run the installed console
script too, as a user would, and read its whole stderr.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from citytools.service.cli.main import app
from citytools.service.store.embedded import EmbeddedStore

DATA = Path(__file__).parent / "data" / "loaders"
INVENTORY = DATA / "inventory.csv"
CITYTOOLS = Path(sys.executable).with_name("citytools")
ENDPOINT = "https://example.org/sparql"
NO_ENDPOINT = (
    "error: the remote-endpoint backend (--endpoint / CITYTOOLS_ENDPOINT) is not available in "
    "this version yet; leave out --endpoint and CITYTOOLS_ENDPOINT to use the embedded store "
    "(--store DIR)"
)
# every command that opens a store, with the arguments it needs
COMMANDS = {
    "load": ["load", str(INVENTORY)],
    "validate": ["validate", str(INVENTORY)],
    "query": ["query", "region-comparison"],
    "export": ["export"],
    "serve": ["serve", "--port", "1"],  # refused before it listens
}


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def env(tmp_path: Path, store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)  # the .env file read is ours
    for name in list(os.environ):
        if name.startswith("CITYTOOLS_"):
            monkeypatch.delenv(name)
    return {"CITYTOOLS_STORE": str(store_dir), "COLUMNS": "1000"}


def run(env: dict[str, str], *args: str, **more_env: str) -> Result:
    return CliRunner().invoke(app, list(args), env={**env, **more_env})


def one_line_error(result: Result) -> str:
    """The one stderr line of a refused command (exit 2, nothing else said, no crash)."""
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def store(store_dir: Path) -> Path:
    """An empty store at `store_dir`."""
    EmbeddedStore(store_dir).close()
    return store_dir


@pytest.fixture
def held(store: Path) -> Iterator[Path]:
    """The store, held open as `citytools serve` holds it."""
    holder = EmbeddedStore(store)
    try:
        yield store
    finally:
        holder.close()


# --- reading commands never create a store ----------------------------------------------


def no_store(path: Path, why: str) -> str:
    return (
        f"error: no store at {path}: {why}; check --store / CITYTOOLS_STORE, or create one: "
        f"`citytools serve --demo --store {path}` or `citytools load FILE --store {path}`"
    )


@pytest.mark.parametrize("command", ["query", "export"])
def test_a_reading_command_without_a_store_says_how_to_make_one(
    env: dict[str, str], store_dir: Path, command: str
) -> None:
    line = one_line_error(run(env, *COMMANDS[command]))
    assert line == no_store(store_dir, "there is no such directory")
    assert not store_dir.exists()


def test_a_mistyped_store_is_caught_and_not_created(
    env: dict[str, str], store: Path, tmp_path: Path
) -> None:
    typo = tmp_path / "stroe"
    line = one_line_error(run(env, "query", "region-comparison", "--store", str(typo)))
    assert line == no_store(typo, "there is no such directory")
    assert not typo.exists()
    assert run(env, "query", "region-comparison", "--store", str(store)).exit_code == 0


def test_a_directory_that_is_no_store_is_left_as_it_was(
    env: dict[str, str], tmp_path: Path
) -> None:
    folder = tmp_path / "inputs"
    folder.mkdir()
    (folder / "inventory.csv").write_bytes(INVENTORY.read_bytes())
    line = one_line_error(run(env, "export", "--store", str(folder)))
    assert line == no_store(folder, "it holds no City Tools store")
    assert [p.name for p in folder.iterdir()] == ["inventory.csv"]


def test_load_still_creates_a_store(env: dict[str, str], store_dir: Path) -> None:
    result = run(env, "load", str(INVENTORY))
    assert result.exit_code == 0, result.output
    assert (store_dir / "CURRENT").is_file()


# --- settings ------------------------------------------------------------------------------

BAD_SETTINGS = [
    (
        {"CITYTOOLS_BASE_IRI": "https://x.org/id"},
        "error: CITYTOOLS_BASE_IRI: must end with '/' or '#' (got 'https://x.org/id')",
    ),
    (
        {"CITYTOOLS_QUERY_TIMEOUT": "ten"},
        "error: CITYTOOLS_QUERY_TIMEOUT: input should be a valid number, unable to parse "
        "string as a number (got 'ten')",
    ),
    (
        {"CITYTOOLS_MAX_RESULTS": "0"},
        "error: CITYTOOLS_MAX_RESULTS: input should be greater than 0 (got '0')",
    ),
    (
        {"CITYTOOLS_INLINE_QUERIES": "maybe"},
        "error: CITYTOOLS_INLINE_QUERIES: input should be a valid boolean, unable to interpret "
        "input (got 'maybe')",
    ),
    (
        {"CITYTOOLS_QUERY_WORKERS": "0", "CITYTOOLS_MAX_BODY_MB": "-1"},
        "error: CITYTOOLS_MAX_BODY_MB: input should be greater than 0 (got '-1'); "
        "CITYTOOLS_QUERY_WORKERS: input should be greater than or equal to 1 (got '0')",
    ),
]


@pytest.mark.parametrize(("settings", "message"), BAD_SETTINGS)
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_bad_setting_is_one_line_naming_the_variable(
    env: dict[str, str], store: Path, command: str, settings: dict[str, str], message: str
) -> None:
    assert one_line_error(run(env, *COMMANDS[command], **settings)) == message


def test_a_bad_setting_in_the_env_file_too(env: dict[str, str], store: Path) -> None:
    Path(".env").write_text("CITYTOOLS_BASE_IRI=https://x.org/id\n", encoding="utf-8")
    line = one_line_error(run(env, "query", "region-comparison"))
    assert line == "error: CITYTOOLS_BASE_IRI: must end with '/' or '#' (got 'https://x.org/id')"


# --- the store held by `serve` ---------------------------------------------------------------

BUSY = "error: the store at {path} is in use by another process (is `citytools serve` running?); "
ADVICE = {
    "load": "`citytools load` cannot open it: load through the running service "
    "(PUT /store?graph=IRI with the write token, CITYTOOLS_WRITE_TOKEN) or stop the server first",
    "query": "`citytools query` cannot open it: query the running service "
    "(/sparql, /queries/NAME) or stop the server first",
    "export": "`citytools export` cannot open it: download the running service's dump "
    "(/dump.trig.gz, /dump.nq.gz) or query it (/sparql), or stop the server first",
    "serve": "`citytools serve` cannot open it: stop the other server first, or serve another "
    "--store",
}


@pytest.mark.parametrize("command", sorted(ADVICE))
def test_a_busy_store_names_the_refused_command_and_what_to_do(
    env: dict[str, str], held: Path, command: str
) -> None:
    line = one_line_error(run(env, *COMMANDS[command]))
    assert line == BUSY.format(path=held) + ADVICE[command]


# --- a remote endpoint, refused alike by every command -----------------------------------------


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_endpoint_is_refused_by_every_command(
    env: dict[str, str], store_dir: Path, command: str
) -> None:
    assert one_line_error(run(env, *COMMANDS[command], "--endpoint", ENDPOINT)) == NO_ENDPOINT
    assert one_line_error(run(env, *COMMANDS[command], CITYTOOLS_ENDPOINT=ENDPOINT)) == NO_ENDPOINT
    assert not store_dir.exists()  # neither read nor created instead


# --- as a user runs it -------------------------------------------------------------------------


def console(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CITYTOOLS_")}
    return subprocess.run(
        [str(CITYTOOLS), *args],
        capture_output=True,
        text=True,
        env={**clean, "CITYTOOLS_STORE": str(tmp_path / "store"), **env},
        cwd=tmp_path,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "env", "start"),
    [
        (["query", "region-comparison"], {}, "error: no store at "),
        (["load", str(INVENTORY)], {"CITYTOOLS_BASE_IRI": "x"}, "error: CITYTOOLS_BASE_IRI: "),
        (["serve"], {"CITYTOOLS_ENDPOINT": ENDPOINT}, NO_ENDPOINT),
    ],
)
def test_the_console_script_prints_one_line_and_no_traceback(
    tmp_path: Path, args: list[str], env: dict[str, str], start: str
) -> None:
    result = console(tmp_path, *args, **env)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(start)
