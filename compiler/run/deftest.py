"""`cdpc test`: run each definition test on a DuckDB database of its own, in memory, and compare.

The project is compiled once: the DuckDB SQL that `cdpc compile` writes (the same rendered
units `cdpc run` executes) is shared by every test. A test's run is that SQL on a fresh
in-memory database: the raw relations (`raw.bookings`, ...) are created there as text
tables holding the test's rows, the run's as-of row is written, and the statements
execute in order with the runner's own executor. Only the statements that write a table
the test reads, or a table those statements read, run (`TestPlan.run_for`: a backward
slice of the plan on the tables each statement reads and writes, made once per set of
expected tables and shared by every test that expects the same tables; the test's rows
and as-of time play no part in it); a `DROP TABLE IF EXISTS` of a table nothing has
written yet in that database is a no-op and is skipped. No private schema, lock or
publication: nothing else ever reads that database. Then each expected table is read and
compared (docs/reference.md §6.2):

  rows      the table holds exactly these rows: each expected row matches a different row,
            and no row is left over (rows as a multiset, on the columns the rows name)
  contains  each expected row matches a different row of the table
  lacks     no row of the table matches any of these

A row matches when every column it names is equal; `profile: {<type>: <value>}` is the
profile that holds that identifier value, found through the identity map after the value
is normalized like the identifier type. A value that is on no record, or on records of
two profiles (a conflict), names no profile: the test fails, saying so.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Iterator, Optional

from sqlglot import exp

from ..coverage import PROFILE_ID, columns_named, table_of
from ..dialects import DIALECTS, render
from ..diagnostics import DiagnosticError, Location
from ..emit.identity import blocked_values, record_identifiers
from ..emit.plan import Loop, RenderedUnit, Unit, When
from ..emit.sql import RUN_CONTEXT, WORK
from ..emit.syncs import sync_table
from ..model import Definitions, Test
from ..model.test import PROFILE
from ..normalize import normalize_value
from ..project import LoadedProject
from ..render import plan_of, render_target
from .engines import EngineError
from .engines.duckdb import DuckDBEngine
from .runner import as_of_statements, execute_units
from .testrows import Failure, Line, as_of_time, check_form, plural_s, raw_text, show

DIALECT = "duckdb"
# The layers of the plan in run order; a test runs the units up to the last layer it reads.
LAYERS = ("setup", "staging", "identity", "attributes", "consent", "profiles", "segments", "syncs", "cleanup")
READS = {"staged": "staging", "rejected": "staging", "map": "identity", "conflicts": "identity",
         "profiles": "profiles", "consent": "profiles", "segments": "segments", "syncs": "syncs"}
MAX_SHOWN = 25  # rows shown per side of a failure


# ---- results -------------------------------------------------------------------------------


@dataclass
class TestResult:
    name: str
    location: Location
    seconds: float
    expectations: int
    failures: list[Failure] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


# ---- the shared, compiled part ---------------------------------------------------------------


Table = tuple[str, str]  # (schema, table), lower case: DuckDB's names ignore case


@dataclass(frozen=True)
class _Statement:
    """One step of a unit (a statement, or a loop taken whole) and the tables it touches."""

    unit: int  # index in TestPlan.units
    step: int  # index in that unit's steps
    writes: frozenset[Table]
    reads: Optional[frozenset[Table]]  # None: not known, so it may read anything written before it
    drop: Optional[Table]  # the table of a `DROP TABLE IF EXISTS`, else None


@dataclass
class TestPlan:
    """What every test of a project shares: the rendered units, the tables each statement
    reads and writes, the query that reads profiles back, and the statements to run for each
    set of expected tables (made on first use, then shared)."""

    defs: Definitions
    units: list[RenderedUnit]
    profile_lookup: Optional[str]  # (profile_id, a value per identifier type) of every staged row
    lookup_reads: frozenset[Table] = frozenset()
    statements: Optional[list[_Statement]] = None  # None: the plan could not be read, every needed unit runs
    _runs: dict[frozenset, list[RenderedUnit]] = field(default_factory=dict)

    def run_for(self, paths: Iterable[tuple]) -> list[RenderedUnit]:
        """The units, each with only the steps that tables at `paths` need, in plan order. The
        key is the set of paths and nothing else: two tests that expect the same tables run
        the same statements, whatever their rows and as-of time."""
        key = frozenset(paths)
        if key not in self._runs:
            self._runs[key] = _sliced(self, sorted(key))
        return self._runs[key]


def test_plan(project: LoadedProject) -> TestPlan:
    """Compile once for DuckDB (the rendered plan of `cdpc compile`, kept on the project)."""
    defs = project.definitions
    units = render_target(project, DIALECT)
    lookup = _profile_lookup(defs)
    lookup_reads = frozenset() if lookup is None else _tables(lookup)[1]
    return TestPlan(defs, units, None if lookup is None else render(lookup, DIALECTS[DIALECT]),
                    lookup_reads or frozenset(), _statements(plan_of(project), units))


def _profile_lookup(defs: Definitions) -> Optional[exp.Expression]:
    """(profile_id, a value per identifier type) of every staged row of the identity's sources."""
    identity = defs.identity
    if identity is None or not identity.sources:
        return None
    return record_identifiers(defs, identity)


