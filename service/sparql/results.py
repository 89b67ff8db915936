"""A query result written in the negotiated format, cut after `max_results` solutions or
triples.

pyoxigraph serialises whole results only. So a result is first written natively in a
line format (TSV for solutions, N-Triples for triples: one solution or triple per line,
newlines inside literals escaped) into a writer that stops the serialiser once it holds
one line more than allowed; the kept lines are then parsed back and written in the wanted
format. No solution passes through Python one by one, and a huge result is never built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, cast

from pyoxigraph import (
    QueryBoolean,
    QueryResultsFormat,
    QuerySolutions,
    QueryTriples,
    RdfFormat,
    parse,
    parse_query_results,
    serialize,
)

from citytools.errors import InputError


@dataclass(frozen=True)
class Written:
    body: bytes
    media_type: str
    rows: int
    truncated: bool


class _Enough(Exception):
    """Raised through pyoxigraph's serialiser to stop it."""


class _LineLimit:
    """A binary sink that keeps the first `header + limit` lines and stops the writer when
    there is at least one more."""

    def __init__(self, header: int, limit: int) -> None:
        self.keep = header + limit
        self.lines = 0
        self.chunks: list[bytes] = []
        self.truncated = False

    def write(self, data: bytes) -> int:
        chunk = bytes(data)
        count = chunk.count(b"\n")
        if self.lines + count <= self.keep:
            self.chunks.append(chunk)
            self.lines += count
            return len(chunk)
        end = -1
        for _ in range(self.keep - self.lines):
            end = chunk.index(b"\n", end + 1)
        self.chunks.append(chunk[: end + 1])
        self.lines = self.keep
        self.truncated = True
        raise _Enough

    def flush(self) -> None:
        return None

    def value(self) -> bytes:
        return b"".join(self.chunks)


def solutions_format(media_type: str) -> QueryResultsFormat:
    fmt = QueryResultsFormat.from_media_type(media_type)
    if fmt is None:
        raise InputError(f"{media_type} is not a SPARQL results format")
    return fmt


def graph_format(media_type: str) -> RdfFormat:
    fmt = RdfFormat.from_media_type(media_type)
    if fmt is None:
        raise InputError(f"{media_type} is not an RDF format")
    return fmt


def write_boolean(result: QueryBoolean, fmt: QueryResultsFormat) -> Written:
    return Written(result.serialize(format=fmt) or b"", fmt.media_type, 1, False)


def write_solutions(result: QuerySolutions, fmt: QueryResultsFormat, limit: int) -> Written:
    sink = _bounded(result, header=1, limit=limit)
    tsv = sink.value()
    rows = sink.lines - 1
    if fmt != QueryResultsFormat.TSV:
        parsed = parse_query_results(tsv, format=QueryResultsFormat.TSV)
        return Written(parsed.serialize(format=fmt) or b"", fmt.media_type, rows, sink.truncated)
    return Written(tsv, fmt.media_type, rows, sink.truncated)


def write_triples(result: QueryTriples, fmt: RdfFormat, limit: int) -> Written:
    """Triples in `fmt`; a dataset format (TriG, N-Quads) puts them in the default graph."""
    sink = _bounded(result, header=0, limit=limit)
    ntriples = sink.value()
    if fmt in (RdfFormat.N_TRIPLES, RdfFormat.N_QUADS):  # N-Triples lines are N-Quads too
        body = ntriples
    else:
        quads = parse(ntriples, format=RdfFormat.N_TRIPLES)
        statements = quads if fmt.supports_datasets else (quad.triple for quad in quads)
        body = serialize(statements, format=fmt) or b""
    return Written(body, fmt.media_type, sink.lines, sink.truncated)


def _bounded(result: QuerySolutions | QueryTriples, *, header: int, limit: int) -> _LineLimit:
    sink = _LineLimit(header, limit)
    output = cast("IO[bytes]", sink)
    try:
        if isinstance(result, QuerySolutions):
            result.serialize(output, format=QueryResultsFormat.TSV)
        else:
            result.serialize(output, format=RdfFormat.N_TRIPLES)
    except _Enough:
        pass
    except Exception:
        if not sink.truncated:  # the stop may come back wrapped; anything else is real
            raise
    return sink
