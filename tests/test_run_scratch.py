"""On DuckDB a run's private schemas live in memory: scratch tables, raw copies and the outputs
until they are published never touch the database file, and no PHI lands on disk but in the
published outputs. DuckDB's memory is limited by cdpc (a fifth of the machine's, or
--memory-limit), and what does not fit spills to a folder of the run's own that never
outlives it.

Real DuckDB files and real `cdpc run` processes; the kills use the runner's test-only hook
CDPC_TEST_KILL_AFTER=N (compiler/run/testhook.py).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import pytest

from compiler.project import require_valid
from compiler.run.engines import memory_size
from compiler.run.engines.duckdb import MEMORY_SHARE, SCRATCH, SPILL_PREFIX, DuckDBEngine, usable_memory
from compiler.run.runner import run_project

from helpers import AS_OF, ROOT, cdpc, copy_reference

LATER = "2026-11-23 00:00:00"
CANARY = re.compile(rb"canary-(?:phi|pii)-[a-z_]+-\d+")


def _run(project: Path, db: Path, tmp: Path, *args: str, data: Path | None = None, as_of: str = AS_OF,
         env: dict | None = None) -> subprocess.Popen:
    """`cdpc run --db` as a process of its own, with the temporary folder `tmp`."""
    command = [sys.executable, "-m", "compiler.cli", "run", "--project", str(project), "--db", str(db),
               "--as-of", as_of, *(("--data", str(data)) if data else ()), *args]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "TMPDIR": str(tmp), **(env or {})})
    process.stdout_text, process.stderr_text = process.communicate()
    return process


def _schemas(db: Path) -> set[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {r[0] for r in con.execute("SELECT schema_name FROM duckdb_schemas() "
                                          "WHERE database_name = current_database() AND NOT internal").fetchall()}


def _tables(db: Path) -> set[tuple[str, str]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {tuple(r) for r in con.execute("SELECT schema_name, table_name FROM duckdb_tables() "
                                              "WHERE database_name = current_database()").fetchall()}


# the meta schema's own bookkeeping: what cdpc owns and the record of runs (docs/reference.md §5.1)
BOOKKEEPING = {("cdpc_meta", "owned"), ("cdpc_meta", "runs"), ("cdpc_meta", "run_syncs")}


def _owned(db: Path) -> set[tuple[str, str]]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {tuple(r) for r in con.execute("SELECT schema_name, table_name FROM cdpc_meta.owned").fetchall()}


def _outputs(engine: DuckDBEngine) -> dict:
    """Every published table, its rows sorted (read through the run's own connection); the run's
    id, which the changes and history carry, reads as `<run>` (two runs never share one)."""
    owned = engine.rows("SELECT schema_name, table_name FROM cdpc_meta.owned")
    run = engine.rows("SELECT max(run_id) FROM cdpc_meta.runs")[0][0]
    mask = lambda row: tuple("<run>" if v == run else v for v in row)  # noqa: E731
    return {f"{s}.{t}": sorted((mask(r) for r in engine.rows(f'SELECT * FROM "{s}"."{t}"')), key=repr) for s, t in owned}


def _on_disk(db: Path) -> bytes:
    """The database file and its write-ahead log, as bytes."""
    return b"".join(p.read_bytes() for p in (db, db.with_name(db.name + ".wal")) if p.exists())


def _spills(tmp: Path) -> list[str]:
    return sorted(p.name for p in tmp.glob(f"{SPILL_PREFIX}*"))


def _statements_until_publishing(project: Path, data: Path, db: Path) -> int:
    """How many statements a run executes before its publishing transaction (counted as the
    kill hook counts), in a run on a file of its own."""
    engine = DuckDBEngine(db)
    seen, execute = [], engine.execute

    def counted(sql):
        seen.append(sql)
        execute(sql)
    engine.execute = counted
    try:
        run_project(require_valid(project), engine, data, dt.datetime(2026, 11, 20))
    finally:
        engine.close()
    return seen.index("BEGIN TRANSACTION")


# --------------------------------------------------------------------------- nothing private in the file


def test_a_run_writes_only_its_outputs_and_the_meta_schema_to_the_file(tmp_path, canary_data):
    project, db, tmp = copy_reference(tmp_path / "project"), tmp_path / "warehouse.duckdb", tmp_path / "tmp"
    tmp.mkdir()
    done = _run(project, db, tmp, data=canary_data.data)
    assert done.returncode == 0, done.stderr_text
    assert not [s for s in _schemas(db) if s.startswith("cdpc_run_")]
    assert _tables(db) - _owned(db) == BOOKKEEPING
    # the run read PHI: the published staging tables hold it, and nothing else of the file
    with duckdb.connect(str(db), read_only=True) as con:
        outside = [(s, t) for s, t in _tables(db) - _owned(db)
                   if canary_data.canaries.scan_rows([c[0] for c in con.execute(f'DESCRIBE "{s}"."{t}"').fetchall()],
                                                     con.execute(f'SELECT * FROM "{s}"."{t}"').fetchall())]
        assert outside == []
    assert _spills(tmp) == []


def test_a_run_killed_while_building_leaves_no_raw_copy_and_no_phi_on_disk(tmp_path, canary_data):
    project, db, tmp = copy_reference(tmp_path / "project"), tmp_path / "warehouse.duckdb", tmp_path / "tmp"
    tmp.mkdir()
    building = _statements_until_publishing(project, canary_data.data, tmp_path / "count.duckdb")
    for point in (building // 3, 2 * building // 3, building):  # staging, identity or later, just before publishing
        db.unlink(missing_ok=True)
        killed = _run(project, db, tmp, data=canary_data.data, env={"CDPC_TEST_KILL_AFTER": str(point)})
        assert killed.returncode == -9, (point, killed.stderr_text)
        assert not [s for s in _schemas(db) if s.startswith("cdpc_run_")], point
        assert _tables(db) <= BOOKKEEPING, point
        assert CANARY.findall(_on_disk(db)) == [], f"raw values on disk after a kill at statement {point}"
        left = _spills(tmp)  # the killed run's spill folder outlives it
        assert len(left) == 1 and left[0].startswith(f"{SPILL_PREFIX}{killed.pid}-"), left
        # the next run removes the killed run's spill folder, and its own
        done = _run(project, db, tmp, data=canary_data.data)
        assert done.returncode == 0, done.stderr_text
        assert _spills(tmp) == []


def test_the_files_outputs_are_the_in_memory_runs(tmp_path):
    project = require_valid(ROOT)
    outputs = []
    for database in (tmp_path / "warehouse.duckdb", ":memory:"):
        engine = DuckDBEngine(database)
        try:
            run_project(project, engine, ROOT / "data", dt.datetime(2026, 11, 20))
            outputs.append(_outputs(engine))
        finally:
            engine.close()
    on_file, in_memory = outputs
    assert len(on_file) > 30 and on_file == in_memory


def test_private_schemas_that_earlier_versions_left_in_the_file_are_removed(tmp_path):
    db = tmp_path / "warehouse.duckdb"
    left = ("cdpc_run_1796035394454_work", "cdpc_run_1796035394454_0_cdp", "cdpc_run_4242_0123abcd")
    with duckdb.connect(str(db)) as con:
        for schema in (*left, "cdpc_run_reports"):
            con.execute(f'CREATE SCHEMA "{schema}"')
            con.execute(f'CREATE TABLE "{schema}".t AS SELECT 1 AS id')
    assert cdpc("run", "--project", str(ROOT), "--db", str(db), "--as-of", AS_OF).exit_code == 0
    assert _schemas(db) & set(left) == set()
    assert "cdpc_run_reports" in _schemas(db)  # not of a run's form: someone's own


def test_a_database_file_named_like_the_scratch_catalog_still_runs(tmp_path):
    db = tmp_path / f"{SCRATCH}.duckdb"
    assert cdpc("run", "--project", str(ROOT), "--db", str(db), "--as-of", AS_OF).exit_code == 0
    assert ("cdp", "customer_profiles") in _tables(db)


# --------------------------------------------------------------------------- memory and spilling


def test_the_default_memory_limit_is_a_fifth_of_the_machines_memory():
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        total = next(int(line.split()[1]) * 1024 for line in meminfo if line.startswith("MemTotal:"))
    assert MEMORY_SHARE == 0.2
    expected = int(min(total, usable_memory()) * 0.2)
    engine = DuckDBEngine()
    try:
        assert engine.memory_limit == expected
        with duckdb.connect() as other:  # DuckDB's own rendering of that many bytes
            other.execute(f"SET memory_limit = '{expected}B'")
            assert engine.rows("SELECT current_setting('memory_limit')") == other.execute(
                "SELECT current_setting('memory_limit')").fetchall()
    finally:
        engine.close()


@pytest.mark.parametrize("hierarchy, limit", [
    ("v2", 2 * 1024 ** 3),  # memory.max of the parent cgroup; the process's own says max
    ("v1", 1024 ** 3),
])
def test_a_cgroups_memory_limit_below_the_machines_is_the_usable_memory(tmp_path, hierarchy, limit):
    cgroups, mine = tmp_path / "cgroup", tmp_path / "self_cgroup"
    if hierarchy == "v2":
        mine.write_text("0::/user.slice/cdpc.scope\n")
        (cgroups / "user.slice" / "cdpc.scope").mkdir(parents=True)
        (cgroups / "user.slice" / "cdpc.scope" / "memory.max").write_text("max\n")
        (cgroups / "user.slice" / "memory.max").write_text(f"{limit}\n")
    else:
        mine.write_text("5:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc\n")
        (cgroups / "memory" / "docker" / "abc").mkdir(parents=True)
        (cgroups / "memory" / "docker" / "abc" / "memory.limit_in_bytes").write_text(f"{limit}\n")
        (cgroups / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    assert usable_memory(cgroups, mine) == limit
    (tmp_path / "none").write_text("0::/\n")
    assert usable_memory(cgroups, tmp_path / "none") == os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def test_memory_sizes_read_as_duckdb_writes_them():
    assert memory_size("4GB") == 4 * 1000 ** 3
    assert memory_size("512 MiB") == 512 * 1024 ** 2
    assert memory_size("1.5gb") == 1_500_000_000
    for bad in ("4", "4XB", "0GB", "-1GB", "lots", "", "4 GB of RAM"):
        with pytest.raises(ValueError, match="is not a size"):
            memory_size(bad)


@pytest.mark.parametrize("args", [("--memory-limit", "4XB"), ("--memory-limit", "0MB"), ("--memory-limit", "many"),
                                  ("--memory-limit", "4GB", "--engine", "postgres"),
                                  ("--memory-limit", "4GB", "--engine", "spark")])
def test_a_memory_limit_that_cannot_be_used_is_a_usage_error(args):
    result = cdpc("run", "--project", str(ROOT), "--as-of", AS_OF, *args)
    assert result.exit_code == 2, result.output
    assert "--memory-limit" in result.output


def test_duckdb_spills_to_the_runs_folder_with_file_access_off(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    engine = DuckDBEngine(memory_limit=64 * 1024 ** 2)
    try:
        assert engine.spill.parent == tmp_path and engine.spill.name.startswith(f"{SPILL_PREFIX}{os.getpid()}-")
        assert engine.spill.stat().st_mode & 0o777 == 0o700
        engine.forbid_file_access()
        engine.execute(f'CREATE SCHEMA "{engine.scratch_catalog}".s')
        # about 200 MB of text in the in-memory catalog: three times the limit
        engine.execute(f'CREATE TABLE "{engine.scratch_catalog}".s.t AS SELECT range AS i, md5(range::VARCHAR) AS a, '
                       "md5((range + 1)::VARCHAR) AS b FROM range(2000000)")
        assert engine.rows(f'SELECT count(DISTINCT a) FROM "{engine.scratch_catalog}".s.t') == [(2000000,)]
        spilled = sum(f.stat().st_size for f in engine.spill.iterdir())
        assert spilled > 50 * 1024 ** 2
    finally:
        engine.close()
    assert not engine.spill.exists()


def test_spill_folders_of_runs_whose_process_is_gone_are_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    dead = tmp_path / f"{SPILL_PREFIX}{gone.pid}-abc"
    live = tmp_path / f"{SPILL_PREFIX}{os.getppid()}-def"  # pytest's parent: alive
    foreign = tmp_path / "cdpc-spill-notes"
    for folder in (dead, live, foreign):
        folder.mkdir()
        (folder / "duckdb_temp_storage.tmp").write_bytes(b"x" * 10)
    engine = DuckDBEngine()
    engine.close()
    assert not dead.exists() and live.exists() and foreign.exists()


def test_a_run_out_of_memory_is_exit_2_names_the_limit_and_publishes_nothing(tmp_path):
    project, db, tmp = copy_reference(tmp_path / "project"), tmp_path / "warehouse.duckdb", tmp_path / "tmp"
    tmp.mkdir()
    assert _run(project, db, tmp).returncode == 0
    with duckdb.connect(str(db), read_only=True) as con:
        before = con.execute("SELECT * FROM cdpc_meta.owned ORDER BY ALL").fetchall()
    failed = _run(project, db, tmp, "--memory-limit", "20MB", as_of=LATER)
    assert failed.returncode == 2, failed.stderr_text
    assert "CDP909 DuckDB ran out of memory at its limit of 19 MiB" in failed.stderr_text
    assert "--memory-limit" in failed.stderr_text and "Traceback" not in failed.stderr_text
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT * FROM cdpc_meta.owned ORDER BY ALL").fetchall() == before
    assert _spills(tmp) == []
