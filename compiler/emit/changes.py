"""Changes and history of a sync's audience (docs/reference.md §5): set-based SQL over two tables.

`cdpc run`, `cdpc release` and `cdpc rollback` all publish an audience the same way: the
audience now sent (`new`, shaped like `sync__<destination>__<segment>`) is compared with the
current rows of the published history, and three tables are made:

  sync__<destination>__<segment>__diff      scratch: every add, remove and update, whatever the mode
  sync__<destination>__<segment>__changes   (run_id, op, profile_id, <identifiers>, <fields>): the
                                            rows of the diff that the sync's `mode` sends
  sync__<destination>__<segment>__history   (profile_id, <identifiers>, <fields>, valid_from_run,
                                            valid_to_run): SCD type 2 by run id

The key is `profile_id`: a member whose sent values changed (a new primary email) is one
`update`, never a remove and an add. An `add` or `update` row carries the values now sent,
a `remove` row the values last sent. A row of the history belongs to the audience published
by run R when valid_from_run <= R and (valid_to_run is NULL or R < valid_to_run).

The tables are passed in (the caller knows which are the run's private ones and which are
published); the trees are dialect-neutral like every other unit's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from sqlglot import exp

from ..graph import Lineage
from ..model import Definitions, Destination, Sync
from ..dialects import portable
from .sql import alias, and_, coalesce, col, data_type, is_true, lit, or_, replace_table, union_all
from .syncs import sent_field, sync_table

OPS = ("add", "remove", "update")
Erased = tuple[frozenset[str], frozenset[str]]  # (SHA-256 of the erased values, erased profile ids)
# what each mode sends (docs/reference.md §5.2)
MODE_OPS: dict[str, tuple[str, ...]] = {"mirror": OPS, "upsert": ("add", "update"), "append": ("add",)}
# columns the changes and history tables add to the sync's own (no sent column may be named so)
CHANGE_COLUMNS = ("run_id", "op")
HISTORY_COLUMNS = ("valid_from_run", "valid_to_run")


def changes_table(destination: str, segment: str) -> str:
    return f"{sync_table(destination, segment)}__changes"


def history_table(destination: str, segment: str) -> str:
    return f"{sync_table(destination, segment)}__history"


def diff_table(destination: str, segment: str) -> str:
    """Scratch, in the run's private audiences schema: never published."""
    return f"{sync_table(destination, segment)}__diff"


def held_table(destination: str, segment: str) -> str:
    """In the meta schema: the audience a run computed and held, until it is released."""
    return f"held__{destination}__{segment}"


@dataclass(frozen=True)
class SyncShape:
    """What a sync sends: its mode and its columns after `profile_id`, with their types."""

    destination: str
    segment: str
    mode: str
    max_remove: float
    columns: tuple[tuple[str, exp.DataType], ...]
    hashed: frozenset[str] = frozenset()  # the columns sent as a SHA-256, not as the value

    def erased(self, hashes: frozenset[str], profile_ids: frozenset[str], qualifier: Optional[str] = None,
               present: Optional[frozenset[str]] = None) -> Optional[exp.Expression]:
        """True for a row of a member whom an erasure removed (docs/privacy.md §4): their
        profile id, or a text column holding an erased value clear (its SHA-256 is one of
        `hashes`) or hashed. None when nobody was erased. `present`: the columns the table has."""
        if not hashes and not profile_ids:
            return None
        found: list[exp.Expression] = []
        if profile_ids:
            found.append(exp.In(this=col("profile_id", qualifier), expressions=[lit(p) for p in sorted(profile_ids)]))
        if hashes:
            digests = [lit(h) for h in sorted(hashes)]
            for name, kind in self.columns:
                if kind.this != exp.DataType.Type.TEXT or (present is not None and name not in present):
                    continue
                value = col(name, qualifier)
                form = value if name in self.hashed else portable("SHA256_HEX", value)
                found.append(exp.In(this=form, expressions=[d.copy() for d in digests]))
        return is_true(or_(*found) if len(found) > 1 else found[0])  # a NULL column is no erased value

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.columns]

    @property
    def table(self) -> str:
        return sync_table(self.destination, self.segment)


def sync_shapes(defs: Definitions, lineage: Lineage) -> list[SyncShape]:
    """Every sync of the project, destinations and their syncs in name order."""
    return [sync_shape(defs, lineage, destination, sync)
            for destination in sorted(defs.destinations.values(), key=lambda d: d.name) for sync in destination.syncs]


