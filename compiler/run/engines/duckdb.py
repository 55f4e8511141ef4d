"""DuckDB, in-process: the embedded default engine.

A run never installs or loads a DuckDB extension (docs/guarantees.md §4): a function that lives in an
extension fails as unknown instead of fetching code. Once the raw files are loaded the
connection reads and writes no file but its own database and its spill folder
(`forbid_file_access`), for the rest of its life: DuckDB cannot switch external access
back on while it runs.

Everything private to a run (scratch tables, raw copies, outputs until they are published)
lives in an in-memory database the engine attaches, `scratch_catalog`: only publishing
writes to the database file, no copy of raw data lands in it, and a killed run's private
schemas die with its process. What does not fit in the memory limit (`memory_limit`, a
fifth of the machine's memory unless `cdpc run --memory-limit` says otherwise) spills to a
folder of the run's own, removed when the engine closes, or by the next run when the
process was killed.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import socket
import tempfile
import weakref
from pathlib import Path
from typing import Any, Optional

import duckdb

from ..rawcsv import CleanCsv
from . import EngineError, OutOfMemory, Publication, WarehouseBusy, holder_text, waiting

# At connect, before any statement: autoloading would otherwise run an extension's code on
# the first call to one of its functions, and autoinstalling would download it first.
NO_EXTENSIONS = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
# The in-memory database of the run's private schemas (another name when the database file
# itself is called so: DuckDB names a file's catalog after the file).
SCRATCH = "cdpc_private"
# DuckDB's memory limit by default: this share of the memory the process may use (the
# machine's, or its cgroup's when lower). The rest is for cdpc itself, for what DuckDB
# allocates beside its buffers, and for the system; on the 24 GiB benchmark machine it
# keeps the 300k-member run under 6 GiB.
MEMORY_SHARE = 0.2
SPILL_PREFIX = "cdpc-spill-"  # + pid + "-" + random: a run's spill folder in the temp folder


class DuckDBEngine:
    dialect = "duckdb"
    roles = False  # no GRANT: whoever opens the file reads everything (docs/privacy.md)

    def __init__(self, database: str | Path = ":memory:", wait: float = 0, memory_limit: Optional[int] = None):
        """`memory_limit` in bytes; None: `default_memory_limit()`."""
        self.reads_files = True
        self.spill: Optional[Path] = None
        self._forget_spill = lambda: None
        # one warehouse, one run: DuckDB locks a database file for the process that opens it,
        # so a second cdpc on the same file is refused at connect; it retries up to `wait`
        self.connection = waiting(wait, lambda: _connect(database))
        try:
            self.home_catalog: Optional[str] = self.connection.execute("SELECT current_database()").fetchone()[0]
            self.scratch_catalog: Optional[str] = SCRATCH if self.home_catalog.lower() != SCRATCH \
                else f"{SCRATCH}_{os.getpid()}"
            self.connection.execute(f"ATTACH ':memory:' AS {self.quote(self.scratch_catalog)}")
            # set before forbid_file_access locks the configuration
            self.spill = _spill_folder()
            # removed by close(), or when the engine is collected or the process exits without it
            self._forget_spill = weakref.finalize(self, shutil.rmtree, self.spill, True)
            self.connection.execute(f"SET temp_directory = '{_literal(str(self.spill))}'")
            self.memory_limit = memory_limit or default_memory_limit()
            self.connection.execute(f"SET memory_limit = '{self.memory_limit}B'")
            # row order of a table is never part of its meaning here; not keeping it is faster
            self.connection.execute("SET preserve_insertion_order = false")
        except duckdb.Error as exc:
            self.close()
            raise EngineError(f"cannot set up DuckDB database {database}: {exc}") from None

    def execute(self, sql: str) -> None:
        try:
            self.connection.execute(sql)
        except duckdb.OutOfMemoryException as exc:
            raise self._out_of_memory(exc) from None
        except duckdb.Error as exc:
            raise EngineError(str(exc)) from None

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        try:
            return self.connection.execute(sql).fetchall()
        except duckdb.OutOfMemoryException as exc:
            raise self._out_of_memory(exc) from None
        except duckdb.Error as exc:
            raise EngineError(str(exc)) from None

    def _out_of_memory(self, exc: duckdb.Error) -> OutOfMemory:
        said = str(exc).strip().splitlines()[0] if str(exc).strip() else "out of memory"
        return OutOfMemory(f"DuckDB ran out of memory at its limit of {_size(self.memory_limit)} "
                           f"(spilling to {self.spill}): {said}")

    def load_text(self, schema: str, table: str, clean: CleanCsv, catalog: Optional[str] = None) -> None:
        """A new table of the clean CSV's columns, as text (an empty unquoted cell is NULL)."""
        if not self.reads_files:
            raise EngineError("this DuckDB connection reads no more files (cdpc turns file access off once a run's "
                              "raw files are loaded): open a new engine for each run")
        path = str(clean.path).replace("'", "''")
        columns = ", ".join(f"'{c}': 'VARCHAR'" for c in clean.columns)
        # every option spelled out: the file is cdpc's own clean form, nothing to detect
        source = (f"read_csv('{path}', header = true, delim = ',', quote = '\"', escape = '\"', "
                  f"columns = {{{columns}}}, auto_detect = false, allow_quoted_nulls = false)")
        self.execute(f"CREATE TABLE {self._qualified(catalog, schema, table)} AS SELECT * FROM {source}")

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

    def drop_schema(self, schema: str, catalog: Optional[str] = None) -> None:
        self.execute(f"DROP SCHEMA IF EXISTS {self._qualified(catalog, schema)} CASCADE")

    def _qualified(self, catalog: Optional[str], *names: str) -> str:
        return ".".join(self.quote(n) for n in (catalog, *names) if n is not None)

    def publish(self, publication: Publication) -> None:
        """One transaction: a reader sees all the old outputs or all the new ones. DuckDB moves
        no table between schemas, so each output is copied once from its private schema in
        the in-memory scratch catalog into the file (views bind by name: a user's view reads
        the new table)."""
        q = self.quote
        statements = [*publication.unpublish]
        statements += [f"CREATE SCHEMA IF NOT EXISTS {q(s)}" for s in sorted({m[1] for m in publication.moves})]
        for private, schema, table in publication.moves:
            source = self._qualified(self.scratch_catalog, private, table)
            statements += [f"DROP TABLE IF EXISTS {q(schema)}.{q(table)}",
                           f"CREATE TABLE {q(schema)}.{q(table)} AS SELECT * FROM {source}"]
        statements += [f"DROP TABLE IF EXISTS {q(schema)}.{q(table)}" for schema, table in publication.drops]
        statements += publication.views
        self.execute("BEGIN TRANSACTION")
        try:
            for statement in [*statements, *publication.bookkeeping]:
                self.execute(statement)
            self.execute("COMMIT")
        except (EngineError, OutOfMemory):
            self.execute("ROLLBACK")
            raise

    def close(self) -> None:
        """The connection, with the in-memory scratch catalog, and the spill folder."""
        self.connection.close()
        self._forget_spill()


