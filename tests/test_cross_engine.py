"""Every engine leaves the same tables with the same rows (docs/reference.md §3, `cdpc run --engine`).

The reference project (definitions/ + data/) runs on DuckDB, PostgreSQL and Spark, and
every table of docs/reference.md §4 is compared row for row, as multisets, with engine-neutral
column types. Then a few hypothesis examples of small random data for the same
contracts, and a fixed project of edge values for the types (decimal rounding, integer
ranges, doubles, booleans, dates, timestamps with fractions, multi-column keys).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from compiler.emit.access import access_schema
from compiler.project import require_valid
from compiler.run.engines.duckdb import DuckDBEngine
from compiler.run.runner import run_project

from crossdata import AS_OF, raw_data, write_raw
from engine_projects import EDGE_PROJECT, SMALL_PROJECT
from helpers import ROOT, write_files
from tables import access_views, differences, read_table, snapshot, spec_tables

ENGINES = ("duckdb", "postgres", "spark")
REFERENCE = require_valid(ROOT)
REFERENCE_TABLES = [f"{s}.{t}" for s, t in spec_tables(REFERENCE.definitions)]
# Spark needs about a minute per run of the reference project's ~350 statements, whatever the
# data size; raise for a deeper search (CDPC_CROSS_EXAMPLES=20 pytest tests/test_cross_engine.py).
EXAMPLES = int(os.environ.get("CDPC_CROSS_EXAMPLES", "3"))
PG_EXAMPLES = int(os.environ.get("CDPC_CROSS_PG_EXAMPLES", "25"))


@pytest.fixture(scope="module")
def pg_module_dsn(pg_dsn):
    """One database of the private server for this module's runs."""
    import psycopg

    name = f"cross_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield pg_dsn.replace("dbname=postgres", f"dbname={name}")
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def pg_engine_module(pg_module_dsn):
    from compiler.run.engines.postgres import PostgresEngine

    engine = PostgresEngine(pg_module_dsn)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def duckdb_and_postgres(pg_engine_module):
    """name -> a function giving the engine to run on (DuckDB: a fresh in-memory database)."""
    return {"duckdb": DuckDBEngine, "postgres": lambda: pg_engine_module}


@pytest.fixture(scope="module")
def engines(duckdb_and_postgres, spark_engine):
    return {**duckdb_and_postgres, "spark": lambda: spark_engine}


def run_on(engine, project, data_dir: Path, as_of: dt.datetime = AS_OF, sources: str = "files", before=None,
           views: bool = False):
    """The run's result and its tables (with `views`, the access definitions' views too)."""
    forget_earlier_runs(engine, project.definitions)
    if before is not None:
        before(engine)
    result = run_project(project, engine, data_dir, as_of, sources_mode=sources)
    tables = snapshot(engine, project.definitions)
    if views:
        tables |= {f"{s}.{v}": read_table(engine, s, v) for s, v in access_views(project.definitions)}
    return result, tables


def forget_earlier_runs(engine, defs) -> None:
    """Every comparison starts from a warehouse without cdpc's outputs, as DuckDB's in-memory
    one does: whether a run holds a sync depends on the audience published before
    (reference.md §5.4), and PostgreSQL's database and Spark's warehouse outlive a run."""
    s = defs.project.schemas
    views = {access_schema(defs, access) for access in defs.accesses.values()}  # the access views
    for schema in sorted({s.staging, s.identity, s.profiles, s.audiences, s.meta} | views):
        engine.drop_schema(schema)


def run_everywhere(engines: dict, project, data_dir: Path, names=ENGINES, as_of: dt.datetime = AS_OF,
                   sources: str = "files", before=None, views: bool = False) -> dict:
    outcome = {}
    for name in names:
        engine = engines[name]()
        try:
            outcome[name] = run_on(engine, project, data_dir, as_of, sources, before, views)
        finally:
            if name == "duckdb":
                engine.close()
    return outcome


def findings(result) -> list[tuple[str, str, str]]:
    return sorted((f.code, f.severity, f.message) for f in result.findings)


