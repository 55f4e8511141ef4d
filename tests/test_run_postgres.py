"""cdpc run on a real PostgreSQL server (Debian's binaries, started by the test session).

What is special about PostgreSQL: the network (a server that is down, wrong credentials,
a missing database or driver are CDP901, exit 2), COPY for the raw files, and ordering
of text, which follows the database's collation unless cdpc says COLLATE "C".
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from compiler.project import require_valid
from compiler.run.engines import EngineError, open_engine
from compiler.run.engines.duckdb import DuckDBEngine
from compiler.run.engines.postgres import PostgresEngine
from compiler.run.runner import run_project

from engine_projects import COLLATION_PROJECT, SMALL_PROJECT
from helpers import AS_OF, cdpc, copy_reference, write_files
from tables import access_views, column_types, differences, snapshot, spec_tables, state_tables

AS_OF_DT = dt.datetime.fromisoformat(AS_OF)


def _dsn_with(dsn: str, **parts: str) -> str:
    fields = dict(item.split("=", 1) for item in dsn.split())
    fields.update(parts)
    return " ".join(f"{k}={v}" for k, v in fields.items())


def _tables(dsn: str) -> set[str]:
    import psycopg

    with psycopg.connect(dsn) as conn:
        return {f"{s}.{t}" for s, t in conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')").fetchall()}


# --------------------------------------------------------------------------- the CLI


def test_cli_run_with_dsn_leaves_every_section_4_table(pg_database, tmp_path):
    project = copy_reference(tmp_path, with_generated=False)
    result = cdpc("run", "--project", str(project), "--engine", "postgres", "--dsn", pg_database, "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    assert "cdpc run on postgres" in result.output and "winback_7d_inactive" in result.output
    defs = require_valid(project).definitions
    expected = {f"{s}.{t}" for s, t in [*spec_tables(defs), *state_tables(defs), *access_views(defs)]}
    assert _tables(pg_database) == expected, "the raw copies and the private schemas are dropped"


def test_every_table_a_run_creates_has_statistics_before_it_is_read(pg_engine, tmp_path):
    """PostgreSQL plans a join of tables it has no statistics for as if they were tiny: at 10k
    members the identity map's join ran for over 13 minutes as a nested loop (14 s once every
    new table is analyzed). Each CREATE TABLE ... AS is followed by ANALYZE, so the published
    tables, moved in from the private schemas, have been analyzed too (reltuples -1: never)."""
    project = write_files(tmp_path, SMALL_PROJECT)
    loaded = require_valid(project)
    statements = []
    execute = pg_engine.connection.execute

    def seen(sql, *args, **kwargs):
        statements.append(sql)
        return execute(sql, *args, **kwargs)
    pg_engine.connection.execute = seen
    try:
        run_project(loaded, pg_engine, project / "data", AS_OF_DT)
    finally:
        pg_engine.connection.execute = execute
    created = [i for i, sql in enumerate(statements) if sql.lstrip().upper().startswith("CREATE TABLE") and " AS" in sql]
    assert created and all(statements[i + 1].startswith("ANALYZE ") for i in created)
    never = pg_engine.rows("SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                           "WHERE c.relkind = 'r' AND n.nspname IN ('cdp', 'cdp_identity', 'cdp_staging') "
                           "AND c.reltuples < 0")
    assert never == []


def test_cli_run_reads_the_standard_pg_variables(pg_database, tmp_path, monkeypatch):
    fields = dict(item.split("=", 1) for item in pg_database.split())
    for key, variable in (("host", "PGHOST"), ("port", "PGPORT"), ("user", "PGUSER"), ("dbname", "PGDATABASE")):
        monkeypatch.setenv(variable, fields[key])
    project = write_files(tmp_path, SMALL_PROJECT)
    result = cdpc("run", "--project", str(project), "--engine", "postgres", "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    assert "cdp.customer_profiles" in _tables(pg_database)


def test_a_second_run_replaces_every_table(pg_engine, tmp_path):
    project = write_files(tmp_path, SMALL_PROJECT)
    loaded = require_valid(project)
    run_project(loaded, pg_engine, project / "data", AS_OF_DT)
    first = snapshot(pg_engine, loaded.definitions)
    (project / "data" / "raw.signups.csv").write_text("signup_id,email,amount,signed_up_at\ns9,z@x.com,1.00,2026-11-01 00:00:00\n",
                                                      encoding="utf-8")
    run_project(loaded, pg_engine, project / "data", AS_OF_DT)
    second = snapshot(pg_engine, loaded.definitions)
    assert len(first["cdp_staging.signups"]) == 4 and len(second["cdp_staging.signups"]) == 1
    assert len(second["cdp.customer_profiles"]) == 1


# --------------------------------------------------------------------------- loading raw files


def test_csv_null_empty_spaces_quotes_and_newlines_are_read_as_spec_says(pg_engine, tmp_path):
    path = tmp_path / "raw.t.csv"
    path.write_bytes('b,extra,a\r\n'
                     '1,x,\r\n'
                     '"",y,""\r\n'
                     '" two ",," a ""quoted"" word "\r\n'
                     '"multi\nline",z,"comma, inside"\r\n'
                     'zoë 日本 😀,,+1\r\n'.encode("utf-8"))
    _load(pg_engine, _raw(path, ("a", "b")))
    rows = pg_engine.rows('SELECT a, b FROM raw.t')
    assert sorted(rows, key=repr) == sorted([(None, "1"), ("", ""), (' a "quoted" word ', " two "),
                                             ("comma, inside", "multi\nline"), ("+1", "zoë 日本 😀")], key=repr)
    assert column_types(pg_engine, "raw", "t") == [("a", "text"), ("b", "text")], "contract columns only, as text"


def test_parquet_columns_of_any_type_are_read_as_text(pg_engine, tmp_path):
    import duckdb

    path = tmp_path / "raw.t.parquet"
    duckdb.sql(f"""COPY (SELECT * FROM (VALUES
        (1, 12.50::DECIMAL(6,2), TIMESTAMP '2026-11-19 10:00:00.5', true, 'é', NULL::VARCHAR),
        (2, NULL, NULL, false, '', 'x')) v(n, price, seen, flag, s, other)) TO '{path}' (FORMAT parquet)""")
    _load(pg_engine, _raw(path, ("flag", "seen", "price", "n", "s"), fmt="parquet"))
    rows = pg_engine.rows("SELECT flag, seen, price, n, s FROM raw.t ORDER BY n")
    assert rows == [("true", "2026-11-19 10:00:00.5", "12.50", "1", "é"), ("false", None, None, "2", "")]


def test_a_malformed_row_is_quarantined(pg_database, tmp_path):
    project = write_files(tmp_path, SMALL_PROJECT)
    (project / "data" / "raw.signups.csv").write_text(
        "signup_id,email,amount,signed_up_at\ns1,a@x.com,1,2026-11-01 00:00:00,surplus\n"
        "s2,b@x.com,2,2026-11-02 00:00:00\n", encoding="utf-8")
    result = cdpc("run", "--project", str(project), "--engine", "postgres", "--dsn", pg_database, "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    assert "CDP512 warning: 1 malformed row of raw.signups.csv" in result.output and "Traceback" not in result.output
    import psycopg
    with psycopg.connect(pg_database) as con:
        assert con.execute("SELECT signup_id, _reject_reasons FROM cdp_staging.signups_rejected").fetchall() == [
            ("s1", ["line 2: row has 5 cells, header has 4"])]


def _raw(path: Path, columns: tuple[str, ...], fmt: str = "csv"):
    from compiler.run.raw import RawFile

    return RawFile("t", "raw", "t", path, fmt, columns)


def _load(engine, raw) -> None:
    """A raw file as cdpc loads it: read and cleaned by raw.py, then the engine's load_text."""
    from compiler.run.raw import _clean

    engine.execute("CREATE SCHEMA IF NOT EXISTS raw")
    engine.load_text(raw.schema, raw.table, _clean(raw, raw.path.with_suffix(".clean.csv")))


