"""PostgreSQL, over the network with psycopg 3: `cdpc run --engine postgres [--dsn DSN]`.

The connection is in autocommit mode: every statement of a unit stands on its own, as
on the other engines. A run's raw data arrives as cdpc's clean CSV form (run/rawcsv.py),
streamed with `COPY ... FROM STDIN (FORMAT csv)` into a table of TEXT columns.
"""

from __future__ import annotations

from typing import Any, Optional

from ..rawcsv import CleanCsv
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

    def load_text(self, schema: str, table: str, clean: CleanCsv) -> None:
        """A new table of the clean CSV's columns as TEXT, streamed with COPY (whose NULL rule is
        cdpc's: an empty unquoted cell is NULL, a quoted `""` the empty text)."""
        target = f"{_ident(schema)}.{_ident(table)}"
        self.execute(f"CREATE TABLE {target} ({', '.join(f'{_ident(c)} TEXT' for c in clean.columns)})")
        copy = (f"COPY {target} ({', '.join(_ident(c) for c in clean.columns)}) FROM STDIN "
                "WITH (FORMAT csv, HEADER true, DELIMITER ',', QUOTE '\"', ESCAPE '\"', ENCODING 'UTF8')")
        try:
            with self.connection.cursor() as cursor, cursor.copy(copy) as stream, clean.path.open("rb") as handle:
                while chunk := handle.read(_COPY_CHUNK):
                    stream.write(chunk)
        except self._psycopg.Error as exc:
            raise EngineError(_first_line(exc)) from None

    def relation_columns(self, schema: str, table: str) -> Optional[list[str]]:
        """The columns of a table, view or materialized view, None when there is none (or it is not visible)."""
        rows = self.rows("SELECT a.attname FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
                         "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                         f"WHERE n.nspname = {_literal(schema)} AND c.relname = {_literal(table)} "
                         "AND c.relkind IN ('r', 'v', 'm', 'f', 'p') AND a.attnum > 0 AND NOT a.attisdropped "
                         "ORDER BY a.attnum")
        return [r[0] for r in rows] or None

    def list_schemas(self) -> list[str]:
        return [r[0] for r in self.rows("SELECT nspname FROM pg_catalog.pg_namespace")]

    def drop_schema(self, schema: str) -> None:
        self.execute(f"DROP SCHEMA IF EXISTS {_ident(schema)} CASCADE")

    def forbid_file_access(self) -> None:
        """Nothing to switch off: the server reads files only for a superuser or a member of
        pg_read_server_files / pg_execute_server_program (`pg_read_file`, `COPY ... FROM
        'file'`, `lo_import`), a session cannot give up a right its role has, and snippets
        cannot name those functions. Run cdpc as a role without them (docs/engines.md)."""

    def close(self) -> None:
        self.connection.close()


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


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
