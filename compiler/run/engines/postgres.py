"""PostgreSQL, over the network with psycopg 3: `cdpc run --engine postgres [--dsn DSN]`.

The connection is in autocommit mode: every statement of a unit stands on its own, as
on the other engines. Raw CSV files are streamed with `COPY ... FROM STDIN (FORMAT
csv)`, whose NULL rule is that of docs/reference.md §2.2 (an empty unquoted cell is NULL, a quoted `""` the
empty string); Parquet files are read in-process with DuckDB and copied row by row.
Either way the raw table holds the contract's fields as TEXT, bound by name.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from ..raw import RawFile
from . import EngineError

INSTALL_HINT = "install with pip install 'cdpc[postgres]'"
_COPY_CHUNK = 1 << 20


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class PostgresEngine:
    dialect = "postgres"

    def __init__(self, dsn: str | None = None):
        try:
            import psycopg
        except ImportError:
            raise EngineError(f"the postgres engine needs psycopg 3, which is not installed: {INSTALL_HINT}") from None
        self._psycopg = psycopg
        try:
            # dsn None or "": libpq reads the standard PG* variables (PGHOST, PGPORT, PGUSER, ...)
            self.connection = psycopg.connect(dsn or "", autocommit=True, connect_timeout=_connect_timeout())
        except psycopg.OperationalError as exc:
            raise EngineError(_connect_message(dsn, exc)) from None
        except psycopg.ProgrammingError as exc:  # a malformed connection string
            raise EngineError(f"invalid PostgreSQL connection string: {_first_line(exc)}") from None
        try:
            # timestamps are without time zone everywhere; UTC keeps casts from text stable
            self.execute("SET TIME ZONE 'UTC'")
            self.execute("SET client_encoding TO 'UTF8'")
        except EngineError:
            self.connection.close()
            raise

    def execute(self, sql: str) -> None:
        try:
            # without parameters psycopg sends the text as is (no %-placeholder processing)
            self.connection.execute(sql)
        except self._psycopg.Error as exc:
            raise EngineError(_first_line(exc)) from None

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        try:
            return self.connection.execute(sql).fetchall()
        except self._psycopg.Error as exc:
            raise EngineError(_first_line(exc)) from None

    def load_raw(self, raw: RawFile) -> None:
        target = f"{_ident(raw.schema)}.{_ident(raw.table)}"
        self.execute(f"CREATE SCHEMA IF NOT EXISTS {_ident(raw.schema)}")
        self.execute(f"DROP TABLE IF EXISTS {target}")
        if raw.format == "csv":
            self._load_csv(raw, target)
        else:
            self._load_parquet(raw, target)

    def _load_csv(self, raw: RawFile, target: str) -> None:
        header = _csv_header(raw.path)
        if len(set(header)) != len(header):
            raise EngineError(f"{raw.path.name}: the header row names a column twice")
        # the whole file into a session-local table, then the contract's columns by name
        load = "pg_temp.cdpc_load"
        columns = ", ".join(f"{_ident(c)} TEXT" for c in header)
        self.execute(f"DROP TABLE IF EXISTS {load}")
        self.execute(f"CREATE TEMPORARY TABLE cdpc_load ({columns})")
        copy = (f"COPY {load} ({', '.join(_ident(c) for c in header)}) FROM STDIN "
                "WITH (FORMAT csv, HEADER MATCH, DELIMITER ',', QUOTE '\"', ESCAPE '\"', ENCODING 'UTF8')")
        try:
            with self.connection.cursor() as cursor, cursor.copy(copy) as stream, raw.path.open("rb") as handle:
                while chunk := handle.read(_COPY_CHUNK):
                    stream.write(chunk)
        except self._psycopg.Error as exc:
            self.execute(f"DROP TABLE IF EXISTS {load}")
            raise EngineError(_first_line(exc)) from None
        selected = ", ".join(_ident(c) for c in raw.columns)
        self.execute(f"CREATE TABLE {target} AS SELECT {selected} FROM {load}")
        self.execute(f"DROP TABLE {load}")

    def _load_parquet(self, raw: RawFile, target: str) -> None:
        import duckdb

        from .duckdb import NO_EXTENSIONS

        columns = ", ".join(f"{_ident(c)} TEXT" for c in raw.columns)
        self.execute(f"CREATE TABLE {target} ({columns})")
        path = str(raw.path).replace("'", "''")
        selected = ", ".join(f"CAST({_ident(c)} AS VARCHAR)" for c in raw.columns)
        copy = f"COPY {target} ({', '.join(_ident(c) for c in raw.columns)}) FROM STDIN"
        try:
            with duckdb.connect(config=NO_EXTENSIONS) as local:
                result = local.execute(f"SELECT {selected} FROM read_parquet('{path}')")
                with self.connection.cursor() as cursor, cursor.copy(copy) as stream:
                    while batch := result.fetchmany(10_000):
                        for row in batch:
                            stream.write_row(row)
        except duckdb.Error as exc:
            self.execute(f"DROP TABLE IF EXISTS {target}")
            raise EngineError(_first_line(exc)) from None
        except self._psycopg.Error as exc:
            self.execute(f"DROP TABLE IF EXISTS {target}")
            raise EngineError(_first_line(exc)) from None

    def forbid_file_access(self) -> None:
        """Nothing to switch off: the server reads files only for a superuser or a member of
        pg_read_server_files / pg_execute_server_program (`pg_read_file`, `COPY ... FROM
        'file'`, `lo_import`), a session cannot give up a right its role has, and snippets
        cannot name those functions. Run cdpc as a role without them (docs/engines.md)."""

    def close(self) -> None:
        self.connection.close()


def _csv_header(path: Path) -> list[str]:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            return next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise EngineError(str(exc)) from None


def _connect_timeout() -> int:
    import os

    try:
        return int(os.environ.get("PGCONNECT_TIMEOUT", "10"))
    except ValueError:
        return 10


def _connect_message(dsn: str | None, exc: Exception) -> str:
    detail = " ".join(str(exc).split())
    lowered = detail.lower()
    where = "the server named by --dsn" if dsn else "the server named by the PG* environment variables (PGHOST, PGPORT, ...)"
    if "password authentication failed" in lowered or "no password supplied" in lowered \
            or "authentication failed" in lowered or ("role" in lowered and "does not exist" in lowered):
        return f"PostgreSQL refused the credentials: {detail}; check the user and password (PGUSER, PGPASSWORD or ~/.pgpass)"
    if "database" in lowered and "does not exist" in lowered:
        return f"PostgreSQL has no such database: {detail}; check dbname (PGDATABASE)"
    if "connection refused" in lowered or "could not connect" in lowered or "timeout" in lowered \
            or "could not translate host name" in lowered or "no such file or directory" in lowered:
        hint = "" if "is the server running" in lowered else "; is the server running, and are host and port right?"
        return f"cannot reach PostgreSQL at {where}: {detail}{hint}"
    return f"cannot connect to PostgreSQL ({where}): {detail}"


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def connect(*, dsn=None, **_options) -> PostgresEngine:
    """`cdpc run --engine postgres`: the connection string, else the PG* variables."""
    return PostgresEngine(dsn)
