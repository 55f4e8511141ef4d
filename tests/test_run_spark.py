"""cdpc run on Spark (local mode, Java 17+): Parquet tables in the warehouse, re-runs, errors.

The in-process tests share the session-wide SparkEngine of conftest.py (one JVM for the
whole test session); two tests start `cdpc run --engine spark` as a real subprocess,
the way a user runs it, and read the Parquet it leaves with DuckDB.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from compiler.project import require_valid
from compiler.run.engines import EngineError
from compiler.run.engines.duckdb import DuckDBEngine
from compiler.run.runner import run_project

from engine_projects import SMALL_PROJECT
from helpers import AS_OF, write_files
from tables import differences, normalize, snapshot, spec_tables

AS_OF_DT = dt.datetime.fromisoformat(AS_OF)


def _table_dir(warehouse: Path, qualified: str) -> Path:
    schema, table = qualified.split(".")
    return warehouse / f"{schema}.db" / table


def _parquet(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.parquet"))


@pytest.fixture(scope="module")
def small_run(spark_engine, tmp_path_factory):
    root = write_files(tmp_path_factory.mktemp("small"), SMALL_PROJECT)
    project = require_valid(root)
    result = run_project(project, spark_engine, root / "data", AS_OF_DT)
    return project, result, snapshot(spark_engine, project.definitions)


def test_every_table_is_parquet_in_the_warehouse(small_run, spark_warehouse):
    project, _, _ = small_run
    for schema, table in spec_tables(project.definitions):
        folder = _table_dir(spark_warehouse, f"{schema}.{table}")
        assert _parquet(folder), f"no Parquet files in {folder}"
        assert (folder / "_SUCCESS").exists()
    assert not (spark_warehouse / "cdpc_work.db").exists(), "the scratch schema is dropped"
    assert not (spark_warehouse / "raw.db").exists(), "the raw relations are not the run's to create"
    assert not list(spark_warehouse.glob("cdpc_run_*.db")), "the run's private schema is dropped"


def test_small_project_matches_duckdb(small_run):
    project, result, on_spark = small_run
    duck = DuckDBEngine()
    duck_result = run_project(project, duck, project.root / "data", AS_OF_DT)
    assert not differences(snapshot(duck, project.definitions), on_spark, ("duckdb", "spark"))
    assert result.stats == duck_result.stats


def test_timestamps_are_without_time_zone(small_run, spark_engine):
    types = dict(spark_engine.session.table("cdp.customer_profiles").dtypes)
    assert types["last_signup"] == "timestamp_ntz"
    assert types["spend"] == "decimal(12,2)"
    rows = spark_engine.rows("SELECT max(last_signup) FROM cdp.customer_profiles")
    assert normalize(rows[0][0]) == ("timestamp", "2026-11-04 10:00:00"), "s5 is rejected (amount: oops)"


def test_after_loading_sql_on_files_is_off(small_run, spark_engine):
    """docs/guarantees.md §4: once the raw files are loaded the run's SQL reads no file (docs/engines.md)."""
    with pytest.raises(EngineError, match="TABLE_OR_VIEW_NOT_FOUND"):
        spark_engine.rows("SELECT count(*) FROM csv.`/etc/passwd`")


def test_a_rerun_over_an_earlier_runs_directories_replaces_them(small_run, spark_engine, spark_warehouse):
    """A new process has an empty catalog but finds the last run's table directories on disk."""
    project, _, first = small_run
    tables = [f"{s}.{t}" for s, t in spec_tables(project.definitions)]
    keep = spark_warehouse.parent / "kept"
    shutil.rmtree(keep, ignore_errors=True)
    for name in tables:
        shutil.copytree(_table_dir(spark_warehouse, name), keep / name)
    for schema in sorted({name.split(".")[0] for name in tables}):
        spark_engine.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")  # forget them, as a new process would
    for name in tables:
        shutil.copytree(keep / name, _table_dir(spark_warehouse, name))
    old_files = {name: {p.name for p in _parquet(_table_dir(spark_warehouse, name))} for name in tables}
    # the second run finds a different export: every old file must go
    data = spark_warehouse.parent / "data2"
    data.mkdir(exist_ok=True)
    (data / "raw.signups.csv").write_text("signup_id,email,amount,signed_up_at\ns9,z@x.com,3.00,2026-11-06 00:00:00\n",
                                          encoding="utf-8")
    run_project(project, spark_engine, data, AS_OF_DT)
    second = snapshot(spark_engine, project.definitions)
    assert len(first["cdp_staging.signups"]) == 4 and len(second["cdp_staging.signups"]) == 1
    for name in tables:
        assert not old_files[name] & {p.name for p in _parquet(_table_dir(spark_warehouse, name))}, name


