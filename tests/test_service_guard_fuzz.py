"""No SERVICE or LOAD reaches an endpoint the guard did not allow, checked on real sockets.

Two listeners on 127.0.0.1 count the connections they accept: one plays an endpoint
outside the allow-list, one an allowed endpoint. Texts that name the first are generated
(seeded, queries and updates) with every spelling pyoxigraph reads as a SERVICE — run-on
keywords, prefixed names, BASE-relative IRIs, escapes — hidden among comments ending in
LF, CR or CRLF, strings, nesting; decoys put it where pyoxigraph does not read a SERVICE.
Whatever the guard accepts is evaluated on an empty store: the first listener must see
no connection. Unguarded, the same texts do reach it (so the texts are real attacks),
and texts naming only the allowed endpoint are accepted.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from listener_support import Listener
from pyoxigraph import QueryBoolean, Store

from citytools.errors import InputError
from citytools.service.engine.lane_shape import shape_of
from citytools.service.sparql.guard import check_services

CASES = 400


@pytest.fixture
def evil() -> Iterator[Listener]:
    listener = Listener()
    yield listener
    listener.close()


@pytest.fixture
def allowed() -> Iterator[Listener]:
    listener = Listener()
    yield listener
    listener.close()


def run_unguarded(text: str, update: bool) -> None:
    """Evaluate on an empty in-memory store; what it fails with does not matter here."""
    try:
        if update:
            Store().update(text)
        else:
            result = Store().query(text)
            if not isinstance(result, QueryBoolean):
                list(result)  # solutions are computed as they are read
    except Exception:  # syntax errors, failed connections: what matters is who was called
        return


# --- the texts -------------------------------------------------------------------------

LINE_ENDS = ["\n", "\r", "\r\n"]


@dataclass
class Text:
    """A text under construction: its prologue lines and what it must do."""

    rng: random.Random
    evil: int
    allowed: int
    prologue: dict[str, str] = field(default_factory=dict)
    refuse: bool = False  # names the outside endpoint, a variable one, or LOADs
    reaches: bool = False  # pyoxigraph, unguarded, would call the outside endpoint
    based: bool = False
    bad: int = 0  # calls to make before the one that is not to the allowed endpoint
    spread: float = 0.0  # after it, the share of calls that are not either

    def gap(self) -> str:
        """Whitespace, or a comment that hides a SERVICE (ending in LF, CR or CRLF)."""
        end = self.rng.choice(LINE_ENDS)
        return self.rng.choice(
            [
                " ",
                "\t",
                *LINE_ENDS,
                f" # SERVICE <{self.iri(self.evil)}> {{ }}{end}",
                f"#SERVICE SILENT <{self.iri(self.evil)}> {{{end}",
            ]
        )

    def iri(self, port: int) -> str:
        return f"http://127.0.0.1:{port}/sparql"

    def keyword(self, word: str) -> str:
        return "".join(c.upper() if self.rng.random() < 0.5 else c.lower() for c in word)

    def service(self, body: str) -> str:
        """A SERVICE call, spelt one of the ways pyoxigraph reads: to the allowed endpoint,
        or (at the call `bad` counts down to) to the other one or to a variable."""
        self.bad -= 1
        if self.bad != 0 and not (self.bad < 0 and self.rng.random() < self.spread):
            return self._standard(self.allowed, body)
        self.refuse = True
        if self.rng.random() < 0.15:
            return f"{self.keyword('service')} ?endpoint {body}"
        self.reaches = True
        return self.rng.choice([self._standard, self._quirk])(self.evil, body)

    def _standard(self, port: int, body: str) -> str:
        g, kw = self.gap, self.keyword
        silent = self.rng.choice(["", f"{kw('silent')}{g()}"])
        name = f"p{port}"
        spellings: list[Callable[[], str]] = [
            lambda: f"<{self.iri(port)}>",
            lambda: f"<http://127.0.0.1:{port}/sp\\u0061rql>",
            lambda: self._declare(name, f"http://127.0.0.1:{port}/") + ":sparql",
        ]
        if not self.based:
            spellings.append(lambda: self._base(port))
        return f"{kw('service')}{g()}{silent}{self.rng.choice(spellings)()}{g()}{body}"

    def _declare(self, name: str, iri: str) -> str:
        self.prologue[name] = f"PREFIX {name}: <{iri}>"
        return name

    def _base(self, port: int) -> str:
        self.based = True
        self.prologue["~base"] = f"BASE <http://127.0.0.1:{port}/>"
        return "<sparql>"

    def _quirk(self, port: int, body: str) -> str:
        """Spellings a lexer that follows the SPARQL spec, not pyoxigraph, would miss."""
        self._declare("", f"http://127.0.0.1:{port}/")
        iri = f"<{self.iri(port)}>"
        end = self.rng.choice(LINE_ENDS)
        return self.rng.choice(
            [
                f"{self.keyword('servicesilent')}{iri}{body}",
                f"{self.keyword('service')}:sparql{body}",
                f"{self.keyword('service')}{self.keyword('silent')}:sparql {body}",
                # both readings balance brackets: `<?r)…#>` is no IRI, `#>)` a comment
                f"BIND(1 AS ?q) FILTER(?q<?r){self.keyword('service')}:sparql#>){end}{body}",
                f'VALUES ?v {{ """A" "B" }} SERVICE {iri} {body} # \\U00110000 """ }}{end}',
                f"# x\r{self.keyword('service')} {iri} {body}",
            ]
        )

    def decoy(self) -> str:
        """A pattern where SERVICE appears but is not read as one."""
        end, iri = self.rng.choice(LINE_ENDS), self.iri(self.evil)
        return self.rng.choice(
            [
                f'BIND("SERVICE <{iri}> {{ }}" AS ?d1)',
                f"BIND('''{end}SERVICE <{iri}> {{ }}{end}''' AS ?d2)",
                f'BIND("\\" SERVICE <{iri}> {{ }} \\"" AS ?d3)',
                f"?d4 <http://127.0.0.1:{self.evil}/SERVICE> ?d5 .",
                f"# SERVICE <{iri}> {{ }}{end}",
                f"?SERVICE ?p{self.rng.randrange(9)} ?o .",
            ]
        )

    def pattern(self, depth: int = 0) -> str:
        """A group pattern with SERVICE calls and decoys, nested in various ways."""
        parts = [self.decoy() for _ in range(self.rng.randrange(2))]
        for _ in range(self.rng.randrange(1, 3)):
            inner = self.pattern(depth + 1) if depth < 2 and self.rng.random() < 0.3 else "{ }"
            call = self.service(inner)
            wrap = self.rng.choice(
                [
                    "{call}",
                    "OPTIONAL {{ {call} }}",
                    "{{ {call} }} UNION {{ }}",
                    "{{ SELECT * {{ {call} }} }}",
                    "BIND(1 AS ?x{n}) FILTER EXISTS {{ {call} }}",
                    "FILTER NOT EXISTS {{ {call} }}",
                    "MINUS {{ {call} }}",
                    "GRAPH ?g{n} {{ {call} }}",
                ]
            )
            parts.append(wrap.format(call=call, n=self.rng.randrange(99)))
        self.rng.shuffle(parts)
        return "{" + self.gap() + self.gap().join(parts) + self.gap() + "}"

    def query(self) -> str:
        where = self.pattern()
        form = self.rng.choice(
            [
                f"SELECT * WHERE {where}",
                f"ASK {where}",
                f"CONSTRUCT {{ ?s ?p ?o }} WHERE {where}",
                f"SELECT (COUNT(*) AS ?n) {where}",
            ]
        )
        return self._with_prologue(form)

    def update(self) -> str:
        where = self.pattern()
        insert = "INSERT { <urn:x:a> <urn:x:b> <urn:x:c> }"
        form = self.rng.choice(
            [
                f"{insert} WHERE {where}",
                f"DELETE {{ ?s ?p ?o }} WHERE {where}",
                f"INSERT DATA {{ <urn:x:a> <urn:x:b> 'LOAD' }} ;{self.gap()}{insert} WHERE {where}",
                f"WITH <urn:x:g> DELETE {{ ?s ?p ?o }} {insert} WHERE {where}",
            ]
        )
        if self.rng.random() < 0.1:
            self.refuse = self.reaches = True
            load = self.rng.choice(["LOAD", "LOAD SILENT", "LOADSILENT", "load"])
            form += f" ;{self.gap()}{load} <{self.iri(self.evil)}>"
        return self._with_prologue(form)

    def _with_prologue(self, form: str) -> str:
        declarations = sorted(self.prologue.items(), key=lambda item: item[0] != "~base")
        return "".join(line + self.gap() for _, line in declarations) + form


