"""Erasure (docs/privacy.md §4, docs/reference.md §2.13) on DuckDB, one test per rule.

The project and its data are tests/erasure_project.py: Ann is erased by her email, Cy by his
phone written in another format; Bob (whose order carries Ann's phone) and Dee stay. Each run
is real: the tables are read back from the database file that `cdpc run` wrote."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import pytest

from compiler.diagnostics import Diagnostic
from compiler.project import require_valid
from compiler.run.engines.duckdb import DuckDBEngine
from compiler.run.runner import run_project

from erasure_project import ANN, AS_OF, CY, PROJECT, REQUESTS, REQUESTS_NONE, SCHEMAS, write_data
from helpers import cdpc, write_files

AS_OF_TEXT = AS_OF.strftime("%Y-%m-%d %H:%M:%S")
META, IDENTITY, STAGING, AUDIENCES = SCHEMAS["meta"], SCHEMAS["identity"], SCHEMAS["staging"], SCHEMAS["audiences"]


def sha(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = write_files(tmp_path / "proj", PROJECT)
    write_data(root / "data")
    return root


def _run(root: Path, db: Path, requests=REQUESTS, data: str = "data"):
    write_data(root / data, requests=requests)
    engine = DuckDBEngine(db)
    try:
        return run_project(require_valid(root), engine, root / data, AS_OF)
    finally:
        engine.close()


@pytest.fixture
def erased(project: Path, tmp_path: Path):
    """A run without requests (every audience published), then one with them."""
    db = tmp_path / "erase.duckdb"
    before = _run(project, db, REQUESTS_NONE)
    after = _run(project, db)
    return project, db, before, after


def _owned(con) -> list[tuple[str, str]]:
    return [tuple(r) for r in con.execute(f"SELECT schema_name, table_name FROM {META}.owned ORDER BY 1, 2").fetchall()]


def tables_holding(con, needles: list[str]) -> dict[str, list[str]]:
    """Every owned table and view, every column, as text, lowercased: which needles it holds."""
    found: dict[str, list[str]] = {}
    for schema, name in _owned(con):
        columns = [r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE "
                                             f"table_schema = '{schema}' AND table_name = '{name}'").fetchall()]
        text = " || '|' || ".join(f'coalesce(lower(CAST("{c}" AS VARCHAR)), \'\')' for c in columns)
        for needle in needles:
            if con.execute(f'SELECT count(*) FROM "{schema}"."{name}" WHERE strpos({text}, ?) > 0',
                           [needle.lower()]).fetchone()[0]:
                found.setdefault(f"{schema}.{name}", []).append(needle)
    return found


def test_erased_members_are_in_no_table_cdpc_wrote(erased):
    _, db, before, after = erased
    with duckdb.connect(str(db), read_only=True) as con:
        assert tables_holding(con, ANN + CY) == {}
        kept = tables_holding(con, ["bob@x.example", "Dee Deeson"])
        assert f"{SCHEMAS['profiles']}.customer_profiles" in kept and f"{STAGING}.crm" in kept
        assert len(_owned(con)) == 16  # the scan covered staging, identity, profiles, audiences, state


def test_before_the_request_the_same_scan_finds_them(project: Path, tmp_path: Path):
    """The scan of the test above can fail: without a request, Ann is everywhere."""
    db = tmp_path / "none.duckdb"
    _run(project, db, REQUESTS_NONE)
    with duckdb.connect(str(db), read_only=True) as con:
        found = tables_holding(con, ANN)
        assert f"{STAGING}.crm" in found and f"{STAGING}.orders_rejected" in found
        assert f"{AUDIENCES}.sync__esp__named" in found


def test_identity_is_resolved_again_without_the_erased_records(erased):
    _, db, before, after = erased
    assert before.stats.conflicts == 1  # Ann's phone on Bob's order would join two member numbers
    assert after.stats.conflicts == 0 and after.stats.profiles == 2
    with duckdb.connect(str(db), read_only=True) as con:
        records = con.execute(f"SELECT source, record_key FROM {IDENTITY}.customer_map ORDER BY 1, 2").fetchall()
        assert records == [("crm", "M2"), ("crm", "M4"), ("orders", "o5")]
        spend = dict(con.execute(f"SELECT full_name, spend FROM {SCHEMAS['profiles']}.customer_profiles").fetchall())
        assert {k: float(v) for k, v in spend.items()} == {"Bob Bobson": 0.0, "Dee Deeson": 3.0}  # o3 went with Ann's phone


def test_rejected_rows_carrying_an_erased_value_are_gone(erased):
    _, db, before, after = erased
    assert before.stats.rejected["orders"] == 1 and after.stats.rejected["orders"] == 0
    assert after.stats.erased == {"crm": 2, "orders": 5}


def test_the_erasure_source_is_read_never_copied(erased):
    _, db, _, after = erased
    with duckdb.connect(str(db), read_only=True) as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert not {"requests", "requests_rejected"} & tables
    assert "requests" not in after.stats.staged


def test_requests_after_the_as_of_time_or_of_no_identifier_type_are_ignored(erased):
    _, db, _, after = erased
    assert after.stats.requests == {"applied": 3, "future": 1, "ignored": 1}
    warning = [f for f in after.findings if f.code == "CDP514"]
    assert len(warning) == 1 and not warning[0].is_error and "1 request ignored" in warning[0].message
    assert not after.failed
    with duckdb.connect(str(db), read_only=True) as con:
        assert tables_holding(con, ["dee@x.example"])  # r3 is dated after the as-of time


def test_the_erasures_table_proves_each_request_without_the_value(erased):
    """Typed: a member number "bob@x.example" erases no email. Normalized: the email in other
    case and spaces, the phone in another format."""
    _, db, _, _ = erased
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(f"SELECT id_type, value_sha256, CAST(requested_at AS VARCHAR), records_erased "
                           f"FROM {IDENTITY}.customer_erasures ORDER BY requested_at").fetchall()
        columns = [r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE "
                                             "table_name = 'customer_erasures' ORDER BY ordinal_position").fetchall()]
    assert columns == ["id_type", "value_sha256", "requested_at", "records_erased"]
    assert rows == [("email", sha("ann@x.example"), "2026-11-01 09:00:00", 5),  # M1, o1, o2, o3 and the rejected o4
                    ("member_no", sha("BOB@X.EXAMPLE"), "2026-11-02 09:00:00", 0),
                    ("phone", sha("+14155550003"), "2026-11-04 09:00:00", 2)]  # M3, o6


def test_an_erased_members_removal_carries_no_clear_value_and_their_history_goes(erased):
    _, db, before, after = erased
    with duckdb.connect(str(db), read_only=True) as con:
        esp = con.execute(f"SELECT op, email, phone, full_name, spend FROM {AUDIENCES}.sync__esp__named__changes "
                          "WHERE op = 'remove'").fetchall()
        assert esp == [("remove", None, None, None, None)] * 2  # (Bob's is an update: his spend changed)
        ads = con.execute(f"SELECT op, email FROM {AUDIENCES}.sync__ads__named__changes ORDER BY email").fetchall()
        assert ads == sorted([("remove", sha("ann@x.example")), ("remove", sha("cy@x.example"))], key=lambda r: r[1])
        gone = [r[0] for r in con.execute(f"SELECT profile_id FROM {AUDIENCES}.sync__esp__named__changes "
                                          "WHERE op = 'remove'").fetchall()]
        for table in ("sync__esp__named__history", "sync__ads__named__history"):
            held = [r[0] for r in con.execute(f"SELECT profile_id FROM {AUDIENCES}.{table}").fetchall()]
            assert held and not set(gone) & set(held)  # Bob's and Dee's rows only


def test_an_erasure_is_never_held(project: Path, tmp_path: Path):
    """A sync whose checks would hold it (here: more than max_remove of its audience leaves)
    still publishes when erased members are in its published audience: otherwise their values
    would stay in the audience, the history and the destination. CDP516 says so."""
    path = project / "definitions" / "destinations.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("max_remove: 1}", "max_remove: 0.1}"), encoding="utf-8")
    assert path.read_text(encoding="utf-8").count("max_remove: 0.1}") == 2
    db = tmp_path / "erase.duckdb"
    _run(project, db, REQUESTS_NONE)
    after = _run(project, db)
    codes = [f.code for f in after.findings]
    assert "CDP530" not in codes and codes.count("CDP516") == 2, [str(f) for f in after.findings]
    with duckdb.connect(str(db), read_only=True) as con:
        assert tables_holding(con, ANN + CY) == {}
        removes = con.execute(f"SELECT count(*) FROM {AUDIENCES}.sync__esp__named__changes WHERE op = 'remove'").fetchone()
        assert removes == (2,)


@pytest.mark.parametrize("mode", ["upsert", "append"])
def test_an_erased_members_removal_is_sent_in_every_mode(project: Path, tmp_path: Path, mode: str):
    """upsert and append syncs send no removals, except an erased member's: the destination
    must drop them too."""
    path = project / "definitions" / "destinations.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("mode: mirror", f"mode: {mode}"), encoding="utf-8")
    db = tmp_path / "erase.duckdb"
    _run(project, db, REQUESTS_NONE)
    _run(project, db)
    with duckdb.connect(str(db), read_only=True) as con:
        ops = con.execute(f"SELECT op, email, phone FROM {AUDIENCES}.sync__esp__named__changes "
                          "WHERE op = 'remove'").fetchall()
        assert ops == [("remove", None, None)] * 2
        assert tables_holding(con, ANN + CY) == {}


def test_without_requests_the_second_identity_pass_is_skipped(project: Path, tmp_path: Path):
    none = _run(project, tmp_path / "a.duckdb", REQUESTS_NONE)
    some = _run(project, tmp_path / "b.duckdb")
    assert not [name for name in none.iterations if name.startswith("erasure_")]
    assert [name for name in some.iterations if name.startswith("erasure_")]
    with duckdb.connect(str(tmp_path / "a.duckdb"), read_only=True) as con:
        assert con.execute(f"SELECT count(*) FROM {IDENTITY}.customer_erasures").fetchone()[0] == 0


def test_erasure_report_finds_nothing_in_cdpc_tables_and_lists_the_raw_relations(erased):
    root, db, _, _ = erased
    result = cdpc("erasure-report", "--project", str(root), "--db", str(db), "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["clean"] is True and report["as_of"] == AS_OF_TEXT
    assert (report["requests_future"], report["requests_ignored"]) == (1, 1)
    by_type = {r["id_type"]: r for r in report["requests"]}
    assert set(by_type) == {"email", "member_no", "phone"}
    for request in report["requests"]:
        assert request["rows_in_cdpc_tables"] == 0 and set(request["tables"].values()) == {0}
        assert f"{IDENTITY}.customer_erasures" in request["tables"] and f"{STAGING}.orders_rejected" in request["tables"]
    assert by_type["email"]["raw_relations"] == {"raw.crm": 1, "raw.orders": 2}  # m1, o1 and o4
    assert by_type["phone"]["raw_relations"] == {"raw.crm": 1}
    assert by_type["member_no"]["raw_relations"] == {}
    assert "ann@x.example" not in result.output.lower()
    text = cdpc("erasure-report", "--project", str(root), "--db", str(db))
    assert text.exit_code == 0 and "for their owners to purge" in text.output and "every table cdpc writes is clean" in text.output


def test_erasure_report_exits_1_when_a_table_cdpc_wrote_holds_a_value(project: Path, tmp_path: Path):
    db = tmp_path / "late.duckdb"
    _run(project, db, REQUESTS_NONE)
    write_data(project / "data")  # the requests arrive after the run
    result = cdpc("erasure-report", "--project", str(project), "--db", str(db), "--format", "json")
    assert result.exit_code == 1
    email = next(r for r in json.loads(result.output)["requests"] if r["id_type"] == "email")
    assert email["tables"][f"{STAGING}.crm"] == 1 and email["tables"][f"{STAGING}.orders_rejected"] == 1


# ---- validation ------------------------------------------------------------------------------

def _diagnostics(tmp_path: Path, files: dict[str, str]) -> list[Diagnostic]:
    from compiler.project import load_project

    return [d for d in load_project(write_files(tmp_path / "bad", files)).diagnostics if d.is_error]


def _with(**changes: str) -> dict[str, str]:
    files = dict(PROJECT)
    files.update(changes)
    return files


ERASURE = """
    kind: erasure
    name: forget
    version: 1.0.0
    source: {source}
    type_field: {type_field}
    value_field: id_value
    time_field: {time_field}