def sync_shape(defs: Definitions, lineage: Lineage, destination: Destination, sync: Sync) -> SyncShape:
    """The sync table's columns as emit/syncs.py makes them: identifiers are text; a field has
    its attribute's type, or text when it is sent hashed."""
    columns = [(id_type, data_type("string")) for id_type in destination.identifiers]
    hashed_columns = set(destination.identifiers) if destination.hash == "sha256" else set()
    for field in destination.fields:
        hashed = sent_field(defs, lineage.pii_attributes, destination, field)[1]
        columns.append((field, data_type("string" if hashed else defs.attributes[field].type)))
        if hashed:
            hashed_columns.add(field)
    return SyncShape(destination.name, sync.segment, sync.mode, sync.max_remove, tuple(columns), frozenset(hashed_columns))


def change_steps(shape: SyncShape, new: exp.Table, history: Optional[exp.Table], history_columns: frozenset[str],
                 run_id: int, diff: exp.Table, changes: exp.Table, new_history: exp.Table,
                 erased: Erased = (frozenset(), frozenset())) -> list[exp.Expression]:
    """Statements that make `diff`, `changes` and `new_history` from the audience `new` and the
    published `history` (None: nothing was published yet). `history_columns` are the columns
    the published history has: a sent column it lacks (a field added since) reads as NULL
    there, so every member gets an update carrying it; one it has and the sync no longer
    sends is left out of the new history. `erased`: (value hashes, profile ids) of the members an
    erasure removed: their `remove` rows carry no clear value (every column not sent hashed is
    NULL) and their rows of the history are deleted, past ones included."""
    hashes, profile_ids = erased
    previous = _current(shape, history, history_columns) if history is not None else None
    steps = replace_table(diff, difference(shape, _all(shape, new), previous))
    steps += replace_table(changes, _changes(shape, diff, run_id, shape.erased(hashes, profile_ids)))
    kept = shape.erased(hashes, profile_ids, "h", history_columns) if history is not None else None
    steps += replace_table(new_history,
                           _history(shape, diff, history, history_columns, run_id, kept))
    return steps


def difference(shape: SyncShape, new: exp.Query, previous: Optional[exp.Query]) -> exp.Select:
    """(op, profile_id, <columns>): who is in `new` and not in `previous` (add), the reverse
    (remove) and who is in both with any value not the same, NULLs compared as values (update).
    Both queries give (profile_id, <columns>), one row per profile."""
    if previous is None:
        return (exp.select(alias(_text("add"), "op"), col("profile_id"), *(col(c) for c in shape.names), copy=False)
                .from_(new.subquery("n", copy=False), copy=False))
    n_id, p_id = col("profile_id", "n"), col("profile_id", "p")
    op = exp.Case(ifs=[exp.If(this=p_id.is_(exp.null()), true=_text("add")),
                       exp.If(this=n_id.copy().is_(exp.null()), true=_text("remove"))], default=_text("update"))
    values = [alias(exp.Case(ifs=[exp.If(this=col("profile_id", "n").is_(exp.null()), true=col(name, "p"))],
                             default=col(name, "n")), name) for name in shape.names]
    changed = [exp.NullSafeNEQ(this=col(name, "n"), expression=col(name, "p")) for name in shape.names]
    return (exp.select(alias(op, "op"), alias(coalesce(col("profile_id", "n"), col("profile_id", "p")), "profile_id"),
                       *values, copy=False)
            .from_(new.subquery("n", copy=False), copy=False)
            .join(previous.subquery("p", copy=False), join_type="full",
                  on=exp.EQ(this=col("profile_id", "n"), expression=col("profile_id", "p")), copy=False)
            .where(or_(col("profile_id", "n").is_(exp.null()), col("profile_id", "p").is_(exp.null()), *changed), copy=False))


def audience_at(shape: SyncShape, history: exp.Table, run_id: int) -> exp.Select:
    """The audience that run `run_id` published, rebuilt from the history."""
    return (exp.select(col("profile_id"), *(col(c) for c in shape.names), copy=False)
            .from_(history.copy(), copy=False).where(_valid_at(run_id), copy=False))


