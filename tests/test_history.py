"""The history of writes read back from the provenance graph, newest first."""

from __future__ import annotations

from pathlib import Path

from http_support import settings_for

from citytools.loaders.iris import Minter
from citytools.service.http.routes.update import run_update
from citytools.service.runtime import bootstrap
from citytools.service.store.embedded import EmbeddedStore
from citytools.service.writes.history import writes
from citytools.service.writes.ingest import Source

DATA = Path(__file__).parent / "data" / "loaders"


def test_writes_come_back_newest_first_with_what_each_changed(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    store = EmbeddedStore(None)
    bootstrap.ensure_reference(store, Minter(settings.base_iri))
    ingestor = bootstrap.build_ingestor(store, settings)
    v1 = (DATA / "inventory.csv").read_bytes()
    loaded = ingestor.load(Source(v1, name="inventory.csv"))
    v2 = b"".join(line for line in v1.splitlines(keepends=True) if b"Spydus" not in line)
    ingestor.load(Source(v2.replace(b"2027-12-31", b"2028-06-30"), name="inventory.csv"))
    run_update(ingestor.writes, 'INSERT DATA { <urn:x:a> <urn:x:p> "1" }')
    provenance = ingestor.writes.provenance
    history = writes(store, provenance)
    assert [w.label for w in history] == [
        "SPARQL Update",
        "load inventory.csv",
        "load inventory.csv",
        "reference data",
    ]
    assert history == sorted(history, key=lambda w: w.ended, reverse=True)
    [update] = history[0].graphs
    assert (update.graph, update.added, update.removed) == (
        settings.base_iri + "graph/default",
        1,
        0,
    )
    [reload] = history[1].graphs
    assert reload.graph == loaded.graph.value
    assert (reload.deployments_added, reload.deployments_removed, reload.contract_ends_moved) == (
        0,
        1,
        1,
    )
    [first] = history[2].graphs
    assert (first.removed, first.deployments_added) == (0, 9)
    assert first.added == loaded.triples
    # narrowed to one graph, paged
    only = writes(store, provenance, graph=loaded.graph, limit=1)
    assert [w.activity for w in only] == [history[1].activity]
    assert writes(store, provenance, graph=loaded.graph, limit=1, offset=1)[0] == history[2]
    assert writes(store, provenance, offset=10) == []
    store.close()
