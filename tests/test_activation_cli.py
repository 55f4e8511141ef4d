"""The activation-state commands on a DuckDB file, as a user runs them (docs/reference.md §5):
the run summary, `cdpc runs`, `release`, `rollback`, `diff`, their errors and exit codes, a
failed run's record, a removed destination, a field added to a destination."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb

from compiler.project import require_valid
from compiler.run.engines import EngineError
from compiler.run.engines.duckdb import DuckDBEngine
from compiler.run.runner import run_project

from activation_scenario import ACTIVATION_PROJECT, write_day
from helpers import ROOT, cdpc, write_files

AUDIENCES, META = "act_audiences", "act_meta"


def _project(tmp_path: Path) -> Path:
    root = write_files(tmp_path / "week", ACTIVATION_PROJECT)
    for day in (1, 2, 4):
        write_day(root / f"day{day}", day)
    return root


def _run(root: Path, db: Path, day: int, as_of: str):
    return cdpc("run", "--project", str(root), "--db", str(db), "--data", str(root / f"day{day}"), "--as-of", as_of)


def _rows(db: Path, sql: str) -> list:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def _run_ids(db: Path) -> list[int]:
    return [r[0] for r in _rows(db, f"SELECT run_id FROM {META}.runs ORDER BY run_id")]


def test_the_summary_shows_changes_and_held_syncs_and_a_held_run_exits_1(tmp_path):
    root, db = _project(tmp_path), tmp_path / "w.duckdb"
    first = _run(root, db, 1, "2026-11-20")
    assert first.exit_code == 0, first.output
    assert "add  update  remove" in first.output
    line = next(l for l in first.output.splitlines() if l.startswith("sync__crm__active "))
    assert line.split()[1:] == ["7", "1", "7", "0", "0"]  # rows, no identifier, add, update, remove
    assert first.output.rstrip().splitlines()[-1].endswith(": published")
    broken = _run(root, db, 4, "2026-11-21")
    assert broken.exit_code == 1
    assert "held sync (not published)" in broken.output and "CDP530" in broken.output
    assert "partial (4 syncs held)" in broken.output
    assert [r[0] for r in _rows(db, f"SELECT status FROM {META}.runs ORDER BY run_id")] == ["published", "partial"]


def test_runs_release_diff_rollback_through_the_cli(tmp_path):
    root, db = _project(tmp_path), tmp_path / "w.duckdb"
    common = ["--project", str(root), "--db", str(db)]
    _run(root, db, 1, "2026-11-20")
    _run(root, db, 2, "2026-11-21")
    assert _run(root, db, 4, "2026-11-22").exit_code == 1
    r1, r2, r3 = _run_ids(db)
    listing = cdpc("runs", *common)
    assert listing.exit_code == 0
    assert "held now: ads -> active (since run" in listing.output and f"{r3}  run " in listing.output
    entries = json.loads(cdpc("runs", *common, "--format", "json").output)
    assert [e["status"] for e in entries] == ["published", "published", "partial"]
    assert {s["outcome"] for s in entries[2]["syncs"]} == {"held"}

    released = cdpc("release", "crm", "active", *common)
    assert released.exit_code == 0, released.output
    assert f"publishes the audience that run {r3} held" in released.output
    assert _rows(db, f"SELECT count(*) FROM {AUDIENCES}.sync__crm__active") == [(0,)]
    assert {r[0] for r in _rows(db, f"SELECT op FROM {AUDIENCES}.sync__crm__active__changes")} == {"remove"}
    again = cdpc("release", "crm", "active", *common)
    assert again.exit_code == 2 and "CDP923 nothing is held for sync crm -> active" in again.output

    diff = cdpc("diff", "crm", "active", "--from", str(r1), "--to", str(r2), *common)
    assert diff.exit_code == 0, diff.output
    assert diff.output.rstrip().endswith("1 added, 1 removed, 3 updated")
    found = json.loads(cdpc("diff", "crm", "active", "--from", str(r1), "--to", str(r2), *common, "--format", "json").output)
    assert [row["email"] for row in found["added"]] == ["m7@club.example"]

    back = cdpc("rollback", "crm", "active", "--to", str(r2), *common)
    assert back.exit_code == 0, back.output
    assert _rows(db, f"SELECT count(*) FROM {AUDIENCES}.sync__crm__active") == [(7,)]
    assert {r[0] for r in _rows(db, f"SELECT op FROM {AUDIENCES}.sync__crm__active__changes")} == {"add"}
    rollback_id = _run_ids(db)[-1]
    assert _rows(db, f"SELECT DISTINCT run_id FROM {AUDIENCES}.sync__crm__active__changes") == [(rollback_id,)]
    assert _rows(db, f"SELECT command, source_run FROM {META}.run_syncs WHERE run_id = {rollback_id}") == [("rollback", r2)]
    # only that sync changed: ads is still held, upsert's audience is the one of r2
    assert cdpc("release", "ads", "active", *common).exit_code == 0

    held_run = cdpc("rollback", "esp_upsert", "active", "--to", str(r3), *common)
    assert held_run.exit_code == 2 and "CDP922" in held_run.output and "(it held this sync)" in held_run.output
    unknown = cdpc("rollback", "crm", "active", "--to", "42", *common)
    assert unknown.exit_code == 2 and "CDP922 --to 42: no such run" in unknown.output
    nowhere = cdpc("diff", "crm", "activ", "--from", str(r1), "--to", str(r2), *common)
    assert nowhere.exit_code == 2 and "CDP921" in nowhere.output and "did you mean `active`?" in nowhere.output
    assert "definitions/destinations.yaml:" in nowhere.output  # located at the destination's syncs


class _Failing(DuckDBEngine):
    """A real DuckDB file whose engine refuses the first statement of the syncs layer."""

    def execute(self, sql: str) -> None:
        if "sync__crm__active" in sql and sql.lstrip().upper().startswith("CREATE TABLE"):
            raise EngineError("refused for the test")
        super().execute(sql)


def test_a_failed_run_is_recorded_and_publishes_nothing(tmp_path):
    root, db = _project(tmp_path), tmp_path / "w.duckdb"
    _run(root, db, 1, "2026-11-20")
    before = _rows(db, f"SELECT * FROM {AUDIENCES}.sync__crm__active__history ORDER BY ALL")
    engine = _Failing(db)
    try:
        run_project(require_valid(root), engine, root / "day2", dt.datetime(2026, 11, 21))
    except Exception as exc:  # the run's own error, not one of the record
        assert "refused for the test" in str(exc)
    else:
        raise AssertionError("the run should have failed")
    finally:
        engine.close()
    statuses = _rows(db, f"SELECT status, as_of, finished_at IS NOT NULL FROM {META}.runs ORDER BY run_id")
    assert statuses == [("published", dt.datetime(2026, 11, 20), True), ("failed", dt.datetime(2026, 11, 21), True)]
    assert _rows(db, f"SELECT * FROM {AUDIENCES}.sync__crm__active__history ORDER BY ALL") == before
    listing = cdpc("runs", "--project", str(root), "--db", str(db))
    assert "failed" in listing.output


def test_a_killed_run_leaves_no_record(tmp_path):
    root, db = _project(tmp_path), tmp_path / "w.duckdb"
    _run(root, db, 1, "2026-11-20")
    killed = subprocess.run([sys.executable, "-m", "compiler.cli", "run", "--project", str(root), "--db", str(db),
                             "--data", str(root / "day2"), "--as-of", "2026-11-21"], cwd=ROOT, capture_output=True,
                            text=True, env={**os.environ, "CDPC_TEST_KILL_AFTER": "40"})
    assert killed.returncode == -9, killed.stderr
    assert len(_run_ids(db)) == 1
    assert _run(root, db, 2, "2026-11-21").exit_code == 0
    assert len(_run_ids(db)) == 2


def test_a_removed_destination_takes_its_state_along_and_an_added_field_is_an_update(tmp_path):
    root, db = _project(tmp_path), tmp_path / "w.duckdb"
    _run(root, db, 1, "2026-11-20")
    assert _run(root, db, 4, "2026-11-21").exit_code == 1  # every sync held: ads's held audience is kept
    assert ("held__ads__active",) in _rows(db, "SELECT table_name FROM information_schema.tables "
                                               f"WHERE table_schema = '{META}'")
    text = (root / "definitions" / "destinations.yaml").read_text()
    ads = text.index("kind: destination\nname: ads")
    (root / "definitions" / "destinations.yaml").write_text(
        text[:ads].rstrip().rstrip("-").rstrip().replace("fields: [tier]", "fields: [tier, spend]") + "\n")
    result = _run(root, db, 1, "2026-11-22")
    assert result.exit_code == 0, result.output
    tables = {r[0] for r in _rows(db, "SELECT table_schema || '.' || table_name FROM information_schema.tables")}
    assert not {t for t in tables if "ads" in t.split(".")[1]}
    assert not _rows(db, f"SELECT * FROM {META}.owned WHERE definition = 'destination:ads'")
    # esp_upsert sends `spend` now: every member's sent values changed, one update each
    ops = _rows(db, f"SELECT op, count(*) FROM {AUDIENCES}.sync__esp_upsert__active__changes GROUP BY op")
    assert ops == [("update", 7)]
    assert _rows(db, f"SELECT count(*) FROM {AUDIENCES}.sync__esp_upsert__active__history "
                     "WHERE valid_to_run IS NULL AND spend IS NOT NULL") == [(7,)]
