"""Remote SPARQL stores for the tests: Oxigraph server and Virtuoso, each started on a free
127.0.0.1 port over a directory of the test's own, and stopped (killed if it must be)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from http_support import free_port

from citytools.settings import Settings

OXIGRAPH = str(Path(sys.executable).with_name("oxigraph"))
VIRTUOSO = shutil.which("virtuoso-t")
# Virtuoso's administrator in a new database; it may run SPARQL Update through /sparql-auth.
VIRTUOSO_USER = ("dba", "dba")
_START_SECONDS = 90.0
_STOP_SECONDS = 30.0


@dataclass(frozen=True)
class Peer:
    """A running store: its query endpoint, and the process (to stop it)."""

    kind: str
    endpoint: str
    process: subprocess.Popen[bytes]
    env: dict[str, str]  # CITYTOOLS_* settings that reach it

    def settings(self, **more: object) -> Settings:
        values: dict[str, object] = {
            key.removeprefix("CITYTOOLS_").lower(): value for key, value in self.env.items()
        }
        return Settings(_env_file=None, **{**values, **more})  # type: ignore[call-arg]


@contextmanager
def oxigraph(directory: Path, *options: str) -> Iterator[Peer]:
    """`oxigraph serve` over `directory`, until the block ends."""
    port = free_port()
    process = subprocess.Popen(
        [OXIGRAPH, "serve", "--location", str(directory), "--bind", f"127.0.0.1:{port}", *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}/query"
    try:
        _wait(process, endpoint)
        yield Peer("oxigraph", endpoint, process, {"CITYTOOLS_ENDPOINT": endpoint})
    finally:
        _stop(process)


VIRTUOSO_INI = """[Database]
DatabaseFile = {dir}/virtuoso.db
ErrorLogFile = {dir}/virtuoso.log
LockFile = {dir}/virtuoso.lck
TransactionFile = {dir}/virtuoso.trx
xa_persistent_file = {dir}/virtuoso.pxa
[TempDatabase]
DatabaseFile = {dir}/virtuoso-temp.db
TransactionFile = {dir}/virtuoso-temp.trx
[Parameters]
ServerPort = 127.0.0.1:{sql_port}
DisableUnixSocket = 1
NumberOfBuffers = 10000
MaxDirtyBuffers = 6000
ThreadsPerQuery = 1
DirsAllowed = .
[HTTPServer]
ServerPort = 127.0.0.1:{http_port}
ServerRoot = {dir}
ServerThreads = 4
[SPARQL]
ResultSetMaxRows = {max_rows}
MaxQueryExecutionTime = 60
"""


@contextmanager
def virtuoso(directory: Path, *, max_rows: int = 1_000_000) -> Iterator[Peer]:
    """`virtuoso-t` in the foreground over a new database in `directory` (its own minimal
    ini: free ports, no plugins), until the block ends; updates as `dba` (Digest)."""
    assert VIRTUOSO is not None
    directory.mkdir(parents=True, exist_ok=True)
    http_port, sql_port = free_port(), free_port()
    ini = directory / "virtuoso.ini"
    ini.write_text(
        VIRTUOSO_INI.format(
            dir=directory, http_port=http_port, sql_port=sql_port, max_rows=max_rows
        )
    )
    process = subprocess.Popen(
        [VIRTUOSO, "+foreground", "+configfile", str(ini)],
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{http_port}/sparql"
    user, password = VIRTUOSO_USER
    env = {
        "CITYTOOLS_ENDPOINT": endpoint,
        "CITYTOOLS_ENDPOINT_USER": user,
        "CITYTOOLS_ENDPOINT_PASSWORD": password,
    }
    try:
        _wait(process, endpoint)
        yield Peer("virtuoso", endpoint, process, env)
    finally:
        _stop(process)


def _wait(process: subprocess.Popen[bytes], endpoint: str) -> None:
    deadline = time.monotonic() + _START_SECONDS
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the store stopped at start-up ({process.returncode})"
        try:
            if httpx.post(endpoint, data={"query": "ASK {}"}, timeout=5).is_success:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{endpoint} did not answer within {_START_SECONDS:g} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def env_without_citytools() -> dict[str, str]:
    return {k: value for k, value in os.environ.items() if not k.startswith("CITYTOOLS_")}
