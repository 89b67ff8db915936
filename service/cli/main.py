"""The `citytools` command line: serve, load, validate, query, queries, export.

Exit codes: 0 success (or: conforms); 1 rejected input (`load`: malformed or breaking the
shapes; `validate`: violations); 2 any other error (a malformed file given to `validate`,
a bad query or parameter, the store busy, a bad option).
"""

from __future__ import annotations

import json
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated

import typer
from pyoxigraph import NamedNode, RdfFormat
from pyoxigraph import parse as parse_rdf
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from citytools.errors import CityToolsError, InputError, ValidationFailed
from citytools.loaders.base import Parsed
from citytools.loaders.detect import detect_kind, parse_source
from citytools.loaders.iris import Minter
from citytools.loaders.rdf import FORMATS as RDF_FORMATS
from citytools.report import Finding, ValidationReport
from citytools.service.cli import query as cli_query
from citytools.service.cli.common import (
    EndpointOption,
    StoreOption,
    err,
    fail,
    graph_option,
    opened_store,
    out,
    settings_with,
)
from citytools.service.cli.replicas import Replicas
from citytools.service.http.middleware import configure_logging
from citytools.service.runtime import bootstrap
from citytools.service.runtime.cluster import Cluster, Primary
from citytools.service.store.embedded import EmbeddedStore
from citytools.service.store.interface import shown
from citytools.service.validation.validator import ShapesError, Validator
from citytools.service.writes.ingest import Ingestor, Source
from citytools.settings import Settings

app = typer.Typer(
    help="City Tools Graph: which IT systems London's authorities run, from whom, until when.",
    no_args_is_help=True,
    add_completion=False,
)


def print_report(report: ValidationReport, *, limit: int = 50) -> None:
    """Violations one per line (up to `limit`); warnings too while they are few, else one
    line per rule with its count and first lines, so a rule broken on every row stays readable."""
    violations = sorted(report.violations, key=by_place)
    for finding in violations[:limit]:
        err.print(f"[red]{finding.describe()}[/]", highlight=False)
    if len(violations) > limit:
        err.print(f"… and {len(violations) - limit} more violation(s)", highlight=False)
    warnings = sorted(report.warnings, key=by_place)
    if len(warnings) <= WARNINGS_IN_FULL:
        for finding in warnings:
            err.print(f"[yellow]{finding.describe()}[/]", highlight=False)
        return
    rules: dict[str, list[Finding]] = {}
    for finding in warnings:
        rules.setdefault(finding.message, []).append(finding)
    for message, found in sorted(rules.items(), key=lambda item: -len(item[1])):
        if len(found) == 1:
            err.print(f"[yellow]{found[0].describe()}[/]", highlight=False)
            continue
        lines = ", ".join(str(f.line) for f in found[:5] if f.line)
        where = f" (lines {lines}{', …' if len(found) > 5 else ''})" if lines else ""
        err.print(f"[yellow]{len(found)} warnings: {message}{where}[/]", highlight=False)


WARNINGS_IN_FULL = 10


def by_place(finding: Finding) -> tuple[str, int, str]:
    return finding.source, finding.line or 0, finding.message


def read_source(path: Path, fmt: str | None) -> Source:
    try:
        return Source(path.read_bytes(), name=str(path), kind=fmt)
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror}") from None


@app.command()
def load(
    files: Annotated[list[Path], typer.Argument(help="Files to load (CSV, OCDS JSON, RDF)")],
    graph: Annotated[str | None, typer.Option(help="Named graph IRI (default: per file)")] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="Input kind, e.g. inventory-csv, turtle")
    ] = None,
    replace: Annotated[
        bool, typer.Option(help="Replace the graph's previous content atomically")
    ] = False,
    store: StoreOption = None,
    endpoint: EndpointOption = None,
) -> None:
    """Validate and load files, each into its own named graph; nothing is written on rejection."""
    settings = settings_with(store, endpoint)
    target = graph_option(graph)
    rejected = 0
    # the one command that may create a store: loading into a new directory starts one
    with opened_store(settings, "load", create=True) as opened, _load_progress() as progress:
        ingestor = bootstrap.build_ingestor(opened, settings)
        task = progress.add_task("loading", total=len(files) * len(STAGES))
        for index, path in enumerate(files):
            source = read_source(path, fmt)
            done = progress.tasks[task].completed

            def stage(name: str, source: Source = source, done: float = done) -> None:
                step = STAGES.index(name)
                progress.update(task, completed=done + step, description=f"{source.name}: {name}")

            # With one --graph for several files, the first replaces and the rest merge.
            merge = target is not None and index > 0
            rejected += _load_one(
                ingestor, source, target, replace=replace and not merge, on_stage=stage
            )
            progress.update(task, completed=(index + 1) * len(STAGES))
        opened.flush()
    if rejected:
        raise fail(f"{rejected} file(s) rejected; nothing was written for them", 1)