def _valid_at(run_id: int) -> exp.Expression:
    return and_(exp.LTE(this=col("valid_from_run"), expression=_run(run_id)),
                exp.Paren(this=or_(col("valid_to_run").is_(exp.null()),
                                   exp.LT(this=_run(run_id), expression=col("valid_to_run")))))


def _all(shape: SyncShape, table: exp.Table) -> exp.Select:
    return exp.select(col("profile_id"), *(col(c) for c in shape.names), copy=False).from_(table.copy(), copy=False)


def _current(shape: SyncShape, history: exp.Table, history_columns: frozenset[str]) -> exp.Select:
    """The published audience: the open rows of the history, in the sync's columns now."""
    return (exp.select(col("profile_id"), *_aligned(shape, history_columns, None), copy=False)
            .from_(history.copy(), copy=False).where(col("valid_to_run").is_(exp.null()), copy=False))


def _aligned(shape: SyncShape, history_columns: frozenset[str], qualifier: Optional[str]) -> list[exp.Expression]:
    """The sync's columns read from the published history, as the sync types them now."""
    return [alias(exp.Cast(this=col(name, qualifier) if name in history_columns else exp.Null(), to=kind.copy()), name)
            for name, kind in shape.columns]


def _changes(shape: SyncShape, diff: exp.Table, run_id: int, erased: Optional[exp.Expression] = None) -> exp.Select:
    values: list[exp.Expression] = [col(c) for c in shape.names]
    gone = None
    if erased is not None:  # an erased member's removal: only the hashed columns stay
        gone = and_(exp.EQ(this=col("op"), expression=lit("remove")), erased)
        values = [col(name) if name in shape.hashed else
                  alias(exp.Case(ifs=[exp.If(this=gone.copy(), true=exp.Cast(this=exp.Null(), to=kind.copy()))],
                                 default=col(name)), name)
                  for name, kind in shape.columns]
    query = (exp.select(alias(_run(run_id), "run_id"), col("op"), col("profile_id"), *values,
                        copy=False).from_(diff.copy(), copy=False))
    ops = MODE_OPS[shape.mode]
    if ops != OPS:  # an erased member's removal is sent in every mode: the destination must drop them too
        query = query.where(_op_in(ops) if gone is None else or_(_op_in(ops), gone.copy()), copy=False)
    return query


def _history(shape: SyncShape, diff: exp.Table, history: Optional[exp.Table], history_columns: frozenset[str],
             run_id: int, erased: Optional[exp.Expression] = None) -> exp.Query:
    """The published history with the rows of removed and updated members closed at this run,
    and a new open row for each added or updated member."""
    opened = (exp.select(col("profile_id"), *(col(c) for c in shape.names), alias(_run(run_id), "valid_from_run"),
                         alias(exp.Cast(this=exp.Null(), to=exp.DataType.build("BIGINT")), "valid_to_run"), copy=False)
              .from_(diff.copy(), copy=False).where(_op_in(("add", "update")), copy=False))
    if history is None:
        return opened
    leaving = (exp.select(col("profile_id"), copy=False).from_(diff.copy(), copy=False)
               .where(_op_in(("remove", "update")), copy=False))
    closes = and_(col("valid_to_run", "h").is_(exp.null()), exp.Not(this=col("profile_id", "d").is_(exp.null())))
    kept = (exp.select(col("profile_id", "h"), *_aligned(shape, history_columns, "h"), col("valid_from_run", "h"),
                       alias(exp.Case(ifs=[exp.If(this=closes, true=_run(run_id))], default=col("valid_to_run", "h")),
                             "valid_to_run"), copy=False)
            .from_(history.copy().as_("h", copy=False), copy=False)
            .join(leaving.subquery("d", copy=False), join_type="left", on=and_(
                exp.EQ(this=col("profile_id", "d"), expression=col("profile_id", "h")),
                col("valid_to_run", "h").is_(exp.null())), copy=False))
    if erased is not None:  # an erased member's rows go, past ones included
        kept = kept.where(exp.Not(this=erased), copy=False)
    return union_all([kept, opened])


def _op_in(ops: tuple[str, ...]) -> exp.Expression:
    return exp.In(this=col("op"), expressions=[lit(op) for op in ops])


def _text(value: str) -> exp.Expression:
    return exp.Cast(this=lit(value), to=data_type("string"))


def _run(run_id: int) -> exp.Expression:
    return exp.Cast(this=exp.Literal.number(run_id), to=exp.DataType.build("BIGINT"))
