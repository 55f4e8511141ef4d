"""Small builders over sqlglot expressions, shared by every layer's emitter."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import lru_cache
from typing import Any, Iterable

import sqlglot
from sqlglot import exp

from ..dialects import portable, without_positions
from ..model.contract import parse_field_type
from ..snippets import AS_OF_NODES

WORK = "cdpc_work"  # scratch schema for intermediate tables; dropped at the end of a run
# `cdpc run` builds in schemas of its own, `cdpc_run_<run id>_…` (compiler/run/private.py):
# WORK and the output schemas of the compiled SQL are renamed to those for the run
PRIVATE_PREFIX = "cdpc_run_"
RUN_CONTEXT = "run_context"  # one row: the run's as-of timestamp

_TYPES = {
    "string": "TEXT", "integer": "INT", "bigint": "BIGINT", "double": "DOUBLE",
    "boolean": "BOOLEAN", "date": "DATE", "timestamp": "TIMESTAMP",
}


def data_type(field_type: str) -> exp.DataType:
    return _data_type(field_type).copy()


@lru_cache(maxsize=None)
def _data_type(field_type: str) -> exp.DataType:
    base, precision, scale = parse_field_type(field_type)  # parsing a type costs more than a copy
    if base == "decimal":
        return without_positions(exp.DataType.build(f"DECIMAL({precision}, {scale})"))
    return without_positions(exp.DataType.build(_TYPES[base]))


def table(schema: str, name: str, alias: str | None = None) -> exp.Table:
    t = exp.table_(name, db=schema)
    return t.as_(alias, copy=False) if alias else t


def work(name: str, alias: str | None = None) -> exp.Table:
    return table(WORK, name, alias)


# The builders below never copy their arguments: emitters pass freshly built nodes (and
# .copy() what they reuse), and sqlglot's default copy on every call made emit quadratic.

def alias(expression: exp.Expression, name: str) -> exp.Expression:
    return exp.alias_(expression, name, copy=False)


def coalesce(*args: exp.Expression) -> exp.Expression:
    return exp.Coalesce(this=args[0], expressions=list(args[1:]))


def col(name: str, qualifier: str | None = None) -> exp.Column:
    return exp.column(name, table=qualifier)


def lit(value: Any) -> exp.Expression:
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, float, Decimal)):
        return exp.Literal.number(value)
    if isinstance(value, dt.datetime):
        return exp.Literal.string(value.strftime("%Y-%m-%d %H:%M:%S"))
    if isinstance(value, dt.date):
        return exp.Literal.string(value.isoformat())
    return exp.Literal.string(str(value))


def typed_lit(value: Any, field_type: str) -> exp.Expression:
    """A YAML value as a literal of the field's type (dates and decimals via CAST)."""
    if value is None:
        return exp.Cast(this=exp.Null(), to=data_type(field_type))
    base = parse_field_type(field_type)[0]
    if base == "boolean" and isinstance(value, bool):
        return exp.Boolean(this=value)
    return exp.Cast(this=lit(value), to=data_type(field_type))


def cast(expression: exp.Expression, field_type: str) -> exp.Cast:
    return exp.Cast(this=expression, to=data_type(field_type))


def text(expression: exp.Expression) -> exp.Expression:
    return portable("TO_TEXT", expression)


def concat(*parts: exp.Expression) -> exp.Expression:
    """`a || b || c` — NULL if any part is NULL, on every target."""
    result = parts[0]
    for part in parts[1:]:
        result = exp.DPipe(this=result, expression=part, safe=False)
    return result


def and_(*conditions: exp.Expression) -> exp.Expression:
    return exp.and_(*conditions, copy=False) if conditions else exp.true()


def or_(*conditions: exp.Expression) -> exp.Expression:
    return exp.or_(*conditions, copy=False) if conditions else exp.false()


def is_true(condition: exp.Expression) -> exp.Expression:
    """Three-valued logic made two-valued: NULL counts as false."""
    return coalesce(exp.Paren(this=condition), exp.false())


def drop_table(schema: str, name: str) -> exp.Drop:
    return exp.Drop(tables=[table(schema, name)], kind="TABLE", exists=True)


def create_table_as(schema: str, name: str, query: exp.Expression) -> list[exp.Expression]:
    """DROP + CREATE TABLE AS: every target supports both (CREATE OR REPLACE is not portable)."""
    create = exp.Create(this=table(schema, name), kind="TABLE", expression=query)
    return [drop_table(schema, name), create]


def replace_table(target: exp.Table, query: exp.Expression) -> list[exp.Expression]:
    """create_table_as for a table given whole: a run's private table keeps its catalog (DuckDB's
    in-memory scratch, compiler/run/private.py)."""
    return [exp.Drop(tables=[target.copy()], kind="TABLE", exists=True),
            exp.Create(this=target.copy(), kind="TABLE", expression=query)]


def schema_of(target: exp.Table) -> exp.Create:
    """CREATE SCHEMA IF NOT EXISTS for the schema (and catalog) that holds `target`."""
    return exp.Create(this=exp.Table(db=target.args["db"].copy(), catalog=target.args.get("catalog")),
                      kind="SCHEMA", exists=True)


def insert_into(schema: str, name: str, query: exp.Expression) -> exp.Insert:
    return exp.insert(query, table(schema, name), copy=False)


def create_schema(name: str) -> exp.Create:
    return exp.Create(this=exp.Table(db=exp.to_identifier(name)), kind="SCHEMA", exists=True)


def union_all(queries: Iterable[exp.Query]) -> exp.Query:
    queries = list(queries)
    result = queries[0]
    for query in queries[1:]:
        result = exp.union(result, query, distinct=False, copy=False)
    return result


def parse(sql_text: str) -> exp.Expression:
    """A static fragment written in the neutral (DuckDB) dialect."""
    return without_positions(sqlglot.parse_one(sql_text, read="duckdb"))


def as_of_timestamp() -> exp.Expression:
    return exp.Subquery(this=exp.select(col("as_of"), copy=False).from_(work(RUN_CONTEXT), copy=False))


def as_of_date() -> exp.Expression:
    return exp.Cast(this=as_of_timestamp(), to=data_type("date"))


def bind_snippet(expression: exp.Expression, columns: dict[str, exp.Expression] | None = None) -> exp.Expression:
    """A parsed snippet, with `current_*` bound to the as-of time and names mapped to columns."""
    def replace(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.CurrentDate):
            return as_of_date()
        if isinstance(node, AS_OF_NODES):
            return as_of_timestamp()
        if columns is not None and isinstance(node, exp.Column) and node.name in columns:
            return columns[node.name].copy()
        return node
    return without_positions(expression.transform(replace, copy=True))


def row_number(partition: list[exp.Expression], order: list[exp.Ordered]) -> exp.Window:
    return exp.Window(this=exp.RowNumber(), partition_by=partition, order=exp.Order(expressions=order))


def asc(expression: exp.Expression) -> exp.Ordered:
    return exp.Ordered(this=expression, desc=False, nulls_first=False)


def desc(expression: exp.Expression) -> exp.Ordered:
    return exp.Ordered(this=expression, desc=True, nulls_first=False)


def codepoint(expression: exp.Expression) -> exp.Expression:
    """Order text by code point on every target (PostgreSQL needs COLLATE "C")."""
    return portable("CODEPOINT", expression)
