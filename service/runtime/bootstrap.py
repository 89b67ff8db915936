"""Opening a backend: the store, its reference graphs, the validator and the ingest path.

Reference data (ontology, London authorities, LGSL, standards) is written into
its own named graphs the first time a store is used, and rewritten only when
the shipped files change (their checksum is kept in the provenance graph).
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pyoxigraph import (
    BlankNode,
    CanonicalizationAlgorithm,
    Dataset,
    NamedNode,
    Quad,
    RdfFormat,
    Store,
    Triple,
    parse,
)

from citytools import __version__
from citytools.errors import CityToolsError
from citytools.loaders import reference
from citytools.loaders.iris import Minter
from citytools.report import ValidationReport
from citytools.resources import ONTOLOGY_IRI, ontology_file, shapes_file
from citytools.service.engine.execution import QueryExecutor
from citytools.service.engine.pool import ProcessExecutor
from citytools.service.runtime.cluster import Primary, Replica
from citytools.service.store.checkpoints import CheckpointStore
from citytools.service.store.embedded import EmbeddedStore
from citytools.service.store.interface import GraphChange, GraphStore
from citytools.service.store.versions import VersionBoard
from citytools.service.validation.validator import Validator
from citytools.service.writes.commit import SourceFacts, Write, WritePath
from citytools.service.writes.ingest import Ingestor, Source
from citytools.settings import Settings


def ontology_triples() -> list[Triple]:
    return [q.triple for q in parse(ontology_file().read_bytes(), format=RdfFormat.TURTLE)]


def reference_graphs(minter: Minter) -> dict[NamedNode, list[Triple]]:
    """Every reference graph by name: the ontology first, then the reference data."""
    graphs = {NamedNode(ONTOLOGY_IRI): ontology_triples()}
    graphs.update(reference.reference_graphs(minter))
    return graphs


REFERENCE_KIND = "reference"
ONTOLOGY_DESCRIPTION = reference.Description("City Tools ontology", ())


def _checksum(triples: list[Triple]) -> str:
    """Of the graph's canonical form (RDFC-1.0): each parse of the same file labels blank
    nodes afresh, and the graph must not look changed at every open, yet a change of
    blank-node structure must. A graph without blank nodes is its own canonical form, so
    only graphs with some are canonicalised: the ontology's 501 triples take about 1 ms,
    where canonicalising every reference graph would add about 70 ms to each store
    open (LGSL's 15,808 triples most of it)."""
    if any(isinstance(t.subject, BlankNode) or isinstance(t.object, BlankNode) for t in triples):
        dataset = Dataset(Quad(*t) for t in triples)
        dataset.canonicalize(CanonicalizationAlgorithm.RDFC_1_0)
        triples = [quad.triple for quad in dataset]
    digest = hashlib.sha256(__version__.encode())
    for line in sorted(str(t) for t in triples):
        digest.update(line.encode() + b"\n")
    return "sha256:" + digest.hexdigest()


def ensure_reference(store: GraphStore, minter: Minter) -> list[NamedNode]:
    """Write the reference graphs that are missing or out of date, in one write; return
    those written. They are the validator's context, so they are not validated."""
    writes = WritePath(store, _validator(minter.base), minter)
    about = reference.reference_descriptions(minter)
    pending = []
    for graph, triples in reference_graphs(minter).items():
        checksum = _checksum(triples)
        if writes.source_of(graph) == (checksum, REFERENCE_KIND) and store.has_graph(graph):
            continue
        held = set(store.graph_triples(graph)) if store.has_graph(graph) else set()
        new = set(triples)
        description = about.get(graph, ONTOLOGY_DESCRIPTION)
        facts = SourceFacts(
            name=None,
            label=description.label,
            checksum=checksum,
            kind=REFERENCE_KIND,
            extra=description.facts,
        )
        change = GraphChange(added=new - held, removed=held - new)
        pending.append(Write(graph, change, content=new, source=facts, report=ValidationReport()))
    if pending:
        writes.commit(pending, label="reference data", service=True)
    return [write.graph for write in pending if isinstance(write.graph, NamedNode)]


@cache
def _validator(base_iri: str) -> Validator:
    context = [
        Quad(t.subject, t.predicate, t.object, graph)
        for graph, triples in reference_graphs(Minter(base_iri)).items()
        for t in triples
    ]
    return Validator(shapes_file(), context)


def build_ingestor(store: GraphStore, settings: Settings) -> Ingestor:
    minter = Minter(settings.base_iri)
    return Ingestor(store, _validator(settings.base_iri), minter)


@dataclass
class StoreLocation:
    """Where the embedded store lives; `--memory` is a temporary directory removed on close,
    so queries can still run in killable worker processes over an on-disk store."""

    path: Path
    temporary: bool

    @classmethod
    def for_settings(cls, settings: Settings, *, memory: bool = False) -> StoreLocation:
        if memory:
            return cls(Path(tempfile.mkdtemp(prefix="citytools-memory-")), temporary=True)
        return cls(settings.store, temporary=False)

    def cleanup(self) -> None:
        if self.temporary:
            shutil.rmtree(self.path, ignore_errors=True)


def open_embedded(location: StoreLocation, settings: Settings) -> EmbeddedStore:
    store = EmbeddedStore(location.path)
    ensure_reference(store, Minter(settings.base_iri))
    store.flush()
    return store


SNAPSHOTS_DIR = "query-snapshots"  # inside the store directory: hard links need one filesystem


def open_backend(
    settings: Settings, role: Primary | Replica | None = None
) -> tuple[GraphStore, QueryExecutor]:
    """The store named by the settings, seeded with reference data, and its query executor.

    The embedded store is queried by killable worker processes that open checkpoints of
    it read-only. A replica of a cluster opens no store for writing: it reads the newest
    checkpoint the primary published (`cluster.py`).
    """
    if settings.endpoint is not None:
        raise CityToolsError(
            "the remote-endpoint backend (CITYTOOLS_ENDPOINT / --endpoint) is not available "
            "in this version; use the embedded store"
        )
    board = VersionBoard(role.cluster.board_path) if role is not None else None
    if isinstance(role, Replica) and board is not None:
        snapshots = role.cluster.snapshots
        return CheckpointStore(snapshots, board), _executor(None, snapshots, settings, board)
    location = StoreLocation.for_settings(settings)
    store = open_embedded(location, settings)
    try:
        executor = _executor(store.raw, location.path / SNAPSHOTS_DIR, settings, board)
    except BaseException:
        store.close()
        raise
    return store, executor


def _executor(
    store: Store | None, snapshots: Path, settings: Settings, board: VersionBoard | None
) -> ProcessExecutor:
    """The killable query workers (and the inline lane) over the store's checkpoints: the
    primary's, which takes them, or a replica's (no store), which follows the board."""
    return ProcessExecutor(
        store,
        snapshots,
        workers=settings.query_workers,
        settings=settings,
        inline=settings.inline_queries,
        board=board,
    )


def demo_sources() -> Iterator[tuple[str, bytes]]:
    """The bundled illustrative inventory and projects, as (file name, bytes)."""
    from citytools.resources import demo_file

    for name in ("inventory.csv", "projects.csv"):
        yield name, demo_file(name).read_bytes()


def load_demo(ingestor: Ingestor) -> list[NamedNode]:
    """Load the illustrative demo sources into `{base}graph/demo/…`, marked illustrative."""
    graphs = []
    for name, data in demo_sources():
        graph = ingestor.minter.graph("demo", Path(name).stem)
        source = Source(data, name=f"demo/{name}", illustrative=True)
        ingestor.load(source, graph=graph, replace=True)
        graphs.append(graph)
    return graphs
