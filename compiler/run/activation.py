"""A run's activation state (docs/reference.md §5): what each sync's audience changed, and which
syncs are held instead of published.

After every unit has been built in the run's private schemas, each sync's new audience is
compared with its published history (emit/changes.py): the changes and the new history are
made beside it, in the private audiences schema, and published with everything else. A sync
is *held* when its segment breaks `expected_size`, or when more than `max_remove` of its
published audience would leave it: its audience, changes and history stay as they were, the
audience it would have published is kept in `<meta>.held__<destination>__<segment>` for
`cdpc release`, and the run is `partial` (exit 1, CDP530).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Callable, Optional

from sqlglot import exp

from ..diagnostics import WARNING, Diagnostic, DiagnosticError, Location
from ..dialects import DIALECTS, render
from ..emit.changes import (MODE_OPS, SyncShape, change_steps, changes_table, diff_table, held_table, history_table,
                            sync_shapes)
from ..emit.sql import replace_table, table
from ..fingerprint import digest, fingerprints_of
from ..model import Definitions
from ..project import LoadedProject
from .engines import Engine, EngineError
from .owned import OwnedTable
from .private import RunSchemas
from .publish import Prepared
from .runlog import RunRecord, SyncRecord, insert_statements, now
from .stats import Erased, RunStats


@dataclass
class SyncOutcome:
    """One sync in one run: its audience now and its whole difference with the published one."""

    shape: SyncShape
    members: int
    adds: int = 0
    removes: int = 0
    updates: int = 0
    held: str = ""  # why it is held; empty when it is published
    erased: int = 0  # removals of members an erasure removed
    not_held: str = ""  # why it would have been held, when an erasure publishes it anyway

    @property
    def before(self) -> int:
        """The published audience's size: the new one, less who came, plus who left."""
        return self.members - self.adds + self.removes

    def sent(self, op: str) -> int:
        """The rows of `op` in the changes table (what the sync's mode sends)."""
        return getattr(self, op + "s") if op in MODE_OPS[self.shape.mode] else 0


@dataclass
class Activation:
    run_id: int
    outcomes: list[SyncOutcome] = field(default_factory=list)

    @property
    def held(self) -> list[SyncOutcome]:
        return [o for o in self.outcomes if o.held]

    @property
    def status(self) -> str:
        return "partial" if self.held else "published"


def state_outputs(project: LoadedProject) -> tuple[OwnedTable, ...]:
    """The tables of every sync's activation state that a run may publish: changes and history
    in the audiences schema, the held audience in the meta schema (kept only while held)."""
    schemas = project.definitions.project.schemas
    found = []
    for shape in sync_shapes(project.definitions, project.lineage):
        definition = f"destination:{shape.destination}"
        found += [OwnedTable(schemas.audiences, changes_table(shape.destination, shape.segment), definition),
                  OwnedTable(schemas.audiences, history_table(shape.destination, shape.segment), definition),
                  OwnedTable(schemas.meta, held_table(shape.destination, shape.segment), definition)]
    return tuple(found)


def definitions_hash(project: LoadedProject) -> str:
    """One hash of every definition's data hash: two runs with the same one ran the same logic."""
    return digest(sorted((node, print_.data_hash) for node, print_ in fingerprints_of(project).items()))


def activate(engine: Engine, project: LoadedProject, prepared: Prepared, stats: RunStats,
             progress: Callable[[str], None]) -> Activation:
    """Changes and history of every sync, in the private schemas; then which syncs are held."""
    defs = project.definitions
    schemas = prepared.schemas
    audiences = defs.project.schemas.audiences
    result = Activation(schemas.run_id)
    for shape in sync_shapes(defs, project.lineage):
        progress(f"changes: {shape.table}")
        new = private_table(schemas, audiences, shape.table)
        outcome = SyncOutcome(shape, stats.syncs.get(shape.table, 0))
        counts = compute_changes(engine, shape, audiences, new, schemas, stats.erasure)
        outcome.adds, outcome.removes, outcome.updates = (counts.get(op, 0) for op in ("add", "remove", "update"))
        outcome.erased = counts.get(ERASED, 0)
        reason = hold_reason(defs, outcome, stats.segments.get(shape.segment, 0))
        if reason and outcome.erased:  # an erasure is never held: the published audience must lose them now
            outcome.not_held = reason
        else:
            outcome.held = reason
        result.outcomes.append(outcome)
    return result


