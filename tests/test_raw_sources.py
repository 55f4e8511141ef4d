"""Where a run reads its raw data: files loaded into a schema private to the run, or the
relations in place (`--sources warehouse`); a run never touches the raw relations; malformed
CSV rows are quarantined with a reason; `--data` is a literal path.

Every engine's quarantine and `--sources warehouse` are compared in tests/test_cross_engine.py.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest

from compiler.diagnostics import DiagnosticError
from compiler.project import require_valid
from compiler.run.engines.duckdb import DuckDBEngine
from compiler.run.rawcsv import clean_csv
from compiler.run.runner import run_project

from engine_projects import SMALL_PROJECT
from helpers import AS_OF, ROOT, cdpc, copy_reference, write_files

AS_OF_DT = dt.datetime.fromisoformat(AS_OF)
RAW_TABLES = ("app_events", "bookings", "consent_events", "crm_contacts", "erasure_requests", "pos_transactions")


# --------------------------------------------------------------------------- reading CSV


def _clean(tmp_path: Path, data: bytes, columns=("a", "b", "c")):
    source = tmp_path / "in.csv"
    source.write_bytes(data)
    result = clean_csv(source, columns, tmp_path / "out.csv")
    return result, (tmp_path / "out.csv").read_text(encoding="utf-8")


def test_malformed_rows_are_set_aside_with_their_line_and_reason(tmp_path):
    result, text = _clean(tmp_path, b'a,b,c\n1,2,3\n1,2\n1,2,3,4\n"x,2,3\n1,\xff,3\n1,"two\nlines",3\n1,2,3')
    assert [(m.line, m.reason) for m in result.malformed] == [
        (3, "row has 2 cells, header has 3"), (4, "row has 4 cells, header has 3"),
        (5, "unbalanced quote"), (6, "not valid UTF-8")]
    assert result.malformed[0].cells == ("1", "2", None), "what could be read is kept for the quarantine"
    assert text == 'a,b,c\n1,2,3\n"1","two\nlines","3"\n1,2,3\n' and result.rows == 3


def test_a_stray_quote_gives_up_one_line_not_the_rest_of_the_file(tmp_path):
    result, text = _clean(tmp_path, b'a,b,c\n1,"open,3\n2,"x",3\n3,y",3\n4,z,3\n')
    assert [(m.line, m.reason) for m in result.malformed] == [(2, "unbalanced quote"), (4, "unbalanced quote")]
    assert text.splitlines()[1:] == ['"2","x","3"', "4,z,3"]


def test_bom_crlf_null_and_empty_text(tmp_path):
    result, text = _clean(tmp_path, b'\xef\xbb\xbfc,a,b\r\n"",,x\r\n\r\n', columns=("a", "c"))
    assert text == 'a,c\n,""\n' and not result.malformed, "BOM dropped, blank line skipped, NULL and '' kept apart"


def test_a_header_naming_a_column_twice_is_a_located_error(tmp_path):
    root = write_files(tmp_path, SMALL_PROJECT)
    (root / "data" / "raw.signups.csv").write_text("signup_id,email,email,amount,signed_up_at\n", encoding="utf-8")
    result = cdpc("run", "--project", str(root), "--as-of", AS_OF)
    assert result.exit_code == 1
    assert "raw.signups.csv:1:17: CDP510 the header row names column `email` twice" in result.output
    assert "Traceback" not in result.output


# --------------------------------------------------------------------------- --data


@pytest.mark.parametrize("folder", ["data[1]", "d*", "d?ta"])
def test_data_is_a_literal_path_never_a_pattern(tmp_path, folder):
    root = write_files(tmp_path, SMALL_PROJECT)
    target = root / folder
    shutil.copytree(root / "data", target)
    shutil.copytree(root / "data", root / "dx")  # what `d*`, `d?ta` would match as patterns
    (root / "dx" / "raw.signups.csv").write_text("signup_id,email,amount,signed_up_at\n", encoding="utf-8")
    db = tmp_path / "run.duckdb"
    result = cdpc("run", "--project", str(root), "--data", str(target), "--db", str(db), "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT (SELECT count(*) FROM cdp_staging.signups) + "
                           "(SELECT count(*) FROM cdp_staging.signups_rejected)").fetchone()[0] == 5


def test_parquet_in_a_folder_named_like_a_pattern_is_read(tmp_path):
    root = write_files(tmp_path, SMALL_PROJECT)
    target = root / "d[1]*"
    target.mkdir()
    duckdb.sql(f"COPY (SELECT * FROM read_csv('{root / 'data' / 'raw.signups.csv'}', all_varchar = true)) "
               f"TO '{root / 'data' / 'raw.signups.parquet'}' (FORMAT parquet)")
    shutil.move(root / "data" / "raw.signups.parquet", target / "raw.signups.parquet")
    engine = DuckDBEngine()
    run_project(require_valid(root), engine, target, AS_OF_DT)
    assert engine.rows("SELECT count(*) FROM cdp_staging.signups")[0][0] + \
        engine.rows("SELECT count(*) FROM cdp_staging.signups_rejected")[0][0] == 5
    engine.close()


def test_a_missing_data_folder_is_one_environment_error(tmp_path):
    result = cdpc("run", "--project", str(ROOT), "--data", str(tmp_path / "missing"), "--as-of", AS_OF)
    assert result.exit_code == 2
    assert result.output.count("CDP") == 1 and "CDP903 the raw data directory" in result.output
    assert "Traceback" not in result.output


# --------------------------------------------------------------------------- the raw relations are not the run's


def _dump(con) -> dict:
    """Every table of the raw schema: its column types and rows, in file order."""
    names = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw' "
                                       "ORDER BY table_name").fetchall()]
    return {n: (con.execute(f"DESCRIBE raw.{n}").fetchall(), con.execute(f"SELECT * FROM raw.{n}").fetchall())
            for n in names}


def _schemas(con) -> set[str]:
    return {r[0] for r in con.execute("SELECT schema_name FROM information_schema.schemata").fetchall()}


@pytest.fixture
def warehouse_db(tmp_path) -> Path:
    """A DuckDB file that holds raw.* tables of its own (typed, other rows), and a view."""
    db = tmp_path / "wh.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE SCHEMA raw")
        for name in RAW_TABLES:
            con.execute(f"CREATE TABLE raw.{name} AS SELECT * FROM read_csv('{ROOT / 'data' / f'raw.{name}.csv'}') "
                        "USING SAMPLE 50 ROWS (reservoir, 7)")
        con.execute("CREATE TABLE raw.unrelated (x INTEGER)")
        con.execute("INSERT INTO raw.unrelated VALUES (1), (2)")
        con.execute("CREATE VIEW raw.recent AS SELECT * FROM raw.bookings WHERE booking_id IS NOT NULL")
    return db


def test_a_files_run_leaves_the_raw_tables_of_the_database_as_they_were(warehouse_db):
    with duckdb.connect(str(warehouse_db), read_only=True) as con:
        before = _dump(con)
    result = cdpc("run", "--project", str(ROOT), "--db", str(warehouse_db), "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    with duckdb.connect(str(warehouse_db), read_only=True) as con:
        assert _dump(con) == before
        # the file's 3,124 rows less those the sample's erasure requests remove (the summary counts them)
        erased = int(next(line for line in result.output.splitlines() if line.startswith("rows erased: bookings")).split()[-1])
        assert erased > 0
        assert con.execute("SELECT count(*) FROM cdp_staging.bookings").fetchone()[0] == 3124 - erased, "the files, not raw.*"
        assert not [s for s in _schemas(con) if s.startswith("cdpc_run_")]


def test_a_warehouse_run_reads_the_relations_in_place_and_leaves_them(warehouse_db):
    with duckdb.connect(str(warehouse_db), read_only=True) as con:
        before = _dump(con)
    result = cdpc("run", "--project", str(ROOT), "--db", str(warehouse_db), "--sources", "warehouse", "--as-of", AS_OF)
    assert result.exit_code in (0, 1), result.output  # a sample of 50 rows may break freshness
    with duckdb.connect(str(warehouse_db), read_only=True) as con:
        assert _dump(con) == before
        staged = con.execute("SELECT count(*) + (SELECT count(*) FROM cdp_staging.bookings_rejected) "
                             "FROM cdp_staging.bookings").fetchone()[0]
    expired = int(next(line for line in result.output.splitlines() if line.startswith("bookings ")).split()[-1])
    erased = int(next(line for line in result.output.splitlines() if line.startswith("rows erased: bookings")).split()[-1])
    assert staged + expired + erased == 50, \
        "every row of raw.bookings, typed columns read as text (or older than its retention, or erased)"


def test_a_missing_relation_or_column_in_the_warehouse_is_a_clear_error(tmp_path):
    db = tmp_path / "wh.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE SCHEMA raw")
        con.execute("CREATE TABLE raw.signups (signup_id VARCHAR, email VARCHAR, amount DECIMAL(8,2))")
    root = write_files(tmp_path / "p", SMALL_PROJECT)
    result = cdpc("run", "--project", str(root), "--db", str(db), "--sources", "warehouse", "--as-of", AS_OF)
    assert result.exit_code == 1
    assert "CDP502 raw.signups has no column `signed_up_at` declared by contract `signups`" in result.output
    root2 = write_files(tmp_path / "p2", {**SMALL_PROJECT, "definitions/contracts.yaml":
                                          SMALL_PROJECT["definitions/contracts.yaml"].replace("raw.signups", "raw.gone")})
    result = cdpc("run", "--project", str(root2), "--db", str(db), "--sources", "warehouse", "--as-of", AS_OF)
    assert result.exit_code == 1 and "CDP511 contract `signups`: the warehouse has no relation raw.gone" in result.output


def test_a_killed_runs_private_schema_goes_with_the_next_run_and_a_failed_run_leaves_none(tmp_path):
    db = tmp_path / "run.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE SCHEMA cdpc_run_4242_0badcafe")  # what a killed run leaves
        con.execute("CREATE TABLE cdpc_run_4242_0badcafe.bookings (x VARCHAR)")
        con.execute("CREATE SCHEMA cdpc_run_reports")  # not cdpc's: same prefix, other form
    project = require_valid(ROOT)
    engine = DuckDBEngine(db)
    # a run that fails after loading: a unit the engine refuses
    original = engine.execute

    def refuse_identity(sql: str) -> None:
        if "cdp_identity." in sql and "CREATE TABLE" in sql:
            from compiler.run.engines import EngineError
            raise EngineError("refused for the test")
        original(sql)
    engine.execute = refuse_identity
    with pytest.raises(DiagnosticError):
        run_project(project, engine, ROOT / "data", AS_OF_DT)
    engine.close()
    with duckdb.connect(str(db), read_only=True) as con:
        schemas = _schemas(con)
    assert "cdpc_run_reports" in schemas
    assert not [s for s in schemas if s.startswith("cdpc_run_") and s != "cdpc_run_reports"]


# --------------------------------------------------------------------------- PostgreSQL


def test_a_files_run_leaves_the_raw_tables_of_a_postgres_database_as_they_were(pg_database):
    import psycopg

    def dump(con) -> dict:
        names = [r[0] for r in con.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'raw' ORDER BY 1")]
        return {n: (con.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'raw' "
                                "AND table_name = %s ORDER BY ordinal_position", (n,)).fetchall(),
                    con.execute(f"SELECT * FROM raw.{n} ORDER BY 1").fetchall(),
                    con.execute("SELECT oid FROM pg_class WHERE relname = %s", (n,)).fetchone())
                for n in names}

    with psycopg.connect(pg_database, autocommit=True) as con:
        con.execute("CREATE SCHEMA raw")
        con.execute("CREATE TABLE raw.bookings (booking_id integer PRIMARY KEY, note text)")
        con.execute("INSERT INTO raw.bookings VALUES (1, 'mine'), (2, NULL)")
        con.execute("CREATE TABLE raw.crm_contacts (membership_id text)")
        con.execute("CREATE VIEW raw.recent AS SELECT * FROM raw.bookings")
        before = dump(con)
    result = cdpc("run", "--project", str(ROOT), "--engine", "postgres", "--dsn", pg_database, "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    with psycopg.connect(pg_database, autocommit=True) as con:
        assert dump(con) == before, "same tables, columns, rows and oids: nothing dropped or replaced"
        assert con.execute("SELECT count(*) FROM cdp_staging.bookings").fetchone()[0] == 3103  # 3124 less the 21 that the reference erasure requests remove
        leftovers = con.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'cdpc_run_%'").fetchall()
        assert leftovers == []


def test_a_file_already_in_clean_form_is_linked_and_reads_the_same(tmp_path):
    # the fast path must give exactly the rows the Python pass gives, and only take clean files
    from compiler.run.rawcsv import clean_csv
    plain = b"id,email,amount\n1,a@x.com,1.00\n2,,2.00\n3,c@x.com,\n"
    quoted = plain.replace(b"a@x.com", b'"a@x.com"')
    (tmp_path / "plain.csv").write_bytes(plain)
    (tmp_path / "quoted.csv").write_bytes(quoted)
    linked = clean_csv(tmp_path / "plain.csv", ("id", "email", "amount"), tmp_path / "out1.csv")
    rewritten = clean_csv(tmp_path / "quoted.csv", ("id", "email", "amount"), tmp_path / "out2.csv")
    assert (tmp_path / "out1.csv").is_symlink() and not (tmp_path / "out2.csv").is_symlink()
    assert linked.rows == rewritten.rows == 3 and linked.malformed == rewritten.malformed == []
    import duckdb
    read = "SELECT * FROM read_csv('{}', header = true, all_varchar = true, quote = '\"', escape = '\"') ORDER BY 1"
    with duckdb.connect() as db:
        assert db.execute(read.format(tmp_path / "out1.csv")).fetchall() == \
            db.execute(read.format(tmp_path / "out2.csv")).fetchall()
    short = plain + b"4,d@x.com\n"  # one line of the wrong width: the Python pass quarantines it
    (tmp_path / "short.csv").write_bytes(short)
    result = clean_csv(tmp_path / "short.csv", ("id", "email", "amount"), tmp_path / "out3.csv")
    assert not (tmp_path / "out3.csv").is_symlink() and [m.reason for m in result.malformed] == \
        ["row has 2 cells, header has 3"]
