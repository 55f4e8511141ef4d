"""Drive a run: compile in memory, load raw files, execute every unit in order, check, summarize.

The runner executes the SQL that `cdpc compile` writes for the engine's target (the same
units), with two differences: the output schemas and `cdpc_work` are renamed to schemas
private to the run (compiler/run/private.py), and staging reads the run's private copy of
each raw relation (raw.py). The outputs are published from the private schemas at the end,
all at once (compiler/run/publish.py). Its own SQL is loading raw data, the run's as-of row,
the row counts of the summary, and the bookkeeping of what cdpc owns.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from sqlglot import exp

from ..render import plan_of
from ..dialects import DIALECTS
from ..diagnostics import Diagnostic, DiagnosticError, Location
from ..emit.plan import RenderedCheck, RenderedLoop, RenderedUnit, RenderedWhen, render_unit
from ..emit.sql import RUN_CONTEXT, WORK, create_table_as
from ..gcpause import gc_paused
from ..project import LoadedProject
from .access import LAYER as ACCESS, overreach
from .activation import Activation, activate, definitions_hash, held_findings, plan_publication, state_outputs
from .engines import Engine, EngineError, scalar
from .examples import duplicated_values
from .private import RunSchemas, moved, relocated
from .publish import drop_private, prepare, publish
from .raw import RunSources, drop_read, drop_sources, find_sources, load_sources, read_private
from .runlog import RunRecord, now, record_failure
from .stats import RunStats, collect_stats
from .testhook import arm_kill_hook

RAW_READERS = ("staging", "erasure")  # the units that read the run's private copies of the raw sources


@dataclass
class RunResult:
    as_of: dt.datetime
    stats: RunStats
    seconds: dict[str, float] = field(default_factory=dict)
    findings: list[Diagnostic] = field(default_factory=list)
    iterations: dict[str, int] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)  # tables of removed definitions, schema.table
    run_id: int = 0
    activation: Optional[Activation] = None  # each sync's changes, and the syncs held

    @property
    def failed(self) -> bool:
        return any(f.is_error for f in self.findings)


Progress = Callable[[str], None]


def run_project(project: LoadedProject, engine: Engine, data_dir: Path, as_of: dt.datetime,
                progress: Optional[Progress] = None, sources_mode: str = "files", wait: float = 0) -> RunResult:
    """Hold the warehouse (`wait` seconds at most), build everything in private schemas,
    publish at the end; on any failure the previous outputs stay as they were."""
    defs = project.definitions
    started, started_at = time.perf_counter(), now()  # "load" includes reading the raw files, which find_sources does
    sources = find_sources(engine, defs, sources_mode, data_dir)
    arm_kill_hook(engine)
    progress = progress or (lambda _: None)
    progress("waiting for the warehouse" if wait else "checking the warehouse")
    prepared = prepare(engine, defs, plan_of(project), wait, extra=state_outputs(project))
    try:
        result = _build(project, engine, prepared.schemas, sources, as_of, progress, started)
        total = result.seconds.pop("total")
        began = time.perf_counter()
        result.activation = activate(engine, project, prepared, result.stats, progress)
        result.findings += held_findings(defs, result.activation)
        plan_publication(engine, project, prepared, result.activation, as_of, started_at)
        result.seconds["changes"] = time.perf_counter() - began
        progress("publishing")
        began = time.perf_counter()
        publish(engine, prepared, _access_units(project, engine))
        result.seconds["publish"] = time.perf_counter() - began
        result.seconds["total"] = total + result.seconds["changes"] + result.seconds["publish"]
    except Exception:  # a run that publishes nothing is recorded as failed, on its own
        record_failure(engine, prepared.meta, RunRecord(prepared.schemas.run_id, as_of, "failed",
                                                        definitions_hash(project), started_at, now()))
        raise
    finally:
        drop_private(engine, prepared.schemas)
        drop_sources(engine, sources)  # the private copies go, whether the run failed or not
    result.dropped, result.run_id = [t.qualified for t in prepared.removed], prepared.schemas.run_id
    result.findings += overreach(engine, defs, prepared.outputs, prepared.meta)
    return result


def _build(project: LoadedProject, engine: Engine, schemas: RunSchemas, sources: RunSources,
           as_of: dt.datetime, progress: Progress, started: float) -> RunResult:
    """Every unit, in the run's private schemas; the summary's counts are read from there."""
    defs = project.definitions
    with gc_paused():  # the access views read the published tables: made when publishing (run/access.py)
        plan = relocated([u for u in plan_of(project) if u.layer != ACCESS], schemas)
        units = read_private(plan, [render_unit(u, DIALECTS[engine.dialect]) for u in plan], engine.dialect,
                             sources, schemas.work)
    seconds: dict[str, float] = {}
    findings: list[Diagnostic] = []
    iterations: dict[str, int] = {}
    _execute_unit(engine, units[0], iterations)  # setup: schemas
    for statement in _as_of_statements(engine.dialect, as_of, schemas):
        engine.execute(statement)
    progress("loading raw data")
    load_sources(engine, sources)  # after the lock: it also removes what a killed run loaded
    findings += sources.findings
    engine.forbid_file_access()  # before the first statement that holds a snippet
    seconds["load"] = time.perf_counter() - started
    # staging reads the raw copies, and the erasure (after identity) its request log
    last_raw_reader = max((i for i, unit in enumerate(units) if unit.layer in RAW_READERS), default=0)
    for position, unit in enumerate(units[1:-1], start=1):
        progress(f"{unit.layer}: {unit.name}")
        began = time.perf_counter()
        _execute_unit(engine, unit, iterations)
        if unit.layer == "erasure":  # read, never copied: the run's copy of the requests goes now
            drop_read(engine, sources, defs.erasure_sources)
        findings += [f for check in unit.checks if (f := _run_check(engine, unit, check, defs)) is not None]
        if position == last_raw_reader:
            drop_sources(engine, sources)  # nothing reads the raw copies any more: their memory is free now
        seconds[unit.layer] = seconds.get(unit.layer, 0.0) + time.perf_counter() - began
    stats = collect_stats(engine, defs, schemas.table)
    findings += _ignored_requests(defs, stats)
    _execute_unit(engine, units[-1], iterations)  # cleanup: the scratch schema
    seconds["total"] = time.perf_counter() - started
    return RunResult(as_of, stats, seconds, findings, iterations)


def _ignored_requests(defs, stats: RunStats) -> list[Diagnostic]:
    """CDP514 (a warning: bad data rows are never fatal): erasure requests that name no
    identifier type of the identity, or whose value or time does not read."""
    ignored = stats.requests.get("ignored", 0)
    if not ignored:
        return []
    erasure = next(iter(defs.erasures.values()))
    return [Diagnostic("CDP514", f"erasure `{erasure.name}`: {ignored} request{'s' if ignored != 1 else ''} ignored: "
                       "the type is no identifier type of the identity, or the value or the time does not read",
                       erasure.loc("source"), f"fix the rows of `{erasure.source}`: types are "
                       f"{', '.join(defs.identity.types)}; values must normalize like their type",
                       severity="warning")]


def _access_units(project: LoadedProject, engine: Engine) -> list[RenderedUnit]:
    """The access definitions' units for the engine, reading the published (not private) schemas."""
    return [render_unit(u, DIALECTS[engine.dialect]) for u in plan_of(project) if u.layer == ACCESS]