def test_a_failing_statement_leaves_no_table_behind(spark_engine, spark_warehouse):
    spark_engine.execute("CREATE SCHEMA IF NOT EXISTS cdpc_failing")
    try:
        with pytest.raises(EngineError, match="CAST|cast"):
            spark_engine.execute("CREATE TABLE cdpc_failing.t AS SELECT CAST(v AS INT) AS n "
                                 "FROM VALUES ('1'), ('not a number') AS x(v)")
        assert not spark_engine.session.catalog.tableExists("cdpc_failing.t")
        assert not (spark_warehouse / "cdpc_failing.db" / "t").exists()
    finally:
        spark_engine.execute("DROP SCHEMA IF EXISTS cdpc_failing CASCADE")


def test_a_second_engine_with_another_warehouse_is_refused(spark_engine, tmp_path):
    from compiler.run.engines.spark import SparkEngine

    with pytest.raises(EngineError, match="already running"):
        SparkEngine(warehouse=tmp_path / "elsewhere")
    assert not (tmp_path / "elsewhere").exists()


# --------------------------------------------------------------------------- the CLI, as a subprocess


def _cdpc(*args: str, env: dict | None = None, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "compiler.cli", *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})})


def _read_parquet_tables(warehouse: Path, definitions) -> dict[str, list]:
    found = {}
    with duckdb.connect() as con:
        for schema, table in spec_tables(definitions):
            files = _parquet(_table_dir(warehouse, f"{schema}.{table}"))
            assert files, f"{schema}.{table} has no Parquet files"
            rows = con.execute(f"SELECT * FROM read_parquet({[str(f) for f in files]!r})").fetchall()
            found[f"{schema}.{table}"] = sorted((tuple(normalize(v) for v in r) for r in rows), key=repr)
    return found


@pytest.mark.usefixtures("spark_engine")  # skips (or fails under CI) exactly when Spark is unavailable
def test_cli_runs_twice_into_the_same_warehouse(tmp_path):
    """`cdpc run --engine spark` in a fresh JVM, twice; a local time zone changes nothing."""
    project = write_files(tmp_path / "project", SMALL_PROJECT)
    warehouse = tmp_path / "warehouse"
    env = {"TZ": "Pacific/Auckland"}
    first = _cdpc("run", "--project", str(project), "--engine", "spark", "--warehouse", str(warehouse),
                  "--as-of", AS_OF, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "cdpc run on spark" in first.stdout
    tables_first = _read_parquet_tables(warehouse, require_valid(project).definitions)
    second = _cdpc("run", "--project", str(project), "--engine", "spark", "--warehouse", str(warehouse),
                   "--as-of", AS_OF, env=env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert _read_parquet_tables(warehouse, require_valid(project).definitions) == tables_first
    duck = DuckDBEngine()
    run_project(require_valid(project), duck, project / "data", AS_OF_DT)
    expected = {name: sorted(table.rows.elements(), key=repr) for name, table in snapshot(duck, require_valid(project).definitions).items()}
    assert tables_first == expected


def test_without_java_the_cli_says_what_to_install(tmp_path):
    project = write_files(tmp_path / "project", SMALL_PROJECT)
    warehouse = tmp_path / "warehouse"
    done = _cdpc("run", "--project", str(project), "--engine", "spark", "--warehouse", str(warehouse),
                 "--as-of", AS_OF, env={"JAVA_HOME": str(tmp_path / "no-jdk")}, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "CDP901" in output and "apt-get install default-jre-headless" in output and "Traceback" not in output
    assert not warehouse.exists(), "nothing is written when the engine cannot start"


def test_without_pyspark_the_cli_says_how_to_install_it(tmp_path):
    project = write_files(tmp_path / "project", SMALL_PROJECT)
    code = ("import sys; sys.modules['pyspark'] = None; from compiler.cli import main; "
            f"main(['run', '--project', {str(project)!r}, '--engine', 'spark', '--as-of', {AS_OF!r}])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "CDP901" in output and "pip install 'cdpc[spark]'" in output and "Traceback" not in output
    assert not (tmp_path / "spark-warehouse").exists()