def generate(seed: int, evil: int, allowed: int) -> Iterator[tuple[str, bool, Text]]:
    """Texts whose calls all go to the allowed endpoint (about a quarter), whose one call
    does not (most: then only the guard's reading of that call can refuse the text), or
    several."""
    rng = random.Random(seed)
    for _ in range(CASES):
        text = Text(rng, evil, allowed, bad=rng.choice([0, 1, 1, 2, 2, 3]))
        text.spread = rng.choice([0.0, 0.0, 0.0, 0.5])
        update = rng.random() < 0.4
        yield (text.update() if update else text.query()), update, text


# --- the properties ----------------------------------------------------------------------


def test_nothing_the_guard_accepts_reaches_an_endpoint_it_does_not_allow(
    evil: Listener, allowed: Listener
) -> None:
    allow = frozenset({f"http://127.0.0.1:{allowed.port}/sparql"})
    wrongly_accepted, wrongly_refused, outcomes = [], [], {"accepted": 0, "refused": 0}
    for sparql, update, text in generate(20240901, evil.port, allowed.port):
        try:
            check_services(sparql, allow)
        except InputError as refusal:
            outcomes["refused"] += 1
            if not text.refuse:
                wrongly_refused.append((sparql, str(refusal)))
            continue
        outcomes["accepted"] += 1
        if text.refuse:
            wrongly_accepted.append(sparql)
        run_unguarded(sparql, update)
    assert wrongly_accepted == []
    assert wrongly_refused == []
    assert evil.connections() == 0
    assert min(outcomes.values()) > CASES // 10  # both kinds of text were generated


