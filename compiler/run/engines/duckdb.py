"""DuckDB, in-process: the embedded default engine."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import duckdb

from ..raw import RawFile
from . import EngineError


class DuckDBEngine:
    dialect = "duckdb"

    def __init__(self, database: str | Path = ":memory:"):
        try:
            self.connection = duckdb.connect(str(database))
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

    def close(self) -> None:
        self.connection.close()