def assert_same_everywhere(outcome: dict) -> None:
    base_result, base_tables = outcome["duckdb"]
    problems = []
    for name, (result, tables) in outcome.items():
        if name == "duckdb":
            continue
        problems += [f"[duckdb vs {name}] {p}" for p in differences(base_tables, tables, ("duckdb", name))]
        if findings(result) != findings(base_result):
            problems.append(f"[duckdb vs {name}] check results differ: {findings(base_result)} vs {findings(result)}")
        if result.stats != base_result.stats:
            problems.append(f"[duckdb vs {name}] run summaries differ: {base_result.stats} vs {result.stats}")
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- the reference project


@pytest.fixture(scope="module")
def reference_runs(engines):
    return run_everywhere(engines, REFERENCE, ROOT / "data", as_of=dt.datetime(2026, 11, 20), views=True)


REFERENCE_VIEWS = [f"{s}.{v}" for s, v in access_views(REFERENCE.definitions)]


@pytest.mark.parametrize("engine", ["postgres", "spark"])
def test_reference_access_views_are_the_same_as_on_duckdb(reference_runs, engine):
    """Every access definition's views (docs/privacy.md): hashed, hidden and clear columns
    alike on every engine. Spark has no roles: it writes the views and runs no grant."""
    base, other = reference_runs["duckdb"][1], reference_runs[engine][1]
    assert REFERENCE_VIEWS and all(view in base and view in other for view in REFERENCE_VIEWS)
    problems = differences({v: base[v] for v in REFERENCE_VIEWS}, {v: other[v] for v in REFERENCE_VIEWS}, ("duckdb", engine))
    assert not problems, "\n".join(problems)


def test_reference_access_views_hash_and_hide_on_spark(reference_runs):
    tables = reference_runs["spark"][1]
    analyst = tables["cdp__marketing_analyst.customer_profiles"]
    names = [name for name, _ in analyst.columns]
    rows = [dict(zip(names, row)) for row in analyst.rows.elements()]
    assert rows and all(re.fullmatch(r"[0-9a-f]{64}", row["profile_id"]) and row["has_medical_flag"] is None for row in rows)
    assert sum(tables["cdp__data_steward.customer_profiles"].rows.values()) == sum(tables["cdp.customer_profiles"].rows.values())


@pytest.mark.parametrize("engine", ["postgres", "spark"])
@pytest.mark.parametrize("table", REFERENCE_TABLES)
def test_reference_table_is_the_same_as_on_duckdb(reference_runs, engine, table):
    base, other = reference_runs["duckdb"][1], reference_runs[engine][1]
    assert table in base and table in other
    problems = differences({table: base[table]}, {table: other[table]}, ("duckdb", engine))
    assert not problems, "\n".join(problems)


def test_reference_run_summary_and_checks_are_the_same(reference_runs):
    assert_same_everywhere(reference_runs)


def test_reference_comparison_is_not_vacuous(reference_runs):
    """The reference data exercises quarantine, merges, conflicts, consent, segments and syncs."""
    result, tables = reference_runs["duckdb"]
    stats = result.stats
    assert all(stats.rejected.values()) and all(stats.staged.values())
    assert stats.conflicts > 0 and stats.multi_record_profiles > 0
    assert all(stats.segments.values()) and all(stats.syncs.values())
    assert {"text", "decimal(12,2)", "integer", "boolean", "date"} <= {t for table in tables.values() for _, t in table.columns}
    consent = tables["cdp.customer_consent"].rows
    assert {row[2] for row in consent} == {True, False}


# --------------------------------------------------------------------------- random data


_HYPOTHESIS = dict(deadline=None, database=None, phases=(Phase.explicit, Phase.generate),
                   suppress_health_check=list(HealthCheck))


def _relations(project) -> tuple[dict, dict]:
    defs = project.definitions
    return ({n: c.relation for n, c in defs.contracts.items()}, {n: list(c.fields) for n, c in defs.contracts.items()})


@settings(max_examples=EXAMPLES, **_HYPOTHESIS)
@given(data=raw_data())
def test_random_data_gives_the_same_tables_on_every_engine(engines, data):
    relations, columns = _relations(REFERENCE)
    folder = Path(tempfile.mkdtemp(prefix="cdpc-cross-"))
    try:
        write_raw(folder, relations, columns, data)
        assert_same_everywhere(run_everywhere(engines, REFERENCE, folder))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@settings(max_examples=PG_EXAMPLES, **_HYPOTHESIS)
