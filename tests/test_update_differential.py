"""SPARQL 1.1 Update and the Graph Store Protocol, differentially against Oxigraph server.

Seeded random sequences of writes go to our service (a real uvicorn over a store on
tmp_path, `http_support.serving`) and to Oxigraph server (`oxigraph serve` of the PyPI
`oxigraph` package, on a fresh store), whose default graph is a real graph as the stored
default graph is in ours. Each sequence starts from an empty client dataset and has
`REQUESTS` requests over `http://example.org/g1..g3` and the default graph, drawn from:
INSERT DATA (default, named, several graphs, blank nodes), DELETE DATA, DELETE WHERE,
DELETE/INSERT … WHERE with WITH, USING, USING NAMED and GRAPH ?g, requests of several
operations (`;`, each seeing the effects of the ones before), CLEAR / DROP of GRAPH,
DEFAULT, NAMED and ALL with and without SILENT, CREATE, ADD / COPY / MOVE, Graph Store
PUT / POST / DELETE of `?graph=` and `?default` with Turtle and N-Triples bodies, and now
and then a malformed update. Triples to delete are drawn from what the graphs hold.

Each request goes to both; then both must agree on:

* the status class: 2xx, or a refusal (ours: 4xx; a 5xx or no answer from ours is wrong);
* the client graphs each lists (`SELECT DISTINCT ?g WHERE { GRAPH ?g {} }`);
* `GET /store?default` and `GET /store?graph=` of every client graph, as N-Triples:
  the status (200 or 404) and the triples, as sets (up to isomorphism with blank nodes);
* and ours must still list every service graph it started with.

On the first disagreement the test fails with the requests of the sequence so far, from
the empty dataset: a reproduction.

Set aside, by design:

* **The service's own graphs** (`{base}graph/reference/…`, the ontology graph, the
  provenance graph) are read-only to clients and left alone by `DROP ALL`, `CLEAR ALL`
  and `DROP NAMED`: only the other (client) graphs are compared. Data is in the
  `urn:x:` and `http://example.org/` namespaces without `ct:` types, so the SHACL gate
  never applies.
* **Oxigraph answers 500** (not 4xx) to an update that fails as it runs: CLEAR, DROP or
  MOVE of a graph that does not exist, CREATE of one that does. It counts as a refusal.
  Where SPARQL 1.1 Update lets a store choose, Oxigraph is the reference: ADD and COPY
  from a graph that does not exist succeed (COPY then leaves the target empty), MOVE
  from one fails.
* **Empty named graphs.** Oxigraph keeps a named graph that has no triples (after CREATE,
  CLEAR, a PUT of an empty body or a delete of its last triple): it is listed, a GET
  answers 200 with no triples, CREATE of it fails and DROP of it succeeds. SPARQL 1.1
  Update also allows a store that does not keep empty graphs. The `peers` fixture asks
  ours which it is (CREATE GRAPH, then is it listed?); if ours does not keep them,
  Oxigraph's empty graphs are dropped after each request, so that both hold the same
  graphs. Requests of several operations then avoid what the difference could change
  within one request (MOVE, and CLEAR, DROP, CREATE without SILENT).
* Blank nodes are compared graph by graph: one shared by two graphs (after ADD or COPY)
  is not checked to be the same node in both. Status codes are compared by class: 200,
  201 and 204 all mean done.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from random import Random

import httpx
import pytest
import rdflib
from http_support import TOKEN, free_port, serving, settings_for
from pyoxigraph import RdfFormat, parse
from rdflib.compare import graph_diff, isomorphic, to_isomorphic

pytestmark = pytest.mark.slow

SEQUENCES = 15
REQUESTS = 12
EX = "http://example.org/"
GRAPHS = tuple(f"{EX}g{i}" for i in (1, 2, 3))
DEFAULT = "default"  # the stored default graph, as a target
BASE = "https://w3id.org/citytools/id/"
REFERENCE_GRAPHS = BASE + "graph/reference/"
OWN_GRAPHS = ("https://w3id.org/citytools/ontology", BASE + "graph/provenance")
LIST_GRAPHS = "SELECT DISTINCT ?g WHERE { GRAPH ?g { } }"
EMPTY_GRAPHS = (
    "SELECT DISTINCT ?g WHERE { GRAPH ?g { } FILTER NOT EXISTS { GRAPH ?g { ?s ?p ?o } } }"
)
UPDATE = "application/sparql-update"
NO_ANSWER = 0  # the status of a request whose connection failed
TURTLE, NTRIPLES = "text/turtle", "application/n-triples"
XSD = "http://www.w3.org/2001/XMLSchema#"

SUBJECTS = tuple(f"<urn:x:s{i}>" for i in range(4))
BLANKS = ("_:b0", "_:b1")
PREDICATES = tuple(f"<{EX}p{i}>" for i in range(3))
OBJECTS = (
    *SUBJECTS[:2],
    '"a"',
    '"b"@en',
    '"say \\"hi\\""',
    f'"7"^^<{XSD}integer>',
    f'"007"^^<{XSD}integer>',
    f'"1.50"^^<{XSD}decimal>',
    f'"2024-03-31"^^<{XSD}date>',
)


def is_service_graph(iri: str) -> bool:
    return iri.startswith(REFERENCE_GRAPHS) or iri in OWN_GRAPHS


# --- requests -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """One write: a SPARQL Update (`target` None) or a Graph Store request on `target`."""

    kind: str
    method: str
    target: str | None
    body: str
    media_type: str

    def describe(self) -> str:
        if self.target is None:
            where = "/update"
        elif self.target == DEFAULT:
            where = "/store?default"
        else:
            where = f"/store?graph={self.target}"
        body = "\n".join("       " + line for line in self.body.splitlines()) or "       (empty)"
        return f"{self.method} {where}  [{self.kind}; {self.media_type}]\n{body}"


def update(kind: str, text: str) -> Request:
    return Request(kind, "POST", None, text, UPDATE)


@dataclass(frozen=True)
class Content:
    """What a GET of one graph answered: its status and its triples (N-Triples lines)."""

    status: int
    triples: frozenset[str]

    def same_as(self, other: Content) -> bool:
        if self.status != other.status:
            return False
        if not any("_:" in t for t in self.triples | other.triples):
            return self.triples == other.triples
        return isomorphic(rdf_graph(self.triples), rdf_graph(other.triples))


@dataclass(frozen=True)
class View:
    """What one server shows of the client graphs: those it lists, and each one's content."""

    names: frozenset[str]
    graphs: dict[str, Content]  # by target: DEFAULT or a graph IRI

    def ground(self, target: str) -> list[str]:
        """The triples of `target` without blank nodes (DELETE DATA cannot name those)."""
        content = self.graphs.get(target)
        return sorted(t for t in content.triples if "_:" not in t) if content else []


