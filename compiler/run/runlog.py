"""The record of runs in the meta schema (docs/reference.md §5.1).

  <meta>.runs       (run_id, as_of, status, definitions_hash, started_at, finished_at)
                    one row per run, release and rollback; status `published`, `partial`
                    (some syncs held) or `failed`
  <meta>.run_syncs  (run_id, destination, segment, command, source_run, outcome, members,
                    adds, removes, updates, reason)
                    one row per sync that a published run, release or rollback decided on:
                    `published` or `held`, with the changes it made (or would have made)

A published run writes its rows in the transaction that publishes its tables; a run that
fails writes its `failed` row on its own afterwards (nothing else of it is kept). A run
that is killed writes nothing: the next run removes what it left.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import astuple, dataclass, fields
from typing import Any, Optional

from sqlglot import exp

from ..dialects import DIALECTS, render
from ..emit.sql import data_type, lit
from .engines import Engine, EngineError

RUNS = "runs"
RUN_SYNCS = "run_syncs"


@dataclass(frozen=True)
class RunRecord:
    run_id: int
    as_of: Optional[dt.datetime]
    status: str
    definitions_hash: str
    started_at: dt.datetime
    finished_at: Optional[dt.datetime]


@dataclass(frozen=True)
class SyncRecord:
    run_id: int
    destination: str
    segment: str
    command: str  # run | release | rollback
    source_run: int  # the run whose audience it published or held (its own for a run)
    outcome: str  # published | held
    members: int  # the audience's size, published or held
    adds: int  # the rows of each op it put (or, held, would have put) in the changes table
    removes: int
    updates: int
    reason: str  # why it is held; empty when published


_COLUMN_TYPES = {"run_id": "bigint", "as_of": "timestamp", "status": "string", "definitions_hash": "string",
                 "started_at": "timestamp", "finished_at": "timestamp", "destination": "string", "segment": "string",
                 "command": "string", "source_run": "bigint", "outcome": "string", "members": "bigint",
                 "adds": "bigint", "removes": "bigint", "updates": "bigint", "reason": "string"}


def now() -> dt.datetime:
    """The wall clock, UTC, to the second: only started_at and finished_at hold it."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)


def ensure_runlog(engine: Engine, meta: str) -> None:
    """Both tables, made on the first run (the meta schema exists: owned.ensure_meta)."""
    for name, record in ((RUNS, RunRecord), (RUN_SYNCS, SyncRecord)):
        columns = [exp.ColumnDef(this=exp.to_identifier(f.name), kind=data_type(_COLUMN_TYPES[f.name]))
                   for f in fields(record)]
        create = exp.Create(this=exp.Schema(this=exp.table_(name, db=meta), expressions=columns), kind="TABLE",
                            exists=True)
        engine.execute(_sql(engine, create))


def insert_statements(engine: Engine, meta: str, run: RunRecord, syncs: list[SyncRecord]) -> list[str]:
    """The rows of one run: executed in the transaction that publishes it."""
    statements = [_insert(engine, meta, RUNS, [run])]
    if syncs:
        statements.append(_insert(engine, meta, RUN_SYNCS, syncs))
    return statements


def record_failure(engine: Engine, meta: str, run: RunRecord) -> None:
    """The `failed` row of a run that published nothing, on its own; a failure to write it must
    not hide why the run failed (the engine may be what failed)."""
    try:
        engine.execute(_insert(engine, meta, RUNS, [run]))
    except EngineError:
        pass


def read_runs(engine: Engine, meta: str) -> list[RunRecord]:
    """Every run, by run id; none when no run was recorded here."""
    return [RunRecord(*row) for row in _read(engine, meta, RUNS, RunRecord, None)]


def read_syncs(engine: Engine, meta: str, destination: Optional[str] = None,
               segment: Optional[str] = None) -> list[SyncRecord]:
    """The sync rows, by run id, destination and segment; those of one sync when it is named."""
    where = None
    if destination is not None:
        where = exp.and_(exp.column("destination").eq(lit(destination)), exp.column("segment").eq(lit(segment)))
    return [SyncRecord(*(_int(v) if f.type == "int" else v for f, v in zip(fields(SyncRecord), row)))
            for row in _read(engine, meta, RUN_SYNCS, SyncRecord, where)]


def last_logged_run(engine: Engine, meta: str) -> int:
    rows = engine.rows(f"SELECT max(run_id) FROM {engine.quote(meta)}.{engine.quote(RUNS)}")
    return int(rows[0][0] or 0) if rows else 0


def _read(engine: Engine, meta: str, name: str, record: type, where: Optional[exp.Expression]) -> list[tuple]:
    engine.adopt(meta, name)
    if engine.relation_columns(meta, name) is None:
        return []
    query = exp.select(*(exp.column(f.name) for f in fields(record))).from_(exp.table_(name, db=meta))
    if where is not None:
        query = query.where(where)
    order = ["run_id", "destination", "segment"] if record is SyncRecord else ["run_id"]
    query = query.order_by(*order)
    return engine.rows(_sql(engine, query))


def _insert(engine: Engine, meta: str, name: str, records: list[Any]) -> str:
    rows = [exp.Tuple(expressions=[_value(value, _COLUMN_TYPES[f.name]) for f, value in zip(fields(r), astuple(r))])
            for r in records]
    insert = exp.Insert(this=exp.table_(name, db=meta), expression=exp.Values(expressions=rows))
    return _sql(engine, insert)


def _value(value: Any, kind: str) -> exp.Expression:
    if value is None:
        return exp.Cast(this=exp.Null(), to=data_type(kind))
    if isinstance(value, dt.datetime):
        return exp.Cast(this=lit(value.strftime("%Y-%m-%d %H:%M:%S")), to=data_type("timestamp"))
    return lit(value)


def _int(value: Any) -> Any:
    return int(value) if value is not None else None


def _sql(engine: Engine, tree: exp.Expression) -> str:
    return render(tree, DIALECTS[engine.dialect], lower_needed=False)