STAGES = ("parse", "validate", "write")


def _load_progress() -> Progress:
    """One bar over every file's stages; drawn only on a terminal, gone when done."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


def _load_one(
    ingestor: Ingestor,
    source: Source,
    graph: NamedNode | None,
    *,
    replace: bool,
    on_stage: Callable[[str], None],
) -> int:
    try:
        outcome = ingestor.load(source, graph=graph, replace=replace, on_stage=on_stage)
    except ValidationFailed as exc:
        print_report(exc.report)
        err.print(f"[red]rejected[/] {source.name}: {exc.report.summary()}", highlight=False)
        return 1
    except CityToolsError as exc:
        err.print(f"[red]rejected[/] {source.name}: {exc}", highlight=False)
        return 1
    if outcome.report.warnings:
        print_report(outcome.report)
    verb = "unchanged" if outcome.unchanged else "loaded"
    # one line whatever the width, so that scripts can read it
    out.print(
        f"{verb} {source.name} → {shown(outcome.graph)} ({outcome.triples} triples)",
        soft_wrap=True,
    )
    return 0


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="Files to validate")],
    shapes: Annotated[
        Path | None,
        typer.Option(
            "--shapes",
            help="Validate against these SHACL shapes (Turtle: any SHACL Core or SHACL-SPARQL) "
            "instead of the product's, the files alone (no reference data, no store)",
        ),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="Input kind; with --shapes, the report: json or turtle"),
    ] = None,
    endpoint: EndpointOption = None,
) -> None:
    """Print the SHACL report only; changes nothing. Exit 0 conforms, 1 violations."""
    settings = settings_with(endpoint=endpoint)
    if shapes is not None:
        _validate_with(files, shapes, fmt, settings)
        return
    ingestor = bootstrap.build_ingestor(EmbeddedStore(None), settings)
    whole = ValidationReport()
    for path in files:
        source = read_source(path, fmt)
        try:
            _, report = ingestor.check(source)
        except CityToolsError as exc:
            raise fail(f"{path}: {exc}") from None
        print_report(report)
        out.print(f"{path}: {report.summary()}", highlight=False)
        whole.extend(report)
    if line := whole.engine_line():
        out.print(line, highlight=False, soft_wrap=True)
    if whole.violations:
        raise typer.Exit(1)


REPORT_FORMATS = ("json", "turtle")


def _validate_with(files: list[Path], shapes: Path, fmt: str | None, settings: Settings) -> None:
    """`validate --shapes`: the report as text, JSON or a SHACL validation report in Turtle."""
    if fmt is not None and fmt not in REPORT_FORMATS:
        raise fail(f"with --shapes, --format names the report: {' or '.join(REPORT_FORMATS)}")
    try:
        validator, reports = validate_with_shapes(files, shapes, Minter(settings.base_iri))
    except OSError as exc:
        raise fail(f"cannot read {exc.filename}: {exc.strerror}") from None
    except CityToolsError as exc:
        raise fail(str(exc)) from None
    whole = ValidationReport(pyshacl_shapes=list(validator.pyshacl_shapes))
    for path, report in reports:
        whole.extend(report)
        if fmt is None:
            print_report(report)
            out.print(f"{path}: {report.summary()}", highlight=False)
    if fmt == "json":
        out.print_json(json.dumps(whole.as_json()))
    elif fmt == "turtle":
        sys.stdout.buffer.write(validator.report_turtle(whole))
        sys.stdout.buffer.flush()
    elif line := whole.engine_line():
        out.print(line, highlight=False, soft_wrap=True)
    if whole.violations:
        raise typer.Exit(1)


def validate_with_shapes(
    files: Sequence[Path], shapes: Path, minter: Minter
) -> tuple[Validator, list[tuple[Path, ValidationReport]]]:
    """SHACL as the recommendation defines it: each file its own data graph, validated
    against `shapes` alone (every target, no reference data). Raises InputError or
    ShapesError (naming the file), or OSError."""
    try:
        validator = Validator(shapes.read_bytes(), [], base_iri=shapes.resolve().as_uri())
    except ShapesError as exc:
        raise ShapesError(f"{shapes}: {exc}") from None
    reports = []
    for path in files:
        parsed = _data_graph(Source(path.read_bytes(), name=str(path)), minter)
        report = ValidationReport(list(parsed.report.findings))
        try:
            found = validator.validate(
                parsed.triples, lines=parsed.lines, source=str(path), complete=True
            )
        except ShapesError as exc:  # pySHACL fails on the shapes for this data
            raise ShapesError(f"{path}: {exc}") from None
        report.extend(found)
        reports.append((path, report))
    return validator, reports


def _data_graph(source: Source, minter: Minter) -> Parsed:
    """A data file as SHACL test suites read it: RDF with the file's own IRI as its base and
    its own blank node labels; the product's inputs (CSV, OCDS) through their loaders."""
    kind = detect_kind(source.data, source=source.name)
    if kind not in RDF_FORMATS:
        return parse_source(source.data, source=source.name, kind=kind, minter=minter)
    parsed = Parsed(kind)
    try:
        quads = parse_rdf(
            source.data, RDF_FORMATS[kind], base_iri=Path(source.name).resolve().as_uri()
        )
        parsed.triples = list(dict.fromkeys(q.triple for q in quads))
    except SyntaxError as exc:
        raise InputError(f"{source.name}: {RDF_FORMATS[kind].name} syntax error: {exc}") from None
    return parsed


