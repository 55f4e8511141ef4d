"""Apache Spark (PySpark 4), local mode by default: `cdpc run --engine spark [--master URL]`.

Tables are Spark data-source tables saved as Parquet under the warehouse directory,
`<warehouse>/<schema>.db/<table>/`. The catalog is Spark's in-memory one, so a new
process does not know the tables an earlier run left on disk: before a `CREATE TABLE
... AS` the engine removes the directory of a table the catalog does not hold (what is
there is the output of an earlier run, about to be replaced), which is what lets a
second run write into the same warehouse.

Session settings that make Spark agree with the other engines:
  spark.sql.session.timeZone=UTC         no local time anywhere
  spark.sql.timestampType=TIMESTAMP_NTZ   `TIMESTAMP` means without time zone (docs/reference.md §1.3)
  spark.sql.ansi.enabled=true             a bad cast raises instead of giving NULL (Spark 4's default)
A run's raw files arrive as cdpc's clean CSV form (run/rawcsv.py); their rows are sent
from the driver (a cluster's executors cannot read the driver's temp folder).
"""

from __future__ import annotations

import atexit
import datetime as dt
import glob
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional

from ..rawcsv import CleanCsv
from . import EngineError, Publication, WarehouseBusy, holder_text, waiting

INSTALL_HINT = "install with pip install 'cdpc[spark]'"
JAVA_HINT = "install a JDK 17+: apt-get install default-jre-headless (or set JAVA_HOME)"
MIN_JAVA = 17

# The SQL settings every session gets, also a session that was already running.
SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
    "spark.sql.ansi.enabled": "true",
    "spark.sql.shuffle.partitions": "4",
    "spark.sql.sources.default": "parquet",
    "spark.sql.legacy.createHiveTableByDefault": "false",
}

