"""A text shaped `dddd-dd-dd` is a date when its year, month and day name a day of the
calendar, year 1 or later (docs/reference.md §2.2). DuckDB checks it with its own date
cast, every other target by parts (dialects.py, YMD_IS_DATE): the two must agree on every
such text, and with Python's calendar."""

from __future__ import annotations

import datetime as dt

import duckdb
import sqlglot

from compiler.dialects import DIALECTS, lower, portable, render
from sqlglot import exp

YEARS = ["0000", "0001", "0004", "0100", "0400", "1582", "1900", "1999", "2000", "2023", "2024", "2100", "2400",
         "9999"]


def _is_date(text: str) -> bool:
    try:
        dt.date(int(text[:4]), int(text[5:7]), int(text[8:10]))
    except ValueError:
        return False
    return True


def _check(dialect: str) -> str:
    """The check as DuckDB SQL: DuckDB's own, or another target's by parts read as DuckDB."""
    tree = portable("YMD_IS_DATE", exp.column("v"))
    if dialect == "duckdb":
        return render(tree, DIALECTS["duckdb"])
    by_parts = lower(tree, DIALECTS[dialect])
    return sqlglot.transpile(by_parts.sql(dialect=dialect), read=dialect, write="duckdb")[0]


def test_duckdb_and_the_other_targets_agree_with_the_calendar_on_every_month_and_day():
    texts = [f"{y}-{m:02d}-{d:02d}{tail}" for y in YEARS for m in range(100) for d in range(100)
             for tail in ("", " 12:30:00")]
    connection = duckdb.connect()
    connection.execute("CREATE TABLE t AS SELECT unnest(?) AS v", [texts])
    expected = {t: _is_date(t) for t in texts}
    for dialect in ("duckdb", "postgres", "spark"):
        found = dict(connection.execute(f"SELECT v, {_check(dialect)} FROM t").fetchall())
        wrong = sorted(t for t in texts if found[t] != expected[t])
        assert not wrong, (dialect, wrong[:10])
    assert sum(expected.values()) == 2 * sum(366 if _is_date(f"{y}-02-29") else 365 for y in YEARS if y != "0000")