def test_the_generated_texts_do_reach_the_endpoint_without_the_guard(evil: Listener) -> None:
    reaching = [
        (sparql, update)
        for sparql, update, text in generate(20240902, evil.port, 1)
        if text.reaches
    ]
    for sparql, update in reaching:
        run_unguarded(sparql, update)
    # a SERVICE in a group that is never evaluated (GRAPH ?g over no graph) calls nothing
    assert evil.connections() > len(reaching) // 2


def test_the_inline_lane_takes_no_text_that_calls_a_service() -> None:
    """The inline lane evaluates without this guard: its reader must refuse them all."""
    texts = [s for s, update, t in generate(20240903, 9, 10) if not update and t.refuse]
    assert texts
    assert [s for s in texts if shape_of(s) is not None] == []


@pytest.mark.parametrize(
    ("text", "update"),
    [
        ("SELECT * WHERE { SERVICE <EVIL> {} }", False),
        # comments end at a carriage return: the SSRF of an update through `# x\r`
        ("INSERT { <a:a> <a:b> <a:c> } WHERE { # x\rSERVICE <EVIL> { } }", True),
        ("SELECT * WHERE { ?s ?p ?o # x\r\nSERVICE <EVIL> {} }", False),
        # an escape is read inside an IRI
        ("SELECT * WHERE { SERVICE <http://127.0.0.1:PORT/sp\\u0061rql> {} }", False),
        ("BASE <http://127.0.0.1:PORT/> SELECT * WHERE { SERVICE <sparql> {} }", False),
        # keywords need no word boundary
        ("SELECT * WHERE { SERVICESILENT<EVIL>{} }", False),
        ("SELECT * WHERE { BIND(1 AS ?x) ?x ?p trueSERVICE <EVIL> {} }", False),
        ("PREFIX : <http://127.0.0.1:PORT/> SELECT * WHERE { SERVICE:sparql {} }", False),
        ("PREFIX e: <http://127.0.0.1:PORT/> SELECT * WHERE { SERVICEe:sparql {} }", False),
        ("PREFIX : <http://127.0.0.1:PORT/> SELECT * WHERE { SERVICE silent:sparql {} }", False),
        # a local name takes one run of dots: `ex:a.b` `.` `service`
        ("PREFIX ex: <http://x/> SELECT * WHERE { ?s ?p ex:a.b.service<EVIL>{} }", False),
        # a prefixed name that makes no IRI is read again as its prefix, then a keyword
        ("PREFIX ct: <http://[::1]> SELECT * { VALUES ?x {1} ?x ?p ct:service<EVIL>{} }", False),
        # `<` after an operand in an expression is less-than, so `#` starts a comment
        ("PREFIX : <http://127.0.0.1:PORT/> SELECT * { FILTER(1<?y)SERVICE:x#>\n{} }", False),
        # a string whose escape names no character is read as "" and what follows as code
        ('SELECT * { VALUES ?x { """A" "B" } SERVICE <EVIL> {} # \\U00110000 """ }\n}', False),
        ("SELECT * { VALUES ?x { '''A' 'B' } SERVICE <EVIL> {} # \\uD800 ''' }\n}", False),
        ("LOAD SILENT <EVIL>", True),
        ("LOADSILENT<EVIL>", True),
        ("PREFIX : <http://127.0.0.1:PORT/> LOAD:sparql", True),
    ],
)
def test_what_pyoxigraph_calls_the_guard_refuses(evil: Listener, text: str, update: bool) -> None:
    sparql = text.replace("EVIL", "http://127.0.0.1:PORT/sparql").replace("PORT", str(evil.port))
    with pytest.raises(InputError):
        check_services(sparql, frozenset({"https://allowed.example/sparql"}))
    run_unguarded(sparql, update)
    assert evil.connections() == 1


@pytest.mark.parametrize(
    "text",
    [
        "SELECT * WHERE { SERV\\u0049CE <EVIL> {} }",  # no escapes outside strings and IRIs
        "SELECT * WHERE { ?s ?p ?o #x\fSERVICE <EVIL> {} }",  # a form feed ends no comment
        "SELECT * WHERE { ?s ?p ?o #x\u2028SERVICE <EVIL> {} }",
        "SELECT * WHERE { _:b.service<EVIL>{} }",  # a blank node label takes every dot
    ],
)
def test_what_pyoxigraph_does_not_call(evil: Listener, text: str) -> None:
    run_unguarded(text.replace("EVIL", f"http://127.0.0.1:{evil.port}/sparql"), update=False)
    assert evil.connections() == 0
