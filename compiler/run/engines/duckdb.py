"""DuckDB, in-process: the embedded default engine.

A run never installs or loads a DuckDB extension (docs/guarantees.md §4): a function that lives in an
extension fails as unknown instead of fetching code. Once the raw files are loaded the
connection reads and writes no file but its own database (`forbid_file_access`), for the
rest of its life: DuckDB cannot switch external access back on while it runs.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
from pathlib import Path
from typing import Any, Optional

import duckdb

from ..rawcsv import CleanCsv
from . import EngineError, Publication, WarehouseBusy, holder_text, waiting

# At connect, before any statement: autoloading would otherwise run an extension's code on
# the first call to one of its functions, and autoinstalling would download it first.
NO_EXTENSIONS = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


class DuckDBEngine:
    dialect = "duckdb"

    def __init__(self, database: str | Path = ":memory:", wait: float = 0):
        self.reads_files = True
        # one warehouse, one run: DuckDB locks a database file for the process that opens it,
        # so a second cdpc on the same file is refused at connect; it retries up to `wait`
        self.connection = waiting(wait, lambda: _connect(database))
        try:
            # row order of a table is never part of its meaning here; not keeping it is faster
            self.connection.execute("SET preserve_insertion_order = false")
            # DuckDB takes up to 80% of RAM by default; CDPC_DUCKDB_MEMORY_LIMIT (e.g. 4GB)
            # caps it, and DuckDB spills to its temp directory beyond that
            limit = os.environ.get("CDPC_DUCKDB_MEMORY_LIMIT")
            if limit:
                self.connection.execute(f"SET memory_limit = '{limit.replace(chr(39), '')}'")
        except duckdb.Error as exc:
            raise EngineError(f"cannot set up DuckDB database {database}: {exc}") from None

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

    def load_text(self, schema: str, table: str, clean: CleanCsv) -> None:
        """A new table of the clean CSV's columns, as text (an empty unquoted cell is NULL)."""
        if not self.reads_files:
            raise EngineError("this DuckDB connection reads no more files (cdpc turns file access off once a run's "
                              "raw files are loaded): open a new engine for each run")
        path = str(clean.path).replace("'", "''")
        columns = ", ".join(f"'{c}': 'VARCHAR'" for c in clean.columns)
        # every option spelled out: the file is cdpc's own clean form, nothing to detect
        source = (f"read_csv('{path}', header = true, delim = ',', quote = '\"', escape = '\"', "
                  f"columns = {{{columns}}}, auto_detect = false, allow_quoted_nulls = false)")
        self.execute(f'CREATE TABLE "{schema}"."{table}" AS SELECT * FROM {source}')

    def relation_columns(self, schema: str, table: str) -> Optional[list[str]]:
        """The columns of a table or view of this database, None when there is none."""
        rows = self.rows("SELECT column_name FROM information_schema.columns WHERE table_catalog = current_database() "
                         f"AND lower(table_schema) = lower('{_literal(schema)}') "
                         f"AND lower(table_name) = lower('{_literal(table)}') ORDER BY ordinal_position")
        return [r[0] for r in rows] or None

    def forbid_file_access(self) -> None:
        """No file but the database from now on; the settings are locked so that nothing,
        a later statement included, can turn autoloading back on."""
        self.execute("SET enable_external_access = false")
        self.execute("SET lock_configuration = true")
        self.reads_files = False

    def quote(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def lock(self, key: str, wait: float) -> None:
        """Nothing more to take: the database file's lock, held since connect, is the warehouse's."""

    def schemas(self) -> list[str]:
        return [r[0] for r in self.rows("SELECT schema_name FROM information_schema.schemata "
                                        "WHERE catalog_name = current_database()")]

    def adopt(self, schema: str, table: str) -> None:
        """Nothing to do: the database file keeps its catalog."""

    def relations(self, schema: str) -> list[str]:
        s = schema.replace("'", "''")
        return [r[0] for r in self.rows("SELECT table_name FROM information_schema.tables "
                                        f"WHERE table_catalog = current_database() AND table_schema = '{s}'")]

    def drop_schema(self, schema: str) -> None:
        self.execute(f"DROP SCHEMA IF EXISTS {self.quote(schema)} CASCADE")

    def publish(self, publication: Publication) -> None:
        """One transaction: a reader sees all the old outputs or all the new ones. DuckDB moves
        no table between schemas, so each output is copied from the private schema once
        (views bind by name: a user's view reads the new table)."""
        q = self.quote
        statements = [f"CREATE SCHEMA IF NOT EXISTS {q(s)}" for s in sorted({m[1] for m in publication.moves})]
        for private, schema, table in publication.moves:
            statements += [f"DROP TABLE IF EXISTS {q(schema)}.{q(table)}",
                           f"CREATE TABLE {q(schema)}.{q(table)} AS SELECT * FROM {q(private)}.{q(table)}"]
        statements += [f"DROP TABLE IF EXISTS {q(schema)}.{q(table)}" for schema, table in publication.drops]
        self.execute("BEGIN TRANSACTION")
        try:
            for statement in [*statements, *publication.bookkeeping]:
                self.execute(statement)
            self.execute("COMMIT")
        except EngineError:
            self.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.connection.close()


def connect(*, db=None, wait: float = 0, **_options) -> DuckDBEngine:
    """`cdpc run --engine duckdb`: the database file, in memory by default."""
    return DuckDBEngine(db or ":memory:", wait=wait)


def _literal(text: str) -> str:
    return text.replace("'", "''")


def _connect(database: str | Path) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(database), config=NO_EXTENSIONS)
    except duckdb.IOException as exc:
        holder = re.search(r"lock is held in .*?\(PID (\d+)\)", str(exc))
        if holder:
            raise WarehouseBusy(f"another run holds DuckDB database {database}: "
                                f"{holder_text(holder.group(1), socket.gethostname(), _started(int(holder.group(1))))}") from None
        raise EngineError(f"cannot open DuckDB database {database}: {exc}") from None
    except duckdb.Error as exc:
        raise EngineError(f"cannot open DuckDB database {database}: {exc}") from None


def _started(pid: int) -> str:
    """When a local process started (its /proc entry's time), or `at an unknown time`."""
    try:
        moment = dt.datetime.fromtimestamp(os.stat(f"/proc/{pid}").st_ctime, dt.timezone.utc)
    except OSError:
        return "at an unknown time"
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"
