"""`cdpc release` and `cdpc rollback`: publish one sync's audience outside a run (docs/reference.md §5).

Each is a run of its own: it holds the warehouse, gets a run id, builds in schemas private
to it and publishes at once, like `cdpc run`, but only the sync's three tables change
(its audience, changes and history; a release also drops the held audience it published).
The audience it publishes is compared with the published one exactly as a run's is
(emit/changes.py), so the changes it publishes are the ones that get there, by the sync's
`mode`, and they and the history rows carry its run id. It is recorded in `<meta>.runs`
with the as-of time and definitions hash of the run whose audience it publishes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlglot import exp

from ..diagnostics import Diagnostic, DiagnosticError
from ..dialects import DIALECTS, render
from ..emit.changes import SyncShape, audience_at, changes_table, held_table, history_table
from ..emit.sql import replace_table, schema_of, table
from ..project import LoadedProject
from .activation import SyncOutcome, compute_changes, execute, private_table
from .engines import Engine, scalar
from .history import SyncRef, find_sync, published_run
from .owned import OwnedTable, check_clashes
from .publish import Prepared, drop_private, prepare, publish
from .runlog import RunRecord, SyncRecord, insert_statements, now, read_runs, read_syncs, record_failure


@dataclass
class Republished:
    command: str  # release | rollback
    run_id: int
    source_run: int  # the run whose audience it published
    outcome: SyncOutcome


def release(project: LoadedProject, engine: Engine, destination: str, segment: str, wait: float = 0) -> Republished:
    """Publish the audience a run held for the sync; CDP923 (exit 2) when none is held."""
    sync = find_sync(project, destination, segment)
    shape, meta = sync.shape, project.definitions.project.schemas.meta
    started_at = now()
    prepared = prepare(engine, project.definitions, [], wait)
    held = held_table(shape.destination, shape.segment)
    engine.adopt(meta, held)
    columns = engine.relation_columns(meta, held)
    holds = [r for r in read_syncs(engine, meta, shape.destination, shape.segment) if r.outcome == "held"]
    if columns is None or not holds:
        raise DiagnosticError([Diagnostic("CDP923", f"nothing is held for sync {destination} -> {segment}", sync.location,
                                          "`cdpc runs` shows which runs held which syncs; a later run that published "
                                          "the sync, or a release, ends a hold")])
    if [c.lower() for c in columns] != ["profile_id", *shape.names]:
        raise DiagnosticError([Diagnostic("CDP923", f"the audience held for sync {destination} -> {segment} has the "
                                          f"columns {', '.join(columns)}, and the sync now sends profile_id, "
                                          f"{', '.join(shape.names)}", sync.location,
                                          "its destination changed since the run that held it: run again")])
    source = holds[-1].source_run
    audience = exp.select(exp.column("profile_id"), *(exp.column(c) for c in shape.names)).from_(table(meta, held))
    return _republish(project, engine, prepared, sync, "release", source, audience, started_at)


def rollback(project: LoadedProject, engine: Engine, destination: str, segment: str, to_run: int,
             wait: float = 0) -> Republished:
    """Make the audience that `to_run` published current again (rolling forward alike)."""
    sync = find_sync(project, destination, segment)
    started_at = now()
    prepared = prepare(engine, project.definitions, [], wait)
    published_run(project, engine, sync, to_run, "--to")
    shape = sync.shape
    history = table(project.definitions.project.schemas.audiences, history_table(shape.destination, shape.segment))
    return _republish(project, engine, prepared, sync, "rollback", to_run, audience_at(shape, history, to_run),
                      started_at)


def _republish(project: LoadedProject, engine: Engine, prepared: Prepared, sync: SyncRef, command: str,
               source_run: int, audience: exp.Select, started_at: dt.datetime) -> Republished:
    defs = project.definitions
    shape, schemas = sync.shape, prepared.schemas
    audiences, meta = defs.project.schemas.audiences, defs.project.schemas.meta
    source = next((r for r in read_runs(engine, meta) if r.run_id == source_run), None)
    run = RunRecord(schemas.run_id, source.as_of if source else None, "published",
                    source.definitions_hash if source else "", started_at, None)
    try:
        new = private_table(schemas, audiences, shape.table)
        for step in [schema_of(new), *replace_table(new, audience)]:
            execute(engine, shape, render(step, DIALECTS[engine.dialect], lower_needed=False))
        counts = compute_changes(engine, shape, audiences, new, schemas)
        members = int(scalar(engine, render(exp.select(exp.Count(this=exp.Star())).from_(new.copy()),
                                            DIALECTS[engine.dialect], lower_needed=False)) or 0)
        outcome = SyncOutcome(shape, members, counts.get("add", 0), counts.get("remove", 0), counts.get("update", 0))
        _plan(engine, prepared, shape, audiences, meta, command)
        run = RunRecord(run.run_id, run.as_of, run.status, run.definitions_hash, started_at, now())
        prepared.records += insert_statements(engine, meta, run, [SyncRecord(
            run.run_id, shape.destination, shape.segment, command, source_run, "published", members,
            outcome.sent("add"), outcome.sent("remove"), outcome.sent("update"), "")])
        publish(engine, prepared)
    except Exception:
        record_failure(engine, meta, RunRecord(run.run_id, run.as_of, "failed", run.definitions_hash, started_at, now()))
        raise
    finally:
        drop_private(engine, schemas)
    return Republished(command, schemas.run_id, source_run, outcome)


def _plan(engine: Engine, prepared: Prepared, shape: SyncShape, audiences: str, meta: str, command: str) -> None:
    """Only the sync's three tables move in; a release drops the audience it published."""
    definition = f"destination:{shape.destination}"
    mine = [OwnedTable(audiences, name, definition)
            for name in (shape.table, changes_table(shape.destination, shape.segment),
                         history_table(shape.destination, shape.segment))]
    check_clashes(engine, mine, prepared.owned)
    outputs = {(o.schema, o.table): o for o in [*prepared.owned, *mine]}
    held = outputs.get((meta, held_table(shape.destination, shape.segment)))
    if command == "release" and held is not None:
        prepared.removed = [outputs.pop((held.schema, held.table))]
    else:
        prepared.removed = []
    prepared.outputs = sorted(outputs.values())
    moved = {(o.schema, o.table) for o in mine}
    prepared.stay = {key for key in outputs if key not in moved}