@given(data=raw_data())
def test_random_data_gives_the_same_tables_on_duckdb_and_postgres(duckdb_and_postgres, data):
    """The same property without Spark, so it can afford more examples."""
    relations, columns = _relations(REFERENCE)
    folder = Path(tempfile.mkdtemp(prefix="cdpc-cross-"))
    try:
        write_raw(folder, relations, columns, data)
        assert_same_everywhere(run_everywhere(duckdb_and_postgres, REFERENCE, folder, names=("duckdb", "postgres")))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# --------------------------------------------------------------------------- edge values of every type


def test_edge_values_of_every_type_are_the_same_on_every_engine(engines, tmp_path):
    root = write_files(tmp_path, EDGE_PROJECT)
    project = require_valid(root)
    outcome = run_everywhere(engines, project, root / "data")
    assert_same_everywhere(outcome)
    tables = outcome["duckdb"][1]
    staged = {row[0]: row for row in tables["cdp_staging.things"].rows}
    assert set(staged) == {"t1", "t2", "t8", "t9"}
    assert staged["t1"][5] == ("decimal", "1.001") and staged["t2"][5] == ("decimal", "2.675")
    assert staged["t2"][8] == ("timestamp", "2026-11-19 10:00:00.123456")
    lines = {row[:2]: row for row in tables["cdp_staging.lines"].rows}
    assert lines[("o1", 1)][4] == ("decimal", "1.01") and lines[("o2", 1)][4] == ("decimal", "-2.68")


# --------------------------------------------------------------------------- consent evidence (reference.md §2.6)


@pytest.mark.parametrize("log", [True, False], ids=["with the event log", "per-purpose sources only"])
def test_consent_evidence_is_the_same_on_every_engine_and_as_the_reference(engines, tmp_path, log):
    """Snapshots, constant grants with a `where`, a `date` time tying with a timestamp, NULL
    grants and times: the consent table on every engine equals the pure-Python rule."""
    from collections import Counter

    import test_consent_properties as cp
    from reference.harness import project_doc, write_csv, write_yaml

    p, e = cp.person, cp.event
    raw = {"people": [p("p1", "a@x.com", opt_in="true", ads_ok="true", signup="2026-01-02", updated_at="2026-01-01 10:00:00"),
                      p("p2", " A@x.com", opt_in=None, ads_ok="false", signup="2026-01-01"),
                      p("p3", "b@x.com", opt_in="true", ads_ok=None, signup="2026-01-03", updated_at="2026-01-03 09:00:00"),
                      p("p4", "c@x.com", opt_in="true", ads_ok="true", vip="true", updated_at="2026-01-02 00:00:00")],
           "events": [e("e1", "a@x.com", name="unsub", recorded_at="2026-01-02 00:00:00"),
                      e("e2", "a@x.com", purpose="ads", granted="false", recorded_at="2026-01-02T00:00:00"),
                      e("e3", "b@x.com", name="sub", purpose="hooks", granted="true", recorded_at="2026-01-01 10:00:00"),
                      e("e4", "b@x.com", name="unsub", purpose="email_mkt", granted=None, recorded_at=None),
                      e("e5", "c@x.com", name="sub", purpose="hooks", granted="true", recorded_at="2026-01-03 09:00:00")]}
    write_yaml(tmp_path / "definitions" / "project.yaml",
               [project_doc(targets=["duckdb", "postgres", "spark"]), cp.PEOPLE, cp.EVENTS, cp.IDENTITY, cp.HOLD,
                cp.consent_yaml(log)])
    for d in (cp.PEOPLE, cp.EVENTS):
        header = list(d["fields"])
        write_csv(tmp_path / "data" / f"raw.{d['name']}.csv", header, [[r[h] for h in header] for r in raw[d["name"]]])
    outcome = run_everywhere(engines, require_valid(tmp_path), tmp_path / "data")
    assert_same_everywhere(outcome)
    got = Counter(outcome["duckdb"][1]["cdp.customer_consent"].rows)  # (profile_id, purpose, granted)
    assert got == cp.expected_consent(log, raw)
    assert sum(1 for key in got if key[2]) >= 2 and sum(1 for key in got if not key[2]) >= 4  # not vacuous


