"""How a definition test's expected rows meet the rows a run left, and how a failure reads.

Values compare by the type of the column they meet (docs/reference.md §6.2): numbers
numerically (a double to the digits written), timestamps and dates as instants, booleans as
booleans, text exactly, NULL only with null, lists element by element. Rows match on the
columns the expected row names; which expected row takes which actual row is a maximum
bipartite matching, so rows are a multiset and their order never matters. A failure is
printed with the expected and the actual rows side by side.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Optional

from ..diagnostics import Location


@dataclass
class Line:
    """One line of a failure's side-by-side table: an expected row, an actual row, or both."""

    mark: str  # "=" matched, "-" expected but missing, "+" there but not expected, "!" there but lacked
    expected: Optional[list[str]]
    actual: Optional[list[str]]


@dataclass
class Failure:
    location: Location
    title: str  # `segment winback_7d_inactive (rows)`
    problem: str  # `1 expected row missing, 1 row not expected`
    columns: list[str] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. an identifier value that names no profile


# ---- values --------------------------------------------------------------------------------------


def as_of_time(value: Any) -> dt.datetime:
    """A test's `as_of` (a YAML timestamp or date, or their text) as the run's as-of time (UTC)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value.strip())
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None) if value.tzinfo else value
    return dt.datetime(value.year, value.month, value.day)


def raw_text(value: Any, base_type: str) -> Optional[str]:
    """A YAML value as the text a raw file would hold for a field of `base_type`: NULL for
    null, `true`/`false`, numbers as written, a date given for a timestamp at midnight."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return _timestamp_text(as_of_time(value))
    if isinstance(value, dt.date):
        return value.isoformat() + (" 00:00:00" if base_type == "timestamp" else "")
    if isinstance(value, float):
        if base_type in ("integer", "bigint") and value.is_integer():
            return str(int(value))
        return format(Decimal(repr(value)), "f") if base_type == "decimal" else repr(value)
    return str(value)


def _timestamp_text(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") + (f".{moment.microsecond:06d}" if moment.microsecond else "")


# ---- rows ----------------------------------------------------------------------------------------


def check_form(form: str, patterns: list[Optional[dict]], actual: list[dict]):
    """None when the form holds; else ((expected index, actual index) per line, the problem in words)."""
    edges = [[j for j, row in enumerate(actual) if p is not None and matches(p, row)] for p in patterns]
    if form == "lacks":
        pairs = [(i, j) for i, found in enumerate(edges) for j in found]
        hits = len({j for _, j in pairs})
        return (pairs, f"the table has {hits} row{plural_s(hits)} the test says it lacks") if pairs else None
    pairing = _matching(edges)
    taken = set(pairing.values())
    missing = [i for i in range(len(patterns)) if i not in pairing]
    extra = [j for j in range(len(actual)) if j not in taken]
    if not missing and (form == "contains" or not extra):
        return None
    pairs = [(i, pairing.get(i)) for i in range(len(patterns))] + [(None, j) for j in extra]
    parts = [f"{len(missing)} expected row{plural_s(len(missing))} missing"] if missing else []
    if extra and form == "rows":
        parts.append(f"{len(extra)} row{plural_s(len(extra))} not expected")
    return pairs, ", ".join(parts) + f" (the table has {len(actual)} row{plural_s(len(actual))})"


def _matching(edges: list[list[int]]) -> dict[int, int]:
    """A maximum matching of expected rows to actual rows (augmenting paths; tables are small)."""
    owner: dict[int, int] = {}

    def augment(i: int, seen: set[int]) -> bool:
        for j in edges[i]:
            if j in seen:
                continue
            seen.add(j)
            if j not in owner or augment(owner[j], seen):
                owner[j] = i
                return True
        return False

    for i in range(len(edges)):
        augment(i, set())
    return {i: j for j, i in owner.items()}


def matches(pattern: dict, row: dict) -> bool:
    return all(same(expected, row.get(column)) for column, expected in pattern.items())


def same(expected: Any, actual: Any) -> bool:
    """An expected YAML value equals a value DuckDB returned, read as the column's type."""
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(actual, list):
        return isinstance(expected, list) and len(expected) == len(actual) and all(map(same, expected, actual))
    if isinstance(actual, bool):
        return expected is actual if isinstance(expected, bool) else str(expected).lower() == str(actual).lower()
    if isinstance(actual, (int, Decimal)) and not isinstance(expected, (bool, dt.date)):
        number = _number(expected)
        return number is not None and number == actual
    if isinstance(actual, float) and not isinstance(expected, (bool, dt.date)):
        number = _number(expected)
        if number is None:
            return False
        places = max(0, -number.as_tuple().exponent) if isinstance(number.as_tuple().exponent, int) else 0
        return round(Decimal(repr(actual)), places) == number  # a double matches to the digits written
    if isinstance(actual, dt.datetime):
        try:
            return as_of_time(expected) == actual
        except (TypeError, ValueError):
            return False
    if isinstance(actual, dt.date):
        if isinstance(expected, str):
            try:
                expected = dt.date.fromisoformat(expected.strip())
            except ValueError:
                return False
        return isinstance(expected, dt.date) and not isinstance(expected, dt.datetime) and expected == actual
    return raw_text(expected, "string") == str(actual)


def _number(value: Any) -> Optional[Decimal]:
    try:
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation:
        return None


# ---- showing a failure -------------------------------------------------------------------------------


def show(value: Any) -> str:
    """A value as a failure shows it: YAML-like, text quoted only where it would be ambiguous."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, dt.datetime):
        return _timestamp_text(value)
    if isinstance(value, (dt.date, Decimal, int, float)):
        return str(value)
    text = str(value)
    plain = text and text == text.strip() and text.lower() not in ("null", "true", "false", "yes", "no")
    return text if plain and not any(ch in text for ch in "\n\t\"") else '"' + text.replace('"', '\\"') + '"'


def plural_s(count: int) -> str:
    return "" if count == 1 else "s"


# ---- printing --------------------------------------------------------------------------------------


def failure_lines(test_name: str, failure: Failure) -> list[str]:
    """`file:line:col: CDP520 ...`, then expected and actual rows side by side."""
    lines = [f"{failure.location}: CDP520 test `{test_name}`: {failure.title}: {failure.problem}"]
    if failure.columns and failure.lines:
        width = len(failure.columns)
        left = [["expected", *[""] * (width - 1)], failure.columns] + [l.expected or [""] * width for l in failure.lines]
        right = [["actual", *[""] * (width - 1)], failure.columns] + [l.actual or [""] * width for l in failure.lines]
        left_text, right_text = _aligned(left), _aligned(right)
        pad = max(len(t) for t in left_text)
        marks = [" ", " "] + [l.mark for l in failure.lines]
        for mark, a, b in zip(marks, left_text, right_text):
            lines.append(f"    {mark} {a.ljust(pad)} | {b}".rstrip())
    lines += [f"    note: {note}" for note in failure.notes if note]
    return lines


def _aligned(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
