"""Many triples with literal objects, built fast.

In pyoxigraph 0.5.13 `Triple(s, p, Literal(...))` costs ~4 µs, ten times a
`Triple` of three `NamedNode`s: the object argument is matched against each
term type in turn and every failed match builds an error. Written as
N-Triples text and created by pyoxigraph's parser, such a triple costs about
half as much, which matters at a million triples. Only the inventory loader's
per-row literals go this way; everything else builds `Triple`s directly.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from pyoxigraph import RdfFormat, Triple, parse

# N-Triples string escapes (a cell may hold quotes, backslashes or newlines)
_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r"})
_FLUSH_AT = 5_000  # chunks per parse: bounds the text held in memory


def escape(text: str) -> str:
    """Text as the inside of an N-Triples string literal."""
    if '"' in text or "\\" in text or "\n" in text or "\r" in text:
        return text.translate(_ESCAPES)
    return text


class LiteralTriples:
    """Collects N-Triples statements and appends them to `out` as `Triple`s.

    Callers write the statements themselves (`<s> <p> "lexical"^^<datatype> .`)
    with IRIs minted by our code, so the parser runs in lenient mode and does
    not check them again; lexical forms must go through `escape`.
    """

    def __init__(self, out: list[Triple]) -> None:
        self._out = out
        self._chunks: list[str] = []

    def append(self, statements: str) -> None:
        self._chunks.append(statements)
        if len(self._chunks) >= _FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        if self._chunks:
            text = "".join(self._chunks)
            self._chunks.clear()
            self._out.extend(q.triple for q in parse(text, RdfFormat.N_TRIPLES, lenient=True))


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a loader allocates a million small objects.

    Triples hold no reference cycles, yet every collection would walk them all;
    pausing saves a third of the time of a large inventory.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