# ---- which statements a test runs --------------------------------------------------------------


def _statements(plan: list[Unit], units: list[RenderedUnit]) -> Optional[list[_Statement]]:
    """Every step of the plan with the tables it writes and reads, read from the emitted trees
    (the rendered units are made from them, step for step); None if they do not line up."""
    if len(plan) != len(units) or any(len(u.steps) != len(r.steps) for u, r in zip(plan, units)):
        return None
    found = []
    for u, unit in enumerate(plan):
        for i, step in enumerate(unit.steps):
            if isinstance(step, (Loop, When)):  # kept or left whole
                touched = [_tables(s) for s in _trees(step)]
                reads = None if any(r is None for _, r in touched) else frozenset().union(*(r for _, r in touched))
                found.append(_Statement(u, i, frozenset().union(*(w for w, _ in touched)), reads, None))
            else:
                writes, reads = _tables(step)
                drop = next(iter(writes)) if isinstance(step, exp.Drop) and step.args.get("exists") \
                    and str(step.args.get("kind")).upper() == "TABLE" and len(writes) == 1 else None
                found.append(_Statement(u, i, writes, reads, drop))
    return found


def _trees(step) -> list[exp.Expression]:
    """Every statement of a loop or a conditional group (their conditions included)."""
    if isinstance(step, Loop):
        return [*step.body, step.until]
    if isinstance(step, When):
        return [step.condition, *(tree for inner in step.steps for tree in _trees(inner))]
    return [step]


def _tables(statement: exp.Expression) -> tuple[frozenset[Table], Optional[frozenset[Table]]]:
    """(tables written, tables read) by one statement; reads None when a name cannot be
    placed (no schema, or another catalog), so the statement may read anything."""
    ctes = {cte.alias_or_name.lower() for cte in statement.find_all(exp.CTE)}
    named = [t for t in statement.find_all(exp.Table) if t.db or t.name.lower() not in ctes]
    if any(not t.db or t.catalog for t in named):
        return frozenset(), None
    names = frozenset((t.db.lower(), t.name.lower()) for t in named)
    if isinstance(statement, exp.Drop):
        return names, frozenset()
    if isinstance(statement, (exp.Create, exp.Insert)):
        target = statement.this.this if isinstance(statement.this, exp.Schema) else statement.this
        if not isinstance(target, exp.Table):
            return frozenset(), None
        written = frozenset({(target.db.lower(), target.name.lower())})
        return written, names - written if isinstance(statement, exp.Create) else names
    if isinstance(statement, exp.Query):
        return frozenset(), names
    return frozenset(), None


