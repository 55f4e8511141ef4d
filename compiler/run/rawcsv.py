"""Read a raw CSV export strictly, in Python, the same way for every engine.

Engines' own CSV readers disagree on broken input (one aborts, one guesses, one skips), so
cdpc reads the file itself: bytes, one physical line at a time, decoded per record, so that
one bad row is quarantined instead of failing the run. What comes out is a *clean* CSV that
every engine loads with its plain CSV reader: a header of the contract's columns, then one
line per well-formed record, NULL as an empty unquoted cell and every other value quoted.
The malformed records are kept aside with their line number and a reason.

The format read: UTF-8 (a leading byte-order mark is dropped), a header row, `,` between
cells, `"` quoting with `""` inside a quoted cell, `\\n` or `\\r\\n` line ends, a quoted cell
may span lines; an empty unquoted cell is NULL and `""` the empty text; blank lines are
skipped.
"""

from __future__ import annotations

import csv
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterator, Optional

BOM = b"\xef\xbb\xbf"
# A quoted value spanning more lines than this is taken for an unbalanced quote: without a
# bound one stray `"` would make the rest of the file a single record held in memory.
MAX_RECORD_LINES = 1000
MAX_RECORD_BYTES = 1 << 20
# One cell: quoted (group 1, `""` inside) or unquoted (group 2, no quote in it).
_CELL = re.compile(r'"((?:[^"]|"")*)"|([^,"]*)')


class HeaderError(Exception):
    """The header row cannot be used; `line` and `col` locate the problem (1-based)."""

    def __init__(self, message: str, line: int = 1, col: int = 1):
        super().__init__(message)
        self.line, self.col = line, col


@dataclass(frozen=True)
class Malformed:
    line: int  # the record's first physical line
    reason: str  # "row has 7 cells, header has 8", "unbalanced quote", "not valid UTF-8"
    cells: tuple[Optional[str], ...]  # the contract's columns, as far as they could be read


@dataclass
class CleanCsv:
    path: Path  # the clean file: header of `columns`, every non-NULL value quoted
    columns: tuple[str, ...]
    rows: int = 0
    malformed: list[Malformed] = field(default_factory=list)


def read_header(path: Path) -> list[str]:
    """The column names of a CSV file's header row (HeaderError when it is unusable)."""
    with path.open("rb") as handle:
        first = handle.readline()
    return _header(first)


def clean_csv(source: Path, columns: tuple[str, ...], target: Path) -> CleanCsv:
    """Write the records of `source` that are well formed to `target`, keeping `columns` (by name)."""
    already = _already_clean(source, columns, target)
    if already is not None:
        return already
    with source.open("rb") as handle:
        header = _header(handle.readline())
        picks = [header.index(c) for c in columns]
        all_columns = picks == list(range(len(header)))
        commas = len(header) - 1
        result = CleanCsv(target, columns)
        with target.open("w", encoding="utf-8", newline="") as out:
            out.write(",".join(columns) + "\n")
            batch: list[str] = []
            for line, record in _records(handle, len(header)):
                cleaned = _plain_line(record, commas) if all_columns else None
                if cleaned is not None:  # the common case, checked at C speed
                    batch.append(cleaned)
                    if len(batch) >= 10_000:
                        _write(out, batch, result)
                    continue
                cleaned, reason = _clean_line(record, len(header), picks, all_columns)
                if reason is not None:
                    result.malformed.append(Malformed(line, reason, _lenient_cells(record, picks)))
                elif cleaned is not None:
                    batch.append(cleaned)
                    if len(batch) >= 10_000:
                        _write(out, batch, result)
            _write(out, batch, result)
    return result


def _already_clean(source: Path, columns: tuple[str, ...], target: Path) -> Optional[CleanCsv]:
    """A file that is already in clean form needs no rewrite: its header is exactly `columns`
    (no byte-order mark), it holds no quote and no CR, it is valid UTF-8 and every line has the
    header's width (each checked at C speed, per line only for the comma count). Then `target`
    is a link to it (a plain name: engines read the path as given, never as a pattern), and
    rewriting 3M records in Python (~3 us each) is skipped. Anything else: None."""
    data = source.read_bytes()
    if b'"' in data or b"\r" in data:
        return None
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if not lines or lines[0] != ",".join(columns).encode("utf-8"):
        return None
    commas = len(columns) - 1
    if any(not line or line.count(b",") != commas for line in lines):
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    target.symlink_to(source.resolve())
    return CleanCsv(target, columns, len(lines) - 1)


def _write(out, batch: list[str], result: CleanCsv) -> None:
    if batch:
        out.write("\n".join(batch) + "\n")
        result.rows += len(batch)
        batch.clear()


def _header(first: bytes) -> list[str]:
    if first.startswith(BOM):
        first = first[len(BOM):]  # a byte-order mark is not part of the first column's name
    if not first.strip():
        raise HeaderError("the file is empty: expected a header row")
    try:
        text = _strip_line_end(first).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HeaderError("the header row is not valid UTF-8", col=exc.start + 1) from None
    spans = _cell_spans(text)
    if spans is None:
        raise HeaderError("the header row has an unbalanced quote")
    names = [name or "" for name, _ in spans]
    seen: dict[str, int] = {}
    for name, start in spans:
        if name in seen:
            raise HeaderError(f"the header row names column `{name}` twice (columns {seen[name]} and "
                              f"{len(seen) + 1})", col=start + 1)
        seen[name or ""] = len(seen) + 1
    return names