def rdf_graph(triples: frozenset[str]) -> rdflib.Graph:
    return rdflib.Graph().parse(data="\n".join(triples), format="nt")


class Generator:
    """Draws the next request of a sequence from `rng`, with triples from `view` to delete."""

    def __init__(self, rng: Random, *, keeps_empty: bool) -> None:
        self.rng = rng
        self.keeps_empty = keeps_empty
        self.view = View(frozenset(), {})

    # terms and triples

    def graph(self) -> str:
        return self.rng.choice(GRAPHS)

    def triple(self, blanks: bool = False) -> str:
        rng = self.rng
        subjects = SUBJECTS + BLANKS if blanks else SUBJECTS
        objects = OBJECTS + BLANKS if blanks else OBJECTS
        return f"{rng.choice(subjects)} {rng.choice(PREDICATES)} {rng.choice(objects)} ."

    def triples(self, blanks: bool = False) -> list[str]:
        return [self.triple(blanks) for _ in range(self.rng.randint(1, 4))]

    def existing(self, target: str) -> list[str]:
        """Up to 3 triples the target holds (if any), sometimes with one it does not."""
        held = self.view.ground(target)
        chosen = self.rng.sample(held, min(len(held), self.rng.randint(1, 3)))
        if not chosen or self.rng.random() < 0.3:
            chosen.append(self.triple())
        return chosen

    def graph_ref(self) -> str:
        """A graph for ADD / COPY / MOVE: `DEFAULT`, `<g>` or `GRAPH <g>`."""
        r = self.rng.random()
        if r < 0.3:
            return "DEFAULT"
        return f"<{self.graph()}>" if r < 0.65 else f"GRAPH <{self.graph()}>"

    def silent(self, always: bool = False) -> str:
        return "SILENT " if always or self.rng.random() < 0.4 else ""

    # operations

    def insert_data(self) -> tuple[str, str]:
        r = self.rng.random()
        if r < 0.3:
            return "INSERT DATA (default)", f"INSERT DATA {{ {' '.join(self.triples(True))} }}"
        if r < 0.7:
            body = " ".join(self.triples(True))
            return "INSERT DATA (named)", f"INSERT DATA {{ GRAPH <{self.graph()}> {{ {body} }} }}"
        blocks = [" ".join(self.triples(True))] if self.rng.random() < 0.5 else []
        for graph in self.rng.sample(GRAPHS, 2):
            blocks.append(f"GRAPH <{graph}> {{ {' '.join(self.triples(True))} }}")
        return "INSERT DATA (several graphs)", f"INSERT DATA {{ {' '.join(blocks)} }}"

    def delete_data(self) -> tuple[str, str]:
        if self.rng.random() < 0.35:
            return "DELETE DATA (default)", f"DELETE DATA {{ {' '.join(self.existing(DEFAULT))} }}"
        graph = self.graph()
        body = " ".join(self.existing(graph))
        return "DELETE DATA (named)", f"DELETE DATA {{ GRAPH <{graph}> {{ {body} }} }}"

    def delete_where(self) -> tuple[str, str]:
        rng, p = self.rng, self.rng.choice(PREDICATES)
        r = rng.random()
        if r < 0.35:
            return "DELETE WHERE (default)", f"DELETE WHERE {{ ?s {p} ?o }}"
        if r < 0.7:
            text = f"DELETE WHERE {{ GRAPH <{self.graph()}> {{ ?s {p} ?o }} }}"
            return "DELETE WHERE (named)", text
        text = f"DELETE WHERE {{ GRAPH ?g {{ {rng.choice(SUBJECTS)} ?p ?o }} }}"
        return "DELETE WHERE (GRAPH ?g)", text

    def modify(self) -> tuple[str, str]:
        rng = self.rng
        p, q = rng.sample(PREDICATES, 2)
        a, b = rng.sample(GRAPHS, 2)
        s = rng.choice(SUBJECTS)
        forms: list[tuple[str, str]] = [
            (
                "WITH",
                f"WITH <{a}> DELETE {{ ?s {p} ?o }} INSERT {{ ?s {q} ?o }} WHERE {{ ?s {p} ?o }}",
            ),
            (
                "WITH, INSERT only",
                f'WITH <{a}> INSERT {{ ?s {q} "tagged" }} WHERE {{ ?s {p} ?o }}',
            ),
            ("USING", f"INSERT {{ ?s {q} ?o }} USING <{a}> USING <{b}> WHERE {{ ?s {p} ?o }}"),
            (
                "WITH and USING",
                f"WITH <{a}> DELETE {{ ?s {p} ?o }} INSERT {{ ?s {q} ?o }} USING <{b}> "
                f"WHERE {{ ?s {p} ?o }}",
            ),
            (
                "USING NAMED",
                f"DELETE {{ GRAPH ?g {{ ?s {p} ?o }} }} INSERT {{ GRAPH <{b}> {{ ?s {p} ?o }} }} "
                f"USING NAMED <{a}> WHERE {{ GRAPH ?g {{ ?s {p} ?o }} }}",
            ),
            (
                "GRAPH ?g into the default graph",
                f"DELETE {{ GRAPH ?g {{ {s} ?p ?o }} }} INSERT {{ {s} ?p ?o }} "
                f"WHERE {{ GRAPH ?g {{ {s} ?p ?o }} }}",
            ),
            (
                "GRAPH ?g in place",
                f"DELETE {{ GRAPH ?g {{ ?s {p} ?o }} }} INSERT {{ GRAPH ?g {{ ?s {q} ?o }} }} "
                f"WHERE {{ GRAPH ?g {{ ?s {p} ?o }} }}",
            ),
            (
                "default graph into a named graph",
                f"INSERT {{ GRAPH <{a}> {{ ?s ?p ?o }} }} WHERE {{ ?s ?p ?o }}",
            ),
            (
                "default graph, FILTER NOT EXISTS",
                f"DELETE {{ ?s {p} ?o }} WHERE {{ ?s {p} ?o "
                f"FILTER NOT EXISTS {{ GRAPH <{a}> {{ ?s ?any ?o }} }} }}",
            ),
            (
                "between named graphs",
                f"DELETE {{ GRAPH <{a}> {{ ?s ?p ?o }} }} INSERT {{ GRAPH <{b}> {{ ?s ?p ?o }} }} "
                f"WHERE {{ GRAPH <{a}> {{ ?s ?p ?o }} }}",
            ),
        ]
        kind, text = rng.choice(forms)
        return f"DELETE/INSERT WHERE ({kind})", text

    def manage(self, within: bool) -> tuple[str, str]:
        """CLEAR / DROP / CREATE; `within` a request of several operations: SILENT only."""
        rng = self.rng
        verb = rng.choice(("CLEAR", "DROP", "CREATE"))
        silent = self.silent(always=within and not self.keeps_empty)
        if verb == "CREATE":
            return "CREATE", f"CREATE {silent}GRAPH <{self.graph()}>"
        named = rng.random() < 0.55
        what = f"GRAPH <{self.graph()}>" if named else rng.choice(("DEFAULT", "NAMED", "ALL"))
        return f"{verb} {what.split()[0]}", f"{verb} {silent}{what}"

    def transfer(self, within: bool) -> tuple[str, str]:
        rng = self.rng
        verbs = ("ADD", "COPY") if within and not self.keeps_empty else ("ADD", "COPY", "MOVE")
        verb = rng.choice(verbs)
        source, target = self.graph_ref(), self.graph_ref()
        return verb, f"{verb} {self.silent()}{source} TO {target}"

    def operation(self, within: bool) -> tuple[str, str]:
        r = self.rng.random()
        if r < 0.2:
            return self.insert_data()
        if r < 0.35:
            return self.delete_data()
        if r < 0.5:
            return self.delete_where()
        if r < 0.7:
            return self.modify()
        if r < 0.85:
            return self.manage(within)
        return self.transfer(within)

    def graph_store(self) -> Request:
        rng = self.rng
        target = DEFAULT if rng.random() < 0.3 else self.graph()
        method = rng.choice(("PUT", "PUT", "POST", "POST", "DELETE"))
        if method == "DELETE":
            return Request("GSP DELETE", method, target, "", NTRIPLES)
        triples = [] if rng.random() < 0.08 else self.triples(True)
        if rng.random() < 0.5:
            return Request(
                f"GSP {method} (N-Triples)", method, target, "\n".join(triples), NTRIPLES
            )
        return Request(f"GSP {method} (Turtle)", method, target, turtle(triples), TURTLE)

    def next(self, view: View) -> Request:
        self.view = view
        r = self.rng.random()
        if r < 0.55:
            return update(*self.operation(within=False))
        if r < 0.7:
            parts = [self.operation(within=True) for _ in range(self.rng.randint(2, 3))]
            kinds = " ; ".join(kind for kind, _ in parts)
            # A blank node label may not be shared by two operations of one request.
            texts = [text.replace("_:b", f"_:op{i}b") for i, (_, text) in enumerate(parts)]
            return update(f"several: {kinds}", " ;\n".join(texts))
        if r < 0.97:
            return self.graph_store()
        triple = self.triple()
        return update("malformed", f"INSERT DATA {{ {triple.rsplit(' ', 2)[0]} }}")


