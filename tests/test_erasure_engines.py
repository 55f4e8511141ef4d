"""Erasure gives the same outcome on PostgreSQL and Spark as on DuckDB (docs/privacy.md §4).

The project of tests/erasure_project.py runs twice on each engine (no request, then the
requests): every table a run leaves (`<identity>_erasures` included), the summary, the
changes each sync published and who stays in its history are the same as on DuckDB, and no
table cdpc owns holds a clear value of the erased members."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from compiler.emit.changes import changes_table, history_table
from compiler.project import require_valid
from compiler.run.engines.duckdb import DuckDBEngine
from compiler.run.owned import read_owned
from compiler.run.runner import run_project

from erasure_project import ANN, AS_OF, CY, PROJECT, REQUESTS, REQUESTS_NONE, SCHEMAS, write_data
from helpers import write_files
from tables import differences, read_table, snapshot

SYNCS = (("esp", "named"), ("ads", "named"))


def _both_runs(open_engine, root: Path):
    """`open_engine()`: the engine of one run (a DuckDB connection reads files for one run only)."""
    project = require_valid(root)
    engine = open_engine()
    for schema in SCHEMAS.values():  # a warehouse that outlives a test starts without cdpc's outputs
        engine.drop_schema(schema)
    write_data(root / "none", REQUESTS_NONE)
    run_project(project, engine, root / "none", AS_OF)
    engine = open_engine()
    write_data(root / "some", REQUESTS)
    result = run_project(project, engine, root / "some", AS_OF)
    return result, snapshot(engine, project.definitions), _state(engine), engine


def _state(engine) -> dict[str, object]:
    """Each sync's changes without the run id (engines' run ids differ), and the history's
    profile ids with how many rows each has."""
    audiences, state = SCHEMAS["audiences"], {}
    for destination, segment in SYNCS:
        changes = read_table(engine, audiences, changes_table(destination, segment))
        state[f"{destination} changes"] = sorted((row[1:] for row in changes.rows.elements()), key=repr)
        history = read_table(engine, audiences, history_table(destination, segment))
        state[f"{destination} history"] = sorted(row[0] for row in history.rows.elements())
    return state


def clear_values_left(engine, needles: list[str]) -> dict[str, list[str]]:
    """Every table and view cdpc owns, every value as text, lowercased: the needles it holds."""
    found: dict[str, list[str]] = {}
    for owned in read_owned(engine, SCHEMAS["meta"]):
        table = read_table(engine, owned.schema, owned.table)
        cells = [str(v).lower() for row in table.rows for v in row if v is not None]
        hits = [n for n in needles if any(n.lower() in cell for cell in cells)]
        if hits:
            found[owned.qualified] = hits
    return found


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return write_files(tmp_path_factory.mktemp("erasure") / "proj", PROJECT)


@pytest.fixture(scope="module")
def on_duckdb(root: Path, tmp_path_factory):
    db, opened = tmp_path_factory.mktemp("duck") / "erase.duckdb", []

    def open_engine():
        for engine in opened:
            engine.close()
        opened.append(DuckDBEngine(db))
        return opened[-1]
    try:
        return _both_runs(open_engine, root)[:3]
    finally:
        opened[-1].close()


@pytest.mark.parametrize("engine_name", ["postgres", "spark"])
def test_erasure_is_the_same_as_on_duckdb(engine_name, root, on_duckdb, request):
    engine = request.getfixturevalue({"postgres": "pg_engine", "spark": "spark_engine"}[engine_name])
    result, tables, state, _ = _both_runs(lambda: engine, root)
    base_result, base_tables, base_state = on_duckdb
    assert differences(base_tables, tables, ("duckdb", engine_name)) == []
    assert result.stats == base_result.stats
    assert state == base_state
    assert clear_values_left(engine, ANN + CY) == {}
    erasures = tables[f"{SCHEMAS['identity']}.customer_erasures"]
    assert sorted(row[:2] for row in erasures.rows) == sorted([
        ("email", hashlib.sha256(b"ann@x.example").hexdigest()),
        ("member_no", hashlib.sha256(b"BOB@X.EXAMPLE").hexdigest()),
        ("phone", hashlib.sha256(b"+14155550003").hexdigest())])


def test_the_duckdb_outcome_is_not_vacuous(on_duckdb):
    result, tables, state = on_duckdb
    assert result.stats.erased == {"crm": 2, "orders": 5} and result.stats.profiles == 2
    assert [row[0] for row in state["esp changes"]].count("remove") == 2
    assert len(tables[f"{SCHEMAS['identity']}.customer_erasures"]) == 3