def _sliced(plan: TestPlan, paths: list[tuple]) -> list[RenderedUnit]:
    """The needed units (`needed_units`) with only the steps that write a table at `paths`, or
    a table such a step reads, and so on back (a loop whole); a step whose tables cannot be
    told is kept, with every step before it. Then a `DROP TABLE IF EXISTS` of a table that no
    kept step before it wrote goes: on a new database it drops nothing."""
    units = needed_units(plan, paths)
    if plan.statements is None:
        return units
    index = {id(u): i for i, u in enumerate(plan.units)}
    candidates = {index[id(u)] for u in units}
    defs = plan.defs
    needed = {tuple(n.lower() for n in physical_table(defs, p)) for p in paths}
    if max(LAYERS.index(READS[p[0]]) for p in paths) >= LAYERS.index("identity"):
        needed |= plan.lookup_reads  # profiles named by an identifier value are read back
    kept: list[_Statement] = []
    everything = False
    for statement in reversed([s for s in plan.statements if s.unit in candidates]):
        if everything or statement.reads is None or statement.writes & needed:
            kept.append(statement)
            if statement.reads is None:
                everything = True
            else:
                needed |= statement.reads
    written = {(c.relation_schema.lower(), c.relation_table.lower()) for c in defs.contracts.values()}
    written.add((WORK.lower(), RUN_CONTEXT.lower()))  # what `_load` makes
    steps: dict[int, list[int]] = {}
    for statement in reversed(kept):
        if statement.drop is not None and statement.drop not in written:
            continue
        written |= statement.writes
        steps.setdefault(statement.unit, []).append(statement.step)
    return [replace(plan.units[u], steps=[plan.units[u].steps[i] for i in steps[u]]) for u in sorted(steps)]


# ---- running -----------------------------------------------------------------------------------


def run_tests(project: LoadedProject, tests: Iterable[Test], workers: Optional[int] = None) -> list[TestResult]:
    """Every test, in order. Threads, one per core (or `workers`) and never more than the
    tests, take tests from a shared queue, each with a DuckDB connection of its own (DuckDB
    plans and executes without holding Python's lock); each test has a database of its own
    either way, so the results are the same."""
    plan = test_plan(project)
    tests = list(tests)
    for test in tests:  # made before the threads start: they only read the plan
        plan.run_for(path for path, _ in test.expect.tables())
    results: list[Optional[TestResult]] = [None] * len(tests)
    taken = iter(range(len(tests)))
    lock = threading.Lock()
    failed: list[BaseException] = []

    def work() -> None:
        databases = _Databases()
        try:
            while not failed:
                with lock:
                    index = next(taken, None)
                if index is None:
                    return
                results[index] = run_test(plan, tests[index], databases)
        except BaseException as exc:  # re-raised by the caller; the other threads stop
            failed.append(exc)
        finally:
            databases.close()

    count = max(1, min(len(tests), workers or os.cpu_count() or 1))
    threads = [threading.Thread(target=work, name=f"cdpc-test-{i}", daemon=True) for i in range(count - 1)]
    for thread in threads:
        thread.start()
    work()
    for thread in threads:
        thread.join()
    if failed:
        raise failed[0]
    return [r for r in results if r is not None]


