"""What a SPARQL 1.1 Update request changes, computed without running it on the store.

`update_delta(store, text)` returns, per graph, the triples the request adds and removes
and whether a named graph comes into being or goes: the write path validates that change
and commits it in one transaction with its provenance. Nothing here writes to the store,
nor copies it (but see the overlay below). The semantics are those of pyoxigraph's own
`Store.update` on the same store, with the stored default graph (`DefaultGraph()`, not
the union the service's queries see) as the default graph of every operation that names
none.

How each operation is computed (the operations run in order, each one seeing the changes
of the ones before it, which are kept as a pending delta per graph):

* **Syntax.** The whole request first runs on an empty in-memory `Store`: pyoxigraph's
  parser is the grammar, and an empty store makes that cheap. `SERVICE [SILENT] x` is
  written as `GRAPH x` for that run (the same grammar), so the check never opens a
  connection; `LOAD` is refused before anything. Errors of evaluation there (a missing
  graph, say) are ignored: only the real run below decides them.
* **INSERT DATA / DELETE DATA.** The operation's data runs as `INSERT DATA` on an empty
  scratch `Store`, which gives its quads (prefixes, base, literal normal forms and fresh
  blank nodes exactly as pyoxigraph makes them) without touching the store.
* **DELETE/INSERT … WHERE, DELETE WHERE.** The WHERE runs once, as a SELECT on the store
  with the operation's dataset (`WITH`, `USING`, `USING NAMED`, else `[DefaultGraph()]`
  and every named graph). The templates are then instantiated by pyoxigraph itself: on an
  empty scratch `Store`, `[WITH g] INSERT { template } WHERE { VALUES … }` with the
  solutions inlined as the VALUES table. That keeps Update's rules exactly — unbound or
  ill-typed template triples dropped, `GRAPH ?g` blocks, a template blank node fresh per
  solution and the same across the default and `GRAPH` parts of one solution — and both
  templates come from the same solutions (so `RAND()`, `NOW()` or `BNODE()` in the WHERE
  agree between what is deleted and what is inserted). A CONSTRUCT per template part
  would not: one template blank node would become several, and the WHERE would run once
  per part and per `GRAPH ?g` value. The SELECT projects the template's variables, and
  is DISTINCT unless the insert template mints blank nodes (each solution then counts).
  VALUES cannot hold blank nodes, so a stored blank node travels as a placeholder IRI
  (random per request) and is mapped back to the store's own `BlankNode` (same label),
  which is what removal needs.
* **Which instantiated triples are really new or really there.** A triple is looked up
  in the store only when the pending delta does not decide it. Fresh blank nodes, graphs
  the store does not hold and graphs already read need no lookup, nor does `DELETE
  WHERE` (what it matched is there). The rest go per graph: a `VALUES` join under a
  constant `GRAPH` (an index lookup per row, 1000 rows per query); blank nodes, which
  VALUES cannot carry, as query substitutions, one query per blank-node term. When a
  graph gets many lookups and holds at most 8 times as many triples (an `OFFSET` probe,
  bounded by that number), it is read once instead: cheaper, and still bounded by the
  change.
* **The overlay.** When a graph the WHERE can read has pending changes, the WHERE runs on
  a scratch in-memory `Store` holding the current content (store + pending delta) of just
  the graphs it can read: the dataset's default graphs and, when the WHERE holds a
  `GRAPH` pattern, the named graphs it names (constant IRIs) or, for `GRAPH ?g`, every
  named graph of its dataset (those `USING NAMED` lists, else all). This path costs the
  size of those graphs; every other WHERE runs on the store directly.
* **CLEAR / DROP / ADD / COPY / MOVE** read the graphs they empty or copy
  (`graph_triples`: the removed triples are the graph, so this is inherent). ADD, COPY
  and MOVE are evaluated as pyoxigraph evaluates them: `COPY a TO b` = `DROP SILENT b`
  then ADD; `MOVE a TO b` = `DROP SILENT b`, ADD, `DROP [SILENT] a`; nothing when a = b.

Cost therefore follows the change: what the WHERE matches, the triples named or made,
and the graphs emptied or copied — never the size of the store, except `DROP ALL` /
`CLEAR ALL` (which remove it) and the overlay above.

Errors are those pyoxigraph raises (`InputError` here): DROP / CLEAR of a missing graph
and CREATE of an existing one without SILENT, MOVE from a missing graph without SILENT.
As in pyoxigraph, ADD / COPY from a missing graph is no error (the W3C text lets a
service fail there or not), and a PREFIX or BASE after the first operation is a syntax
error (the W3C grammar allows one before each operation; the engine would carry it).
An insert into a graph named by a blank node (`GRAPH ?g`, ?g bound to one), which
pyoxigraph would make, is refused: the service's graphs are named by IRIs.

Protected graphs (the service's own: provenance, reference data, ontology) are read-only:
an operation that names one as its target (INSERT into it, CLEAR, DROP, CREATE, ADD /
COPY / MOVE to it, MOVE from it) or would remove a triple from it raises `ReadOnlyGraph`
naming it. `DROP ALL`, `CLEAR ALL`, `DROP NAMED` and `CLEAR NAMED` apply to every graph
except the protected ones. Reading them (WHERE, the source of ADD / COPY) is allowed.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from pyoxigraph import (
    BlankNode,
    DefaultGraph,
    Literal,
    NamedNode,
    Quad,
    QueryBoolean,
    QuerySolutions,
    Store,
    Triple,
    Variable,
)

from citytools.errors import InputError, ReadOnlyGraph
from citytools.service.sparql.lexer import Span, spans
from citytools.service.store.interface import GraphChange, GraphName, QueryResult, Term

LOAD_REFUSED = "LOAD is not accepted: send the data to /store instead"
_CHUNK = 1000  # VALUES rows per query / scratch update: bounded text, one round per chunk
# This many lookups in one graph or more, and the graph holds at most _READ_RATIO times as
# many triples: reading the graph is cheaper than looking each triple up (~10x per triple).
_READ_FROM = 64
_READ_RATIO = 8

_T = TypeVar("_T")
Row = tuple[Term | None, ...]
Item = tuple[GraphName, Triple]  # a triple in a graph (a Quad's graph may be a blank node)


class ReadStore(Protocol):
    """What the engine reads: the read methods of `GraphStore`."""

    def query(
        self,
        sparql: str,
        *,
        substitutions: dict[Variable, Term] | None = None,
        default_graph: Sequence[GraphName] | None = None,
        named_graphs: Sequence[NamedNode] | None = None,
    ) -> QueryResult:
        """`default_graph=None` is the union of all graphs: the engine always names it."""
        ...

    def graph_triples(self, graph: NamedNode | DefaultGraph) -> Iterator[Triple]: ...

    def named_graphs(self) -> list[NamedNode]: ...

    def has_graph(self, graph: NamedNode) -> bool: ...


@dataclass
class UpdateDelta:
    changes: dict[GraphName, GraphChange]  # only the graphs that change (content or existence)


def update_delta(
    store: ReadStore, update: str, *, protected: Collection[NamedNode] = ()
) -> UpdateDelta:
    """The change `update` makes to `store`; raises InputError (malformed, LOAD, an error
    the update itself raises) or ReadOnlyGraph (it would change a protected graph)."""
    tokens = list(spans(update))
    if any(kind == "word" and word.upper() == "LOAD" for kind, word, _, _ in tokens):
        raise InputError(LOAD_REFUSED)
    _check_syntax(update, tokens)
    engine = _Engine(store, frozenset(protected))
    for operation in _split(update, tokens):
        engine.run(operation)
    return engine.delta()


# --- the request's text -------------------------------------------------------------------


@dataclass(frozen=True)
class _Operation:
    prologue: str  # the PREFIX / BASE declarations in force, as written
    text: str  # the whole request (token offsets point into it)
    tokens: list[Span]

    def keyword(self, index: int) -> str:
        """The upper-case word at `index` ("" past the end or for a non-word)."""
        if index >= len(self.tokens) or self.tokens[index][0] != "word":
            return ""
        return self.tokens[index][1].upper()

    def group(self, start: int) -> tuple[str, int]:
        """The text of the `{ … }` group opening at token `start`, and its closing index."""
        depth = 0
        for index in range(start, len(self.tokens)):
            kind, word, _, end = self.tokens[index]
            if kind == "other" and word in "{}":
                depth += 1 if word == "{" else -1
                if depth == 0:
                    return self.text[self.tokens[start][2] : end], index
        raise _malformed("a '{' is not closed")

    def group_tokens(self, start: int) -> list[Span]:
        return self.tokens[start : self.group(start)[1] + 1]


def _malformed(detail: str) -> InputError:
    return InputError(f"malformed update: {detail}")


def _check_syntax(update: str, tokens: Sequence[Span]) -> None:
    """Let pyoxigraph parse the request, on an empty store and with no SERVICE call."""
    edits: list[tuple[int, int, str]] = []
    for index, (kind, word, start, end) in enumerate(tokens):
        if kind == "word" and word.upper() == "SERVICE":
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            if following and following[0] == "word" and following[1].upper() == "SILENT":
                end = following[3]
            edits.append((start, end, "GRAPH"))  # same grammar: SERVICE/GRAPH VarOrIri Group
    checked = update
    for start, end, replacement in reversed(edits):
        checked = checked[:start] + replacement + checked[end:]
    try:
        Store().update(checked)
    except SyntaxError as exc:
        raise _malformed(str(exc)) from None
    except (OSError, RuntimeError, ValueError):
        pass  # an evaluation error on the empty store: the real evaluation decides


def _split(update: str, tokens: Sequence[Span]) -> Iterator[_Operation]:
    """Each operation with the prologue in force: split at the `;` outside braces."""
    units: list[list[Span]] = [[]]
    depth = 0
    for token in tokens:
        kind, word = token[0], token[1]
        if kind == "other" and word in "{}":
            depth += 1 if word == "{" else -1
        if depth == 0 and kind == "other" and word == ";":
            units.append([])
        else:
            units[-1].append(token)
    prologue = ""
    for unit in units:
        index = 0
        while index < len(unit) and unit[index][0] == "word":
            keyword = unit[index][1].upper()
            size = 3 if keyword == "PREFIX" else 2 if keyword == "BASE" else 0
            if not size:
                break
            prologue += update[unit[index][2] : unit[index + size - 1][3]] + "\n"
            index += size
        if index < len(unit):
            yield _Operation(prologue, update, unit[index:])


def _resolve(prologue: str, terms: Sequence[str]) -> list[NamedNode]:
    """IRIs as written (`<…>`, prefixed, relative), resolved by pyoxigraph with the prologue."""
    if not terms:
        return []
    names = " ".join(f"?t{i}" for i in range(len(terms)))
    query = f"{prologue}SELECT * WHERE {{ VALUES ({names}) {{ ({' '.join(terms)}) }} }}"
    try:
        result = Store().query(query)
    except SyntaxError as exc:
        raise _malformed(str(exc)) from None
    assert isinstance(result, QuerySolutions)
    solution = next(iter(result))
    resolved = [solution[f"t{i}"] for i in range(len(terms))]
    if not all(isinstance(term, NamedNode) for term in resolved):
        raise _malformed(f"not an IRI among {' '.join(terms)}")
    return [term for term in resolved if isinstance(term, NamedNode)]


def _variables(tokens: Iterable[Span]) -> set[str]:
    return {word[1:] for kind, word, _, _ in tokens if kind == "word" and word[0] in "?$"}


def _makes_blank_nodes(tokens: Iterable[Span]) -> bool:
    """Whether a template can mint blank nodes: `_:x`, `[ … ]` or a collection `( … )`."""
    return any(
        (kind == "word" and word.startswith("_:")) or (kind == "other" and word in "[(")
        for kind, word, _, _ in tokens
    )


def _batched(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- the engine ---------------------------------------------------------------------------


@dataclass
class _Pending:
    """The change so far to one graph: `added` holds no stored triple, `removed` only stored
    ones; `stored` = the graph's stored triples once an operation had to read them (None:
    not read); `exists` = a named graph's existence now, once an operation set it."""

    added: set[Triple] = field(default_factory=set)
    removed: set[Triple] = field(default_factory=set)
    stored: set[Triple] | None = None
    exists: bool | None = None