def _records(handle: BinaryIO, width: int) -> Iterator[tuple[int, bytes]]:
    """(first line number, bytes) per record: physical lines joined while a quote is open.

    A record that spans lines but turns out malformed is most likely a stray quote that
    swallowed the lines after it (a real multi-line value gives a record of the right width):
    only its first line is given up (as a one-line record, which then reads as malformed),
    and the lines after it are read again."""
    lines = enumerate(handle, start=2)  # line 1 is the header
    again: deque[tuple[int, bytes]] = deque()
    while (line := _next_line(again, lines)) is not None:
        if line[1].count(b'"') % 2 == 0:
            yield line  # the common case: the record is this one line
            continue
        pending, closed = _open_record(line, again, lines)
        record = b"".join(raw for _, raw in pending)
        if len(pending) > 1 and (not closed or _spans_badly(record, width)):
            yield pending[0]
            again.extendleft(reversed(pending[1:]))
            continue
        yield pending[0][0], record


def _open_record(first: tuple[int, bytes], again: deque, lines) -> tuple[list[tuple[int, bytes]], bool]:
    """The lines of a record whose first line leaves a quote open, and whether it closes."""
    pending, quotes, size = [first], first[1].count(b'"'), len(first[1])
    while len(pending) < MAX_RECORD_LINES and size < MAX_RECORD_BYTES:
        line = _next_line(again, lines)
        if line is None:
            return pending, False
        pending.append(line)
        quotes += line[1].count(b'"')
        size += len(line[1])
        if quotes % 2 == 0:
            return pending, True
    return pending, False


def _next_line(again: deque, lines: Iterator[tuple[int, bytes]]) -> Optional[tuple[int, bytes]]:
    return again.popleft() if again else next(lines, None)


def _spans_badly(record: bytes, width: int) -> bool:
    """A multi-line record that does not read as `width` cells: its opening quote was a stray one."""
    try:
        cells = _cells(_strip_line_end(record).decode("utf-8"))
    except UnicodeDecodeError:
        return True
    return cells is None or len(cells) != width


def _plain_line(record: bytes, commas: int) -> Optional[str]:
    """A line with no quote, no stray CR, valid UTF-8 and the header's width is already in
    clean form (an empty cell is NULL in both): the line itself, else None."""
    if b'"' in record:
        return None
    body = record[:-2] if record.endswith(b"\r\n") else record[:-1] if record.endswith(b"\n") else record
    if not body or b"\r" in body or body.count(b",") != commas:
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _clean_line(record: bytes, width: int, picks: list[int], all_columns: bool) -> tuple[Optional[str], Optional[str]]:
    """(the record as a line of the clean file, None), or (None, why it is malformed);
    (None, None) for a blank line."""
    body = _strip_line_end(record)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None, "not valid UTF-8"
    if not text:
        return None, None
    if '"' not in text and "\r" not in text:
        # the common case, at C speed: nothing quoted, so the line is already in clean form
        # (an empty cell is NULL in both)
        count = text.count(",") + 1
        if count != width:
            return None, f"row has {count} cells, header has {width}"
        if all_columns:
            return text, None
        cells = text.split(",")
        return ",".join(cells[i] for i in picks), None
    cells = _cells(text)
    if cells is None:
        return None, "unbalanced quote"
    if len(cells) != width:
        return None, f"row has {len(cells)} cells, header has {width}"
    return ",".join(_quoted(cells[i]) for i in picks), None


def _quoted(value: Optional[str]) -> str:
    return "" if value is None else '"' + value.replace('"', '""') + '"'


def _cells(text: str) -> Optional[list[Optional[str]]]:
    spans = _cell_spans(text)
    return None if spans is None else [value for value, _ in spans]


def _cell_spans(text: str) -> Optional[list[tuple[Optional[str], int]]]:
    """(value, start offset) per cell; None when a quote is out of place or left open."""
    cells: list[tuple[Optional[str], int]] = []
    position = 0
    while True:
        match = _CELL.match(text, position)
        quoted, plain = match.group(1), match.group(2)
        value = quoted.replace('""', '"') if quoted is not None else (plain or None)
        cells.append((value, position))
        position = match.end()
        if position == len(text):
            return cells
        if text[position] != ",":
            return None  # a quote inside an unquoted cell, text after a closing quote, or no closing quote
        position += 1


def _lenient_cells(record: bytes, picks: list[int]) -> tuple[Optional[str], ...]:
    """The contract's columns of a malformed record, read as well as possible, for the quarantine."""
    text = _strip_line_end(record).decode("utf-8", errors="replace")
    cells = _cells(text)
    if cells is None:
        parsed = next(csv.reader([text.replace("\r", "")]), [])
        cells = [value or None for value in parsed]
    return tuple(cells[i] if i < len(cells) else None for i in picks)


def _strip_line_end(raw: bytes) -> bytes:
    if raw.endswith(b"\n"):
        raw = raw[:-1]
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    return raw
