"""Read a raw CSV export strictly, in Python, the same way for every engine.

Engines' own CSV readers disagree on broken input (one aborts, one guesses, one skips), so
cdpc reads the file itself: bytes, one physical line at a time, decoded per record, so that
one bad row is quarantined instead of failing the run. What comes out is a *clean* CSV that
every engine loads with its plain CSV reader: a header of the contract's columns, then one
line per well-formed record, NULL as an empty unquoted cell and every other value quoted
(a line with no quote in it, kept as it is, says the same). The malformed records are kept
aside with their line number and a reason. Nearly all lines of an export need no reading:
those are found at C speed and copied, and only the others go through the reader
(`_clean_hard_lines`), with the same result as reading every line (`_clean_every_line`).

The format read: UTF-8 (a leading byte-order mark is dropped), a header row, `,` between
cells, `"` quoting with `""` inside a quoted cell, `\\n` or `\\r\\n` line ends, a quoted cell
may span lines; an empty unquoted cell is NULL and `""` the empty text; blank lines are
skipped.
"""

from __future__ import annotations

import codecs
import csv
import operator
import re
from collections import deque
from dataclasses import dataclass, field
from itertools import accumulate, compress, repeat
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Iterator, Optional

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
    data = source.read_bytes()
    first_end = data.find(b"\n") + 1 or len(data)
    header = _header(data[:first_end])
    picks = [header.index(c) for c in columns]
    if picks != list(range(len(header))):
        with source.open("rb") as handle:
            handle.readline()
            return _clean_every_line(handle, header, columns, target)
    return _clean_hard_lines(source, data, first_end, columns, target)


def _clean_every_line(lines: Iterable[bytes], header: list[str], columns: tuple[str, ...], target: Path) -> CleanCsv:
    """The reader itself: every record of the file after its header row, one at a time."""
    picks = [header.index(c) for c in columns]
    all_columns = picks == list(range(len(header)))
    commas = len(header) - 1
    result = CleanCsv(target, columns)
    with target.open("w", encoding="utf-8", newline="") as out:
        out.write(",".join(columns) + "\n")
        batch: list[str] = []
        for line, record in _records(_Replay(enumerate(lines, start=2)), len(header)):
            cleaned = _plain_line(record, commas) if all_columns else None
            if cleaned is None:
                cleaned, reason = _clean_line(record, len(header), picks, all_columns)
                if reason is not None:
                    result.malformed.append(Malformed(line, reason, _lenient_cells(record, picks)))
                    continue
            if cleaned is not None:
                batch.append(cleaned)
                if len(batch) >= 10_000:
                    _write(out, batch, result)
        _write(out, batch, result)
    return result


def _clean_hard_lines(source: Path, data: bytes, body: int, columns: tuple[str, ...], target: Path) -> CleanCsv:
    """The same records as `_clean_every_line` when the file has the contract's columns in
    order, reading in Python only the lines that need it.

    A line with no quote, no CR, valid UTF-8, not blank and of the header's width is a record
    of its own already in clean form (the line `_plain_line` keeps), unless a quote left open
    before it takes it in. Such "easy" lines are told apart at C speed and copied as bytes;
    the record that starts on each "hard" line (every other one) is read by the reader itself
    (`_records`, `_clean_line`), and the copying goes on after it (the next record starts
    there: a stray quote's line is a record alone, the lines after it are read again). The
    output is byte for byte what reading every line gives (tests/test_rawcsv.py compares the
    two). A file with no hard line whose header is exactly the columns is linked, not copied:
    a plain name, engines read the path as given, never as a pattern."""
    hard = _hard_lines(data, body, len(columns) - 1)
    if not hard and data[:body].rstrip(b"\n") == ",".join(columns).encode("utf-8"):
        target.symlink_to(source.resolve())
        return CleanCsv(target, columns, data.count(b"\n", body) + (not data.endswith(b"\n") and len(data) > body))
    result = CleanCsv(target, columns)
    lines = _Lines(data, body)
    with target.open("wb") as out:
        out.write(",".join(columns).encode("utf-8") + b"\n")
        for number, offset in hard:
            if offset < lines.offset:
                continue  # read already, in a record that spans lines
            _copy(out, data, lines.offset, offset, result)
            lines.offset, lines.number = offset, number
            _read_record(out, lines, len(columns), result)
        _copy(out, data, lines.offset, len(data), result)
    return result


class _Replay:
    """The lines of a file as the reader takes them: (line number, bytes), the lines it puts
    back read again first."""

    def __init__(self, lines: Iterator[tuple[int, bytes]]):
        self.lines, self.again = lines, deque()

    def next(self) -> Optional[tuple[int, bytes]]:
        return self.again.popleft() if self.again else next(self.lines, None)

    def put_back(self, lines: list[tuple[int, bytes]]) -> None:
        self.again.extendleft(reversed(lines))

    def reaches_a_quote(self, first: bytes) -> bool:
        return True  # only reading on tells


