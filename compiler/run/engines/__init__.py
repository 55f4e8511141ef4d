"""One small adapter per engine: connect, load clean raw files as text, execute, read back."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any, Optional, Protocol

from ...dialects import DIALECTS
from ..rawcsv import CleanCsv


class EngineError(Exception):
    """The engine refused a statement or could not be reached; the message says why."""


class WarehouseBusy(EngineError):
    """Another run holds the warehouse; the message names it (pid, host, started at)."""


class OutOfMemory(Exception):
    """The engine ran out of memory, and of room to spill to. Not an EngineError: no statement
    is at fault, so it passes the handlers that blame one, and the run stops (CDP909, exit 2)."""


class InTheWay(EngineError):
    """Publishing met a relation cdpc does not own (a user's view on a table whose columns changed)."""


@dataclass
class Publication:
    """What a run publishes at its end, at once: each output table from its private schema,
    the drops of tables of removed definitions, and the statements that rewrite `owned`."""

    moves: list[tuple[str, str, str]] = field(default_factory=list)  # (private schema, schema, table)
    drops: list[tuple[str, str]] = field(default_factory=list)  # (schema, table)
    bookkeeping: list[str] = field(default_factory=list)
    # cdpc's own views on the outputs (access definitions, run/access.py): dropped before the
    # tables move (a table whose columns changed cannot be dropped under a view), made after
    unpublish: list[str] = field(default_factory=list)
    views: list[str] = field(default_factory=list)


class Engine(Protocol):
    dialect: str
    # The catalog that holds the run's private schemas (scratch tables, raw copies, outputs
    # until published) when it is not the warehouse itself: DuckDB's in-memory database,
    # so that nothing private to a run is written to the database file. None: the private
    # schemas are in the warehouse (PostgreSQL, Spark).
    scratch_catalog: Optional[str]
    # The warehouse's own catalog, by which a view in scratch_catalog names a relation of the
    # warehouse (a DuckDB view binds its names in its own catalog); None with no scratch_catalog.
    home_catalog: Optional[str]


    # The engine has database roles: an access definition's grants are run, its role must exist
    # (`missing_roles(roles)`), and what else it can read is audited (`readable_by(role,
    # relations)`); both methods exist only on such an engine. Without roles the access views
    # are written and no grant is run.
    roles: bool

    def execute(self, sql: str) -> None: ...

    def rows(self, sql: str) -> list[tuple[Any, ...]]: ...

    def load_text(self, schema: str, table: str, clean: CleanCsv, catalog: Optional[str] = None) -> None:
        """Create schema.table (in `catalog`, the engine's scratch_catalog, when given), the
        clean CSV's columns as text, and fill it from the file."""
        ...

    def relation_columns(self, schema: str, table: str) -> Optional[list[str]]:
        """The column names of an existing table or view, None when there is no such relation."""
        ...

    def forbid_file_access(self) -> None:
        """Called once the raw files are loaded: from then on the run's SQL reads no files
        (where the engine can promise it; docs/engines.md says what each one does)."""
        ...

    def quote(self, name: str) -> str: ...

    def lock(self, key: str, wait: float) -> None:
        """Hold the warehouse for this run until close(); WarehouseBusy after `wait` seconds."""
        ...

    def schemas(self) -> list[str]: ...

    def adopt(self, schema: str, table: str) -> None:
        """Make a table that an earlier process published readable here, when there is one
        (Spark's catalog lives in its process: the table is registered from its folder)."""
        ...

    def relations(self, schema: str) -> list[str]:
        """Tables and views of a schema (empty when it does not exist)."""
        ...

    def drop_schema(self, schema: str, catalog: Optional[str] = None) -> None:
        """DROP SCHEMA IF EXISTS ... CASCADE (and, on Spark, its folder): a schema private to a
        run with all it holds, in `catalog` (the engine's scratch_catalog) when given, else in
        the warehouse (only ever one of cdpc's own, or a test's)."""
        ...

    def publish(self, publication: Publication) -> None:
        """All at once where the engine can (docs/engines.md); nothing of it on failure."""
        ...

    def close(self) -> None: ...


def scalar(engine: Engine, sql: str) -> Any:
    result = engine.rows(sql)
    return result[0][0] if result else None


def open_engine(name: str, **options: Any) -> Engine:
    """Connect to an engine by target name (`DIALECTS[name].engine`, imported now); options are
    `cdpc run`'s (db, dsn, master, warehouse), each adapter takes its own. EngineError says
    what is missing and how to get it."""
    dialect = DIALECTS.get(name)
    if dialect is None or dialect.engine is None:
        raise EngineError(f"unknown engine {name!r}")
    return import_module(dialect.engine).connect(**options)


def waiting(wait: float, attempt):
    """attempt() until it stops raising WarehouseBusy, for at most `wait` seconds."""
    import time

    deadline = time.monotonic() + max(wait, 0)
    while True:
        try:
            return attempt()
        except WarehouseBusy:
            if time.monotonic() >= deadline:
                raise
            time.sleep(min(0.5, max(deadline - time.monotonic(), 0.01)))


def holder_text(pid: int | str, host: str, started: str) -> str:
    return f"pid {pid} on {host}, started {started}"


_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb|kib|mib|gib|tib)\s*", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 1000, "mb": 1000 ** 2, "gb": 1000 ** 3, "tb": 1000 ** 4,
          "kib": 1024, "mib": 1024 ** 2, "gib": 1024 ** 3, "tib": 1024 ** 4}


def memory_size(text: str) -> int:
    """Bytes of a size as DuckDB writes one (`4GB`, `512MiB`, `1.5 GB`: KB/MB/GB/TB count in
    thousands, KiB/MiB/GiB/TiB in 1024s); ValueError says what is accepted."""
    found = _SIZE.fullmatch(text)
    size = int(float(found.group(1)) * _UNITS[found.group(2).lower()]) if found else 0
    if size < 1:
        raise ValueError(f"{text!r} is not a size: write a number and a unit, e.g. 4GB, 512MB or 8GiB")
    return size