_LOG4J2 = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
"""

LOCK_DIR = "_cdpc_lock"  # in the warehouse; made with mkdir, which only one process can win
_CREATE_IF_MISSING = re.compile(r"^\s*CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+`?(\w+)`?\.`?(\w+)`?\s*\(", re.IGNORECASE)
_CTAS = re.compile(r"^\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?`?(\w+)`?\.`?(\w+)`?\s+AS\b", re.IGNORECASE)


def _ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


class SparkEngine:
    dialect = "spark"
    scratch_catalog = home_catalog = None  # a run's private schemas are in the warehouse itself


    roles = False  # Spark's own catalog has no GRANT (Databricks' Unity Catalog has: generated/spark)

    def __init__(self, master: Optional[str] = None, warehouse: Optional[Path] = None):
        self.master = master or "local[*]"
        self.warehouse = Path(warehouse if warehouse is not None else "spark-warehouse").resolve()
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise EngineError(f"the spark engine needs pyspark, which is not installed: {INSTALL_HINT}") from None
        try:
            from pyspark.errors import PySparkException
            from py4j.protocol import Py4JError
        except ImportError:  # pragma: no cover - every pyspark 4 has both
            raise EngineError(f"this pyspark is too old for cdpc: {INSTALL_HINT}") from None
        self._errors = (PySparkException, Py4JError)
        active = _running_session(SparkSession)
        self._owns_session = active is None
        if active is None:
            java_home = find_java_home()  # before anything touches the disk
            os.environ["JAVA_HOME"] = java_home
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
            self.session = self._start(SparkSession)
        else:
            self.session = active
            running = _local_path(active.conf.get("spark.sql.warehouse.dir"))
            if running is not None and running != self.warehouse:
                raise EngineError(f"a Spark session is already running in this process with warehouse {running}, "
                                  f"not {self.warehouse}; use that warehouse or stop the session first")
        for key, value in SESSION_CONF.items():
            self.session.conf.set(key, value)
        # PySpark logs every failed statement as a JSON line on stderr before raising;
        # the exception carries the same message, which is what cdpc reports.
        for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
            logging.getLogger(name).setLevel(logging.CRITICAL)

    def _start(self, SparkSession):  # noqa: N803 - the class, passed in to keep the import local
        created = not self.warehouse.exists()
        scratch = Path(tempfile.mkdtemp(prefix="cdpc-spark-"))
        log_conf = scratch / "log4j2.properties"  # errors only: the run prints its own progress
        log_conf.write_text(_LOG4J2, encoding="utf-8")
        conf = {
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.sql.warehouse.dir": str(self.warehouse),
            "spark.driver.memory": os.environ.get("CDPC_SPARK_DRIVER_MEMORY", "2g"),
            "spark.local.dir": str(scratch),
            "spark.driver.extraJavaOptions": (f"-Duser.timezone=UTC -Djava.io.tmpdir={scratch} -Dderby.system.home={scratch} "
                                              f"-Dlog4j2.configurationFile={log_conf.as_uri()}"),
            "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
            # no .crc side files next to every Parquet file of a local warehouse (fewer writes)
            "spark.hadoop.fs.file.impl": "org.apache.hadoop.fs.RawLocalFileSystem",
            **SESSION_CONF,
        }
        if self.master.startswith("local"):
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
            conf.update({"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"})
        builder = SparkSession.builder.master(self.master).appName("cdpc")
        for key, value in conf.items():
            builder = builder.config(key, value)
        try:
            session = builder.getOrCreate()
        except Exception as exc:  # the JVM did not start: Java missing or broken, bad master URL
            shutil.rmtree(scratch, ignore_errors=True)
            if created:
                shutil.rmtree(self.warehouse, ignore_errors=True)
            raise EngineError(f"Spark did not start ({self.master}): {_first_line(exc)}; {JAVA_HINT}") from None
        self._scratch = scratch
        # removed at exit only: a stopping JVM, or a session shared through getOrCreate, still writes there
        atexit.register(shutil.rmtree, scratch, ignore_errors=True)
        session.sparkContext.setLogLevel("ERROR")
        return session

    # ---- the Engine protocol ------------------------------------------------------------

    def execute(self, sql: str) -> None:
        created = _CTAS.match(sql)
        if created:
            self._remove_orphan(created.group(1), created.group(2))
        kept = _CREATE_IF_MISSING.match(sql)
        if kept and self._on_disk(kept.group(1), kept.group(2)):
            # a table an earlier process left (the catalog is per process): read it where it is
            sql = f"{sql} USING parquet LOCATION '{self._table_path(kept.group(1), kept.group(2))}'"
        self._sql(sql)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        try:
            return [tuple(row) for row in self.session.sql(sql).collect()]
        except self._errors as exc:
            raise EngineError(_first_line(exc)) from None

    def load_text(self, schema: str, table: str, clean: CleanCsv, catalog: None = None) -> None:
        """A new table of the clean CSV's columns as strings. The rows travel from the driver
        (createDataFrame), not through a file path: a cluster's executors cannot read the
        driver's local temp folder."""
        from pyspark.sql.types import StringType, StructField, StructType

        view = f"cdpc_load_{schema}_{table}"
        shape = StructType([StructField(c, StringType(), True) for c in clean.columns])
        try:
            frame = self.session.createDataFrame(_clean_rows(clean), shape)
            frame.createOrReplaceTempView(view)
            self.execute(f"CREATE TABLE {_ident(schema)}.{_ident(table)} AS SELECT * FROM {_ident(view)}")
        except self._errors as exc:
            raise EngineError(_first_line(exc)) from None
        finally:
            try:
                self.session.catalog.dropTempView(view)
            except self._errors:
                pass

    def relation_columns(self, schema: str, table: str) -> Optional[list[str]]:
        """The columns of a table or view of the session's catalog, None when it has none."""
        name = f"{_ident(schema)}.{_ident(table)}"
        try:
            if not self.session.catalog.tableExists(f"{schema}.{table}"):
                return None
            return list(self.session.table(name).columns)
        except self._errors as exc:
            raise EngineError(f"cannot read {schema}.{table}: {_first_line(exc)}") from None

    def schemas(self) -> list[str]:
        """The catalog's databases, and the `<name>.db` folders of the warehouse: a new
        process's in-memory catalog does not know the schemas that a killed run created."""
        try:
            names = {d.name for d in self.session.catalog.listDatabases()}
            folders = self._warehouse_folders()
        except self._errors as exc:
            raise EngineError(_first_line(exc)) from None
        return sorted(names | folders)

    def drop_schema(self, schema: str, catalog: None = None) -> None:
        self._sql(f"DROP SCHEMA IF EXISTS {_ident(schema)} CASCADE")
        try:
            path = self._warehouse_path(f"{schema}.db")
            filesystem = path.getFileSystem(self.session._jsc.hadoopConfiguration())
            if filesystem.exists(path):
                filesystem.delete(path, True)
        except self._errors as exc:
            raise EngineError(f"cannot remove the folder of schema {schema}: {_first_line(exc)}") from None

    def forbid_file_access(self) -> None:
        """Turn off SQL on files (`SELECT ... FROM csv.`/path``). Raw files are read with the
        DataFrame reader and tables written by the catalog, so neither needs it, a second run
        included. Unlike DuckDB's, a later `SET` could turn it back on; no snippet can hold one."""
        try:
            self.session.conf.set("spark.sql.runSQLOnFiles", "false")
        except self._errors as exc:
            raise EngineError(_first_line(exc)) from None

    def quote(self, name: str) -> str:
        return _ident(name)

    def lock(self, key: str, wait: float) -> None:
        """A directory in the warehouse, made with mkdir (atomic): only one run holds it. It
        names its holder; one whose process is gone (same host) is taken over."""
        self._lock_path = self.warehouse / LOCK_DIR
        self.warehouse.mkdir(parents=True, exist_ok=True)
        waiting(wait, self._try_lock)
        atexit.register(self._unlock)

    def _try_lock(self) -> None:
        try:
            self._lock_path.mkdir()
        except FileExistsError:
            holder = _read_holder(self._lock_path)
            if holder and holder[:2] == (str(os.getpid()), socket.gethostname()):
                return None  # another engine of this process holds it (one Spark session per process)
            if holder and holder[1] == socket.gethostname() and not _alive(int(holder[0])):
                shutil.rmtree(self._lock_path, ignore_errors=True)  # its run was killed
                return self._try_lock()
            who = holder_text(*holder) if holder else f"unknown (remove {self._lock_path} if no run is alive)"
            raise WarehouseBusy(f"another run holds Spark warehouse {self.warehouse}: {who}") from None
        started = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        (self._lock_path / "holder").write_text(f"{os.getpid()}\n{socket.gethostname()}\n{started}\n", encoding="utf-8")
        self._locked = True

    def _unlock(self) -> None:
        if getattr(self, "_locked", False):
            shutil.rmtree(self._lock_path, ignore_errors=True)
            self._locked = False

    def relations(self, schema: str) -> list[str]:
        known = set()
        if self.session.catalog.databaseExists(schema):
            known = {t.name for t in self.session.catalog.listTables(schema)}
        folder = self.warehouse / f"{schema.lower()}.db"
        on_disk = {p.name for p in folder.iterdir() if p.is_dir()} if folder.is_dir() else set()
        return sorted(known | on_disk)

    def adopt(self, schema: str, table: str) -> None:
        """Register `schema.table` from its folder when an earlier process left it there and this
        session's catalog does not know it (its columns are read from the Parquet files)."""
        catalog = self.session.catalog
        known = catalog.databaseExists(schema) and catalog.tableExists(f"{schema}.{table}")
        if not known and any(Path(self._table_path(schema, table)).glob("*.parquet")):
            self._sql(f"CREATE DATABASE IF NOT EXISTS {_ident(schema)}")
            self._sql(f"CREATE TABLE IF NOT EXISTS {_ident(schema)}.{_ident(table)} USING parquet "
                      f"LOCATION '{self._table_path(schema, table)}'")

    def publish(self, publication: Publication) -> None:
        """Spark's Parquet tables have no transactions: the outputs are copied in one after
        the other, after every unit succeeded, so a failed run still leaves the previous
        outputs; a run killed while publishing leaves some tables new (docs/engines.md)."""
        for statement in publication.unpublish:
            self.execute(statement)
        for schema in sorted({m[1] for m in publication.moves}):
            self._sql(f"CREATE DATABASE IF NOT EXISTS {_ident(schema)}")
        for private, schema, table in publication.moves:
            self._drop(schema, table)
            self.execute(f"CREATE TABLE {_ident(schema)}.{_ident(table)} AS SELECT * FROM {_ident(private)}.{_ident(table)}")
        for schema, table in publication.drops:
            self._drop(schema, table)
        for statement in [*publication.views, *publication.bookkeeping]:
            self.execute(statement)

    def _drop(self, schema: str, table: str) -> None:
        self._sql(f"DROP TABLE IF EXISTS {_ident(schema)}.{_ident(table)}")
        self._remove_orphan(schema, table)

    def _on_disk(self, schema: str, table: str) -> bool:
        catalog = self.session.catalog
        return (catalog.databaseExists(schema) and not catalog.tableExists(f"{schema}.{table}")
                and any(Path(self._table_path(schema, table)).glob("*.parquet")))

    def _table_path(self, schema: str, table: str) -> str:
        return str(self.warehouse / f"{schema.lower()}.db" / table.lower()).replace("'", "\\'")

    def close(self) -> None:
        """Stop the session this engine started (one it found running is left running)."""
        self._unlock()
        if not self._owns_session:
            return
        # The scratch dir goes at exit, not here: a session handed out by getOrCreate can
        # outlive this engine (active sessions are per thread), and its shuffles live there.
        self.session.stop()

    # ---- helpers ------------------------------------------------------------------------

    def _sql(self, sql: str) -> None:
        try:
            self.session.sql(sql)
        except self._errors as exc:
            raise EngineError(_first_line(exc)) from None

    def _warehouse_path(self, name: str = ""):
        root = self.session.conf.get("spark.sql.warehouse.dir")
        return self.session._jvm.org.apache.hadoop.fs.Path(root.rstrip("/") + ("/" + name if name else ""))

    def _warehouse_folders(self) -> set[str]:
        root = self._warehouse_path()
        filesystem = root.getFileSystem(self.session._jsc.hadoopConfiguration())
        if not filesystem.exists(root):
            return set()
        names = (status.getPath().getName() for status in filesystem.listStatus(root))
        return {name[:-3] for name in names if name.endswith(".db")}

    def _remove_orphan(self, schema: str, table: str) -> None:
        """Delete `<schema location>/<table>` when the catalog holds no such table (an earlier run's output)."""
        try:
            catalog = self.session.catalog
            if not catalog.databaseExists(schema) or catalog.tableExists(f"{schema}.{table}"):
                return
            location = catalog.getDatabase(schema).locationUri
            jvm = self.session._jvm
            path = jvm.org.apache.hadoop.fs.Path(location.rstrip("/") + "/" + table.lower())
            filesystem = path.getFileSystem(self.session._jsc.hadoopConfiguration())
            if filesystem.exists(path):
                filesystem.delete(path, True)
        except self._errors as exc:
            raise EngineError(f"cannot clear the old data of {schema}.{table}: {_first_line(exc)}") from None