def connect(*, db=None, wait: float = 0, memory_limit: Optional[int] = None, **_options) -> DuckDBEngine:
    """`cdpc run --engine duckdb`: the database file, in memory by default; `--memory-limit` in bytes."""
    return DuckDBEngine(db or ":memory:", wait=wait, memory_limit=memory_limit)


def _size(size: int) -> str:
    return f"{size / 1024 ** 3:.1f} GiB" if size >= 1024 ** 3 else f"{size / 1024 ** 2:.0f} MiB"


def default_memory_limit() -> int:
    """DuckDB's memory limit when `--memory-limit` is not given, in bytes: MEMORY_SHARE (a
    fifth) of the memory this process may use."""
    return int(usable_memory() * MEMORY_SHARE)


def usable_memory(cgroups: Path = Path("/sys/fs/cgroup"), mine: Path = Path("/proc/self/cgroup")) -> int:
    """The machine's physical memory (os.sysconf), or the memory limit of the process's
    cgroup (v2 `memory.max`, v1 `memory.limit_in_bytes`, its own or an ancestor's) when lower."""
    return min([os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"), *_cgroup_limits(cgroups, mine)])


def _cgroup_limits(cgroups: Path, mine: Path) -> list[int]:
    """The memory limits on the way from the process's cgroups (listed in `mine`) up to the
    root of the hierarchy mounted at `cgroups`."""
    try:
        lines = mine.read_text().splitlines()
    except OSError:
        return []
    limits = []
    for line in lines:
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if controllers == "":  # v2, the unified hierarchy
            root, name = cgroups, "memory.max"
        elif "memory" in controllers.split(","):
            root, name = cgroups / "memory", "memory.limit_in_bytes"
        else:
            continue
        folder = root / path.strip("/")
        while True:
            try:
                text = (folder / name).read_text().strip()
            except OSError:  # not there (a container sees only its own part), or not readable
                text = ""
            if text.isdigit():  # "max": no limit at this level
                limits.append(int(text))
            if folder == root or root not in folder.parents:
                break
            folder = folder.parent
    return limits


def _spill_folder() -> Path:
    """A folder of the run's own for what DuckDB spills beyond its memory limit: mode 0700,
    named with cdpc and the pid. Folders of runs whose process is gone (killed) go first."""
    for folder in Path(tempfile.gettempdir()).glob(f"{SPILL_PREFIX}*"):
        pid = folder.name[len(SPILL_PREFIX):].partition("-")[0]
        if pid.isdigit() and not _alive(int(pid)) and _mine(folder):
            shutil.rmtree(folder, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{SPILL_PREFIX}{os.getpid()}-"))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _mine(folder: Path) -> bool:
    try:
        return folder.is_dir() and not folder.is_symlink() and folder.stat().st_uid == os.getuid()
    except OSError:
        return False


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
