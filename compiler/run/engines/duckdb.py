"""DuckDB, in-process: the embedded default engine.

A run never installs or loads a DuckDB extension (docs/guarantees.md §4): a function that lives in an
extension fails as unknown instead of fetching code. Once the raw files are loaded the
connection reads and writes no file but its own database (`forbid_file_access`), for the
rest of its life: DuckDB cannot switch external access back on while it runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import duckdb

from ..raw import RawFile
from . import EngineError

# At connect, before any statement: autoloading would otherwise run an extension's code on
# the first call to one of its functions, and autoinstalling would download it first.
NO_EXTENSIONS = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


class DuckDBEngine:
    dialect = "duckdb"

    def __init__(self, database: str | Path = ":memory:"):
        self.reads_files = True
        try:
            self.connection = duckdb.connect(str(database), config=NO_EXTENSIONS)
            # row order of a table is never part of its meaning here; not keeping it is faster
            self.connection.execute("SET preserve_insertion_order = false")
            # DuckDB takes up to 80% of RAM by default; CDPC_DUCKDB_MEMORY_LIMIT (e.g. 4GB)
            # caps it, and DuckDB spills to its temp directory beyond that
            limit = os.environ.get("CDPC_DUCKDB_MEMORY_LIMIT")
            if limit:
                self.connection.execute(f"SET memory_limit = '{limit.replace(chr(39), '')}'")
        except duckdb.Error as exc:
            raise EngineError(f"cannot open DuckDB database {database}: {exc}") from None

    def execute(self, sql: str) -> None:
        try:
            self.connection.execute(sql)
        except duckdb.Error as exc:
            raise EngineError(str(exc)) from None

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        try:
            return self.connection.execute(sql).fetchall()
        except duckdb.Error as exc:
            raise EngineError(str(exc)) from None

    def load_raw(self, raw: RawFile) -> None:
        if not self.reads_files:
            raise EngineError("this DuckDB connection reads no more files (cdpc turns file access off once a run's "
                              "raw files are loaded): open a new engine for each run")
        path = str(raw.path).replace("'", "''")
        if raw.format == "csv":
            # every column as text; "" stays an empty string, an empty unquoted cell is NULL
            source = (f"read_csv('{path}', header = true, delim = ',', quote = '\"', escape = '\"', "
                      f"all_varchar = true, allow_quoted_nulls = false, auto_detect = true)")
        else:
            source = f"read_parquet('{path}')"
        columns = ", ".join(f'CAST("{c}" AS VARCHAR) AS "{c}"' for c in raw.columns)
        self.execute(f'CREATE SCHEMA IF NOT EXISTS "{raw.schema}"')
        self.execute(f'DROP TABLE IF EXISTS "{raw.schema}"."{raw.table}"')
        self.execute(f'CREATE TABLE "{raw.schema}"."{raw.table}" AS SELECT {columns} FROM {source}')

    def forbid_file_access(self) -> None:
        """No file but the database from now on; the settings are locked so that nothing,
        a later statement included, can turn autoloading back on."""
        self.execute("SET enable_external_access = false")
        self.execute("SET lock_configuration = true")
        self.reads_files = False

    def close(self) -> None:
        self.connection.close()


def connect(*, db=None, **_options) -> DuckDBEngine:
    """`cdpc run --engine duckdb`: the database file, in memory by default."""
    return DuckDBEngine(db or ":memory:")