class _Databases:
    """A database of its own for each test: one DuckDB connection per thread, opened on first
    use, in which each test ATTACHes an in-memory database, makes it the default (USE) and
    DETACHes it when done, which frees it. Opening a connection costs a test of a small project
    a fifth of its time; an attached database shares nothing with the others but the
    connection. The connection plans with one thread (a test's tables hold a few rows) and
    without extensions; file access is off from the start: tests load their rows with
    INSERT, never from a file."""

    def __init__(self) -> None:
        self.engine: Optional[DuckDBEngine] = None
        self.opened = 0

    @contextmanager
    def database(self) -> Iterator[DuckDBEngine]:
        if self.engine is None:
            self.engine = DuckDBEngine()
            self.engine.execute("SET threads = 1")
            self.engine.execute("PRAGMA disable_optimizer")
            self.engine.forbid_file_access()
        self.opened += 1
        name, engine = f"cdpc_test_{self.opened}", self.engine
        engine.execute(f"ATTACH ':memory:' AS {name}")
        engine.execute(f"USE {name}")
        try:
            yield engine
        finally:
            engine.execute(f"USE {DEFAULT_DATABASE}")
            engine.execute(f"DETACH {name}")

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()
        self.engine = None


DEFAULT_DATABASE = "memory"  # DuckDB's name for the database of an in-memory connection


def run_test(plan: TestPlan, test: Test, databases: Optional[_Databases] = None) -> TestResult:
    """One test on a database of its own (from `databases`, else on a connection of its own)."""
    if databases is None:
        databases = _Databases()
        try:
            return run_test(plan, test, databases)
        finally:
            databases.close()
    began = time.perf_counter()
    tables = list(test.expect.tables())
    result = TestResult(test.name, test.loc("name"), 0.0, sum(len(list(e.forms())) for _, e in tables))
    with databases.database() as engine:
        try:
            _load(engine, plan, test)
            execute_units(engine, plan.run_for(path for path, _ in tables))
            profiles = _Profiles(engine, plan)
            for path, expectation in tables:
                result.failures += _compare(engine, plan.defs, test, path, expectation, profiles)
            result.failures.sort(key=lambda f: f.location)
        except DiagnosticError as exc:  # the engine refused a statement: the test cannot pass
            first = exc.diagnostics[0]
            result.failures.append(Failure(test.loc("name"), "the run", f"{first.code} {first.message}",
                                           notes=[first.hint]))
        except EngineError as exc:
            result.failures.append(Failure(test.loc("name"), "the run", f"the engine refused the test's data: {exc}"))
    result.seconds = time.perf_counter() - began
    return result


def needed_units(plan: TestPlan, paths: list[tuple]) -> list[RenderedUnit]:
    """The units after setup that the tables at `paths` read, in plan order: every unit up to the
    last layer they read, but of segments and destinations only those they name and what those
    read (a segment's include and exclude, a sync's segment)."""
    defs = plan.defs
    last = max(LAYERS.index(READS[path[0]]) for path in paths)
    destinations = {path[1] for path in paths if path[0] == "syncs"}
    segments = {path[1] for path in paths if path[0] == "segments"}
    segments |= {s.segment for name in destinations for s in defs.destinations[name].syncs}
    pending = list(segments)
    while pending:
        segment = defs.segments[pending.pop()]
        for other in (*segment.include, *segment.exclude):
            if other not in segments:
                segments.add(other)
                pending.append(other)
    wanted = {"segment": segments, "destination": destinations}
    # an access definition's views read published tables and hold no row of their own: not run
    return [u for u in plan.units[1:] if u.layer in LAYERS and LAYERS.index(u.layer) <= last
            and (u.kind not in wanted or u.name in wanted[u.kind])]


def _load(engine: DuckDBEngine, plan: TestPlan, test: Test) -> None:
    """The output schemas (the plan's setup unit), the raw relations holding the test's rows as
    text, and the as-of row."""
    execute_units(engine, plan.units[:1])
    q = engine.quote
    statements = [f"CREATE SCHEMA IF NOT EXISTS {q(s)}" for s in sorted({c.relation_schema for c in plan.defs.contracts.values()})]
    for contract in plan.defs.contracts.values():
        fields = list(contract.fields)
        name = f"{q(contract.relation_schema)}.{q(contract.relation_table)}"
        statements.append(f"CREATE TABLE {name} ({', '.join(f'{q(f)} VARCHAR' for f in fields)})")
        rows = test.given.get(contract.name, [])
        if rows:
            statements.append(f"INSERT INTO {name} VALUES " + ", ".join(
                "(" + ", ".join(_literal(raw_text(row.get(f), contract.fields[f].base_type)) for f in fields) + ")"
                for row in rows))
    statements += as_of_statements(DIALECT, as_of_time(test.as_of), WORK)
    for statement in statements:
        engine.execute(statement)