def turtle(triples: list[str]) -> str:
    """The triples as Turtle: a prefix for the predicates, grouped by subject with `;`."""
    by_subject: dict[str, list[str]] = {}
    for triple in triples:
        subject, predicate, rest = triple.split(" ", 2)
        name = "ex:" + predicate.removeprefix(f"<{EX}").removesuffix(">")
        by_subject.setdefault(subject, []).append(f"{name} {rest.removesuffix(' .')}")
    between = " ;\n    "
    lines = [f"@prefix ex: <{EX}> ."]
    lines += [f"{s} {between.join(pairs)} ." for s, pairs in by_subject.items()]
    return "\n".join(lines) + "\n"


# --- the two servers ------------------------------------------------------------------------


@dataclass
class Peer:
    name: str
    client: httpx.Client
    query_path: str
    write_headers: dict[str, str]

    def send(self, request: Request) -> int:
        """The status of the answer, or `NO_ANSWER` when the connection failed."""
        headers = {**self.write_headers, "Content-Type": request.media_type}
        params = {"default": ""} if request.target == DEFAULT else {"graph": request.target}
        try:
            if request.target is None:
                response = self.client.post("/update", content=request.body, headers=headers)
            else:
                response = self.client.request(
                    request.method, "/store", params=params, content=request.body, headers=headers
                )
        except httpx.TransportError:
            return NO_ANSWER
        return response.status_code

    def update(self, text: str) -> None:
        status = self.send(update("setup", text))
        assert status < 300, f"{self.name} refused {text!r} ({status})"

    def select(self, query: str) -> set[str]:
        response = self.client.get(
            self.query_path,
            params={"query": query},
            headers={"Accept": "application/sparql-results+json"},
        )
        assert response.status_code == 200, response.text
        return {row["g"]["value"] for row in response.json()["results"]["bindings"]}

    def graph_names(self) -> set[str]:
        return self.select(LIST_GRAPHS)

    def content(self, target: str) -> Content:
        params = {"default": ""} if target == DEFAULT else {"graph": target}
        response = self.client.get("/store", params=params, headers={"Accept": NTRIPLES})
        if response.status_code != 200:
            return Content(response.status_code, frozenset())
        parsed = parse(response.content, format=RdfFormat.N_TRIPLES)
        return Content(200, frozenset(f"{triple} ." for triple in parsed))

    def view(self, names: set[str]) -> View:
        clients = frozenset(n for n in names if not is_service_graph(n))
        targets = [DEFAULT, *sorted(clients | set(GRAPHS))]
        return View(clients, {target: self.content(target) for target in targets})