# --------------------------------------------------------------------------- code-point order


def test_text_ties_go_to_the_smallest_code_point_even_under_a_linguistic_collation(pg_dsn, tmp_path):
    """In an ICU en-US database 'alpha' < 'Zeta'; the smallest of docs/reference.md §2.3 is by code point ('Zeta')."""
    import psycopg

    name = f"icu_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C.UTF-8' "
                      "LOCALE_PROVIDER icu ICU_LOCALE 'en-US'")
    engine = PostgresEngine(_dsn_with(pg_dsn, dbname=name))
    try:
        assert engine.rows("SELECT 'alpha' < 'Zeta'")[0][0] is True, "the database sorts linguistically"
        project = write_files(tmp_path, COLLATION_PROJECT)
        loaded = require_valid(project)
        run_project(loaded, engine, project / "data", AS_OF_DT)
        on_postgres = snapshot(engine, loaded.definitions)
    finally:
        engine.close()
        with psycopg.connect(pg_dsn, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    duck = DuckDBEngine()
    run_project(loaded, duck, project / "data", AS_OF_DT)
    on_duckdb = snapshot(duck, loaded.definitions)
    assert not differences(on_duckdb, on_postgres, ("duckdb", "postgres"))
    import hashlib

    profiles = {row[0]: row[1:] for row in on_duckdb["cdp.customer_profiles"].rows}
    assert [c for c, _ in on_duckdb["cdp.customer_profiles"].columns] == ["profile_id", "favourite", "smallest_fruit"]
    assert profiles == {hashlib.md5(b"handle:Zeta").hexdigest(): ("Banana", "Banana"),
                        hashlib.md5(b"member:M1").hexdigest(): ("Banana", "Banana")}


# --------------------------------------------------------------------------- connection errors


def test_a_server_that_is_down_is_a_clear_engine_error():
    with pytest.raises(EngineError, match="cannot reach PostgreSQL"):
        open_engine("postgres", dsn="host=127.0.0.1 port=1 user=postgres dbname=postgres connect_timeout=5")


def test_an_unknown_database_or_role_is_a_clear_engine_error(pg_dsn):
    with pytest.raises(EngineError, match="no such database"):
        PostgresEngine(_dsn_with(pg_dsn, dbname="no_such_db"))
    with pytest.raises(EngineError, match="refused the credentials"):
        PostgresEngine(_dsn_with(pg_dsn, user="no_such_role"))


def test_a_wrong_password_is_a_clear_engine_error(pg_server, pg_conn):
    """Password authentication for one role (the rest of the server stays on trust)."""
    hba = Path(pg_server["datadir"]) / "pg_hba.conf"
    original = hba.read_text()
    pg_conn.execute("CREATE ROLE cdpc_pw LOGIN PASSWORD 'right'")
    try:
        hba.write_text("host all cdpc_pw 127.0.0.1/32 scram-sha-256\n" + original)
        pg_conn.execute("SELECT pg_reload_conf()")
        dsn = _dsn_with(pg_server["dsn"], user="cdpc_pw")
        with pytest.raises(EngineError, match="refused the credentials"):
            PostgresEngine(_dsn_with(dsn, password="wrong"))
        PostgresEngine(_dsn_with(dsn, password="right")).close()
    finally:
        hba.write_text(original)
        pg_conn.execute("SELECT pg_reload_conf()")
        pg_conn.execute("DROP ROLE cdpc_pw")


def test_cli_maps_an_unreachable_server_to_cdp901_exit_2(tmp_path):
    project = write_files(tmp_path, SMALL_PROJECT)
    result = cdpc("run", "--project", str(project), "--engine", "postgres",
                  "--dsn", "host=127.0.0.1 port=1 user=postgres connect_timeout=5", "--as-of", AS_OF)
    assert result.exit_code == 2
    assert "CDP901" in result.output and "cannot reach PostgreSQL" in result.output
    assert "Traceback" not in result.output


def test_without_psycopg_the_cli_says_how_to_install_it(tmp_path):
    """A Python where `import psycopg` fails (the module is blocked, as when it is not installed)."""
    project = write_files(tmp_path, SMALL_PROJECT)
    code = ("import sys; sys.modules['psycopg'] = None; from compiler.cli import main; "
            f"main(['run', '--project', {str(project)!r}, '--engine', 'postgres', '--as-of', {AS_OF!r}])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PGCONNECT_TIMEOUT": "2"})
    assert done.returncode == 2, done.stdout + done.stderr
    output = done.stdout + done.stderr
    assert "CDP901" in output and "pip install 'cdpc[postgres]'" in output and "Traceback" not in output
