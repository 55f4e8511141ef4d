"""Read back the tables a run leaves (docs/reference.md §4) from any engine, comparably.

`spec_tables(defs)` lists them; `snapshot(engine, defs)` reads each as column names,
column types (in a small engine-neutral vocabulary) and a multiset of normalized rows;
`differences(a, b)` says, table by table, what differs. Used by the cross-engine tests.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from compiler.emit.syncs import sync_table


def spec_tables(defs) -> list[tuple[str, str]]:
    """(schema, table) of every table docs/reference.md §4 says a run leaves."""
    s = defs.project.schemas
    tables = []
    for name in sorted(defs.contracts):
        if name not in defs.erasure_sources:  # read, never staged (reference.md §2.13)
            tables += [(s.staging, name), (s.staging, f"{name}_rejected")]
    if defs.identity is not None:
        if defs.erasures:
            tables.append((s.identity, f"{defs.identity.name}_erasures"))
        tables += [(s.identity, f"{defs.identity.name}_map"), (s.identity, f"{defs.identity.name}_conflicts"),
                   (s.profiles, f"{defs.project.entity}_profiles"), (s.profiles, f"{defs.project.entity}_consent")]
        tables += [(s.audiences, name) for name in sorted(defs.segments)]
        for destination in sorted(defs.destinations.values(), key=lambda d: d.name):
            tables += [(s.audiences, sync_table(destination.name, sync.segment)) for sync in destination.syncs]
    return tables


def access_views(defs) -> list[tuple[str, str]]:
    """(schema, view) of every view of the access definitions (docs/reference.md §2.11)."""
    if defs.identity is None:
        return []
    s = defs.project.schemas
    viewed = [t for schema, t in spec_tables(defs) if schema in (s.profiles, s.audiences)]
    return [(f"{s.profiles}__{name}", table) for name in sorted(defs.accesses) for table in viewed]


def state_tables(defs) -> list[tuple[str, str]]:
    """(schema, table) of the activation state docs/reference.md §5 says a run leaves besides:
    each sync's changes and history, and the record of runs in the meta schema."""
    s = defs.project.schemas
    tables = [(s.meta, "owned"), (s.meta, "runs"), (s.meta, "run_syncs")]
    for destination in sorted(defs.destinations.values(), key=lambda d: d.name):
        for sync in destination.syncs:
            name = sync_table(destination.name, sync.segment)
            tables += [(s.audiences, f"{name}__changes"), (s.audiences, f"{name}__history")]
    return tables


@dataclass
class Table:
    columns: list[tuple[str, str]]  # (name, neutral type)
    rows: Counter  # normalized row -> how many times

    def __len__(self) -> int:
        return sum(self.rows.values())


def snapshot(engine, defs) -> dict[str, Table]:
    return {f"{schema}.{name}": read_table(engine, schema, name) for schema, name in spec_tables(defs)}


def read_table(engine, schema: str, name: str) -> Table:
    columns = column_types(engine, schema, name)
    select = ", ".join(_quote(engine, c) for c, _ in columns)
    rows = engine.rows(f"SELECT {select} FROM {_quote(engine, schema)}.{_quote(engine, name)}")
    return Table(columns, Counter(tuple(normalize(v) for v in row) for row in rows))


def _quote(engine, name: str) -> str:
    return f"`{name}`" if engine.dialect == "spark" else f'"{name}"'


def column_types(engine, schema: str, name: str) -> list[tuple[str, str]]:
    if engine.dialect == "duckdb":
        found = engine.rows(f"SELECT column_name, data_type FROM information_schema.columns "
                            f"WHERE table_schema = '{schema}' AND table_name = '{name}' ORDER BY ordinal_position")
    elif engine.dialect == "postgres":
        found = engine.rows(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
            f"WHERE n.nspname = '{schema}' AND c.relname = '{name}' AND a.attnum > 0 AND NOT a.attisdropped "
            "ORDER BY a.attnum")
    elif engine.dialect == "spark":
        found = engine.session.table(f"`{schema}`.`{name}`").dtypes
    else:
        raise ValueError(engine.dialect)
    if not found:
        raise AssertionError(f"{engine.dialect}: no table {schema}.{name}")
    return [(column, neutral_type(kind)) for column, kind in found]


_NEUTRAL = [
    (r"^(text|varchar|character varying|string)(\(\d+\))?$", "text"),
    (r"^(integer|int|int4)$", "integer"),
    (r"^(bigint|int8|long)$", "bigint"),
    (r"^(double|double precision|float8)$", "double"),
    (r"^(boolean|bool)$", "boolean"),
    (r"^date$", "date"),
    (r"^(timestamp|timestamp without time zone|timestamp_ntz)$", "timestamp"),
    (r"^(text\[\]|varchar\[\]|character varying\[\]|array<string>)$", "text[]"),
]


def neutral_type(kind: str) -> str:
    k = kind.strip().lower()
    decimal = re.match(r"^(?:decimal|numeric)\((\d+),\s*(\d+)\)$", k)
    if decimal:
        return f"decimal({decimal.group(1)},{decimal.group(2)})"
    for pattern, name in _NEUTRAL:
        if re.match(pattern, k):
            return name
    return k


def normalize(value: Any) -> Any:
    """One Python spelling per value, whatever engine it came from."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal):
        return ("decimal", str(value))
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return ("double", str(value))
        return ("double", float(f"{value:.12g}"))
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return ("timestamp", value.isoformat(sep=" "))
    if isinstance(value, dt.date):
        return ("date", value.isoformat())
    if isinstance(value, (list, tuple)):
        return tuple(normalize(v) for v in value)
    raise TypeError(f"unexpected value {value!r} ({type(value).__name__})")


def differences(left: dict[str, Table], right: dict[str, Table], names: tuple[str, str] = ("left", "right"),
                show: int = 5) -> list[str]:
    """Human-readable differences; empty when every table has the same columns, types and rows."""
    problems = []
    for key in sorted(set(left) | set(right)):
        if key not in left or key not in right:
            problems.append(f"{key}: only on {names[0] if key in left else names[1]}")
            continue
        a, b = left[key], right[key]
        if a.columns != b.columns:
            problems.append(f"{key}: columns differ: {names[0]} {a.columns} vs {names[1]} {b.columns}")
            continue
        if a.rows != b.rows:
            only_a, only_b = a.rows - b.rows, b.rows - a.rows
            problems.append(f"{key}: {len(a)} vs {len(b)} rows; {sum(only_a.values())} only on {names[0]}, "
                            f"{sum(only_b.values())} only on {names[1]}; e.g.\n"
                            + "".join(f"    {names[0]}: {row}\n" for row in list(only_a)[:show])
                            + "".join(f"    {names[1]}: {row}\n" for row in list(only_b)[:show]))
    return problems