def _literal(text: Optional[str]) -> str:
    return "NULL" if text is None else "'" + text.replace("'", "''") + "'"


# ---- profiles named by an identifier value -------------------------------------------------------


class _Profiles:
    """Which profiles hold which identifier values (read once per test, when first needed)."""

    def __init__(self, engine: DuckDBEngine, plan: TestPlan):
        self.engine, self.plan = engine, plan
        self._rows: Optional[list[tuple[str, str, str]]] = None

    @property
    def rows(self) -> list[tuple[str, str, str]]:
        if self._rows is None:
            identity = self.plan.defs.identity
            found = self.engine.rows(self.plan.profile_lookup) if self.plan.profile_lookup else []
            # a blocklisted value names no profile (the identity's rows hold none: checked again here)
            blocked = {t: set(blocked_values(identity, t)) for t in identity.types} if identity else {}
            self._rows = sorted({(t, value, row[0]) for row in found for t, value in zip(identity.types, row[1:])
                                 if value is not None and value not in blocked[t]})
        return self._rows

    def resolve(self, named: dict) -> tuple[Optional[str], str]:
        """(profile_id, "") for `{type: value}`, or (None, why it names no profile)."""
        (id_type, value), = named.items()
        identity = self.plan.defs.identity
        shown = f"{id_type} {value!r}"
        kind = identity.identifier(id_type).normalize
        value = normalize_value(kind, raw_text(value, "string"))
        if value is None:
            return None, f"{shown} is no {id_type} once normalized ({kind})"
        if value in blocked_values(identity, id_type):
            return None, f"{shown} is on the identity's blocklist: it names no profile"
        found = sorted({p for t, v, p in self.rows if t == id_type and v == value})
        if not found:
            normal = f" (normalized {value!r})" if value != named[id_type] else ""
            return None, f"{shown}{normal} is on no staged record, so it names no profile"
        if len(found) > 1:
            return None, (f"{shown} is on records of {len(found)} profiles (a conflict), so it names none of them: "
                          f"name them by another identifier")
        return found[0], ""

    def label(self, profile_id: Any, prefer: list[str]) -> str:
        """How an actual profile is shown: one of its identifier values, of a type the test used first."""
        if profile_id is None:
            return "null"
        held: dict[str, list[str]] = {}
        for id_type, value, owner in self.rows:
            if owner == profile_id:
                held.setdefault(id_type, []).append(value)
        for id_type in [*prefer, *self.plan.defs.identity.types]:
            values = sorted(held.get(id_type, []))
            unique = [v for v in values if sum(1 for t, x, _ in self.rows if t == id_type and x == v) == 1] or values
            if unique:
                return f"{id_type}: {unique[0]}"
        return f"profile_id: {profile_id}"


# ---- comparing -------------------------------------------------------------------------------------


