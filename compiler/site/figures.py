"""The last run's figures, read from the DuckDB file of a `cdpc run --db FILE`.

Read-only: the file is opened with `read_only=True` and no extension may load (the run's
own settings). Each figure is read from the table the current definitions name; a table
that is not in the file (a definition added since that run, other schema names) gives no
figure and is listed in `missing`, never an error. Everything is sorted, so the same file
gives the same figures.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import duckdb

from ..diagnostics import Diagnostic, DiagnosticError, Location
from ..emit.syncs import sync_table
from ..model import Definitions
from ..run.engines.duckdb import NO_EXTENSIONS

TOP_REASONS = 5


@dataclass
class ContractFigures:
    staged: Optional[int] = None
    rejected: Optional[int] = None
    reasons: list[tuple[str, int]] = field(default_factory=list)  # the most frequent reject reasons
    newest: Optional[str] = None  # the latest event_time among staged rows


@dataclass
class RunFigures:
    database: str  # the file's name, without its folder
    finished: Optional[str] = None  # when the last run published (its id is a time), UTC
    contracts: dict[str, ContractFigures] = field(default_factory=dict)
    records: Optional[int] = None
    profiles: Optional[int] = None
    multi_record: Optional[int] = None
    conflicts: Optional[int] = None
    conflict_reasons: list[tuple[str, int]] = field(default_factory=list)
    filled: dict[str, int] = field(default_factory=dict)  # attribute -> profiles with a value
    granted: dict[str, int] = field(default_factory=dict)  # purpose -> profiles granted it
    segments: dict[str, int] = field(default_factory=dict)
    syncs: dict[str, tuple[int, Optional[int]]] = field(default_factory=dict)  # table -> rows, rows without identifier
    missing: list[str] = field(default_factory=list)  # schema.table the definitions name and the file lacks


def read_figures(path: Path, defs: Definitions) -> RunFigures:
    try:
        connection = duckdb.connect(str(path), read_only=True, config=NO_EXTENSIONS)
    except duckdb.Error as exc:
        raise DiagnosticError([Diagnostic(
            "CDP901", f"cannot read {path} as a DuckDB database: {_first_line(exc)}", Location(),
            "pass the file of a `cdpc run --db FILE` that is not running now")]) from None
    try:
        return _Reader(connection, path.name, defs).read()
    except duckdb.Error as exc:
        raise DiagnosticError([Diagnostic(
            "CDP901", f"cannot read the run's tables in {path}: {_first_line(exc)}", Location(),
            "pass the file of a `cdpc run --db FILE` that is not running now")]) from None
    finally:
        connection.close()


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class _Reader:
    def __init__(self, connection: duckdb.DuckDBPyConnection, name: str, defs: Definitions):
        self.connection = connection
        self.defs = defs
        self.figures = RunFigures(name)
        rows = connection.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall()
        self.tables = {(schema, table) for schema, table in rows}

    def rows(self, sql: str) -> list[tuple]:
        return self.connection.execute(sql).fetchall()

    def has(self, schema: str, table: str) -> bool:
        if (schema, table) in self.tables:
            return True
        self.figures.missing.append(f"{schema}.{table}")
        return False

    def count(self, schema: str, table: str, where: str = "") -> Optional[int]:
        if not self.has(schema, table):
            return None
        return int(self.rows(f"SELECT count(*) FROM {_q(schema)}.{_q(table)}" + (f" WHERE {where}" if where else ""))[0][0])

    def read(self) -> RunFigures:
        defs, f = self.defs, self.figures
        s = defs.project.schemas
        meta = defs.project.schemas.meta
        if (meta, "owned") in self.tables:
            last = self.rows(f"SELECT max(run_id) FROM {_q(meta)}.owned")[0][0]
            if last:
                moment = dt.datetime.fromtimestamp(int(last) / 1000, dt.timezone.utc)
                f.finished = f"{moment:%Y-%m-%d %H:%M} UTC"
        for name, contract in defs.contracts.items():
            if name in defs.erasure_sources:  # read, never staged: no table to count
                continue
            c = f.contracts[name] = ContractFigures()
            c.staged = self.count(s.staging, name)
            rejected = f"{name}_rejected"
            c.rejected = self.count(s.staging, rejected)
            if c.rejected:
                c.reasons = [(str(r), int(n)) for r, n in self.rows(
                    f"SELECT reason, count(*) AS n FROM (SELECT unnest(_reject_reasons) AS reason FROM "
                    f"{_q(s.staging)}.{_q(rejected)}) GROUP BY reason ORDER BY n DESC, reason LIMIT {TOP_REASONS}")]
            if c.staged and contract.event_time:
                newest = self.rows(f"SELECT max({_q(contract.event_time)}) FROM {_q(s.staging)}.{_q(name)}")[0][0]
                c.newest = str(newest) if newest is not None else None
        identity = defs.identity
        if identity is not None:
            f.records = self.count(s.identity, f"{identity.name}_map")
            if f.records is not None:
                f.multi_record = int(self.rows(
                    f"SELECT count(*) FROM (SELECT profile_id FROM {_q(s.identity)}.{_q(identity.name + '_map')} "
                    "GROUP BY profile_id HAVING count(*) > 1)")[0][0])
            f.conflicts = self.count(s.identity, f"{identity.name}_conflicts")
            if f.conflicts:
                f.conflict_reasons = [(str(r), int(n)) for r, n in self.rows(
                    f"SELECT reason, count(*) AS n FROM {_q(s.identity)}.{_q(identity.name + '_conflicts')} "
                    f"GROUP BY reason ORDER BY n DESC, reason LIMIT {TOP_REASONS}")]
            profiles = f"{defs.project.entity}_profiles"
            f.profiles = self.count(s.profiles, profiles)
            if f.profiles is not None:
                columns = {c for (c,) in self.rows(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = "
                    f"'{s.profiles.replace(chr(39), chr(39) * 2)}' AND table_name = '{profiles.replace(chr(39), chr(39) * 2)}'")}
                names = [a for a in defs.attributes if a in columns]
                if names:
                    counts = self.rows("SELECT " + ", ".join(f"count({_q(a)})" for a in names)
                                       + f" FROM {_q(s.profiles)}.{_q(profiles)}")[0]
                    f.filled = {a: int(n) for a, n in zip(names, counts)}
            consent = f"{defs.project.entity}_consent"
            if defs.consents and self.has(s.profiles, consent):
                f.granted = {str(p): int(n) for p, n in self.rows(
                    f"SELECT purpose, count(*) FILTER (WHERE granted) FROM {_q(s.profiles)}.{_q(consent)} "
                    "GROUP BY purpose ORDER BY purpose")}
        for name in defs.segments:
            size = self.count(s.audiences, name)
            if size is not None:
                f.segments[name] = size
        for destination in defs.destinations.values():
            for sync in destination.syncs:
                table = sync_table(destination.name, sync.segment)
                rows = self.count(s.audiences, table)
                if rows is None:
                    continue
                none = None
                if destination.identifiers:
                    none = self.count(s.audiences, table,
                                      " AND ".join(f"{_q(t)} IS NULL" for t in destination.identifiers))
                f.syncs[table] = (rows, none)
        f.missing = sorted(set(f.missing))
        return f
