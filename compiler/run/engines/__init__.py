"""One small adapter per engine: connect, load clean raw files as text, execute, read back."""

from __future__ import annotations

from importlib import import_module
from typing import Any, Optional, Protocol

from ...dialects import DIALECTS
from ..rawcsv import CleanCsv


class EngineError(Exception):
    """The engine refused a statement or could not be reached; the message says why."""


class Engine(Protocol):
    dialect: str

    def execute(self, sql: str) -> None: ...

    def rows(self, sql: str) -> list[tuple[Any, ...]]: ...

    def load_text(self, schema: str, table: str, clean: CleanCsv) -> None:
        """Create schema.table, the clean CSV's columns as text, and fill it from the file."""
        ...

    def relation_columns(self, schema: str, table: str) -> Optional[list[str]]:
        """The column names of an existing table or view, None when there is no such relation."""
        ...

    def list_schemas(self) -> list[str]: ...

    def drop_schema(self, schema: str) -> None:
        """DROP SCHEMA IF EXISTS ... CASCADE (and, on Spark, its folder)."""
        ...

    def forbid_file_access(self) -> None:
        """Called once the raw files are loaded: from then on the run's SQL reads no files
        (where the engine can promise it; docs/engines.md says what each one does)."""
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