def _read_holder(lock: Path) -> Optional[tuple[str, str, str]]:
    try:
        lines = (lock / "holder").read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    return (lines[0], lines[1], lines[2]) if len(lines) >= 3 else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _running_session(SparkSession):  # noqa: N803
    """The session already running in this process, if any.

    getActiveSession() is per thread; the builder's getOrCreate() also returns the default
    session of another thread, so that one counts too (a SparkContext is one per process).
    """
    from pyspark import SparkContext

    if SparkContext._active_spark_context is None:
        return None
    return SparkSession.getActiveSession() or getattr(SparkSession, "_instantiatedSession", None)


def _clean_rows(clean: CleanCsv) -> list[tuple]:
    """The rows of a clean CSV, read by DuckDB in-process with the options the DuckDB engine uses."""
    import duckdb

    from .duckdb import NO_EXTENSIONS

    path = str(clean.path).replace("'", "''")
    columns = ", ".join(f"'{c}': 'VARCHAR'" for c in clean.columns)
    try:
        with duckdb.connect(config=NO_EXTENSIONS) as local:
            return local.execute(f"SELECT * FROM read_csv('{path}', header = true, delim = ',', quote = '\"', "
                                 f"escape = '\"', columns = {{{columns}}}, auto_detect = false, "
                                 "allow_quoted_nulls = false)").fetchall()
    except duckdb.Error as exc:
        raise EngineError(_first_line(exc)) from None