class _Lines:
    """The lines of a file held in memory, from `offset` on, as the reader takes them: a
    line put back is read again by moving back to it (the lines put back are always the
    last ones read)."""

    def __init__(self, data: bytes, offset: int):
        self.data, self.offset, self.number = data, offset, 2  # line 1 is the header

    def next(self) -> Optional[tuple[int, bytes]]:
        if self.offset >= len(self.data):
            return None
        end = self.data.find(b"\n", self.offset) + 1 or len(self.data)
        line = (self.number, self.data[self.offset:end])
        self.offset, self.number = end, self.number + 1
        return line

    def put_back(self, lines: list[tuple[int, bytes]]) -> None:
        self.offset -= sum(len(raw) for _, raw in lines)
        self.number = lines[0][0]

    def reaches_a_quote(self, first: bytes) -> bool:
        """Whether `_open_record`, given the line `first` just read, would read on as far as
        the next line that holds a quote (a line without one never closes a record)."""
        quote = self.data.find(b'"', self.offset)
        if quote < 0:
            return False
        start = self.data.rfind(b"\n", self.offset, quote) + 1 or self.offset
        return self.data.count(b"\n", self.offset, start) + 1 < MAX_RECORD_LINES and \
            len(first) + start - self.offset < MAX_RECORD_BYTES


def _read_record(out: BinaryIO, lines: _Lines, width: int, result: CleanCsv) -> None:
    """The record that starts at `lines`' position, read as `_clean_every_line` reads it."""
    picks = list(range(width))
    line, record = next(_records(lines, width))
    cleaned, reason = _clean_line(record, width, picks, True)
    if reason is not None:
        result.malformed.append(Malformed(line, reason, _lenient_cells(record, picks)))
    elif cleaned is not None:
        out.write(cleaned.encode("utf-8") + b"\n")
        result.rows += 1


def _copy(out: BinaryIO, data: bytes, start: int, end: int, result: CleanCsv) -> None:
    """Easy lines, as they are (the last one given its line end)."""
    if start >= end:
        return
    out.write(data[start:end])
    result.rows += data.count(b"\n", start, end)
    if data[end - 1] != 0x0A:
        out.write(b"\n")
        result.rows += 1


_CHUNK = 1 << 24


def _hard_lines(data: bytes, body: int, commas: int) -> list[tuple[int, int]]:
    """(line number, offset) of every line after the header that is not easy, in file order."""
    starts: set[int] = set()
    for byte in (b'"', b"\r"):  # few lines have either: found by searching, not per line
        at = data.find(byte, body)
        while at >= 0:
            starts.add(data.rfind(b"\n", body, at) + 1 or body)
            at = data.find(byte, data.find(b"\n", at) + 1 or len(data))
    start = body
    while start < len(data):
        end = data.find(b"\n", min(start + _CHUNK, len(data) - 1)) + 1 or len(data)
        starts.update(_invalid_utf8(data, start, end))
        rows = data[start:end].split(b"\n")
        if data[end - 1] == 0x0A:
            rows.pop()  # the chunk ends with a line end: nothing after it
        sizes = list(map(len, rows))
        odd = set(compress(range(len(rows)), map(commas.__ne__, map(bytes.count, rows, repeat(b",")))))
        odd.update(compress(range(len(rows)), map(operator.not_, sizes)))  # blank lines
        if odd:
            offsets = list(accumulate(sizes, initial=0))
            starts.update(start + offsets[i] + i for i in odd)  # + i: the line ends before line i
        start = end
    hard, number, previous = [], 2, body
    for offset in sorted(starts):
        number += data.count(b"\n", previous, offset)
        hard.append((number, offset))
        previous = offset
    return hard


def _invalid_utf8(data: bytes, start: int, end: int) -> list[int]:
    """The offsets of the lines in data[start:end] that are not valid UTF-8, in one pass (a
    multi-byte character never holds a line end: the lines decode when the chunk does)."""
    found: list[int] = []

    def skip(exc: UnicodeDecodeError) -> tuple[str, int]:
        at = start + exc.start
        found.append(data.rfind(b"\n", start, at) + 1 or start)
        return "", (data.find(b"\n", at, end) + 1 or end) - start

    codecs.register_error(_SKIP_LINE, lambda exc: skip(exc))
    try:
        codecs.utf_8_decode(memoryview(data)[start:end], _SKIP_LINE, True)
    finally:
        codecs.register_error(_SKIP_LINE, _refuse)
    return found


_SKIP_LINE = "cdpc-rawcsv-skip-line"


def _refuse(exc: UnicodeDecodeError) -> tuple[str, int]:
    raise exc


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


def _records(lines: _Replay | _Lines, width: int) -> Iterator[tuple[int, bytes]]:
    """(first line number, bytes) per record: physical lines joined while a quote is open.

    A record that spans lines but turns out malformed is most likely a stray quote that
    swallowed the lines after it (a real multi-line value gives a record of the right width):
    only its first line is given up (as a one-line record, which then reads as malformed),
    and the lines after it are put back, to be read again. A quote that cannot meet another
    within the limits of `_open_record` is known not to close without reading on."""
    while (line := lines.next()) is not None:
        if line[1].count(b'"') % 2 == 0 or not lines.reaches_a_quote(line[1]):
            yield line  # the common case: the record is this one line
            continue
        pending, closed = _open_record(line, lines)
        record = b"".join(raw for _, raw in pending)
        if len(pending) > 1 and (not closed or _spans_badly(record, width)):
            lines.put_back(pending[1:])
            yield pending[0]
            continue
        yield pending[0][0], record


def _open_record(first: tuple[int, bytes], lines: _Replay | _Lines) -> tuple[list[tuple[int, bytes]], bool]:
    """The lines of a record whose first line leaves a quote open, and whether it closes."""
    pending, quotes, size = [first], first[1].count(b'"'), len(first[1])
    while len(pending) < MAX_RECORD_LINES and size < MAX_RECORD_BYTES:
        line = lines.next()
        if line is None:
            return pending, False
        pending.append(line)
        quotes += line[1].count(b'"')
        size += len(line[1])
        if quotes % 2 == 0:
            return pending, True
    return pending, False


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