@dataclass(frozen=True)
class _Dataset:
    default: tuple[GraphName, ...]
    named: tuple[NamedNode, ...] | None  # None: every named graph


class _Engine:
    def __init__(self, store: ReadStore, protected: frozenset[NamedNode]) -> None:
        self.store = store
        self.protected = protected
        self.pending: dict[GraphName, _Pending] = {}
        self.fresh: set[BlankNode] = set()  # blank nodes this request made: never stored
        self.mask = f"urn:x-citytools-bnode:{uuid.uuid4().hex}:"
        self.masks = 0  # placeholders written so far
        self._stored_graphs: dict[NamedNode, bool] = {}
        self._all_stored: list[NamedNode] | None = None

    # -- state --

    def delta(self) -> UpdateDelta:
        changes: dict[GraphName, GraphChange] = {}
        for graph, pending in self.pending.items():
            exists_after = None
            if isinstance(graph, NamedNode):
                before = self.in_store(graph)
                after = before if pending.exists is None else pending.exists
                exists_after = after if after != before else None
            if pending.added or pending.removed or exists_after is not None:
                changes[graph] = GraphChange(
                    added=set(pending.added),
                    removed=set(pending.removed),
                    exists_after=exists_after,
                )
        return UpdateDelta(changes)

    def in_store(self, graph: GraphName) -> bool:
        if isinstance(graph, DefaultGraph):
            return True
        if graph not in self._stored_graphs:
            self._stored_graphs[graph] = self.store.has_graph(graph)
        return self._stored_graphs[graph]

    def exists(self, graph: GraphName) -> bool:
        pending = self.pending.get(graph)
        if pending is not None and pending.exists is not None:
            return pending.exists
        return self.in_store(graph)

    def named_now(self) -> list[NamedNode]:
        """Every named graph that exists now."""
        if self._all_stored is None:
            self._all_stored = self.store.named_graphs()
            self._stored_graphs.update(dict.fromkeys(self._all_stored, True))
        graphs = dict.fromkeys(self._all_stored)
        graphs.update(dict.fromkeys(g for g in self.pending if isinstance(g, NamedNode)))
        return [g for g in graphs if isinstance(g, NamedNode) and self.exists(g)]

    def content(self, graph: GraphName) -> set[Triple]:
        """The graph's current triples (reads the stored graph, unless already read)."""
        return (self.stored(graph) - self.touch(graph).removed) | self.touch(graph).added

    def stored(self, graph: GraphName) -> set[Triple]:
        """The graph's stored triples, read once."""
        pending = self.touch(graph)
        if pending.stored is None:
            found = self.store.graph_triples(graph) if self.in_store(graph) else ()
            pending.stored = set(found)
        return pending.stored

    def _changed(self, graph: GraphName) -> bool:
        pending = self.pending.get(graph)
        return pending is not None and bool(
            pending.added or pending.removed or pending.exists is not None
        )

    def touch(self, graph: GraphName) -> _Pending:
        return self.pending.setdefault(graph, _Pending())

    def guard(self, graph: GraphName) -> None:
        if isinstance(graph, NamedNode) and graph in self.protected:
            raise ReadOnlyGraph(f"<{graph.value}> is kept by the service and is read-only")

    def clear(self, graph: GraphName) -> None:
        pending = self.touch(graph)
        pending.removed = set(self.stored(graph))
        pending.added = set()

    def drop(self, graph: GraphName) -> None:
        self.clear(graph)
        if isinstance(graph, NamedNode):
            self.touch(graph).exists = False

    def change(self, deletes: set[Item], inserts: set[Item], *, present: bool = False) -> None:
        """Delete, then insert; `present`: every item of `deletes` is known to be there now."""
        lookups = [] if present else [item for item in deletes if self._undecided(item)]
        lookups += [item for item in inserts if self._undecided(item)]
        looked_up = self._stored(lookups)

        def is_stored(item: Item) -> bool:
            pending = self.pending.get(item[0])
            if pending is not None and pending.stored is not None:
                return item[1] in pending.stored
            return item in looked_up  # it holds every undecided item that is stored

        def there(item: Item) -> bool:  # in the graph now, before this operation
            pending = self.pending.get(item[0])
            if pending is not None and item[1] in pending.added:
                return True
            if pending is not None and item[1] in pending.removed:
                return False
            return present or is_stored(item)

        gone = [item for item in deletes if there(item)]
        for graph in {graph for graph, _ in gone} | {graph for graph, _ in inserts}:
            self.guard(graph)
        for graph, triple in gone:
            pending = self.touch(graph)
            if triple in pending.added:
                pending.added.discard(triple)
            else:
                pending.removed.add(triple)
        for item in inserts:
            graph, triple = item
            pending = self.touch(graph)
            if triple in pending.removed:
                pending.removed.discard(triple)  # a stored triple, back
            elif triple not in pending.added and not is_stored(item):
                pending.added.add(triple)
            if isinstance(graph, NamedNode):
                pending.exists = True

    def _undecided(self, item: Item) -> bool:
        """Whether only the store can tell if `item` is stored."""
        graph, triple = item
        pending = self.pending.get(graph)
        if pending is not None and (
            pending.stored is not None or triple in pending.added or triple in pending.removed
        ):
            return False
        fresh = bool(self.fresh) and _has_blank(triple, self.fresh)
        return not fresh and self.in_store(graph)

    # -- looking quads up in the store --

    def _stored(self, items: Iterable[Item]) -> set[Item]:
        """The items among `items` that the store holds."""
        by_graph: dict[GraphName, list[Triple]] = {}
        for graph, triple in items:
            by_graph.setdefault(graph, []).append(triple)
        found: set[Item] = set()
        for graph, triples in by_graph.items():
            many = len(triples) >= _READ_FROM
            if many and not self._holds_more_than(graph, _READ_RATIO * len(triples)):
                known = self.stored(graph)  # a graph this small reads faster than lookups
            else:
                known = self._lookup(graph, triples)
            found.update((graph, t) for t in triples if t in known)
        return found

    def _holds_more_than(self, graph: GraphName, count: int) -> bool:
        """Whether the stored graph has more than `count` triples (costs `count` at most)."""
        pattern = "?s ?p ?o" if isinstance(graph, DefaultGraph) else f"GRAPH {graph} {{ ?s ?p ?o }}"
        query = f"ASK {{ {{ SELECT * WHERE {{ {pattern} }} OFFSET {count} LIMIT 1 }} }}"
        return bool(self._query(query, _STORED))

    def _lookup(self, graph: GraphName, triples: Sequence[Triple]) -> set[Triple]:
        """The triples among `triples` that the stored graph holds, by query."""
        plain: list[Triple] = []
        # Triples whose blank nodes stand alike (the same subject / object term holding
        # them) share one query, the blank nodes bound by substitution.
        shapes: dict[tuple[Term | None, Term | None], list[Triple]] = {}
        for triple in triples:
            if not _has_blank(triple, None):
                plain.append(triple)
                continue
            subject: Term | None = triple.subject if _has_term(triple.subject) else None
            obj: Term | None = triple.object if _has_term(triple.object) else None
            shapes.setdefault((subject, obj), []).append(triple)
        found = self._lookup_shape(graph, None, None, plain) if plain else set()
        for (subject, obj), group in shapes.items():
            found |= self._lookup_shape(graph, subject, obj, group)
        return found

    def _lookup_shape(
        self, graph: GraphName, subject: Term | None, obj: Term | None, triples: Sequence[Triple]
    ) -> set[Triple]:
        """Which of `triples` are stored; they share `subject` / `obj` when given (the terms
        holding blank nodes), the rest of each triple goes in a VALUES row."""
        substitutions: dict[Variable, Term] = {}
        columns = (
            ["?i", "?p"] + (["?s"] if subject is None else []) + (["?o"] if obj is None else [])
        )
        pattern_s = "?s" if subject is None else _pattern(subject, substitutions)
        pattern_o = "?o" if obj is None else _pattern(obj, substitutions)
        pattern = f"{pattern_s} ?p {pattern_o}"
        if isinstance(graph, NamedNode):
            pattern = f"GRAPH {graph} {{ {pattern} }}"
        found: set[Triple] = set()
        for chunk in _batched(triples, _CHUNK):
            rows = []
            for i, triple in enumerate(chunk):
                row = [str(i), str(triple.predicate)]
                row += [_text(triple.subject)] if subject is None else []
                row += [_text(triple.object)] if obj is None else []
                rows.append(f"({' '.join(row)})")
            table = f"VALUES ({' '.join(columns)}) {{ {' '.join(rows)} }}"
            result = self._query(
                f"SELECT * WHERE {{ {table} {pattern} }}", _STORED, substitutions=substitutions
            )
            found.update(chunk[int(_literal(s["i"]))] for s in _as_solutions(result))
        return found

    def _query(
        self,
        sparql: str,
        dataset: _Dataset,
        *,
        substitutions: dict[Variable, Term] | None = None,
        on: Store | None = None,
    ) -> QueryResult:
        try:
            if on is not None:
                return on.query(
                    sparql,
                    substitutions=substitutions,
                    default_graph=list(dataset.default),
                    named_graphs=None if dataset.named is None else list(dataset.named),
                )
            return self.store.query(
                sparql,
                substitutions=substitutions,
                default_graph=list(dataset.default),
                named_graphs=None if dataset.named is None else list(dataset.named),
            )
        except SyntaxError as exc:
            raise _malformed(str(exc)) from None
        except (OSError, RuntimeError, ValueError) as exc:  # e.g. a SERVICE that failed
            raise InputError(f"the update failed: {exc}") from None

    # -- operations --

    def run(self, op: _Operation) -> None:
        first = op.keyword(0)
        if first in ("INSERT", "DELETE", "WITH"):
            second = op.keyword(1)
            if second == "DATA":
                self._data(op, delete=first == "DELETE")
            elif first == "DELETE" and second == "WHERE":
                pattern, _ = op.group(2)
                self._modify(op, delete=(pattern, op.group_tokens(2)), where=2, delete_where=True)
            else:
                self._modify_clauses(op)
        elif first in ("CLEAR", "DROP"):
            self._clear(op, drop=first == "DROP")
        elif first == "CREATE":
            self._create(op)
        elif first in ("ADD", "COPY", "MOVE"):
            self._transfer(op, first)
        else:
            raise _malformed(f"unexpected {op.tokens[0][1]!r}")

    def _data(self, op: _Operation, *, delete: bool) -> None:
        body, _ = op.group(2)
        scratch = Store()
        try:
            scratch.update(f"{op.prologue}INSERT DATA {body}")
        except SyntaxError as exc:
            raise _malformed(str(exc)) from None
        items = {(_graph(quad), quad.triple) for quad in scratch}
        if delete:
            self.change(items, set())
        else:
            self.fresh.update(_blank_nodes(triple for _, triple in items))
            self.change(set(), items)

    def _modify_clauses(self, op: _Operation) -> None:
        index, with_term = 0, None
        delete = insert = None
        using: list[str] = []
        using_named: list[str] = []
        while index < len(op.tokens):
            keyword = op.keyword(index)
            if keyword == "WITH":
                with_term = op.tokens[index + 1][1]
                index += 2
            elif keyword in ("DELETE", "INSERT"):
                text, close = op.group(index + 1)
                clause = (text, op.tokens[index + 1 : close + 1])
                delete, insert = (clause, insert) if keyword == "DELETE" else (delete, clause)
                index = close + 1
            elif keyword == "USING" and op.keyword(index + 1) == "NAMED":
                using_named.append(op.tokens[index + 2][1])
                index += 3
            elif keyword == "USING":
                using.append(op.tokens[index + 1][1])
                index += 2
            elif keyword == "WHERE":
                self._modify(
                    op,
                    delete=delete,
                    insert=insert,
                    where=index + 1,
                    with_term=with_term,
                    using=(using, using_named),
                )
                return
            else:
                raise _malformed(f"unexpected {op.tokens[index][1]!r}")
        raise _malformed("a DELETE/INSERT without WHERE")

    def _modify(
        self,
        op: _Operation,
        *,
        where: int,  # the token opening the WHERE group
        delete_where: bool = False,
        delete: tuple[str, list[Span]] | None = None,
        insert: tuple[str, list[Span]] | None = None,
        with_term: str | None = None,
        using: tuple[list[str], list[str]] = ([], []),
    ) -> None:
        pattern, _ = op.group(where)
        pattern_tokens = op.group_tokens(where)
        target = _resolve(op.prologue, [with_term])[0] if with_term else None
        if using[0] or using[1]:  # USING replaces the dataset, WITH included (SPARQL 1.1 §3.1.3)
            dataset = _Dataset(
                tuple(_resolve(op.prologue, using[0])), tuple(_resolve(op.prologue, using[1]))
            )
        else:
            dataset = _Dataset((target,) if target else (DefaultGraph(),), None)
        templates = [t for t in (delete, insert) if t is not None]
        wanted = set().union(*(_variables(tokens) for _, tokens in templates))
        blank = insert is not None and _makes_blank_nodes(insert[1])
        columns, rows = self._solutions(
            op.prologue, pattern, pattern_tokens, dataset, wanted, blank
        )
        head = f"WITH {target} " if target else ""
        deletes = (
            self._instantiate(op.prologue + head, delete[0], columns, rows) if delete else set()
        )
        inserts = (
            self._instantiate(
                op.prologue + head, insert[0], columns, rows, insert=True, blank=blank
            )
            if insert
            else set()
        )
        self.change(deletes, inserts, present=delete_where)

    def _solutions(
        self,
        prologue: str,
        pattern: str,
        tokens: Sequence[Span],
        dataset: _Dataset,
        wanted: set[str],
        blank: bool,
    ) -> tuple[list[Variable], list[Row]]:
        """The WHERE's solutions, projected on the template variables. Each solution counts
        when the template mints blank nodes (one set per solution); otherwise distinct ones
        are enough."""
        on = self._overlay(prologue, tokens, dataset)
        if not wanted:  # a template without variables: what counts is how many solutions
            if blank:
                result = self._query(f"{prologue}SELECT * WHERE {pattern}", dataset, on=on)
                return [], [() for _ in _as_solutions(result)]
            found = self._query(f"{prologue}ASK WHERE {pattern}", dataset, on=on)
            return [], [()] if bool(found) else []
        columns = [Variable(name) for name in sorted(wanted)]
        select = "SELECT" if blank else "SELECT DISTINCT"
        query = f"{prologue}{select} {' '.join(map(str, columns))} WHERE {pattern}"
        result = _as_solutions(self._query(query, dataset, on=on))
        return columns, [tuple(solution) for solution in result]  # in projection order

    def _overlay(self, prologue: str, tokens: Sequence[Span], dataset: _Dataset) -> Store | None:
        """A scratch store with the current content of what the WHERE reads, if any of that
        has pending changes; None: the store itself is current for it."""
        readable: list[GraphName] = list(dataset.default)
        graph_terms = [
            tokens[i + 1]
            for i, (kind, word, _, _) in enumerate(tokens[:-1])
            if kind == "word" and word.upper() == "GRAPH"
        ]
        if graph_terms:
            if dataset.named is not None:
                readable += dataset.named
            elif any(kind != "iri" and word[0] in "?$" for kind, word, _, _ in graph_terms):
                # Every named graph: one dropped or made by this request changes what it reads.
                readable += [g for g in self.pending if isinstance(g, NamedNode)]
                readable += self.named_now()
            else:
                readable += _resolve(prologue, [word for _, word, _, _ in graph_terms])
        if not any(self._changed(g) for g in readable):
            return None
        scratch = Store()
        for graph in dict.fromkeys(readable):
            if isinstance(graph, NamedNode):
                if not self.exists(graph):
                    continue
                scratch.add_graph(graph)
            scratch.extend(
                Quad(t.subject, t.predicate, t.object, graph) for t in self.content(graph)
            )
        return scratch

    def _instantiate(
        self,
        head: str,
        template: str,
        columns: Sequence[Variable],
        rows: Sequence[Row],
        *,
        insert: bool = False,
        blank: bool = False,
    ) -> set[Item]:
        """The template's triples for the solutions, made by pyoxigraph on a scratch store;
        `blank`: the template mints blank nodes (fresh ones, never stored)."""
        items: set[Item] = set()
        names = " ".join(str(v) for v in columns)
        for chunk in _batched(rows, _CHUNK):
            masks = self.masks
            values = " ".join(f"({' '.join(self._value(t) for t in row)})" for row in chunk)
            scratch = Store()
            try:
                scratch.update(
                    f"{head}INSERT {template} WHERE {{ VALUES ({names}) {{ {values} }} }}"
                )
            except SyntaxError as exc:
                raise _malformed(str(exc)) from None
            for quad in scratch:
                if blank:
                    self.fresh.update(_blank_nodes([quad.triple]))
                if self.masks == masks:  # no placeholder in this chunk: nothing to map back
                    item: Item | None = (_graph(quad), quad.triple)
                else:
                    item = self._unmask(quad, insert=insert)
                if item is not None:
                    items.add(item)
        return items

    def _value(self, term: Term | None) -> str:
        """A solution's term as VALUES text; a stored blank node as its placeholder IRI."""
        if term is None:
            return "UNDEF"
        if isinstance(term, BlankNode):
            self.masks += 1
            return f"<{self.mask}{term.value}>"
        if isinstance(term, Triple):
            parts = (
                self._value(term.subject),
                self._value(term.predicate),
                self._value(term.object),
            )
            return f"<<( {' '.join(parts)} )>>"
        return str(term)

    def _unmask(self, quad: Quad, *, insert: bool) -> Item | None:
        """The quad with placeholders back as the store's blank nodes; None when that
        leaves it ill-typed (a blank node as predicate), as Update drops such a triple."""
        graph = quad.graph_name
        if isinstance(graph, NamedNode) and graph.value.startswith(self.mask):
            if insert:
                raise InputError(
                    "the update inserts into a graph named by a blank node: name graphs by IRIs"
                )
            return None  # no stored graph is named by a blank node: nothing to delete
        triple = self._unmask_triple(quad.triple)
        return None if triple is None else (_graph(quad), triple)

    def _unmask_triple(self, triple: Triple) -> Triple | None:
        parts: list[Term] = []
        for term in (triple.subject, triple.predicate, triple.object):
            if isinstance(term, NamedNode) and term.value.startswith(self.mask):
                parts.append(BlankNode(term.value[len(self.mask) :]))
            elif isinstance(term, Triple):
                inner = self._unmask_triple(term)
                if inner is None:
                    return None
                parts.append(inner)
            else:
                parts.append(term)
        subject, predicate, obj = parts
        if not isinstance(predicate, NamedNode) or not isinstance(subject, NamedNode | BlankNode):
            return None  # a stored blank node as predicate: ill-typed, Update drops it
        return Triple(subject, predicate, obj)

    def _graph_target(self, op: _Operation, index: int) -> tuple[GraphName, int]:
        """`DEFAULT`, `GRAPH x` or `x` at `index`: the graph and the index after it."""
        keyword = op.keyword(index)
        if keyword == "DEFAULT":
            return DefaultGraph(), index + 1
        if keyword == "GRAPH":
            index += 1
        return _resolve(op.prologue, [op.tokens[index][1]])[0], index + 1

    def _clear(self, op: _Operation, *, drop: bool) -> None:
        silent = op.keyword(1) == "SILENT"
        index = 2 if silent else 1
        scope = op.keyword(index)
        if scope in ("ALL", "NAMED"):
            graphs: list[GraphName] = [g for g in self.named_now() if g not in self.protected]
            if scope == "ALL":
                graphs.insert(0, DefaultGraph())
        else:
            graph, _ = self._graph_target(op, index)
            self.guard(graph)
            if not self.exists(graph):
                if silent:
                    return
                raise InputError(f"the graph {graph} does not exist (SILENT ignores this)")
            graphs = [graph]
        for graph in graphs:
            self.drop(graph) if drop else self.clear(graph)

    def _create(self, op: _Operation) -> None:
        silent = op.keyword(1) == "SILENT"
        graph, _ = self._graph_target(op, 3 if silent else 2)
        self.guard(graph)
        if self.exists(graph):
            if silent:
                return
            raise InputError(f"the graph {graph} already exists (SILENT ignores this)")
        self.touch(graph).exists = True

    def _transfer(self, op: _Operation, keyword: str) -> None:
        silent = op.keyword(1) == "SILENT"
        source, index = self._graph_target(op, 2 if silent else 1)
        target, _ = self._graph_target(op, index + 1)  # past TO
        self.guard(target)
        if keyword == "MOVE":
            self.guard(source)
        if source == target:
            return  # pyoxigraph: nothing at all (not even a check that the graph exists)
        content = self.content(source)
        if keyword != "ADD":
            self.drop(target)
        self.change(set(), {(target, triple) for triple in content})
        if keyword == "MOVE":
            if not self.exists(source):
                if silent:
                    return
                raise InputError(f"the graph {source} does not exist (SILENT ignores this)")
            self.drop(source)


