"""cdpc run on DuckDB, end to end: the tables of docs/reference.md §4, quarantine, checks, clear data errors."""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

import duckdb
import pytest

from compiler.project import require_valid
from compiler.run.engines.duckdb import DuckDBEngine
from compiler.run.runner import run_project

from helpers import AS_OF, ROOT, cdpc, cdpc_subprocess, copy_reference

AS_OF_DT = dt.datetime.fromisoformat(AS_OF)
SECTION_4 = {
    "cdp_staging": {"app_events", "app_events_rejected", "bookings", "bookings_rejected", "consent_events",
                    "consent_events_rejected", "crm_contacts", "crm_contacts_rejected", "pos_transactions",
                    "pos_transactions_rejected"},
    "cdp_identity": {"customer_map", "customer_conflicts", "customer_erasures"},  # the erasure dsar (reference.md §2.13)
    "cdp": {"customer_profiles", "customer_consent"},
    # what cdpc made, so that it replaces and drops nothing else; the runs (reference.md §5)
    "cdpc_meta": {"owned", "runs", "run_syncs"},
}


def tables(db: Path) -> dict[str, set[str]]:
    with duckdb.connect(str(db), read_only=True) as con:
        found: dict[str, set[str]] = {}
        for schema, name in con.execute("SELECT table_schema, table_name FROM information_schema.tables").fetchall():
            found.setdefault(schema, set()).add(name)
        return found


def snapshot_tables(db: Path) -> dict[str, list]:
    """Every output table's rows, sorted, so two runs can be compared row for row (not the
    meta schema: its run_id is each run's own; in the changes and history of syncs a run id
    is replaced by its run's place in cdpc_meta.runs)."""
    with duckdb.connect(str(db), read_only=True) as con:
        order = {r[0]: f"run {i}" for i, r in enumerate(con.execute("SELECT run_id FROM cdpc_meta.runs ORDER BY 1").fetchall(), 1)}
        names = con.execute("SELECT table_schema, table_name FROM information_schema.tables "
                            "WHERE table_schema <> 'cdpc_meta'").fetchall()
        return {f"{s}.{t}": sorted((tuple(order.get(v, v) if isinstance(v, int) else v for v in row)
                                    for row in con.execute(f'SELECT * FROM "{s}"."{t}"').fetchall()), key=repr)
                for s, t in names}


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory):
    db = tmp_path_factory.mktemp("run") / "fitclub.duckdb"
    result = cdpc("run", "--project", str(ROOT), "--db", str(db), "--as-of", AS_OF)
    return result, db


def test_the_cli_process_ends_quietly(tmp_path):
    # the CLI freezes long-lived objects for speed (compiler/gcpause.py); it must hand them
    # back before exit, or DuckDB's bindings print "nanobind: leaked ..." at shutdown
    project = copy_reference(tmp_path / "project")
    result = cdpc_subprocess("run", "--as-of", AS_OF, "--project", str(project), cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_run_leaves_exactly_the_section_4_tables(reference_run):
    result, db = reference_run
    assert result.exit_code == 0, result.output
    found = tables(db)
    project = require_valid(ROOT).definitions
    audiences = set(project.segments) | {
        f"sync__{d.name}__{s.segment}{suffix}" for d in project.destinations.values() for s in d.syncs
        for suffix in ("", "__changes", "__history")}  # a sync's activation state: reference.md §5
    expected = {**SECTION_4, "cdp_audiences": audiences}
    viewed = set(project.segments) | {f"sync__{d.name}__{s.segment}" for d in project.destinations.values() for s in d.syncs}
    for name in project.accesses:  # a view of every profiles, consent and audience table (docs/privacy.md)
        expected[f"cdp__{name}"] = {"customer_profiles", "customer_consent", *viewed}
    assert found == expected


def test_summary_reports_every_stage(reference_run):
    result, _ = reference_run
    for text in ("as of 2026-11-20 00:00:00", "staged", "rejected", "profiles", "multi-record profiles",
                 "conflicts", "winback_7d_inactive", "sync__meta_ads__high_value_lapsed", "no identifier", "identity"):
        assert text in result.output


def test_rejected_rows_keep_text_and_reasons(reference_run):
    _, db = reference_run
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT booked_at, _reject_reasons FROM cdp_staging.bookings_rejected").fetchall()
        types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                                 "WHERE table_name = 'bookings_rejected'").fetchall())
    assert rows and all(reasons for _, reasons in rows)
    assert all(isinstance(r, str) and ": " in r for _, reasons in rows for r in reasons)
    assert set(types.values()) == {"VARCHAR", "VARCHAR[]"}