def _compare(engine: DuckDBEngine, defs: Definitions, test: Test, path: tuple, expectation,
             profiles: _Profiles) -> list[Failure]:
    schema, name = physical_table(defs, path)
    forms = list(expectation.forms())
    spec = table_of(defs, path)
    # the columns the rows name; every column when they name none (`rows: []`: show what is there)
    columns = columns_named([row for _, rows in forms for row in rows]) or list(spec.columns)
    selected = list(dict.fromkeys(PROFILE_ID if c == PROFILE else c for c in columns))
    q = engine.quote
    # in a stable order (a table has none): which row a failure shows does not vary between runs
    actual = [dict(zip(selected, row)) for row in sorted(
        engine.rows(f"SELECT {', '.join(q(c) for c in selected)} FROM {q(schema)}.{q(name)}"),
        key=lambda row: [(v is not None, show(v)) for v in row])]
    prefer = [next(iter(row[PROFILE])) for _, rows in forms for row in rows if isinstance(row.get(PROFILE), dict)]
    label = spec.label
    failures = []
    for form, rows in forms:
        notes: list[str] = []
        patterns = [_pattern(row, profiles, notes) for row in rows]
        checked = check_form(form, patterns, actual)
        if checked is None and not notes:
            continue
        pairs, problem = checked or ([(i, None) for i in range(len(rows))], "")
        if notes:
            problem = ", ".join(p for p in (problem, f"{len(notes)} expected row{plural_s(len(notes))} name{'s' if len(notes) == 1 else ''} no profile") if p)
        lines = [_line(form, i, j, rows, actual, columns, profiles, prefer) for i, j in pairs[:MAX_SHOWN]]
        if len(pairs) > MAX_SHOWN:
            notes.append(f"{len(pairs) - MAX_SHOWN} more lines not shown")
        failures.append(Failure(test.loc(*test.rows_path(path, form)), f"{label} ({form})", problem, columns,
                                lines, notes))
    return failures


def physical_table(defs: Definitions, path: tuple) -> tuple[str, str]:
    """(schema, table) of the output table at `path` under `expect` (docs/reference.md §4)."""
    s, key = defs.project.schemas, path[0]
    if key == "staged":
        return s.staging, path[1]
    if key == "rejected":
        return s.staging, f"{path[1]}_rejected"
    if key in ("map", "conflicts"):
        return s.identity, f"{defs.identity.name}_{key}"
    if key in ("profiles", "consent"):
        return s.profiles, f"{defs.project.entity}_{key}"
    if key == "segments":
        return s.audiences, path[1]
    return s.audiences, sync_table(path[1], path[2])


def _pattern(row: dict, profiles: _Profiles, notes: list[str]) -> Optional[dict]:
    """An expected row with its `profile` resolved to a profile_id; None when it names no profile."""
    pattern = {}
    for column, value in row.items():
        if column == PROFILE:
            profile_id, why = profiles.resolve(value)
            if profile_id is None:
                notes.append(why)
                return None
            pattern[PROFILE_ID] = profile_id
        else:
            pattern[column] = value
    return pattern


def _line(form: str, i: Optional[int], j: Optional[int], rows: list[dict], actual: list[dict], columns: list[str],
          profiles: _Profiles, prefer: list[str]) -> Line:
    left = [_cell(rows[i][c], c) if c in rows[i] else "" for c in columns] if i is not None else None
    right = [_actual_cell(actual[j], c, profiles, prefer) for c in columns] if j is not None else None
    if form == "lacks":
        mark = "!"
    else:
        mark = "=" if left is not None and right is not None else "-" if right is None else "+"
    return Line(mark, left, right)


def _cell(value: Any, column: str) -> str:
    if column == PROFILE and isinstance(value, dict):
        (id_type, id_value), = value.items()
        return f"{id_type}: {id_value}"
    return show(value)


def _actual_cell(row: dict, column: str, profiles: _Profiles, prefer: list[str]) -> str:
    if column == PROFILE:
        return profiles.label(row.get(PROFILE_ID), prefer)
    return show(row.get(column))


def summary_line(result: TestResult, test: Test) -> str:
    verdict = "PASS" if result.passed else "FAIL"
    failed = len(result.failures)
    detail = (f"{result.expectations} expectation{plural_s(result.expectations)}" if result.passed else
              f"{failed} of {result.expectations} expectation{plural_s(result.expectations)} failed"
              if any(f.title != "the run" for f in result.failures) else "the run failed")
    return f"{verdict} {result.name}  {test.file}:{result.location.line}  {detail}  ({result.seconds * 1000:.0f} ms)"