_STORED = _Dataset((DefaultGraph(),), None)


def _as_solutions(result: QueryResult) -> QuerySolutions:
    if not isinstance(result, QuerySolutions):
        if isinstance(result, QueryBoolean):
            raise TypeError("expected solutions, got a boolean")
        raise TypeError("expected solutions, got triples")
    return result


def _graph(quad: Quad) -> GraphName:
    """The graph of a quad made here: the grammar puts no blank node there (a placeholder
    standing for one is refused or dropped by `_unmask`)."""
    graph = quad.graph_name
    if isinstance(graph, BlankNode):
        raise InputError("the update names a graph by a blank node: name graphs by IRIs")
    return graph


def _literal(term: Term | None) -> str:
    assert isinstance(term, Literal)
    return term.value


def _text(term: Term | GraphName) -> str:
    """A bnode-free term as SPARQL text (pyoxigraph prints N-Triples, valid SPARQL)."""
    if isinstance(term, Triple):
        return f"<<( {_text(term.subject)} {_text(term.predicate)} {_text(term.object)} )>>"
    return str(term)


def _pattern(term: Term, substitutions: dict[Variable, Term]) -> str:
    """A term as pattern text, its blank nodes as variables bound by `substitutions`."""
    if isinstance(term, BlankNode):
        variable = Variable(f"b{len(substitutions)}")
        substitutions[variable] = term
        return str(variable)
    if isinstance(term, Triple):
        parts = (_pattern(t, substitutions) for t in (term.subject, term.predicate, term.object))
        return f"<<( {' '.join(parts)} )>>"
    return str(term)


def _has_term(term: Term, among: set[BlankNode] | None = None) -> bool:
    """Whether `term` is or holds a blank node (one of `among`, when given)."""
    if isinstance(term, BlankNode):
        return among is None or term in among
    if isinstance(term, Triple):
        return any(_has_term(t, among) for t in (term.subject, term.predicate, term.object))
    return False


def _has_blank(triple: Triple, among: set[BlankNode] | None) -> bool:
    return _has_term(triple.subject, among) or _has_term(triple.object, among)


def _blank_nodes(triples: Iterable[Triple]) -> Iterator[BlankNode]:
    def walk(term: Term) -> Iterator[BlankNode]:
        if isinstance(term, BlankNode):
            yield term
        elif isinstance(term, Triple):
            for part in (term.subject, term.predicate, term.object):
                yield from walk(part)

    for triple in triples:
        yield from walk(triple.subject)
        yield from walk(triple.object)
