"""A run asked to stop by a signal (SIGTERM from a scheduler, Ctrl-C) in the middle of a long
statement: DuckDB interrupts the statement and raises its own error; cdpc still reports the stop
in one line, exits 128 + the signal, publishes nothing and removes its private folders.
(Stops between statements, on DuckDB and PostgreSQL, are in tests/test_run_publish.py.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from helpers import AS_OF, ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import synth  # noqa: E402


@pytest.fixture(scope="module")
def big_data(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("data")
    synth.main([str(data), "--members", "20000", "--seed", "7"])
    return data


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_inside_a_statement_is_reported_as_the_stop(tmp_path, big_data, signum):
    tmp, db = tmp_path / "tmp", tmp_path / "warehouse.duckdb"
    tmp.mkdir()
    command = [sys.executable, "-m", "compiler.cli", "run", "--project", str(ROOT), "--data", str(big_data),
               "--db", str(db), "--as-of", AS_OF]
    run = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env={**os.environ, "TMPDIR": str(tmp)})
    time.sleep(4.0)  # loading and staging 600k records: well inside some statement by now
    assert run.poll() is None, "the run ended before it could be stopped: make the data larger"
    run.send_signal(signum)
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 128 + signum, stderr
    assert f"stopped by {signal.Signals(signum).name}" in stderr and "Traceback" not in stderr, stderr
    assert "internal error" not in stderr, stderr
    assert list(tmp.iterdir()) == []
    with duckdb.connect(str(db), read_only=True) as con:
        schemas = {r[0] for r in con.execute("SELECT schema_name FROM duckdb_schemas() WHERE NOT internal").fetchall()}
    assert schemas <= {"main", "cdpc_meta"}, schemas  # nothing published
