"""Reading the activation state back: `cdpc runs` and `cdpc diff` (docs/reference.md §5).

Both only read: the run log (`<meta>.runs`, `<meta>.run_syncs`) and a sync's history.
The sync a command names, and the runs it names, are checked here for every command that
takes them (`cdpc release` and `cdpc rollback` too): a wrong name or run id is a located
diagnostic with a hint, exit 2.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from sqlglot import exp

from ..diagnostics import Diagnostic, DiagnosticError, Location, did_you_mean
from ..dialects import DIALECTS, render
from ..emit.changes import OPS, SyncShape, audience_at, difference, history_table, sync_shape
from ..emit.sql import table
from ..project import LoadedProject
from .engines import Engine
from .runlog import RunRecord, SyncRecord, read_runs, read_syncs


@dataclass
class RunEntry:
    """A run as `cdpc runs` lists it: its row of `<meta>.runs` and the syncs it decided on."""

    run: RunRecord
    syncs: list[SyncRecord] = field(default_factory=list)

    @property
    def command(self) -> str:
        return self.syncs[0].command if self.syncs else "run"

    @property
    def held(self) -> list[SyncRecord]:
        return [s for s in self.syncs if s.outcome == "held"]

    @property
    def published(self) -> list[SyncRecord]:
        return [s for s in self.syncs if s.outcome == "published"]

    def total(self, op: str) -> int:
        return sum(getattr(s, op + "s") for s in self.published)


def list_runs(project: LoadedProject, engine: Engine) -> list[RunEntry]:
    meta = project.definitions.project.schemas.meta
    entries = {run.run_id: RunEntry(run) for run in read_runs(engine, meta)}
    for record in read_syncs(engine, meta):
        if record.run_id in entries:
            entries[record.run_id].syncs.append(record)
    return [entries[run_id] for run_id in sorted(entries)]


@dataclass(frozen=True)
class SyncRef:
    """A sync named on the command line, found in the definitions."""

    shape: SyncShape
    location: Location  # its `segment` entry in the destination's file


def find_sync(project: LoadedProject, destination: str, segment: str) -> SyncRef:
    """CDP921 (exit 2) when the project has no such destination, or it no such sync."""
    defs = project.definitions
    found = defs.destinations.get(destination)
    if found is None:
        hint = did_you_mean(destination, defs.destinations) or "a destination is a `kind: destination` definition"
        raise DiagnosticError([Diagnostic("CDP921", f"no destination named `{destination}`", Location(), hint)])
    for index, sync in enumerate(found.syncs):
        if sync.segment == segment:
            return SyncRef(sync_shape(defs, project.lineage, found, sync), found.loc("syncs", index, "segment"))
    synced = [s.segment for s in found.syncs]
    hint = did_you_mean(segment, synced) if synced else ""
    raise DiagnosticError([Diagnostic("CDP921", f"destination `{destination}` has no sync of segment `{segment}`",
                                      found.loc("syncs") if found.syncs else found.loc("name"),
                                      hint or f"its syncs are listed under `syncs` in the definition of `{destination}`")])


def published_run(project: LoadedProject, engine: Engine, sync: SyncRef, run_id: int, option: str) -> RunRecord:
    """The run `run_id`, which published an audience of the sync that the history still holds;
    CDP922 (exit 2) otherwise."""
    meta = project.definitions.project.schemas.meta
    shape = sync.shape
    runs = {run.run_id: run for run in read_runs(engine, meta)}
    published = [r.run_id for r in read_syncs(engine, meta, shape.destination, shape.segment) if r.outcome == "published"]
    name = f"{shape.destination} -> {shape.segment}"
    listing = _ids(published)
    if run_id not in runs:
        raise _unknown_run(sync, f"{option} {run_id}: no such run in `{meta}.runs`", listing)
    if run_id not in published:
        why = {"failed": "it failed", "partial": "it held this sync"}.get(runs[run_id].status, "it did not publish this sync")
        raise _unknown_run(sync, f"{option} {run_id}: run {run_id} published no audience of sync {name} ({why})", listing)
    first = _first_kept(project, engine, shape)
    if first is None or run_id < first:
        raise _unknown_run(sync, f"{option} {run_id}: the history of sync {name} no longer holds run {run_id}'s audience "
                           "(its tables were dropped when the sync left the definitions)",
                           _ids([r for r in published if first is not None and r >= first]))
    return runs[run_id]


def _first_kept(project: LoadedProject, engine: Engine, shape: SyncShape) -> Optional[int]:
    audiences = project.definitions.project.schemas.audiences
    history = history_table(shape.destination, shape.segment)
    engine.adopt(audiences, history)
    if engine.relation_columns(audiences, history) is None:
        return None
    query = exp.select(exp.Min(this=exp.column("valid_from_run"))).from_(table(audiences, history))
    rows = engine.rows(render(query, DIALECTS[engine.dialect], lower_needed=False))
    return int(rows[0][0]) if rows and rows[0][0] is not None else None


def _unknown_run(sync: SyncRef, message: str, listing: str) -> DiagnosticError:
    return DiagnosticError([Diagnostic("CDP922", message, sync.location,
                                       (f"runs that published it: {listing}; " if listing else "")
                                       + "`cdpc runs` lists every run with what it published")])


def _ids(run_ids: list[int]) -> str:
    shown = [str(r) for r in run_ids[-5:]]
    return (", ".join(shown) + (" (the last 5)" if len(run_ids) > 5 else "")) if shown else ""


@dataclass
class Diff:
    shape: SyncShape
    from_run: RunRecord
    to_run: RunRecord
    rows: list[tuple] = field(default_factory=list)  # (op, profile_id, <columns>) by op, then profile_id

    def count(self, op: str) -> int:
        return sum(1 for row in self.rows if row[0] == op)


def diff_runs(project: LoadedProject, engine: Engine, destination: str, segment: str, from_run: int,
              to_run: int) -> Diff:
    """Who is in the audience that `to_run` published and not in the one `from_run` published
    (add), the reverse (remove), and who is in both with other values (update): the values as
    sent (hashed where the destination hashes), from the history."""
    sync = find_sync(project, destination, segment)
    before = published_run(project, engine, sync, from_run, "--from")
    after = published_run(project, engine, sync, to_run, "--to")
    shape = sync.shape
    history = table(project.definitions.project.schemas.audiences, history_table(shape.destination, shape.segment))
    query = difference(shape, audience_at(shape, history, to_run), audience_at(shape, history, from_run))
    rows = engine.rows(render(query, DIALECTS[engine.dialect], lower_needed=False))
    order = {op: i for i, op in enumerate(OPS)}
    return Diff(shape, before, after, sorted((tuple(r) for r in rows), key=lambda r: (order[r[0]], r[1])))