def _execute_unit(engine: Engine, unit: RenderedUnit, iterations: dict[str, int]) -> None:
    _execute_steps(engine, unit, unit.steps, iterations)


def _execute_steps(engine: Engine, unit: RenderedUnit, steps: list, iterations: dict[str, int]) -> None:
    for step in steps:
        if isinstance(step, RenderedLoop):
            iterations[step.name] = _execute_loop(engine, unit, step)
        elif isinstance(step, RenderedWhen):
            if scalar(engine, step.condition):
                _execute_steps(engine, unit, step.steps, iterations)
        else:
            _execute(engine, unit, step)


def _execute_loop(engine: Engine, unit: RenderedUnit, loop: RenderedLoop) -> int:
    for iteration in range(1, loop.max_iterations + 1):
        for statement in loop.body:
            _execute(engine, unit, statement)
        if not scalar(engine, loop.until):
            return iteration
    raise DiagnosticError([Diagnostic("CDP509", f"{unit.layer} {unit.name}: loop {loop.name} did not converge "
                                      f"in {loop.max_iterations} rounds", Location(),
                                      "this is a bug in cdpc: please report it with the data that triggers it")])


def _execute(engine: Engine, unit: RenderedUnit, statement: str) -> None:
    try:
        engine.execute(statement)
    except EngineError as exc:
        raise DiagnosticError([Diagnostic("CDP509", f"{unit.layer} {unit.name}: the engine refused a statement: {_first_line(exc)}",
                                          Location(), f"the statement is in generated/{engine.dialect}/ "
                                          f"(file *{unit.layer}__{unit.name}.sql); re-run `cdpc compile` to inspect it")]) from None