def test_every_record_is_mapped_and_profile_ids_are_md5(reference_run):
    _, db = reference_run
    with duckdb.connect(str(db), read_only=True) as con:
        staged = sum(con.execute(f"SELECT count(*) FROM cdp_staging.{t}").fetchone()[0]
                     for t in ("app_events", "bookings", "consent_events", "crm_contacts", "pos_transactions"))
        mapped, bad_ids = con.execute("SELECT count(*), count(*) FILTER (WHERE NOT regexp_matches(profile_id, '^[0-9a-f]{32}$')) "
                                      "FROM cdp_identity.customer_map").fetchone()
        profiles = con.execute("SELECT count(*), count(DISTINCT profile_id) FROM cdp.customer_profiles").fetchone()
        mapped_profiles = con.execute("SELECT count(DISTINCT profile_id) FROM cdp_identity.customer_map").fetchone()[0]
    assert mapped == staged and bad_ids == 0
    assert profiles[0] == profiles[1] == mapped_profiles


def test_same_data_in_any_row_order_gives_the_same_tables(tmp_path, reference_run):
    _, db = reference_run
    project = copy_reference(tmp_path / "p", with_generated=False)
    rng = random.Random(11)
    for path in (project / "data").glob("*.csv"):
        with path.open(newline="", encoding="utf-8") as handle:
            header, *rows = list(csv.reader(handle))
        rng.shuffle(rows)
        order = list(range(len(header)))
        rng.shuffle(order)  # columns are bound by name, so their order must not matter either
        _write_csv(path, [header[i] for i in order], [[r[i] for i in order] for r in rows])
    shuffled_db = tmp_path / "shuffled.duckdb"
    assert cdpc("run", "--project", str(project), "--db", str(shuffled_db), "--as-of", AS_OF).exit_code == 0
    assert snapshot_tables(shuffled_db) == snapshot_tables(db)


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    # csv.reader loses the difference between an empty unquoted cell (NULL) and "" (empty
    # text); the sample data has no "" cells, so empty cells are written unquoted again.
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_MINIMAL)
        writer.writerow(header)
        writer.writerows(rows)


def test_parquet_input_gives_the_same_tables_as_csv(tmp_path, reference_run):
    _, db = reference_run
    project = copy_reference(tmp_path / "p", with_generated=False)
    for path in (project / "data").glob("*.csv"):
        target = path.with_suffix(".parquet")
        duckdb.sql(f"COPY (SELECT * FROM read_csv('{path}', all_varchar = true, allow_quoted_nulls = false, delim = ',')) "
                   f"TO '{target}' (FORMAT parquet)")
        path.unlink()
    parquet_db = tmp_path / "parquet.duckdb"
    assert cdpc("run", "--project", str(project), "--db", str(parquet_db), "--as-of", AS_OF).exit_code == 0
    assert snapshot_tables(parquet_db) == snapshot_tables(db)


def test_missing_file_and_missing_column_are_clear_errors(tmp_path):
    project = copy_reference(tmp_path, with_generated=False)
    (project / "data" / "raw.bookings.csv").unlink()
    app = project / "data" / "raw.app_events.csv"
    lines = app.read_text(encoding="utf-8").splitlines()
    lines[0] = lines[0].replace("device_id", "device")
    app.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = cdpc("run", "--project", str(project), "--as-of", AS_OF)
    assert result.exit_code == 1
    assert "definitions/contracts/bookings.yaml:" in result.output and "CDP501 no raw data for contract `bookings`" in result.output
    assert "CDP502" in result.output and "`device_id`" in result.output
    assert "Traceback" not in result.output


