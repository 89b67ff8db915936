"""Every example in README.md and docs/*.md runs and gives what its text says.

Each fenced `sh`, `sparql` or `http` block carries a marker on the line before it, which
says how it is checked (a block without one fails `test_every_example_is_checked`):

* `<!-- doctest: shell -->` — each command runs in order, as a newcomer types them, in a
  scratch directory holding `docs/examples/` (the files the examples name); each must
  exit 0, and a `citytools query` must print at least one row.
* `<!-- doctest: sparql rows>=N [filled=COLUMN,…] -->` — the query runs on a store with
  the reference and demo data and must give at least N rows, with no empty value in the
  named columns.
* `<!-- doctest: http -->` — each `curl` runs against a real demo server (`$TOKEN` is its
  write token) and must get a 2xx answer.
* `<!-- doctest: skip REASON -->` — not run here (REASON says why: `make test` is this
  very run, `make demo` is tested below, `make bench` takes minutes).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from http_support import free_port, settings_for
from pyoxigraph import QuerySolutions
from serve_support import Server, start, stop

from citytools.loaders.iris import Minter
from citytools.service.runtime import bootstrap
from citytools.service.store.embedded import EmbeddedStore

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
VENV_BIN = Path(sys.executable).parent
FENCE = re.compile(r"^```(sh|sparql|http)\s*$")
MARKER = re.compile(r"^<!-- doctest: (\w+)(.*?) -->$")
ROWS = re.compile(r"^(\d+) row\(s\)", re.M)


@dataclass(frozen=True)
class Example:
    doc: str
    line: int
    language: str
    check: str  # shell, sparql, http, skip; "" when the block has no marker
    options: str
    text: str

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}"


def examples() -> list[Example]:
    found = []
    for path in DOCS:
        lines = path.read_text(encoding="utf-8").splitlines()
        for index, line in enumerate(lines):
            fence = FENCE.match(line)
            if not fence:
                continue
            end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
            marker = MARKER.match(lines[index - 1]) if index else None
            found.append(
                Example(
                    doc=str(path.relative_to(ROOT)),
                    line=index + 1,
                    language=fence.group(1),
                    check=marker.group(1) if marker else "",
                    options=marker.group(2).strip() if marker else "",
                    text="\n".join(lines[index + 1 : end]),
                )
            )
    return found


EXAMPLES = examples()


def of(check: str) -> list[Example]:
    return [e for e in EXAMPLES if e.check == check]


def commands(text: str) -> Iterator[str]:
    """The block's commands: continuation lines joined, comments and blank lines dropped."""
    joined = re.sub(r"\\\n\s*", " ", text)
    for line in joined.splitlines():
        command = line.split(" #", 1)[0].strip()
        if command and not command.startswith("#"):
            yield command


def test_every_example_is_checked() -> None:
    unchecked = [e.id for e in EXAMPLES if e.check not in ("shell", "sparql", "http", "skip")]
    assert unchecked == [], "add a <!-- doctest: … --> marker before each of these blocks"
    skipped = of("skip")
    assert all(e.options for e in skipped), "a skipped example says why"
    run = sum(
        1 if e.check == "sparql" else len(list(commands(e.text)))
        for e in EXAMPLES
        if e.check != "skip"
    )
    assert run >= 15  # commands and queries run (the closing note gives the counts)


# --- shell -----------------------------------------------------------------------------------


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """A newcomer's directory: the example files the docs name, no store yet."""
    shutil.copytree(ROOT / "docs" / "examples", tmp_path / "docs" / "examples")
    return tmp_path


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYTOOLS_")}
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["COLUMNS"] = "100"
    return {**env, **extra}


def run(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    argv = shlex.split(command)
    if argv[0] in ("citytools", ".venv/bin/citytools"):
        argv[0] = str(VENV_BIN / "citytools")
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
@pytest.mark.parametrize("example", of("shell"), ids=lambda e: e.id)
def test_shell_example_runs(example: Example, scratch: Path) -> None:
    env = environment()
    for command in commands(example.text):
        done = run(command, scratch, env)
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        if " query " in f" {command} ":
            rows = ROWS.search(done.stdout)
            assert rows is not None, f"{command}\n{done.stdout}"
            assert int(rows.group(1)) > 0, f"{command}\n{done.stdout}"


# --- SPARQL ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStore]:
    settings = settings_for(tmp_path_factory.mktemp("docs-demo"))
    store = EmbeddedStore(None)
    bootstrap.ensure_reference(store, Minter(settings.base_iri))
    bootstrap.load_demo(bootstrap.build_ingestor(store, settings))
    yield store
    store.close()


@pytest.mark.parametrize("example", of("sparql"), ids=lambda e: e.id)
def test_sparql_example_answers(example: Example, demo_store: EmbeddedStore) -> None:
    options = dict(re.findall(r"(\w+)(?:>=|=)([\w,]+)", example.options))
    result = demo_store.query(example.text)
    assert isinstance(result, QuerySolutions)
    columns = [v.value for v in result.variables]
    rows = [[row[c] for c in columns] for row in result]
    assert len(rows) >= int(options.get("rows", "1")), example.text
    for name in filter(None, options.get("filled", "").split(",")):
        empty = [r for r in rows if r[columns.index(name)] is None]
        assert empty == [], f"{len(empty)} row(s) without {name}"


# --- HTTP ------------------------------------------------------------------------------------

TOKEN = "docs-example-token"


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    here = tmp_path_factory.mktemp("docs-server")
    server = start(here, "--demo", "--memory", processes=1, CITYTOOLS_WRITE_TOKEN=TOKEN)
    yield server
    stop(server)
    if server.process.stdout is not None:
        server.process.stdout.close()


@pytest.mark.slow
@pytest.mark.parametrize("example", of("http"), ids=lambda e: e.id)
def test_http_example_answers(example: Example, demo_server: Server, scratch: Path) -> None:
    env = environment(TOKEN=TOKEN)
    for command in commands(example.text):
        assert command.startswith("curl "), command
        command = command.replace("http://127.0.0.1:8000", demo_server.url)
        command = command.replace("$TOKEN", TOKEN)
        done = run(f"{command} --fail-with-body -sS -o /dev/null -w %{{http_code}}", scratch, env)
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        assert done.stdout.startswith("2"), done.stdout


# --- make demo --------------------------------------------------------------------------------


@pytest.mark.slow
def test_make_demo_serves_the_demo_and_says_how_to_write(tmp_path: Path) -> None:
    """The README's first command, as it runs (its store and port moved out of the way)."""
    port = free_port()
    store = tmp_path / "demo-store"
    make = subprocess.Popen(
        ["make", "-s", "demo", f"DEMO_STORE={store}", f"DEMO_ARGS=--port {port} --workers 1"],
        cwd=ROOT,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # make and the server it starts stop together
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and make.poll() is None:
            try:
                if httpx.get(url + "/health", timeout=5).json()["status"] == "ok":
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        count = "SELECT (COUNT(*) AS ?n) { ?d a <https://w3id.org/citytools/ontology#Deployment> }"
        answer = httpx.get(url + "/sparql", params={"query": count}, timeout=30).json()
        assert answer["results"]["bindings"][0]["n"]["value"] == "400"  # demo/inventory.csv
    finally:
        os.killpg(make.pid, signal.SIGTERM)
        output, _ = make.communicate(timeout=60)
    assert str(store) in output
    assert "CITYTOOLS_WRITE_TOKEN" in output
