"""The change step's SQL (compiler/emit/changes.py) against tests/reference/activation.py, on random
histories and audiences: hypothesis on DuckDB, and a few examples on PostgreSQL.

Each example: up to three audiences published one after the other (the reference builds that
history), then a new audience and a mode. The engine computes the changes and the new history
from the tables; they must be the reference's rows, and every audience of the history must
be rebuilt exactly (reference.md §5.2 and reference.md §5.3).
"""

from __future__ import annotations

import os
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlglot import exp

from compiler.dialects import DIALECTS, render
from compiler.emit.changes import SyncShape, audience_at, history_table
from compiler.emit.sql import data_type, table
from compiler.run.activation import compute_changes, private_table
from compiler.run.engines.duckdb import DuckDBEngine
from compiler.run.private import RunSchemas

from reference import activation as ref

SHAPE_COLUMNS = (("email", data_type("string")), ("tier", data_type("string")), ("spend", data_type("decimal(12,2)")))
PROFILES = [f"p{i}" for i in range(8)]
VALUES = st.tuples(st.sampled_from([None, "a@x.example", "b@x.example", ""]), st.sampled_from([None, "gold", "silver"]),
                   st.sampled_from([None, Decimal("0.00"), Decimal("1.50"), Decimal("-2.25")]))
AUDIENCE = st.dictionaries(st.sampled_from(PROFILES), VALUES, max_size=len(PROFILES))
PG_EXAMPLES = int(os.environ.get("CDPC_ACTIVATION_PG_EXAMPLES", "8"))


def _check(engine, mode: str, earlier: list[dict], new: dict) -> None:
    shape = SyncShape("d", "s", mode, 0.5, SHAPE_COLUMNS)
    history, published = [], {}
    for run, audience in enumerate(earlier, 1):
        history = ref.publish(history, audience, run, mode)[1]
        published[run] = audience
    run_id = len(earlier) + 1
    schemas = RunSchemas(run_id, {"aud": "aud_private"}, "aud_work")
    for schema in ("aud", "aud_private"):
        engine.drop_schema(schema)
        engine.execute(f"CREATE SCHEMA {schema}")
    names = ["profile_id", *shape.names]
    typed = ", ".join(f"{n} {t}" for n, t in zip(names, ["TEXT", "TEXT", "TEXT", "DECIMAL(12,2)"]))
    if earlier:
        engine.execute(f"CREATE TABLE aud.{history_table('d', 's')} ({typed}, valid_from_run BIGINT, valid_to_run BIGINT)")
        _insert(engine, f"aud.{history_table('d', 's')}", [(p, *v, f, t) for p, v, f, t in history])
    engine.execute(f"CREATE TABLE aud_private.{shape.table} ({typed})")
    _insert(engine, f"aud_private.{shape.table}", [(p, *v) for p, v in new.items()])
    counts = compute_changes(engine, shape, "aud", private_table(schemas, "aud", shape.table), schemas)

    changes, expected_history = ref.publish(history, new, run_id, mode)
    got_changes = engine.rows(f"SELECT run_id, op, {', '.join(names)} FROM aud_private.{shape.table}__changes")
    assert sorted(got_changes, key=repr) == sorted(((r, op, p, *v) for r, op, p, v in changes), key=repr)
    got_history = engine.rows(f"SELECT {', '.join(names)}, valid_from_run, valid_to_run FROM aud_private.{shape.table}__history")
    assert sorted(got_history, key=repr) == sorted(((p, *v, f, t) for p, v, f, t in expected_history), key=repr)
    diff = ref.difference(new, ref.current(history))
    assert counts == {op: n for op in ("add", "remove", "update") if (n := sum(1 for d in diff if d[0] == op))}
    published[run_id] = new
    for run, audience in published.items():  # every audience, rebuilt in the engine from the new history
        query = audience_at(shape, table("aud_private", f"{shape.table}__history"), run)
        rows = engine.rows(render(query, DIALECTS[engine.dialect], lower_needed=False))
        assert {r[0]: tuple(r[1:]) for r in rows} == audience and len(rows) == len(audience)


def _insert(engine, target: str, rows: list[tuple]) -> None:
    if not rows:
        return
    values = [exp.Tuple(expressions=[exp.Null() if v is None else exp.Literal.number(v) if isinstance(v, (int, Decimal))
                                     else exp.Literal.string(v) for v in row]) for row in rows]
    insert = exp.Insert(this=exp.to_table(target), expression=exp.Values(expressions=values))
    engine.execute(render(insert, DIALECTS[engine.dialect], lower_needed=False))


_SETTINGS = dict(deadline=None, database=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def duck():
    engine = DuckDBEngine()
    yield engine
    engine.close()


@settings(max_examples=150, **_SETTINGS)
@given(mode=st.sampled_from(["mirror", "upsert", "append"]), earlier=st.lists(AUDIENCE, max_size=3), new=AUDIENCE)
def test_changes_and_history_match_the_reference_on_duckdb(duck, mode, earlier, new):
    _check(duck, mode, earlier, new)


@settings(max_examples=PG_EXAMPLES, **_SETTINGS)
@given(mode=st.sampled_from(["mirror", "upsert", "append"]), earlier=st.lists(AUDIENCE, max_size=3), new=AUDIENCE)
def test_changes_and_history_match_the_reference_on_postgres(pg_engine_module, mode, earlier, new):
    _check(pg_engine_module, mode, earlier, new)


@pytest.fixture(scope="module")
def pg_engine_module(pg_dsn):
    import uuid

    import psycopg

    from compiler.run.engines.postgres import PostgresEngine

    name = f"props_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    engine = PostgresEngine(pg_dsn.replace("dbname=postgres", f"dbname={name}"))
    yield engine
    engine.close()
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
