"""Runs that are safe on a real warehouse: cdpc touches only what it owns, publishes all its
outputs at once, survives `kill -9` at any point, and lets one run at a time hold a warehouse.

Real engines: a DuckDB file, and a database of the private PostgreSQL server (conftest.py).
The kills use the runner's test-only hook CDPC_TEST_KILL_AFTER=N (compiler/run/testhook.py):
the run kills its own process with SIGKILL right after its N-th statement.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from compiler.project import require_valid
from compiler.run.engines.duckdb import DuckDBEngine
from compiler.run.runner import run_project

from helpers import AS_OF, ROOT, cdpc, copy_reference

LATER = "2026-11-23 00:00:00"  # the second run: other members lapse, segments change
FOREIGN_SCHEMAS = ("cdp_staging", "cdp_identity", "cdp", "cdp_audiences", "cdpc_work", "cdpc_meta")
OUTPUT_SCHEMAS = ("cdp_staging", "cdp_identity", "cdp", "cdp_audiences")


def _project(tmp_path: Path) -> Path:
    return copy_reference(tmp_path / "project")


def _remove_meta_ads(project: Path) -> None:
    """A definition removed: the destination meta_ads and so its two sync tables (and the test of them)."""
    (project / "definitions" / "destinations" / "meta_ads.yaml").unlink()
    (project / "definitions" / "tests" / "meta_hashes_phone.yaml").unlink()
    shutil.rmtree(project / "generated", ignore_errors=True)


def _subprocess_run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "compiler.cli", "run", *args], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, **(env or {})})


# --------------------------------------------------------------------------- DuckDB

def _duck_rows(db: Path, sql: str) -> list:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def _duck_foreign(db: Path) -> dict:
    """Every foreign object: its DDL and its rows, sorted."""
    with duckdb.connect(str(db), read_only=True) as con:
        found = {}
        for schema, name, sql in con.execute("SELECT schema_name, table_name, sql FROM duckdb_tables() "
                                             "WHERE table_name LIKE 'analyst%'").fetchall():
            found[f"{schema}.{name}"] = (sql, sorted(con.execute(f'SELECT * FROM "{schema}"."{name}"').fetchall(), key=repr))
        for schema, name, sql in con.execute("SELECT schema_name, view_name, sql FROM duckdb_views() "
                                             "WHERE view_name LIKE 'analyst%'").fetchall():
            found[f"{schema}.{name}"] = (sql, None)
        return found


def _duck_outputs(db: Path) -> dict:
    """Every table cdpc owns, with its rows, sorted: the previous outputs, byte for byte."""
    with duckdb.connect(str(db), read_only=True) as con:
        owned = con.execute("SELECT schema_name, table_name FROM cdpc_meta.owned").fetchall()
        found = {"owned": sorted(con.execute("SELECT * FROM cdpc_meta.owned").fetchall())}
        for schema, name in owned:
            found[f"{schema}.{name}"] = sorted(con.execute(f'SELECT * FROM "{schema}"."{name}"').fetchall(), key=repr)
        return found


def _duck_private(db: Path) -> list:
    return _duck_rows(db, "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'cdpc_run_%' "
                          "OR schema_name = 'raw'")


def _duck_add_foreign(db: Path) -> None:
    with duckdb.connect(str(db)) as con:
        for schema in FOREIGN_SCHEMAS:
            con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            con.execute(f'CREATE TABLE "{schema}".analyst_notes AS SELECT 1 AS id, \'{schema}: keep me\' AS note')
        con.execute("CREATE SCHEMA analytics")
        con.execute("CREATE VIEW analytics.analyst_active AS SELECT count(*) AS n FROM cdp.customer_profiles")
        con.execute("CREATE VIEW cdp.analyst_vip AS SELECT profile_id FROM cdp_audiences.at_risk_churn")


def test_duckdb_two_runs_leave_every_foreign_object_and_drop_a_removed_definition(tmp_path):
    project, db = _project(tmp_path), tmp_path / "warehouse.duckdb"
    assert cdpc("run", "--project", str(project), "--db", str(db), "--as-of", AS_OF).exit_code == 0
    _duck_add_foreign(db)
    before = _duck_foreign(db)
    _remove_meta_ads(project)
    result = cdpc("run", "--project", str(project), "--db", str(db), "--as-of", LATER)
    assert result.exit_code == 0, result.output
    assert "removed" in result.output and "cdp_audiences.sync__meta_ads__vip_retention" in result.output
    assert _duck_foreign(db) == before
    tables = {r[0] for r in _duck_rows(db, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'cdp_audiences'")}
    assert not {t for t in tables if t.startswith("sync__meta_ads__")}
    assert not _duck_rows(db, "SELECT * FROM cdpc_meta.owned WHERE table_name LIKE 'sync__meta_ads__%'")
    # the views read the new tables
    assert _duck_rows(db, "SELECT n FROM analytics.analyst_active") == _duck_rows(db, "SELECT count(*) FROM cdp.customer_profiles")
    assert sorted(_duck_rows(db, "SELECT * FROM cdp.analyst_vip")) == sorted(_duck_rows(db, "SELECT * FROM cdp_audiences.at_risk_churn"))
    assert _duck_private(db) == []


def test_duckdb_an_output_named_like_a_foreign_table_is_exit_2_and_nothing_runs(tmp_path):
    db = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE SCHEMA cdp_audiences")
        con.execute("CREATE TABLE cdp_audiences.at_risk_churn AS SELECT 'mine' AS profile_id")
    result = _subprocess_run("--project", str(ROOT), "--db", str(db), "--as-of", AS_OF)
    assert result.returncode == 2, result.stderr
    assert "CDP905" in result.stderr and "`cdp_audiences.at_risk_churn` exists and cdpc did not create it" in result.stderr
    assert "Traceback" not in result.stderr
    assert _duck_rows(db, "SELECT * FROM cdp_audiences.at_risk_churn") == [("mine",)]
    assert _duck_rows(db, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'cdp'") == [(0,)]
    assert _duck_private(db) == []


def _statements_of_a_run(project: Path, db: Path) -> list[str]:
    """The statements a second run executes, in order (the kill points are chosen among them)."""
    engine = DuckDBEngine(db)
    seen, execute = [], engine.execute

    def counted(sql):
        seen.append(sql)
        execute(sql)
    engine.execute = counted
    try:
        run_project(require_valid(project), engine, project / "data", dt.datetime(2026, 11, 23))
    finally:
        engine.close()
    return seen


def _without_run_id(outputs: dict) -> dict:
    """What two runs on the same data publish alike: a sync's changes are each run's own (a
    second run changes nothing), its history is compared as the audience it holds now."""
    found = {"owned": sorted(row[:3] for row in outputs["owned"])}
    for name, rows in outputs.items():
        if name.endswith("__history"):
            found[name] = sorted((row[:-2] for row in rows if row[-1] is None), key=repr)
        elif name != "owned" and not name.endswith("__changes"):
            found[name] = rows
    return found


def _points(db: Path, project: Path, scratch: Path) -> tuple[int, int]:
    """(BEGIN, COMMIT) of the publishing transaction, counted as the hook counts (from 1), in a
    run on a copy of the database as it is now: what a killed run left adds statements."""
    shutil.copy(db, scratch)
    wal = db.with_name(db.name + ".wal")  # what a killed run committed may be only there
    if wal.exists():
        shutil.copy(wal, scratch.with_name(scratch.name + ".wal"))
    statements = _statements_of_a_run(project, scratch)
    scratch.unlink()
    return statements.index("BEGIN TRANSACTION") + 1, statements.index("COMMIT") + 1


def _kill_after(project: Path, db: Path, point: int) -> None:
    killed = _subprocess_run("--project", str(project), "--db", str(db), "--as-of", LATER,
                             env={"CDPC_TEST_KILL_AFTER": str(point)})
    assert killed.returncode == -9, (point, killed.stderr)


def test_duckdb_kill_9_at_ten_points_leaves_the_previous_outputs(tmp_path):
    project, db = _project(tmp_path), tmp_path / "warehouse.duckdb"
    assert cdpc("run", "--project", str(project), "--db", str(db), "--as-of", AS_OF).exit_code == 0
    previous = _duck_outputs(db)
    # spread over the build, then inside the publishing transaction, up to its COMMIT
    where = [lambda b, c: 1, lambda b, c: 5, lambda b, c: b // 4, lambda b, c: b // 2, lambda b, c: 3 * b // 4,
             lambda b, c: b - 1, lambda b, c: b, lambda b, c: b + 1, lambda b, c: (b + c) // 2, lambda b, c: c - 1]
    for at in where:
        begin, commit = _points(db, project, tmp_path / "count.duckdb")
        assert commit - begin > 4
        _kill_after(project, db, at(begin, commit))
        assert _duck_outputs(db) == previous, f"killed after statement {at(begin, commit)} (publishing: {begin}..{commit})"
    # killed right after the COMMIT: everything new; its private schemas were in memory,
    # never in the file (tests/test_run_scratch.py)
    _kill_after(project, db, _points(db, project, tmp_path / "count.duckdb")[1])
    assert _duck_private(db) == []
    published = _without_run_id(_duck_outputs(db))
    assert published != _without_run_id(previous)
    result = cdpc("run", "--project", str(project), "--db", str(db), "--as-of", LATER)
    assert result.exit_code == 0, result.output
    assert _duck_private(db) == []
    assert _without_run_id(_duck_outputs(db)) == published


def test_duckdb_a_second_process_on_the_file_is_exit_2_naming_the_holder(tmp_path):
    db = tmp_path / "warehouse.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(db)!r}); "
                               "print('ready', flush=True); time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        result = _subprocess_run("--project", str(ROOT), "--db", str(db), "--as-of", AS_OF, "--wait", "1")
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 2, result.stderr
    assert "CDP906" in result.stderr and f"pid {holder.pid} on " in result.stderr and "started " in result.stderr
    assert "Traceback" not in result.stderr


# --------------------------------------------------------------------------- PostgreSQL

def _pg(dsn: str):
    import psycopg
    return psycopg.connect(dsn, autocommit=True)


def _pg_foreign(dsn: str) -> dict:
    with _pg(dsn) as con:
        found = {}
        for schema, name, kind in con.execute(
                "SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relname LIKE 'analyst%' AND c.relkind IN ('r', 'v')").fetchall():
            ddl = con.execute(f"SELECT pg_get_viewdef('\"{schema}\".\"{name}\"'::regclass)").fetchone()[0] if kind == "v" else None
            rows = sorted(con.execute(f'SELECT * FROM "{schema}"."{name}"').fetchall(), key=repr) if kind == "r" else None
            found[f"{schema}.{name}"] = (kind, ddl, rows)
        return found


def _pg_add_foreign(dsn: str) -> None:
    with _pg(dsn) as con:
        for schema in FOREIGN_SCHEMAS:
            con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            con.execute(f'CREATE TABLE "{schema}".analyst_notes AS SELECT 1 AS id, \'{schema}: keep me\'::text AS note')
        con.execute("CREATE SCHEMA analytics")
        # views bind to the table itself (its OID) on PostgreSQL
        con.execute("CREATE VIEW analytics.analyst_active AS SELECT count(*) AS n FROM cdp.customer_profiles")
        con.execute("CREATE VIEW cdp.analyst_vip AS SELECT profile_id FROM cdp_audiences.at_risk_churn")


def _pg_rows(dsn: str, sql: str) -> list:
    with _pg(dsn) as con:
        return con.execute(sql).fetchall()


def _pg_private(dsn: str) -> list:
    return _pg_rows(dsn, "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'cdpc_run_%' OR nspname = 'raw'")


def _pg_outputs(dsn: str) -> dict:
    with _pg(dsn) as con:
        found = {"owned": sorted(con.execute("SELECT * FROM cdpc_meta.owned").fetchall())}
        for schema, name in con.execute("SELECT schema_name, table_name FROM cdpc_meta.owned").fetchall():
            found[f"{schema}.{name}"] = sorted(con.execute(f'SELECT * FROM "{schema}"."{name}"').fetchall(), key=repr)
        return found


def test_postgres_two_runs_leave_every_foreign_object_and_views_see_the_new_rows(tmp_path, pg_database):
    project = _project(tmp_path)
    pg = ("--engine", "postgres", "--dsn", pg_database)
    first = cdpc("run", "--project", str(project), *pg, "--as-of", AS_OF)
    assert first.exit_code == 0, first.output
    _pg_add_foreign(pg_database)
    before = _pg_foreign(pg_database)
    vip_before = _pg_rows(pg_database, "SELECT count(*) FROM cdp.analyst_vip")
    _remove_meta_ads(project)
    second = cdpc("run", "--project", str(project), *pg, "--as-of", LATER)
    assert second.exit_code == 0, second.output
    assert "cdp_audiences.sync__meta_ads__high_value_lapsed" in second.output
    assert _pg_foreign(pg_database) == before
    assert _pg_rows(pg_database, "SELECT n FROM analytics.analyst_active") == \
        _pg_rows(pg_database, "SELECT count(*) FROM cdp.customer_profiles")
    vip_now = _pg_rows(pg_database, "SELECT count(*) FROM cdp.analyst_vip")
    assert vip_now == _pg_rows(pg_database, "SELECT count(*) FROM cdp_audiences.at_risk_churn")
    assert vip_now != vip_before, "the second run's as-of changes the segment: the view shows the new rows"
    assert _pg_rows(pg_database, "SELECT count(*) FROM information_schema.tables "
                                 "WHERE table_schema = 'cdp_audiences' AND table_name LIKE 'sync__meta_ads__%'") == [(0,)]
    assert _pg_private(pg_database) == []


def test_postgres_an_output_named_like_a_foreign_table_is_exit_2(tmp_path, pg_database):
    with _pg(pg_database) as con:
        con.execute("CREATE SCHEMA cdp")
        con.execute("CREATE VIEW cdp.customer_profiles AS SELECT 1 AS profile_id")
    result = cdpc("run", "--project", str(ROOT), "--engine", "postgres", "--dsn", pg_database, "--as-of", AS_OF)
    assert result.exit_code == 2, result.output
    assert "CDP905" in result.output and "`cdp.customer_profiles` exists and cdpc did not create it" in result.output
    assert _pg_rows(pg_database, "SELECT * FROM cdp.customer_profiles") == [(1,)]
    assert _pg_private(pg_database) == []


def test_postgres_second_run_exits_2_naming_the_holder_or_waits_with_wait(tmp_path, pg_database):
    from compiler.run.engines.postgres import PostgresEngine

    holder = PostgresEngine(pg_database)
    holder.lock("cdpc_meta", 0)  # what a run takes first: this process now holds the warehouse
    try:
        busy = _subprocess_run("--project", str(ROOT), "--engine", "postgres", "--dsn", pg_database, "--as-of", AS_OF)
        assert busy.returncode == 2, busy.stderr
        assert "CDP906" in busy.stderr and f"pid {os.getpid()} on " in busy.stderr and "started " in busy.stderr
        assert "Traceback" not in busy.stderr
        assert _pg_private(pg_database) == [] and _pg_rows(
            pg_database, "SELECT count(*) FROM pg_namespace WHERE nspname IN ('cdp', 'cdpc_meta')") == [(0,)]
        threading.Timer(3.0, holder.close).start()  # the first run ends while the second waits
        began = time.monotonic()
        waited = _subprocess_run("--project", str(ROOT), "--engine", "postgres", "--dsn", pg_database,
                                 "--as-of", AS_OF, "--wait", "120")
        assert waited.returncode == 0, waited.stderr
        assert time.monotonic() - began >= 3.0
    finally:
        holder.close()


def test_postgres_two_real_runs_at_once_never_interleave(tmp_path, pg_database):
    args = ("--project", str(ROOT), "--engine", "postgres", "--dsn", pg_database, "--as-of", AS_OF, "--wait", "300")
    runs = [subprocess.Popen([sys.executable, "-m", "compiler.cli", "run", *args], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outcomes = [(run.wait(), run.stderr.read()) for run in runs]
    assert [code for code, _ in outcomes] == [0, 0], outcomes
    assert len({r[0] for r in _pg_rows(pg_database, "SELECT run_id FROM cdpc_meta.owned")}) == 1
    assert _pg_private(pg_database) == []


@pytest.mark.parametrize("where", ["building", "before BEGIN", "after BEGIN", "publishing", "before COMMIT"])
def test_postgres_kill_9_while_building_or_publishing_leaves_the_previous_outputs(tmp_path, pg_database, where):
    project = _project(tmp_path)
    pg = ("--engine", "postgres", "--dsn", pg_database)
    assert cdpc("run", "--project", str(project), *pg, "--as-of", AS_OF).exit_code == 0
    previous = _pg_outputs(pg_database)
    statements = _pg_statements(project, pg_database)
    begin, commit = statements.index("BEGIN") + 1, statements.index("COMMIT") + 1  # 1-based, as the hook counts
    point = {"building": begin // 2, "before BEGIN": begin - 1, "after BEGIN": begin + 1,
             "publishing": (begin + commit) // 2, "before COMMIT": commit - 1}[where]
    killed = _subprocess_run("--project", str(project), *pg, "--as-of", LATER,
                             env={"CDPC_TEST_KILL_AFTER": str(point)})
    assert killed.returncode == -9, killed.stderr
    assert _pg_outputs(pg_database) == previous
    assert cdpc("run", "--project", str(project), *pg, "--as-of", LATER).exit_code == 0
    assert _pg_private(pg_database) == []
    assert _pg_outputs(pg_database) != previous


def _pg_statements(project: Path, dsn: str) -> list[str]:
    """The statements of a run on a copy of the database, in order (kill points are chosen among them)."""
    import uuid

    from compiler.run.engines.postgres import PostgresEngine

    name = f"cdpc_count_{uuid.uuid4().hex[:8]}"
    admin_dsn = dsn.rsplit("dbname=", 1)[0] + "dbname=postgres"
    source = dsn.rsplit("dbname=", 1)[1].split()[0]
    with _pg(admin_dsn) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
    try:
        engine = PostgresEngine(dsn.replace(f"dbname={source}", f"dbname={name}"))
        seen, execute = [], engine.execute

        def counted(sql):
            seen.append(sql)
            execute(sql)
        engine.execute = counted
        try:
            run_project(require_valid(project), engine, project / "data", dt.datetime(2026, 11, 23))
        finally:
            engine.close()
    finally:
        with _pg(admin_dsn) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return seen