def compute_changes(engine: Engine, shape: SyncShape, audiences: str, new: exp.Table,
                    schemas: RunSchemas, erased: Optional[Erased] = None) -> dict[str, int]:
    """Make the sync's diff, changes and history in the private audiences schema from the
    audience `new` and the published history; the diff's rows per op. `erased`: whom this
    run's erasure removed (their removals carry no clear value, their history goes)."""
    history = history_table(shape.destination, shape.segment)
    engine.adopt(audiences, history)
    columns = engine.relation_columns(audiences, history)
    published = table(audiences, history) if columns is not None else None
    diff = private_table(schemas, audiences, diff_table(shape.destination, shape.segment))
    steps = change_steps(shape, new, published, frozenset(c.lower() for c in columns or ()), schemas.run_id, diff,
                         private_table(schemas, audiences, changes_table(shape.destination, shape.segment)),
                         private_table(schemas, audiences, history),
                         (erased.value_hashes, erased.profile_ids) if erased else (frozenset(), frozenset()))
    for step in steps:  # the erased members are found by a portable SHA-256
        execute(engine, shape, render(step, DIALECTS[engine.dialect], lower_needed=bool(erased)))
    count = (exp.select(exp.column("op"), exp.Count(this=exp.Star())).from_(diff.copy()).group_by(exp.column("op")))
    counts = {op: int(n) for op, n in engine.rows(render(count, DIALECTS[engine.dialect], lower_needed=False))}
    leaving = shape.erased(erased.value_hashes, erased.profile_ids) if erased else None
    if leaving is not None:
        removed = (exp.select(exp.Count(this=exp.Star())).from_(diff.copy())
                   .where(exp.and_(exp.EQ(this=exp.column("op"), expression=exp.Literal.string("remove")), leaving)))
        counts[ERASED] = int(engine.rows(render(removed, DIALECTS[engine.dialect], lower_needed=True))[0][0])
    return counts


ERASED = "erased"  # compute_changes' count of the removals of erased members


def hold_reason(defs: Definitions, outcome: SyncOutcome, segment_size: int) -> str:
    """Why the sync must not be published now (empty: it may): its segment is outside
    `expected_size`, or more than `max_remove` of its published audience would leave."""
    shape = outcome.shape
    size = defs.segments[shape.segment].expected_size
    if size is not None and ((size.min is not None and segment_size < size.min)
                             or (size.max is not None and segment_size > size.max)):
        bounds = " and ".join(b for b in (f"min {size.min}" if size.min is not None else "",
                                          f"max {size.max}" if size.max is not None else "") if b)
        return f"segment `{shape.segment}` has {segment_size} members, outside its expected_size ({bounds})"
    limit = Fraction(str(shape.max_remove))
    if outcome.before and Fraction(outcome.removes, outcome.before) > limit:
        share = 100 * outcome.removes / outcome.before
        return (f"{outcome.removes} of its {outcome.before} members would leave ({share:.0f}%), "
                f"more than max_remove {shape.max_remove:g}")
    return ""


def held_findings(defs: Definitions, activation: Activation) -> list[Diagnostic]:
    """CDP530 per held sync (an error: the run exits 1 once everything else is published)."""
    findings = []
    for outcome in activation.held:
        shape = outcome.shape
        findings.append(Diagnostic(
            "CDP530", f"sync {shape.destination} -> {shape.segment} held: {outcome.held}; its published audience, "
            "changes and history are unchanged", _sync_location(defs, shape),
            f"check the segment and the data behind it, then run again; or publish the held audience as it is "
            f"with `cdpc release {shape.destination} {shape.segment}`"))
    for outcome in activation.outcomes:
        if outcome.not_held:
            shape = outcome.shape
            findings.append(Diagnostic(
                "CDP516", f"sync {shape.destination} -> {shape.segment} published although it would be held "
                f"({outcome.not_held}): {outcome.erased} of its members were erased, and an erasure is never held",
                _sync_location(defs, shape), _NOT_HELD_HINT, severity=WARNING))
    return findings


