"""Activation state (docs/reference.md §5) on DuckDB, PostgreSQL and Spark, against a pure-Python reference.

A week over evolving data (tests/activation_scenario.py): the first publication, members who
join, leave, change email, tier or spend, a re-run on the same data, a broken export that
empties the segment (every sync held), half the members lapsing (held only where max_remove
is tighter), a release, a rollback and a roll forward, a diff. After every step each sync's
audience, changes and history are compared with tests/reference/activation.py; at the end
the three engines must have left the same rows.
"""

from __future__ import annotations

import datetime as dt

import pytest

from compiler.run.engines.duckdb import DuckDBEngine

from activation_scenario import ACTIVATION_PROJECT, SCHEMAS, SYNCS, Scenario
from helpers import write_files

ENGINES = ("duckdb", "postgres", "spark")
DAY = [None, *(dt.datetime(2026, 11, d, 6, 0, 0) for d in range(20, 27))]


def week(scenario: Scenario) -> dict:
    """The week; returns what the test checks beyond the step-by-step comparison."""
    facts = {}
    r1 = scenario.run(1, DAY[1])
    r2 = scenario.run(2, DAY[2])
    facts["email_change"] = scenario.state()["changes"][("crm", "active")]
    r3 = scenario.run(2, DAY[2])  # the same data and as-of: no change
    facts["rerun"] = scenario.state()["changes"]
    r4 = scenario.run(4, DAY[4])  # a broken export empties the segment: every sync is held
    facts["broken"] = scenario.state()
    r5 = scenario.run(5, DAY[5])  # 3 of 7 lapse: held only where max_remove is 0.3
    facts["lapse"] = scenario.state()
    scenario.release("ads", "active")
    scenario.rollback("crm", "active", r2)
    scenario.rollback("crm", "active", r5)  # and forward again
    facts["diff"] = scenario.diff("crm", "active", r1, r2)
    scenario.diff("esp_append", "active", r2, r5)
    facts["runs"] = (r1, r2, r3, r4, r5)
    return facts


@pytest.fixture(scope="module")
def weeks(request, tmp_path_factory):
    """The week on each engine, run when a test first asks for that engine."""
    done = {}

    def on(name: str):
        if name not in done:
            root = write_files(tmp_path_factory.mktemp(f"week-{name}"), ACTIVATION_PROJECT)
            if name == "duckdb":
                db = root / "warehouse.duckdb"
                scenario = Scenario(root, lambda: DuckDBEngine(db), close=True)
            elif name == "postgres":
                dsn = request.getfixturevalue("pg_module_dsn")
                from compiler.run.engines.postgres import PostgresEngine
                scenario = Scenario(root, lambda: PostgresEngine(dsn), close=True)
            else:
                engine = request.getfixturevalue("spark_engine")
                for schema in SCHEMAS.values():
                    engine.drop_schema(schema)  # the session's warehouse is shared with other tests
                scenario = Scenario(root, lambda: engine, close=False)
            done[name] = (scenario, week(scenario))
        return done[name]
    return on


@pytest.fixture(scope="module")
def pg_module_dsn(pg_dsn):
    import uuid

    import psycopg

    name = f"week_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield pg_dsn.replace("dbname=postgres", f"dbname={name}")
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize("engine", ENGINES)
def test_a_week_matches_the_reference(weeks, engine):
    scenario, facts = weeks(engine)
    r1, r2, r3, r4, r5 = facts["runs"]
    # a new email is an update of the same profile, never a remove and an add
    crm = facts["email_change"]
    m3 = [row for row in crm if row[3] == "m3.new@club.example"]
    assert [row[1] for row in m3] == ["update"] and len({row[2] for row in crm}) == len(crm)
    assert {row[1] for row in crm} == {"add", "remove", "update"}
    assert all(rows == [] for rows in facts["rerun"].values())
    runs = {r.run_id: r.status for r in facts["broken"]["runs"]}
    assert runs[r4] == "partial" and all(facts["broken"]["syncs"][(r4, *key)].outcome == "held" for key in SYNCS)
    lapse = facts["lapse"]["syncs"]
    assert [lapse[(r5, *key)].outcome for key in SYNCS] == ["published", "published", "published", "held"]
    assert {r.status for r in facts["lapse"]["runs"] if r.run_id == r5} == {"partial"}
    assert facts["diff"].count("add") == 1 and facts["diff"].count("remove") == 1 and facts["diff"].count("update") == 3


@pytest.mark.parametrize("engine", ["postgres", "spark"])
def test_every_engine_leaves_the_same_activation_rows(weeks, engine):
    assert weeks(engine)[0].tables() == weeks("duckdb")[0].tables()