def test_a_malformed_row_is_quarantined_not_fatal(tmp_path):
    project = copy_reference(tmp_path, with_generated=False)
    path = project / "data" / "raw.crm_contacts.csv"
    lines = len(path.read_bytes().splitlines())
    path.write_bytes(path.read_bytes() + b'"unterminated,quote\n')
    db = tmp_path / "run.duckdb"
    result = cdpc("run", "--project", str(project), "--db", str(db), "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    assert f"raw.crm_contacts.csv:{lines + 1}:1: CDP512 warning: 1 malformed row" in result.output
    with duckdb.connect(str(db), read_only=True) as con:
        reasons = con.execute("SELECT _reject_reasons FROM cdp_staging.crm_contacts_rejected "
                              "WHERE _reject_reasons[1] LIKE 'line%'").fetchall()
    assert reasons == [([f"line {lines + 1}: unbalanced quote"],)]
    assert "Traceback" not in result.output


def test_an_unreadable_header_is_a_clear_error(tmp_path):
    project = copy_reference(tmp_path, with_generated=False)
    path = project / "data" / "raw.crm_contacts.csv"
    path.write_bytes(b'"unterminated,quote\n' + path.read_bytes())
    result = cdpc("run", "--project", str(project), "--as-of", AS_OF)
    assert result.exit_code == 1
    assert "raw.crm_contacts.csv:1:1: CDP503 the header row has an unbalanced quote" in result.output
    assert "Traceback" not in result.output


def test_expected_size_violation_fails_after_every_table_is_written(tmp_path):
    project = copy_reference(tmp_path, with_generated=False)
    segment = project / "definitions" / "segments" / "winback_7d_inactive.yaml"
    text = segment.read_text()
    assert "expected_size" in text
    segment.write_text(text.replace("expected_size:", "expected_size: {min: 100000}\nold_expected_size:", 1)
                       .replace("old_expected_size:", "# old_expected_size:"))
    db = tmp_path / "run.duckdb"
    result = cdpc("run", "--project", str(project), "--db", str(db), "--as-of", AS_OF)
    assert result.exit_code == 1, result.output
    assert "CDP507" in result.output and "winback_7d_inactive" in result.output
    assert "sync__sms_provider__winback_7d_inactive" in tables(db)["cdp_audiences"]


def test_stale_data_fails_the_run_with_freshness_error(tmp_path):
    db = tmp_path / "late.duckdb"
    result = cdpc("run", "--project", str(ROOT), "--db", str(db), "--as-of", "2027-06-01")
    assert result.exit_code == 1
    assert "CDP505" in result.output and "older than" in result.output
    assert "customer_profiles" in tables(db)["cdp"]


def test_as_of_drives_current_date(tmp_path):
    """Day counts move with --as-of, never with the wall clock."""
    project = require_valid(ROOT)
    values = []
    for as_of in (dt.datetime(2026, 11, 20), dt.datetime(2026, 11, 30)):
        engine = DuckDBEngine()
        run_project(project, engine, ROOT / "data", as_of)
        values.append(dict(engine.rows("SELECT profile_id, days_since_last_visit FROM cdp.customer_profiles "
                                       "WHERE days_since_last_visit IS NOT NULL")))
        engine.close()
    # as of 2026-11-30 the sample's third erasure request (made 2026-11-25) applies: one member less
    gone = set(values[0]) - set(values[1])
    assert values[0] and len(gone) == 1 and all(values[1][p] == v + 10 for p, v in values[0].items() if p not in gone)


def test_bad_as_of_is_a_usage_error():
    result = cdpc("run", "--project", str(ROOT), "--as-of", "yesterday")
    assert result.exit_code == 2 and "--as-of" in result.output


SMALL_PROJECT = {
    "definitions/project.yaml": """
        kind: project
        name: tiny
    """,
    "definitions/contracts.yaml": """
        kind: contract
        name: signups
        version: 1.0.0
        relation: raw.signups
        primary_key: [signup_id]
        fields:
          signup_id: {type: string, required: true}
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
    """,
}


def test_rows_sharing_a_primary_key_are_one_record(tmp_path):
    """docs/reference.md §2.3: a record is its source plus its record key, so duplicate keys make one record."""
    from helpers import write_files
    project = write_files(tmp_path, {**SMALL_PROJECT, "data/raw.signups.csv": (
        "signup_id,email\ns1,a@x.com\ns1,b@x.com\ns2,b@x.com\ns3,\n")})
    engine = DuckDBEngine()
    result = run_project(require_valid(project), engine, project / "data", AS_OF_DT)
    rows = engine.rows("SELECT source, record_key, profile_id FROM cdp_identity.customer_map ORDER BY record_key")
    assert [r[:2] for r in rows] == [("signups", "s1"), ("signups", "s2"), ("signups", "s3")]
    assert rows[0][2] == rows[1][2] != rows[2][2], "s1 holds both emails and links to s2 through b@x.com"
    assert any(f.code == "CDP504" for f in result.findings), "the duplicate key is still reported"


def test_duplicate_keys_are_named_up_to_five(tmp_path):
    """CDP504 says which values are duplicated (the first five, in order), not only how many."""
    from helpers import write_files
    rows = "".join(f"s{i},a{i}@x.com\ns{i},b{i}@x.com\n" for i in range(1, 8))
    project = write_files(tmp_path, {**SMALL_PROJECT, "data/raw.signups.csv": "signup_id,email\n" + rows + "t1,c@x.com\n"})
    engine = DuckDBEngine()
    result = run_project(require_valid(project), engine, project / "data", AS_OF_DT)
    found = [f for f in result.findings if f.code == "CDP504"]
    assert len(found) == 1
    assert found[0].message.endswith("7 (expected <= 0); duplicated: `s1`, `s2`, `s3`, `s4`, `s5` and 2 more"), found[0].message