# --------------------------------------------------------------------------- raw data: malformed rows, sources in place


MALFORMED = (b"\xef\xbb\xbfsignup_id,email,amount,signed_up_at\r\n"  # a BOM, CRLF line ends
             b"s1,a@x.com,1.00,2026-11-01 10:00:00\r\n"
             b"s2,b@x.com,2.00\r\n"  # short
             b"s3,c@x.com,3.00,2026-11-03 10:00:00,surplus\r\n"  # long
             b's4,"d@x.com,4.00,2026-11-04 10:00:00\r\n'  # a quote never closed
             b"s5,\xffe@x.com,5.00,2026-11-05 10:00:00\r\n"  # not UTF-8
             b'"s6","multi\r\nline",6.00,2026-11-06 10:00:00\r\n'  # a quoted value over two lines
             b's7,"",,2026-11-07 10:00:00\r\n')


def test_malformed_rows_are_quarantined_the_same_on_every_engine(engines, tmp_path):
    root = write_files(tmp_path, {k: v for k, v in SMALL_PROJECT.items() if not k.startswith("data/")})
    (root / "data").mkdir()
    (root / "data" / "raw.signups.csv").write_bytes(MALFORMED)
    outcome = run_everywhere(engines, require_valid(root), root / "data")
    assert_same_everywhere(outcome)
    result, tables = outcome["duckdb"]
    staged = {row[0]: row for row in tables["cdp_staging.signups"].rows}
    assert set(staged) == {"s1", "s6", "s7"}
    assert staged["s6"][1] == "multi\r\nline" and staged["s7"][1] == "" and staged["s7"][2] is None
    reasons = sorted(row[4] for row in tables["cdp_staging.signups_rejected"].rows)
    assert reasons == [("line 3: row has 3 cells, header has 4",), ("line 4: row has 5 cells, header has 4",),
                       ("line 5: unbalanced quote",), ("line 6: not valid UTF-8",)]
    assert [f.code for f in result.findings] == ["CDP512"]


def _copy_raw_into_warehouse(project, data_dir: Path):
    """`before` for run_everywhere: the raw files as the engine's own raw.* tables (text columns)."""
    from compiler.run.rawcsv import clean_csv, read_header

    def load(engine) -> None:
        folder = Path(tempfile.mkdtemp(prefix="cdpc-wh-"))
        try:
            for contract in project.definitions.contracts.values():
                source = data_dir / f"{contract.relation}.csv"
                clean = clean_csv(source, tuple(read_header(source)), folder / f"{contract.name}.csv")
                engine.execute(f"DROP TABLE IF EXISTS {contract.relation}")
                engine.execute(f"CREATE SCHEMA IF NOT EXISTS {contract.relation_schema}")
                engine.load_text(contract.relation_schema, contract.relation_table, clean)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return load


def _drop_raw(engines: dict, project, names=ENGINES) -> None:
    for name in names:
        if name != "duckdb":
            engine = engines[name]()
            for schema in {contract.relation_schema for contract in project.definitions.contracts.values()}:
                engine.drop_schema(schema)  # the test's own raw schema (on Spark, its folder too)


def test_sources_in_the_warehouse_give_the_same_tables_as_files_on_every_engine(engines, tmp_path):
    root = write_files(tmp_path, EDGE_PROJECT)
    project = require_valid(root)
    files = run_everywhere(engines, project, root / "data")
    try:
        in_place = run_everywhere(engines, project, root / "no-such-folder", sources="warehouse",
                                  before=_copy_raw_into_warehouse(project, root / "data"))
    finally:
        _drop_raw(engines, project)
    assert_same_everywhere(in_place)
    for name in ENGINES:
        problems = differences(files[name][1], in_place[name][1], (f"{name} files", f"{name} warehouse"))
        assert not problems, "\n".join(problems)
        assert files[name][0].stats == in_place[name][0].stats