def _local_path(uri: Optional[str]) -> Optional[Path]:
    if not uri:
        return None
    if uri.startswith("file:"):
        uri = re.sub(r"^file:(//)?", "", uri)
    elif "://" in uri:
        return None
    return Path(uri).resolve()


# ---- Java ---------------------------------------------------------------------------------

def _java_major(java: str) -> int:
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60,
                             stdin=subprocess.DEVNULL).stderr
    except (OSError, subprocess.SubprocessError):
        return 0
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        return 0
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def _version_key(path: str) -> tuple:
    return tuple(int(x) if x.isdigit() else x for x in re.split(r"[./-]", path) if x)


def find_java_home(minimum: int = MIN_JAVA) -> str:
    """A JAVA_HOME holding Java >= minimum.

    An explicit $JAVA_HOME is the only candidate (Spark's launcher uses it, so a wrong
    one must be reported, not skipped); otherwise the `java` on PATH, then /usr/lib/jvm/*.
    """
    explicit = os.environ.get("JAVA_HOME")
    if explicit:
        java = Path(explicit) / "bin" / "java"
        major = _java_major(str(java)) if os.access(java, os.X_OK) else 0
        if major >= minimum:
            return explicit
        found = f"Java {major}" if major else "no runnable bin/java"
        raise EngineError(f"Spark needs Java {minimum} or newer, and JAVA_HOME={explicit} has {found}; "
                          f"point JAVA_HOME at a JDK {minimum}+ or unset it, or {JAVA_HINT}")
    candidates: list[Path] = []
    on_path = shutil.which("java")
    if on_path:
        candidates.append(Path(on_path).resolve().parent.parent)
    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/jvm/*"), key=_version_key, reverse=True)]
    found = []
    for home in dict.fromkeys(candidates):
        java = home / "bin" / "java"
        if os.access(java, os.X_OK):
            major = _java_major(str(java))
            if major >= minimum:
                return str(home)
            found.append(f"{java} is Java {major or '?'}")
    seen = f" ({'; '.join(found)})" if found else ""
    raise EngineError(f"Spark needs Java {minimum} or newer and none was found on PATH or in /usr/lib/jvm{seen}; {JAVA_HINT}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return type(exc).__name__


def connect(*, master=None, warehouse=None, **_options) -> SparkEngine:
    """`cdpc run --engine spark`: the master (local mode by default) and warehouse directory."""
    return SparkEngine(master=master, warehouse=warehouse)