"""


@pytest.mark.parametrize("source, type_field, time_field, code, words, line", [
    ("requestz", "id_type", "requested_at", "CDP201", "unknown contract `requestz`", 4),
    ("requests", "kind_of_id", "requested_at", "CDP226", "has no field `kind_of_id`", 5),
    ("requests", "id_type", "id_value", "CDP226", "not a date or a timestamp", 7),
    ("orders", "email", "phone", "CDP227", "which attribute `spend`, identity `customer` also read", 4),
])
def test_an_erasure_that_cannot_read_its_requests_is_an_error(tmp_path, source, type_field, time_field, code, words,
                                                              line):
    found = _diagnostics(tmp_path, _with(**{"definitions/erasure.yaml": ERASURE.format(
        source=source, type_field=type_field, time_field=time_field)}))
    hits = [d for d in found if d.code == code and words in d.message]
    assert hits, [str(d) for d in found]
    assert hits[0].location.file.endswith("erasure.yaml") and hits[0].location.line == line and hits[0].hint


def test_an_erasure_source_that_an_attribute_reads_is_an_error(tmp_path):
    reads = PROJECT["definitions/attributes.yaml"] + """
        ---
        kind: attribute
        name: requests_made
        version: 1.0.0
        type: bigint
        source: requests
        aggregate: count(*)
    """
    found = _diagnostics(tmp_path, _with(**{"definitions/attributes.yaml": reads}))
    assert any(d.code == "CDP227" and "attribute `requests_made`" in d.message for d in found), found


def test_a_second_erasure_definition_is_an_error(tmp_path):
    second = PROJECT["definitions/erasure.yaml"] + """
        ---
        kind: erasure
        name: later
        version: 1.0.0
        source: requests
        type_field: id_type
        value_field: id_value
        time_field: requested_at
    """
    found = _diagnostics(tmp_path, _with(**{"definitions/erasure.yaml": second}))
    assert [d.code for d in found] == ["CDP229"] and "another erasure definition, `forget`" in found[0].message


def test_an_erasure_without_an_identity_is_an_error(tmp_path):
    files = {k: v for k, v in PROJECT.items() if k in ("definitions/project.yaml", "definitions/erasure.yaml")}
    files["definitions/contracts.yaml"] = PROJECT["definitions/contracts.yaml"]
    found = _diagnostics(tmp_path, files)
    assert [d.code for d in found] == ["CDP228"]
    assert found[0].location.line == 2


def test_the_runs_copy_of_the_requests_is_dropped_once_the_erasure_has_read_them(project: Path, tmp_path: Path):
    """With --sources files the request log is loaded, like every raw file, into the run's
    private schema: it is dropped right after the erasure unit, before any later layer runs."""
    statements: list[str] = []

    class Recording(DuckDBEngine):
        def execute(self, sql: str) -> None:
            statements.append(sql)
            super().execute(sql)

    write_data(project / "data")
    engine = Recording(tmp_path / "rec.duckdb")
    try:
        run_project(require_valid(project), engine, project / "data", AS_OF)
    finally:
        engine.close()
    dropped = [i for i, s in enumerate(statements) if s.startswith("DROP TABLE IF EXISTS") and s.endswith(".requests")]
    made = [i for i, s in enumerate(statements) if s.startswith("CREATE TABLE") and "customer_erasures" in s]
    attributes = [i for i, s in enumerate(statements) if "attr__spend" in s]
    assert len(dropped) == 1 and made[0] < dropped[0] < min(attributes), [statements[i] for i in dropped]


def test_erasure_report_reads_the_requests_in_the_warehouse_as_from_files(project: Path, tmp_path: Path):
    """--sources warehouse: the request log and the raw relations where they are; the same report."""
    db = tmp_path / "wh.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE SCHEMA raw")
        for name in ("crm", "orders", "requests"):
            con.execute(f"CREATE TABLE raw.{name} AS SELECT * FROM read_csv('{project / 'data' / f'raw.{name}.csv'}', "
                        "all_varchar = true)")
    ran = cdpc("run", "--project", str(project), "--db", str(db), "--sources", "warehouse", "--as-of", AS_OF_TEXT)
    assert ran.exit_code == 0, ran.output
    warehouse = cdpc("erasure-report", "--project", str(project), "--db", str(db), "--sources", "warehouse",
                     "--format", "json")
    files = cdpc("erasure-report", "--project", str(project), "--db", str(db), "--format", "json")
    assert warehouse.exit_code == 0 and files.exit_code == 0, warehouse.output
    assert json.loads(warehouse.output) == json.loads(files.output)
    email = next(r for r in json.loads(files.output)["requests"] if r["id_type"] == "email")
    assert email["raw_relations"] == {"raw.crm": 1, "raw.orders": 2}


def test_the_erasures_table_is_owned_and_goes_with_its_definition(project: Path, tmp_path: Path):
    db = tmp_path / "own.duckdb"
    _run(project, db)
    with duckdb.connect(str(db), read_only=True) as con:
        owned = con.execute(f"SELECT definition FROM {META}.owned WHERE table_name = 'customer_erasures'").fetchall()
    assert owned == [("erasure:forget",)]
    (project / "definitions/erasure.yaml").unlink()  # the requests become a contract nothing reads
    result = _run(project, db)
    assert f"{IDENTITY}.customer_erasures" in result.dropped
    with duckdb.connect(str(db), read_only=True) as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert "customer_erasures" not in tables and "requests" in tables  # staged again: no erasure reads it


def test_erasure_report_before_any_run_says_so(project: Path, tmp_path: Path):
    """CDP911: no published run, so no as-of to report at (exit 2, one located line, no traceback)."""
    result = cdpc("erasure-report", "--project", str(project), "--db", str(tmp_path / "empty.duckdb"))
    assert result.exit_code == 2, result.output
    assert "CDP911" in result.output and "no published run" in result.output and "--as-of" in result.output
    assert "Traceback" not in result.output


def test_erasure_report_without_an_erasure_definition_says_so(tmp_path: Path):
    """CDP912: a project with no `kind: erasure` has nothing to report (exit 2, no traceback)."""
    files = {name: text for name, text in PROJECT.items() if name != "definitions/erasure.yaml"}
    root = write_files(tmp_path / "proj", files)
    write_data(root / "data")
    result = cdpc("erasure-report", "--project", str(root), "--db", str(tmp_path / "w.duckdb"))
    assert result.exit_code == 2, result.output
    assert "CDP912" in result.output and "no erasure definition" in result.output
    assert "Traceback" not in result.output
