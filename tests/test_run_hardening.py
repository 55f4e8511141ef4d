"""docs/guarantees.md §4 on a real DuckDB: a run never installs or loads an extension, and once its raw
files are loaded the connection reads no file, whatever SQL comes after."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from compiler.diagnostics import DiagnosticError
from compiler.project import require_valid
from compiler.run.engines import EngineError
from compiler.run.engines.duckdb import DuckDBEngine
from compiler.run.runner import run_project

from helpers import write_files

AS_OF = dt.datetime(2026, 11, 20)
PROJECT = {
    "definitions/project.yaml": "kind: project\nname: tiny\n",
    "definitions/contracts.yaml": """
        kind: contract
        name: signups
        version: 1.0.0
        relation: raw.signups
        primary_key: [signup_id]
        fields:
          signup_id: {type: string, required: true}
          email: {type: string, pii: true}
        ---
        kind: contract
        name: visits
        version: 1.0.0
        relation: raw.visits
        primary_key: [visit_id]
        fields:
          visit_id: {type: string, required: true}
          email: {type: string, pii: true}
    """,
    "definitions/identity.yaml": """
        kind: identity
        name: customer
        version: 1.0.0
        identifiers:
          - {type: email, normalize: email, max_per_profile: 3}
        sources:
          signups: {email: email}
          visits: {email: email}
    """,
    "data/raw.signups.csv": "signup_id,email\ns1,a@x.com\ns2,b@x.com\n",
}
READ_A_FILE = "SELECT count(*) FROM read_csv('/etc/passwd')"
NEEDS_INET = "SELECT host('192.168.0.1/24')"  # a function of the `inet` extension


@pytest.fixture
def project(tmp_path):
    root = write_files(tmp_path, PROJECT)
    with duckdb.connect() as local:  # a Parquet raw file too: raw.py reads its header with its own connection
        local.execute(f"COPY (SELECT 'v1' AS visit_id, 'a@x.com' AS email) TO '{root / 'data/raw.visits.parquet'}' "
                      "(FORMAT parquet)")
    return require_valid(root)


@pytest.fixture
def ran(project):
    engine = DuckDBEngine()
    run_project(project, engine, project.root / "data", AS_OF)
    yield engine
    engine.close()


def test_the_run_reads_its_raw_files(ran):
    assert ran.rows("SELECT count(*) FROM cdp_staging.signups") == [(2,)]
    assert ran.rows("SELECT count(*) FROM cdp_staging.visits") == [(1,)]
    assert ran.rows("SELECT count(DISTINCT profile_id) FROM cdp_identity.customer_map") == [(2,)]


def test_a_fresh_engine_still_reads_files():
    """The refusals below come from the run, not from the engine itself."""
    engine = DuckDBEngine()
    assert engine.rows(READ_A_FILE)[0][0] > 0
    engine.close()


@pytest.mark.parametrize("sql", [READ_A_FILE, "SELECT * FROM read_text('/etc/passwd')", "SELECT * FROM glob('/etc/*')",
                                 "COPY cdp_staging.signups TO '/tmp/cdpc-leak.csv'", "ATTACH '/tmp/cdpc-other.duckdb'"])
def test_after_loading_no_file_is_read_or_written(ran, sql):
    with pytest.raises(EngineError, match="disabled by configuration"):
        ran.rows(sql)


def test_file_access_cannot_be_turned_back_on(ran):
    with pytest.raises(EngineError):
        ran.execute("SET enable_external_access = true")
    with pytest.raises(EngineError, match="locked"):
        ran.execute("SET autoload_known_extensions = true")
    with pytest.raises(EngineError):
        ran.rows(READ_A_FILE)


def test_an_extension_function_fails_instead_of_loading():
    engine = DuckDBEngine()
    with pytest.raises(EngineError, match="inet"):
        engine.rows(NEEDS_INET)
    assert engine.rows("SELECT count(*) FROM duckdb_extensions() WHERE extension_name = 'inet' AND loaded") == [(0,)]
    engine.close()


def test_no_extension_is_loaded_by_or_after_a_run(ran):
    with pytest.raises(EngineError, match="inet"):
        ran.rows(NEEDS_INET)
    with pytest.raises(EngineError, match="disabled"):
        ran.execute("LOAD inet")
    with pytest.raises(EngineError, match="disabled"):
        ran.execute("INSTALL inet")


def test_built_in_functions_still_work(ran):
    assert ran.rows("SELECT sha256('a') = sha256('a'), lower('ÄB')") == [(True, "äb")]


def test_a_second_run_on_one_engine_is_a_clear_error(project, ran):
    with pytest.raises(DiagnosticError) as caught:
        run_project(project, ran, project.root / "data", AS_OF)
    [diagnostic] = caught.value.diagnostics
    assert diagnostic.code == "CDP503" and "open a new engine for each run" in diagnostic.message


def test_a_file_database_is_written_and_kept(project, tmp_path):
    db = tmp_path / "run.duckdb"
    engine = DuckDBEngine(db)
    run_project(project, engine, project.root / "data", AS_OF)
    engine.close()
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM cdp_staging.signups").fetchone() == (2,)


def test_a_run_on_an_engine_validate_did_not_check_is_refused(tmp_path):
    # truncation and function checks cover project.targets only: postgres here was never checked
    from helpers import cdpc
    write_files(tmp_path, {**PROJECT, "definitions/project.yaml": "kind: project\nname: tiny\ntargets: [duckdb]\n"})
    result = cdpc("run", "--project", str(tmp_path), "--engine", "postgres", "--as-of", "2026-11-20")
    assert result.exit_code == 2
    assert "engine `postgres` is not in project.targets (duckdb)" in result.output