@dataclass
class Peers:
    ours: Peer
    oxigraph: Peer
    keeps_empty: bool  # ours keeps named graphs that hold no triples
    service_graphs: frozenset[str]  # ours' own graphs, listed when the module starts

    def drop_oxigraph_empty_graphs(self) -> None:
        """Oxigraph as a store that does not keep empty graphs, as ours."""
        for graph in sorted(self.oxigraph.select(EMPTY_GRAPHS)):
            self.oxigraph.update(f"DROP GRAPH <{graph}>")


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peer]:
    with (
        serving(settings_for(tmp_path_factory.mktemp("ours"))) as url,
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        yield Peer("ours", client, "/sparql", {"Authorization": f"Bearer {TOKEN}"})


@pytest.fixture(scope="module")
def oxigraph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peer]:
    here = tmp_path_factory.mktemp("oxigraph")
    port = free_port()
    binary = Path(sys.executable).with_name("oxigraph")
    command = [str(binary), "serve", "--location", str(here / "store")]
    with (here / "server.log").open("wb") as log:
        process = subprocess.Popen(
            [*command, "--bind", f"127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT
        )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            wait_until_answering(client, process)
            yield Peer("Oxigraph server", client, "/query", {})
    finally:
        process.terminate()
        process.wait(timeout=30)


def wait_until_answering(client: httpx.Client, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "oxigraph serve stopped at start-up"
        try:
            if client.get("/query", params={"query": "ASK {}"}).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError("oxigraph serve did not answer within 30 s")


@pytest.fixture(scope="module")
def peers(ours: Peer, oxigraph: Peer) -> Peers:
    """Both servers, with what ours is found to do with an empty named graph."""
    probe = f"{EX}probe"
    ours.update(f"CREATE GRAPH <{probe}>")
    keeps_empty = probe in ours.graph_names()
    ours.update(f"DROP SILENT GRAPH <{probe}>")
    service = frozenset(n for n in ours.graph_names() if is_service_graph(n))
    return Peers(ours, oxigraph, keeps_empty, service)


def reset(peers: Peers) -> None:
    """Both back to no client data: Oxigraph by DROP ALL, ours graph by graph."""
    peers.oxigraph.update("DROP ALL")
    ours = peers.ours
    view = ours.view(ours.graph_names())
    for graph in sorted(view.names):
        ours.send(Request("reset", "DELETE", graph, "", NTRIPLES))
    if view.graphs[DEFAULT].triples:
        ours.send(Request("reset", "DELETE", DEFAULT, "", NTRIPLES))
    after = ours.view(ours.graph_names())
    left = {t: len(c.triples) for t, c in after.graphs.items() if c.triples}
    if after.names or left:
        pytest.fail(
            f"could not empty ours before the sequence: graphs {sorted(after.names)} are "
            f"listed, triples left {left}",
            pytrace=False,
        )


# --- comparing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    request: Request
    ours: int
    oxigraph: int

    def describe(self, number: int) -> str:
        answers = f"ours {self.ours}, Oxigraph {self.oxigraph}"
        return f"{number:3}. {self.request.describe()}\n     -> {answers}"


def done(status: int) -> bool:
    return 200 <= status < 300


def differences(peers: Peers, step: Step, ours: View, oxigraph: View, names: set[str]) -> list[str]:
    found = []
    if step.ours == NO_ANSWER:
        found.append("ours gave no answer: the connection failed")
    elif step.ours >= 500:
        found.append(f"ours answered {step.ours}: a server error")
    elif done(step.ours) != done(step.oxigraph):
        found.append(f"status: ours {step.ours}, Oxigraph server {step.oxigraph}")
    if ours.names != oxigraph.names:
        found.append(
            f"graphs listed: only by ours {sorted(ours.names - oxigraph.names)}, "
            f"only by Oxigraph {sorted(oxigraph.names - ours.names)}"
        )
    for target in sorted(set(ours.graphs) | set(oxigraph.graphs)):
        mine = ours.graphs.get(target) or peers.ours.content(target)
        theirs = oxigraph.graphs.get(target) or peers.oxigraph.content(target)
        if not mine.same_as(theirs):
            found.append(describe_difference(target, mine, theirs))
    missing = peers.service_graphs - names
    if missing:
        found.append(f"service graphs no longer listed by ours: {sorted(missing)}")
    return found


def describe_difference(target: str, ours: Content, oxigraph: Content) -> str:
    where = "GET /store?default" if target == DEFAULT else f"GET /store?graph={target}"
    if ours.status != oxigraph.status:
        return f"{where}: ours {ours.status}, Oxigraph {oxigraph.status}"
    _, only_ours, only_oxigraph = graph_diff(
        to_isomorphic(rdf_graph(ours.triples)), to_isomorphic(rdf_graph(oxigraph.triples))
    )
    return (
        f"{where}: {len(ours.triples)} triples in ours, {len(oxigraph.triples)} in Oxigraph;"
        f"\n     only in ours:{listed(only_ours)}\n     only in Oxigraph:{listed(only_oxigraph)}"
    )


def listed(graph: rdflib.Graph) -> str:
    lines = sorted(line for line in graph.serialize(format="nt").splitlines() if line)
    return "".join(f"\n       {line}" for line in lines) or " none"


@pytest.mark.parametrize("sequence", range(SEQUENCES))
def test_writes_match_oxigraph_server(peers: Peers, sequence: int) -> None:
    reset(peers)
    generator = Generator(Random(sequence), keeps_empty=peers.keeps_empty)
    view = View(frozenset(), {})
    steps: list[Step] = []
    for _ in range(REQUESTS):
        request = generator.next(view)
        step = Step(request, peers.ours.send(request), peers.oxigraph.send(request))
        steps.append(step)
        if not peers.keeps_empty:
            peers.drop_oxigraph_empty_graphs()
        try:
            names = peers.ours.graph_names()
            ours, view = peers.ours.view(names), peers.oxigraph.view(peers.oxigraph.graph_names())
            found = differences(peers, step, ours, view, names)
        except httpx.TransportError as exc:
            found = [f"reading the graphs back failed: {exc!r}"]
        if found:
            model = "keeps" if peers.keeps_empty else "does not keep"
            history = "\n".join(s.describe(i) for i, s in enumerate(steps, 1))
            pytest.fail(
                f"sequence {sequence} (Random({sequence}); ours {model} empty named graphs): "
                f"ours and Oxigraph server differ after request {len(steps)}.\n"
                f"The requests, from no client data:\n{history}\n"
                "Differences:\n" + "\n".join(f"  * {d}" for d in found),
                pytrace=False,
            )
