"""PostgreSQL, over the network with psycopg 3: `cdpc run --engine postgres [--dsn DSN]`.

The connection is in autocommit mode: every statement of a unit stands on its own, as
on the other engines. A run's raw data arrives as cdpc's clean CSV form (run/rawcsv.py),
streamed with `COPY ... FROM STDIN (FORMAT csv)` into a table of TEXT columns.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import socket
from typing import Any, Optional

from ...dialects import DIALECTS
from ..rawcsv import CleanCsv
from . import EngineError, InTheWay, Publication, WarehouseBusy, holder_text, waiting

INSTALL_HINT = "install with pip install 'cdpc[postgres]'"
_COPY_CHUNK = 1 << 20
_NAME = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)'
_CREATED = re.compile(rf"\s*CREATE\s+TABLE\s+({_NAME}(?:\.{_NAME})*)\s+AS\b", re.IGNORECASE)  # CREATE TABLE t AS ...


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class PostgresEngine:
    dialect = "postgres"
    scratch_catalog = home_catalog = None  # a run's private schemas are in the database itself


    roles = True

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
            created = _CREATED.match(sql)
            if created:  # statistics before the next statement plans on the new table
                self.connection.execute(DIALECTS["postgres"].after_create.format(table=created.group(1)))
        except self._psycopg.Error as exc:
            raise EngineError(_first_line(exc)) from None

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        try:
            return self.connection.execute(sql).fetchall()
        except self._psycopg.Error as exc:
            raise EngineError(_first_line(exc)) from None

    def load_text(self, schema: str, table: str, clean: CleanCsv, catalog: None = None) -> None:
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

    def forbid_file_access(self) -> None:
        """Nothing to switch off: the server reads files only for a superuser or a member of
        pg_read_server_files / pg_execute_server_program (`pg_read_file`, `COPY ... FROM
        'file'`, `lo_import`), a session cannot give up a right its role has, and snippets
        cannot name those functions. Run cdpc as a role without them (docs/engines.md)."""

    def quote(self, name: str) -> str:
        return _ident(name)

    def lock(self, key: str, wait: float) -> None:
        """A session advisory lock on a key derived from `key` (the meta schema): held until the
        connection closes, so a killed run's lock goes with its connection. The holder names
        itself in application_name, which every role may read in pg_stat_activity."""
        started = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        me = f"cdpc run {os.getpid()} {started} {socket.gethostname()}"[:63]
        self.execute(f"SET application_name = {_literal(me)}")
        number = _lock_number(key)
        waiting(wait, lambda: self._try_lock(number))

    def _try_lock(self, number: int) -> None:
        if self.rows(f"SELECT pg_try_advisory_lock({number})")[0][0]:
            return
        raise WarehouseBusy(f"another run holds this PostgreSQL database: {self._holder(number)}")

    def _holder(self, number: int) -> str:
        classid, objid = (number >> 32) & 0xFFFFFFFF, number & 0xFFFFFFFF
        rows = self.rows("SELECT a.application_name, a.client_addr FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                         f"WHERE l.locktype = 'advisory' AND l.granted AND l.classid = {classid} AND l.objid = {objid} "
                         "AND l.objsubid = 1 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())")
        name = rows[0][0] if rows else ""
        parts = name.split(" ", 6) if name.startswith("cdpc run ") else []
        if len(parts) < 7:  # gone meanwhile, or not a cdpc that names itself
            return "a session that did not name itself"
        return holder_text(parts[2], parts[6], f"{parts[3]} {parts[4]} {parts[5]}")

    def schemas(self) -> list[str]:
        return [r[0] for r in self.rows("SELECT nspname FROM pg_namespace")]

    def adopt(self, schema: str, table: str) -> None:
        """Nothing to do: the server keeps its catalog."""

    def relations(self, schema: str) -> list[str]:
        # every kind of relation: tables, views, materialized views, foreign tables, sequences
        return [r[0] for r in self.rows("SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                                        f"WHERE n.nspname = {_literal(schema)} AND c.relkind IN ('r','p','v','m','f','S')")]

    def drop_schema(self, schema: str, catalog: None = None) -> None:
        self.execute(f"DROP SCHEMA IF EXISTS {_ident(schema)} CASCADE")

    def publish(self, publication: Publication) -> None:
        """One transaction, so readers see all old or all new outputs. A table that exists is
        emptied and refilled (TRUNCATE + INSERT): it keeps its OID, and a user's view on it keeps
        working and reads the new rows. A new table, or one whose columns changed, is moved in
        from the private schema (SET SCHEMA: no copy)."""
        self.execute("BEGIN")
        try:
            for statement in publication.unpublish:
                self._unpublish(statement)
            for schema in sorted({m[1] for m in publication.moves}):
                self.execute(f"CREATE SCHEMA IF NOT EXISTS {_ident(schema)}")
            for private, schema, table in publication.moves:
                self._publish_one(private, schema, table)
            for schema, table in publication.drops:
                self._drop(schema, table)
            for statement in [*publication.views, *publication.bookkeeping]:
                self.execute(statement)
            self.execute("COMMIT")
        except BaseException:  # an engine error, or the run stopped (SIGTERM, Ctrl-C) mid-way
            self._rollback()
            raise

    def _rollback(self) -> None:
        """Roll the publishing transaction back so the cleanup after it runs outside it (a lost
        connection has already rolled it back)."""
        try:
            self.execute("ROLLBACK")
        except EngineError:
            pass

    def _publish_one(self, private: str, schema: str, table: str) -> None:
        target, source = f"{_ident(schema)}.{_ident(table)}", f"{_ident(private)}.{_ident(table)}"
        old = self._columns(schema, table)
        if old and old == self._columns(private, table):
            self.execute(f"TRUNCATE {target}")
            self.execute(f"INSERT INTO {target} SELECT * FROM {source}")
            return
        if old:
            self._drop(schema, table)
        self.execute(f"ALTER TABLE {source} SET SCHEMA {_ident(schema)}")

    def _drop(self, schema: str, table: str) -> None:
        try:
            self.execute(f"DROP TABLE IF EXISTS {_ident(schema)}.{_ident(table)}")
        except EngineError as exc:
            if "depend" in str(exc):  # never CASCADE: the dependent objects are not cdpc's
                raise InTheWay(f"`{schema}.{table}` changed its columns or its definition was removed, and "
                               f"objects cdpc does not own depend on it ({exc})") from None
            raise

    def _unpublish(self, statement: str) -> None:
        """Drop one of cdpc's views (never CASCADE: what depends on it is not cdpc's)."""
        try:
            self.execute(statement)
        except EngineError as exc:
            if "depend" in str(exc):
                raise InTheWay(f"objects cdpc does not own depend on one of its access views ({exc})") from None
            raise

    def missing_roles(self, roles: list[str]) -> list[str]:
        """The roles of `roles` that the server does not know."""
        known = {r[0] for r in self.rows("SELECT rolname FROM pg_catalog.pg_roles")}
        return [role for role in roles if role not in known]

    def readable_by(self, role: str, relations: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """The relations of `relations` that `role` may SELECT from, whoever granted it (a member
        of a role that may, PUBLIC, a superuser); relations that do not exist are left out."""
        if not relations:
            return []
        pairs = ", ".join(f"({_literal(s)}, {_literal(t)})" for s, t in relations)
        return [tuple(r) for r in self.rows(
            "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            f"WHERE (n.nspname, c.relname) IN ({pairs}) AND has_schema_privilege({_literal(role)}, n.oid, 'USAGE') "
            f"AND has_table_privilege({_literal(role)}, c.oid, 'SELECT') ORDER BY 1, 2")]

    def _columns(self, schema: str, table: str) -> list[tuple[str, str]]:
        return [tuple(r) for r in self.rows(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            f"JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = {_literal(schema)} "
            f"AND c.relname = {_literal(table)} AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum")]

    def close(self) -> None:
        self.connection.close()


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _lock_number(key: str) -> int:
    """A signed 64-bit advisory lock key from text: stable across processes and versions."""
    return int.from_bytes(hashlib.sha256(f"cdpc:{key}".encode()).digest()[:8], "big", signed=True)


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


def connect(*, dsn=None, **_options) -> PostgresEngine:  # `wait` is taken by lock()
    """`cdpc run --engine postgres`: the connection string, else the PG* variables."""
    return PostgresEngine(dsn)