EXPORT_FORMATS = {"trig": RdfFormat.TRIG, "nq": RdfFormat.N_QUADS}


@app.command()
def export(
    fmt: Annotated[str, typer.Option("--format", help="trig or nq")] = "trig",
    graph: Annotated[str | None, typer.Option(help="Only this named graph")] = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File (default: stdout)")
    ] = None,
    store: StoreOption = None,
    endpoint: EndpointOption = None,
) -> None:
    """Dump the store (or one graph) as TriG or N-Quads."""
    if fmt not in EXPORT_FORMATS:
        raise fail(f"--format must be one of {', '.join(EXPORT_FORMATS)}")
    settings = settings_with(store, endpoint)
    with opened_store(settings, "export") as opened:
        target = graph_option(graph)
        if target is not None and not opened.has_graph(target):
            raise fail(f"no graph <{graph}> in the store")
        if output is None:
            opened.dump(sys.stdout.buffer, fmt=EXPORT_FORMATS[fmt], graph=target)
        else:
            with output.open("wb") as handle:
                opened.dump(handle, fmt=EXPORT_FORMATS[fmt], graph=target)


@app.command()
def serve(
    store: StoreOption = None,
    memory: Annotated[
        bool, typer.Option("--memory", help="A throw-away store, removed when the server stops")
    ] = False,
    endpoint: EndpointOption = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Load the illustrative demo inventory first")
    ] = False,
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1, help="HTTP processes [env CITYTOOLS_HTTP_WORKERS; default: one per CPU core]"
        ),
    ] = None,
) -> None:
    """Run the HTTP service (SPARQL endpoint, saved queries, pages) until stopped."""
    from citytools.service.http.app import create_app
    from citytools.service.http.server import http_server

    settings = settings_with(store, endpoint)
    location = bootstrap.StoreLocation.for_settings(settings, memory=memory)
    settings = settings.model_copy(update={"store": location.path})
    processes = workers or settings.http_processes
    cluster = None
    try:
        # Opened here first, so a store held by another process is one line, not a traceback
        # from the server's startup; the server opens it again for itself.
        with opened_store(settings, "serve", create=True) as opened:
            if demo:
                for graph in bootstrap.load_demo(bootstrap.build_ingestor(opened, settings)):
                    out.print(f"demo data in <{graph.value}> (illustrative)", highlight=False)
        configure_logging(settings)
        listener = _listen(host, port)
        sockets = [listener]
        role = None
        if processes > 1:
            cluster = Cluster.create(location.path / bootstrap.SNAPSHOTS_DIR)
            sockets.append(cluster.listen_primary())
            role = Primary(cluster, Replicas(processes - 1, settings, listener, cluster))
        out.print(
            f"City Tools Graph on http://{host}:{port}/ in {processes} HTTP process"
            f"{'es' if processes > 1 else ''} (store: {location.path}"
            f"{', removed when the server stops' if location.temporary else ''})",
            soft_wrap=True,
            highlight=False,
        )
        out.print(_writes_line(settings), soft_wrap=True, highlight=False)
        # uvicorn shuts down gracefully on SIGTERM, then re-raises it: exit 0 through `finally`.
        signal.signal(signal.SIGTERM, _exit_cleanly)
        app = create_app(settings, role=role)
        http_server(app).run(sockets=sockets)
    finally:
        if cluster is not None:
            cluster.remove()
        location.cleanup()


def _writes_line(settings: Settings) -> str:
    """How writes are enabled, so a first run of `make demo` says how to load through HTTP."""
    if settings.write_token is None:
        return (
            "writes are disabled; set CITYTOOLS_WRITE_TOKEN=… to enable /update and /store "
            "writes (with the header Authorization: Bearer <token>)"
        )
    return "writes to /update and /store need the header Authorization: Bearer <the token>"


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, made here so that every HTTP process can share it."""
    try:
        return socket.create_server((host, port), backlog=2048)
    except OSError as exc:
        raise fail(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


app.command()(cli_query.query)
app.command()(cli_query.queries)


def main() -> None:
    app()