def _sync_location(defs: Definitions, shape: SyncShape) -> Location:
    """Where the sync's `segment:` is written in its destination."""
    destination = defs.destinations[shape.destination]
    index = next(i for i, s in enumerate(destination.syncs) if s.segment == shape.segment)
    return destination.loc("syncs", index, "segment")


_NOT_HELD_HINT = ("nothing to do for the erasure; check the rest of this sync's changes as you would for a held "
                  "sync, since they were published with the removals")


def plan_publication(engine: Engine, project: LoadedProject, prepared: Prepared, activation: Activation,
                     as_of: dt.datetime, started_at: dt.datetime) -> None:
    """Fill in what `publish` does besides moving the plan's outputs: a held sync's tables stay
    (and are owned only when an earlier run published them), its new audience goes to the meta
    schema; a held audience that is no longer held is dropped; the run's rows of the run log."""
    defs = project.definitions
    schemas, audiences, meta = prepared.schemas, defs.project.schemas.audiences, defs.project.schemas.meta
    owned = {(o.schema, o.table) for o in prepared.owned}
    outputs = {(o.schema, o.table): o for o in prepared.outputs}
    removed = list(prepared.removed)
    for outcome in activation.outcomes:
        shape = outcome.shape
        held = (meta, held_table(shape.destination, shape.segment))
        state = [(audiences, shape.table), (audiences, changes_table(shape.destination, shape.segment)),
                 (audiences, history_table(shape.destination, shape.segment))]
        if outcome.held:
            source = private_table(schemas, audiences, shape.table)
            copy = private_table(schemas, audiences, held[1])
            steps = replace_table(copy, exp.select("*").from_(source))
            prepared.stay.add(held)
            prepared.moves.append((copy.db, meta, held[1]))
            if (audiences, shape.table) in owned:  # published before: it stays as it was
                prepared.stay.update(state)
                for key in state:  # (a history that a cdpc without activation state did not make)
                    if key not in owned:
                        outputs.pop(key, None)
            else:  # never published: it is published empty (no member, no change, no history)
                steps += replace_table(source, exp.select("*").from_(copy.copy()).where(exp.false()))
            for step in steps:
                execute(engine, shape, render(step, DIALECTS[engine.dialect], lower_needed=False))
            if (audiences, shape.table) not in owned:
                compute_changes(engine, shape, audiences, source, schemas)
        elif held in outputs:
            gone = outputs.pop(held)
            if held in owned:
                removed.append(gone)
    prepared.outputs, prepared.removed = sorted(outputs.values()), sorted(removed)
    record = RunRecord(activation.run_id, as_of, activation.status, definitions_hash(project), started_at, now())
    prepared.records += insert_statements(engine, meta, record, [
        SyncRecord(activation.run_id, o.shape.destination, o.shape.segment, "run", activation.run_id,
                   "held" if o.held else "published", o.members, o.sent("add"), o.sent("remove"), o.sent("update"),
                   o.held) for o in activation.outcomes])


def private_table(schemas: RunSchemas, schema: str, name: str) -> exp.Table:
    """`schema.name` as the run's private schemas hold it (the renaming every unit gets)."""
    return schemas.table(schema, name)


def execute(engine: Engine, shape: Optional[SyncShape], statement: str) -> None:
    try:
        engine.execute(statement)
    except EngineError as exc:
        what = f"sync {shape.destination} -> {shape.segment}" if shape else "activation state"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DiagnosticError([Diagnostic("CDP509", f"{what}: the engine refused a statement of its changes: {first}",
                                          Location(), "nothing was published: the previous outputs are unchanged")]) from None
