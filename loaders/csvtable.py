"""Reading a UTF-8 CSV with a header row, keeping the file line of every record.

Lines count from 1 at the top of the file (the header is line 1 when it comes
first); a record spanning several lines (a quoted newline) is reported at the
line it starts on. Blank lines and rows of empty cells are skipped; a byte
order mark is tolerated. Text that is not UTF-8, a missing header and broken
quoting raise `InputError` naming the line; header and row-shape problems are
loader violations, so the whole report reaches the user at once.
"""

from __future__ import annotations

import csv
import io
from _csv import Reader
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from citytools.errors import InputError
from citytools.loaders.base import Parsed


@dataclass
class Table:
    header_line: int
    index: tuple[int, ...]  # per expected column, its position in the file (-1: absent)
    rows: Iterator[tuple[int, list[str]]]  # (line, stripped cells in expected-column order)


def decode(data: bytes, source: str) -> str:
    """UTF-8 text without a BOM, or InputError naming the line of the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(
            f"{source}: line {line}: the file is not UTF-8 text "
            f"(byte 0x{data[exc.start]:02x} cannot be decoded); save it as UTF-8"
        ) from None


def header_names(text: str) -> tuple[int, list[str]]:
    """(line, normalised column names) of the first non-blank line; (0, []) when none."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                return reader.line_num, [cell.strip().lower() for cell in row]
    except csv.Error:
        return 0, []
    return 0, []


def read_table(
    data: bytes,
    *,
    source: str,
    columns: Sequence[str],
    required: Sequence[str],
    parsed: Parsed,
) -> Table | None:
    """The table's rows in `columns` order; None (with violations) when the header is unusable."""
    reader = csv.reader(io.StringIO(decode(data, source), newline=""), strict=True)
    header: list[str] = []
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                header = [cell.strip().lower() for cell in row]
                break
    except csv.Error as exc:
        raise _malformed(source, reader.line_num, exc) from None
    line = reader.line_num
    if not set(header) & set(columns):
        raise InputError(
            f"{source}: line {max(line, 1)}: no header row; the first line must name the "
            f"columns, e.g. {','.join(columns)}"
        )
    if not _header_ok(header, line, columns, required, parsed):
        return None
    position = {name: i for i, name in enumerate(header)}
    index = tuple(position.get(name, -1) for name in columns)
    return Table(line, index, _rows(reader, source, index, len(header), parsed))


def _header_ok(
    header: list[str],
    line: int,
    columns: Sequence[str],
    required: Sequence[str],
    parsed: Parsed,
) -> bool:
    ok = True
    unknown = [name for name in header if name not in columns]
    if unknown:
        parsed.violation(
            line,
            f"unknown column(s) {_quoted(unknown)}; the columns are {', '.join(columns)}",
            value=",".join(unknown),
        )
        ok = False
    doubled = sorted({name for name in header if header.count(name) > 1})
    if doubled:
        parsed.violation(line, f"column(s) {_quoted(doubled)} given more than once")
        ok = False
    missing = [name for name in required if name not in header]
    if missing:
        parsed.violation(
            line,
            f"missing required column(s) {_quoted(missing)}",
            value=",".join(missing),
        )
        ok = False
    return ok


def _rows(
    reader: Reader,
    source: str,
    index: tuple[int, ...],
    width: int,
    parsed: Parsed,
) -> Iterator[tuple[int, list[str]]]:
    line_num = reader.line_num
    while True:
        start = line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise _malformed(source, reader.line_num, exc) from None
        line_num = reader.line_num
        if len(row) != width:
            if not any(cell.strip() for cell in row):
                continue
            parsed.violation(start, f"{len(row)} fields where the header has {width}")
            continue
        cells = [row[i].strip() if i >= 0 else "" for i in index]
        if any(cells):
            yield start, cells


def _malformed(source: str, line: int, exc: csv.Error) -> InputError:
    return InputError(f"{source}: line {line}: malformed CSV: {exc}")


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)
