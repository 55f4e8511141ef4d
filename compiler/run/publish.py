"""Before a run: hold the warehouse, clear what a killed run left, check ownership. After:
publish every output at once, drop the tables of removed definitions, rewrite `owned`.

Until `publish` the previous run's outputs are untouched: the run builds in schemas private
to it (compiler/run/private.py). How each engine publishes at once is in its `publish`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..diagnostics import Diagnostic, DiagnosticError, Location
from ..emit.plan import RenderedUnit, Unit
from ..model import Definitions
from .access import check_roles, unpublish_statements, view_statements
from .engines import Engine, EngineError, InTheWay, Publication, WarehouseBusy
from .owned import OwnedTable, check_clashes, ensure_meta, last_run_id, outputs_of, owned_statements, read_owned, removed
from .private import RunSchemas, is_private, new_run_id, run_schemas
from .runlog import ensure_runlog, last_logged_run


@dataclass
class Prepared:
    meta: str
    schemas: RunSchemas
    outputs: list[OwnedTable]  # what cdpc owns once the run is published
    removed: list[OwnedTable]
    owned: list[OwnedTable] = field(default_factory=list)  # what it owned when the run began
    # outputs not moved in from the run's private schemas: a held sync's tables stay as they
    # are, and a table published from another private table is in `moves`
    stay: set[tuple[str, str]] = field(default_factory=set)
    moves: list[tuple[str, str, str]] = field(default_factory=list)  # (private schema, schema, table)
    records: list[str] = field(default_factory=list)  # run after `owned` is rewritten, in its transaction


def prepare(engine: Engine, defs: Definitions, units: list[Unit], wait: float,
            extra: tuple[OwnedTable, ...] = ()) -> Prepared:
    """Everything a run checks before it builds; DiagnosticError (exit 2) when it must not run.
    `extra`: outputs that are not in the plan (a sync's changes and history)."""
    meta = defs.project.schemas.meta
    hold(engine, meta, wait)
    try:
        ensure_meta(engine, meta)
        ensure_runlog(engine, meta)
        drop_leftovers(engine)
        owned = read_owned(engine, meta)
        outputs = sorted(set(outputs_of(units)) | set(extra))
        check_clashes(engine, outputs, owned)
        last = max(last_run_id(engine, meta), last_logged_run(engine, meta))
        schemas = run_schemas(defs.project.schemas, new_run_id(last), engine.scratch_catalog)
    except EngineError as exc:
        raise _environment(f"cannot prepare the run in the meta schema `{meta}`: {exc}",
                           "check that the run's role may create schemas and tables") from None
    check_roles(engine, defs)
    return Prepared(meta, schemas, outputs, removed(owned, outputs), owned)


def hold(engine: Engine, meta: str, wait: float) -> None:
    """One run at a time per warehouse (the lock is keyed by the meta schema)."""
    try:
        engine.lock(meta, wait)
    except WarehouseBusy as exc:
        waited = f"waited {wait:g} s; " if wait else ""
        raise DiagnosticError([Diagnostic("CDP906", str(exc), Location(),
                                          f"{waited}let that run finish, or pass --wait SECONDS to wait for it")]) from None


def publish(engine: Engine, prepared: Prepared, access: list[RenderedUnit] = ()) -> None:
    """`access`: the access definitions' units, rendered for the published schemas (run/access.py)."""
    schemas = prepared.schemas
    publication = Publication(
        moves=[(schemas.private_of(o.schema), o.schema, o.table) for o in prepared.outputs
               if not o.view and (o.schema, o.table) not in prepared.stay] + prepared.moves,
        drops=[(o.schema, o.table) for o in prepared.removed if not o.view],
        bookkeeping=owned_statements(engine, prepared.meta, prepared.outputs, schemas.run_id) + prepared.records,
        unpublish=unpublish_statements(engine, prepared.outputs, prepared.removed),
        views=view_statements(engine, list(access)))
    try:
        engine.publish(publication)
    except InTheWay as exc:
        raise DiagnosticError([Diagnostic("CDP905", f"nothing was published: {exc}", Location(),
                                          "drop those objects (a view: recreate it after the run), then run again; "
                                          "the previous outputs are unchanged")]) from None
    except EngineError as exc:
        raise DiagnosticError([Diagnostic("CDP509", f"publishing the outputs: the engine refused a statement: {exc}",
                                          Location(), "nothing was published: the previous outputs are unchanged")]) from None


def drop_private(engine: Engine, schemas: RunSchemas) -> None:
    """The run's own schemas go, whether it succeeded or not (a failure here must not hide
    why the run failed; the next run removes what is left)."""
    for schema in schemas.private:
        try:
            engine.drop_schema(schema, schemas.catalog)
        except EngineError:
            pass


def drop_leftovers(engine: Engine) -> None:
    """Private schemas of runs that were killed: this run holds the lock, so none is alive.
    On DuckDB they are in memory and die with their process; the ones here were left in the
    database file by runs of earlier versions."""
    for schema in engine.schemas():
        if is_private(schema):
            engine.drop_schema(schema)


def _environment(message: str, hint: str) -> DiagnosticError:
    return DiagnosticError([Diagnostic("CDP901", message, Location(), hint)])
