"""cdpc's CSV reader reads in Python only the lines that need it (quotes, CR, blank lines,
invalid UTF-8, the wrong width, and what an open quote takes in) and copies the others as
bytes: the clean file, the row count and the quarantine must be exactly what reading every
line gives. `_clean_every_line` (the reader applied to every record, as before the copying)
is the reference; the files are written to break the copying."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.run import rawcsv
from compiler.run.rawcsv import _clean_every_line, _header, clean_csv

COLUMNS = ("id", "name", "note")


def _both(tmp_path: Path, data: bytes, columns=COLUMNS):
    source = tmp_path / "in.csv"
    source.write_bytes(data)
    for name in ("fast.csv", "every.csv"):
        (tmp_path / name).unlink(missing_ok=True)
    fast = clean_csv(source, columns, tmp_path / "fast.csv")
    with source.open("rb") as handle:
        first = handle.readline()
        every = _clean_every_line(handle, _header(first), columns, tmp_path / "every.csv")
    return fast, every, (tmp_path / "fast.csv").read_bytes(), (tmp_path / "every.csv").read_bytes()


def test_a_file_mixing_good_quoted_lines_and_malformed_ones(tmp_path):
    data = (b'id,name,note\n'
            b'1,ann,plain\n'
            b'2,"Smith, Jr.","says ""hi"""\n'                # quoted commas and quotes: kept
            b'3,bob\n'                                        # too few cells
            b'4,"two\nlines",x\n'                            # a value over two lines
            b'5,5\'10" tall,x\n'                             # a stray quote, its line alone
            b'6,eve,x\n'
            b'7,\xff,x\n'                                     # not UTF-8
            b'\n'                                             # blank: skipped
            b'8,"",\r\n'                                      # '' and NULL, CRLF
            b'9,"a"b,x\n'                                     # text after a closing quote
            b'10,zed,last')                                   # no line end at the end
    fast, every, text, reference = _both(tmp_path, data)
    assert text == reference
    assert text == (b'id,name,note\n1,ann,plain\n"2","Smith, Jr.","says ""hi"""\n"4","two\nlines","x"\n'
                    b'6,eve,x\n"8","",\n10,zed,last\n')
    assert [(m.line, m.reason) for m in fast.malformed] == [
        (4, "row has 2 cells, header has 3"), (7, "unbalanced quote"), (9, "not valid UTF-8"),
        (12, "unbalanced quote")]
    assert fast.malformed == every.malformed and fast.rows == every.rows == 6
    read = (f"SELECT * FROM read_csv('{tmp_path / 'fast.csv'}', header = true, quote = '\"', escape = '\"', "
            "columns = {'id': 'VARCHAR', 'name': 'VARCHAR', 'note': 'VARCHAR'}, auto_detect = false, "
            "allow_quoted_nulls = false)")
    with duckdb.connect() as db:
        assert db.execute(read).fetchall() == [
            ("1", "ann", "plain"), ("2", "Smith, Jr.", 'says "hi"'), ("4", "two\nlines", "x"), ("6", "eve", "x"),
            ("8", "", None), ("10", "zed", "last")]


def test_a_stray_quote_far_from_any_other_is_its_line_alone_without_reading_on(tmp_path, monkeypatch):
    monkeypatch.setattr(rawcsv, "MAX_RECORD_LINES", 5)
    lines = [b"id,name,note", b'1,5\'10" tall,x'] + [b"%d,n,x" % i for i in range(2, 9)] + [b'9,"q",x']
    fast, every, text, reference = _both(tmp_path, b"\n".join(lines) + b"\n")
    assert text == reference and fast.malformed == every.malformed and fast.rows == every.rows == 8
    assert [m.line for m in fast.malformed] == [2]


def test_a_file_with_nothing_to_read_in_python_is_linked(tmp_path):
    fast, every, text, reference = _both(tmp_path, b"id,name,note\n1,a,b\n2,,c\n")
    assert (tmp_path / "fast.csv").is_symlink() and text == reference and fast.rows == every.rows == 2


# Lines made of the pieces that decide how a line is read; hypothesis puts them together.
_CELLS = [b"", b"a", b"b c", b'""', b'"x,y"', b'"q""q"', b'"multi\nline"', b'"open', b'close"', b"5'10\" tall",
          b'"a"b', b"\xff", b"\xc3\xa9", b"\r", b"\xef\xbb\xbf"]
_ENDS = [b"\n", b"\r\n", b""]


@st.composite
def _files(draw):
    width = draw(st.integers(1, 3))
    header = b",".join(name.encode() for name in COLUMNS[:width])
    bom = draw(st.sampled_from([b"", b"\xef\xbb\xbf"]))
    rows = []
    for _ in range(draw(st.integers(0, 30))):
        cells = draw(st.lists(st.sampled_from(_CELLS), min_size=0, max_size=width + 1))
        rows.append(b",".join(cells) + draw(st.sampled_from(_ENDS[:2])))
    return width, bom + header + draw(st.sampled_from(_ENDS[:2])) + b"".join(rows) + draw(st.sampled_from(_ENDS))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_files(), st.sampled_from([3, 1000]), st.sampled_from([5, 1 << 24]))
def test_copying_the_easy_lines_reads_what_reading_every_line_reads(tmp_path, monkeypatch, drawn, limit, chunk):
    width, data = drawn
    monkeypatch.setattr(rawcsv, "MAX_RECORD_LINES", limit)  # 3: the limit on lines is reached often
    monkeypatch.setattr(rawcsv, "_CHUNK", chunk)  # 5: the lines are checked in many chunks
    fast, every, text, reference = _both(tmp_path, data, COLUMNS[:width])
    assert text == reference
    assert (fast.rows, fast.malformed) == (every.rows, every.malformed)


@pytest.mark.parametrize("between", range(1, 7))
def test_an_open_quote_meets_the_next_one_exactly_within_the_limit_on_lines(tmp_path, monkeypatch, between):
    monkeypatch.setattr(rawcsv, "MAX_RECORD_LINES", 5)  # within it: one record over lines; past it: two malformed
    data = b"id,name,note\n" + b'1,"open\n' + b"a,b,c\n" * between + b'close",x\n2,z,x\n'
    fast, every, text, reference = _both(tmp_path, data)
    assert text == reference and (fast.rows, fast.malformed) == (every.rows, every.malformed)
    assert fast.rows == (2 if between < 4 else between + 1)


@pytest.mark.parametrize("size", range(6, 24))
def test_an_open_quote_meets_the_next_one_exactly_within_the_limit_on_bytes(tmp_path, monkeypatch, size):
    monkeypatch.setattr(rawcsv, "MAX_RECORD_BYTES", size)
    data = b"id,name,note\n" + b'1,"open\n' + b"a,b,c\n" * 2 + b'close",x\n2,z,x\n'  # 8 + 12 bytes before the quote
    fast, every, text, reference = _both(tmp_path, data)
    assert text == reference and (fast.rows, fast.malformed) == (every.rows, every.malformed)
    assert fast.rows == (2 if size > 20 else 3)