def _run_check(engine: Engine, unit: RenderedUnit, check: RenderedCheck, defs) -> Optional[Diagnostic]:
    value = scalar(engine, check.query) or 0
    too_low = check.minimum is not None and value < check.minimum
    too_high = check.maximum is not None and value > check.maximum
    if not (too_low or too_high):
        return None
    definition = defs.by_kind(unit.kind).get(unit.name) if unit.kind != "project" else None
    location = definition.loc() if definition is not None else Location()
    bounds = [f">= {check.minimum}" if check.minimum is not None else "", f"<= {check.maximum}" if check.maximum is not None else ""]
    expected = "expected " + " and ".join(b for b in bounds if b)
    return Diagnostic(check.code, f"{check.message}: {value} ({expected})" + duplicated_values(engine, check, value), location, _check_hint(check.code),
                      severity=check.severity)


def _check_hint(code: str) -> str:
    return {
        "CDP504": "deduplicate the source, or fix primary_key/unique in the contract",
        "CDP505": "the source stopped delivering: check the export, or relax freshness.error_after",
        "CDP506": "the source is late: check the export, or relax freshness.warn_after",
        "CDP507": "the audience drifted: check upstream attributes and data, or update expected_size",
    }.get(code, "")


def _as_of_statements(dialect: str, as_of: dt.datetime, schemas: RunSchemas) -> list[str]:
    """The run's one-row context table, in the run's scratch schema; snippets read
    `current_date` etc. from it."""
    return [moved(s, schemas).sql(dialect=dialect) for s in _context_table(as_of, WORK)]


def _context_table(as_of: dt.datetime, schema: str) -> list[exp.Expression]:
    stamp = exp.Cast(this=exp.Literal.string(as_of.strftime("%Y-%m-%d %H:%M:%S")), to=exp.DataType.build("TIMESTAMP"))
    return create_table_as(schema, RUN_CONTEXT, exp.select(exp.alias_(stamp, "as_of")))


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


# ---- for `cdpc test` (compiler/run/deftest.py): the same executor, on a throwaway database ----


def execute_units(engine: Engine, units: list[RenderedUnit], iterations: Optional[dict[str, int]] = None) -> None:
    """Execute rendered units in order, each loop repeated until it converges; their checks
    are not run (a test compares tables instead)."""
    for unit in units:
        _execute_unit(engine, unit, {} if iterations is None else iterations)


def as_of_statements(dialect: str, as_of: dt.datetime, work: str) -> list[str]:
    """The statements that write the run's as-of time where `current_date` reads it."""
    return [s.sql(dialect=dialect) for s in _context_table(as_of, work)]
