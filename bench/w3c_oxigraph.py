"""The W3C SPARQL 1.1 Protocol and Graph Store Protocol manifests against `oxigraph serve`.

Not a test: a comparison. It starts Oxigraph server (the PyPI `oxigraph` package's CLI)
on a temporary store and runs the 47 manifest entries with the same reader and checks as
`tests/test_w3c_protocol.py`, with the requests as written except for the paths:

* `/sparql/` is `/query` for queries and `/update` for updates (Oxigraph's endpoints);
  `GET …?update=` (bad_update_get) must be refused on both;
* `/gsp` is `/store`; direct identification (`/gsp/person/1.ttl`, which neither server
  has) is given as `/store?graph=http%3A%2F%2Fwww.example%2Fgsp%2Fperson%2F1.ttl`, as in
  our test;
* `?default` is written as the manifest says (Oxigraph's default graph is writable).

Each entry starts from an empty store (`DROP ALL`). Prints the count that pass, twice:
with the expected Content-Type compared as written (`text/turtle; charset=utf-8`), and
with an expected `charset=utf-8` allowed to be missing (Turtle is UTF-8 by definition).

    .venv/bin/python bench/w3c_oxigraph.py [--oxigraph PATH]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from test_w3c_protocol import Run, on_store, on_store_direct
from w3c_manifest import Entry, entries

Route = Callable[[str], str]


def on_query(path: str) -> str:
    return "/query" + path.removeprefix("/sparql/")


def on_update(path: str) -> str:
    return "/update" + path.removeprefix("/sparql/")


def routes(entry: Entry) -> list[tuple[Route, ...]]:
    """The ways to run the entry (all must pass): the route of each request in turn."""
    if entry.type == "GraphStoreProtocolTest":
        if "DirectGraphIdentification" in entry.requires:
            return [(on_store_direct(entry),)]
        return [(on_store,)]
    if entry.key == "bad_update_get":
        return [(on_update,), (on_query,)]
    if entry.key.startswith("bad_update_"):
        return [(on_update,)]
    if entry.key.startswith("update_"):
        return [(on_update, on_query)]
    return [(on_query,)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"oxigraph exited with {process.returncode}")
        try:
            httpx.get(url + "/query", params={"query": "ASK {}"}, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("oxigraph did not start within 30 s")


def load(client: httpx.Client, entry: Entry) -> None:
    for data in entry.graph_data:
        response = client.put(
            "/store",
            params={"graph": data.name},
            content=data.file.read_bytes(),
            headers={"content-type": "application/n-triples"},
        )
        response.raise_for_status()


def run_entry(client: httpx.Client, entry: Entry, *, charset_optional: bool) -> str | None:
    """None when the entry passes, else why not."""
    for plan in routes(entry):
        reset = client.post(
            "/update", content=b"DROP ALL", headers={"content-type": "application/sparql-update"}
        )
        reset.raise_for_status()
        load(client, entry)
        run = Run(client, entry, charset_optional=charset_optional)
        try:
            run.all(*plan)
        except BaseException as exc:  # AssertionError, or pytest's fail/xfail outcomes
            if isinstance(exc, KeyboardInterrupt):
                raise
            return " ".join(str(exc).split())[:300]
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(sys.executable).with_name("oxigraph")
    parser.add_argument("--oxigraph", default=str(default), help="the oxigraph executable")
    args = parser.parse_args()
    if not shutil.which(args.oxigraph):
        raise SystemExit(f"no oxigraph executable at {args.oxigraph}")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="w3c-oxigraph-") as location:
        command = [args.oxigraph, "serve", "--location", location, "--bind", f"127.0.0.1:{port}"]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(url, process)
            version = subprocess.run(
                [args.oxigraph, "--version"], capture_output=True, text=True, check=False
            ).stdout.strip()
            found = entries()
            # One connection per request: Oxigraph answers a HEAD 404 with a body, which
            # would be read as the start of the next response on a kept-alive connection.
            with httpx.Client(base_url=url, timeout=60, headers={"connection": "close"}) as client:
                strict = run_all(client, found, charset_optional=False)
                lenient = run_all(client, found, charset_optional=True)
        finally:
            process.terminate()
            process.wait(timeout=30)
    name = version or "oxigraph"
    for label, failures in (
        ("Content-Type as written", strict),
        ("an expected 'charset=utf-8' may be missing", lenient),
    ):
        print(f"\n{name}, {label}: {len(found) - len(failures)} of {len(found)} entries pass")
        for key, reason in failures.items():
            print(f"  FAIL {key}: {reason}")
    return 0


def run_all(client: httpx.Client, found: list[Entry], *, charset_optional: bool) -> dict[str, str]:
    """Why each failing entry fails, by key."""
    failures = {}
    for entry in found:
        reason = run_entry(client, entry, charset_optional=charset_optional)
        if reason is not None:
            failures[entry.key] = reason
    return failures


if __name__ == "__main__":
    raise SystemExit(main())
