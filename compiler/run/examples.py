"""A failed duplicate check (CDP504) names the values it found, up to five.

The check counts the key values held by more than one staged row; when the count is above
zero, the same grouped query, ordered and limited, is asked for the values themselves
(read-only, after the check, so a passing run does no more work). The query is derived
from the rendered check, so it is in the target's dialect and reads what the check read.
"""

from __future__ import annotations

from typing import Any

import sqlglot
from sqlglot import exp

from ..emit.plan import RenderedCheck

SHOWN = 5


def duplicated_values(engine: Any, check: RenderedCheck, count: int) -> str:
    """`; duplicated: `s1`, `s7`` (and how many more), or "" when the check is not a duplicate check."""
    if check.code != "CDP504" or not count:
        return ""
    try:
        grouped = sqlglot.parse_one(check.query, read=engine.dialect).find(exp.Subquery).this
        keys = [e.copy() for e in grouped.expressions]
        query = grouped.copy().order_by(*keys, copy=False).limit(SHOWN, copy=False)
        rows = engine.rows(query.sql(dialect=engine.dialect))
    except Exception:  # the values are a courtesy: the check's own finding stands without them
        return ""
    shown = ", ".join(_row(row) for row in rows[:SHOWN])
    more = f" and {count - len(rows[:SHOWN])} more" if count > len(rows[:SHOWN]) else ""
    return f"; duplicated: {shown}{more}" if shown else ""


def _row(row: tuple) -> str:
    values = [f"`{v}`" for v in row]
    return values[0] if len(values) == 1 else "(" + ", ".join(values) + ")"
