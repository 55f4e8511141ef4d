"""Access and masking (docs/reference.md §2.11, docs/privacy.md): the `access` kind, classification
through lineage, the views per role, and the grants, on real engines.

- validate: every level of `see` is written; a role is a plain name; the views' schema is their own
  (CDP219); no access without profiles (CDP224); a `see` that shows more of a higher classification
  warns (CDP225); the views' names fit every target (CDP218).
- classification: an attribute computed from a confidential field is confidential, the highest
  wins, PHI is restricted, a column reading no field is internal, an identifier column takes its
  fields', every column of an audience table at least the membership's; shown by
  `cdpc lineage --classification` and listed per definition in generated/manifest.json.
- DuckDB: the views show each column exactly as `see` says (hashed = sha256 hex of the text,
  computed here in Python), are owned, survive a republish and go with their definition.
- PostgreSQL, with real roles that log in: each role reads its own views, gets `permission denied`
  on every other relation cdpc wrote (the other role's views and cdpc_meta.owned included), sees
  no restricted value and confidential values only hashed; a role missing at run time is exit 2
  (CDP910) before anything is built.
- Spark: the views are written, no grant is run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
import uuid
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from compiler.classification import column_classification, node_classification
from compiler.emit.columns import viewed_tables
from compiler.project import load_project, require_valid
from compiler.run.engines.duckdb import DuckDBEngine
from compiler.run.runner import run_project

from helpers import AS_OF, ROOT, cdpc, copy_reference, write_files
from validate_helpers import check, find, make_project, only

AS_OF_TIME = dt.datetime(2026, 11, 20)
ANALYST = "definitions/access/marketing_analyst.yaml"
STEWARD = "definitions/access/data_steward.yaml"
HEX64 = re.compile(r"^[0-9a-f]{64}$")


def sha256(value) -> str:
    return hashlib.sha256(str(value).encode("utf-8")).hexdigest()


def access(name: str = "analyst", see: str = "{public: clear, internal: clear, confidential: hashed, restricted: hidden}",
           role: str = "analyst") -> dict:
    return {f"definitions/access/{name}.yaml": f"""
        kind: access
        name: {name}
        version: 1.0.0
        role: {role}
        see: {see}
        """}


# --------------------------------------------------------------------------- validate


def test_every_level_of_see_must_be_written(tmp_path):
    diagnostics = check(tmp_path, access(see="{public: clear, internal: clear, confidential: hashed}"))
    assert "restricted" in find(diagnostics, "CDP102", "access/analyst.yaml:5:1").message


def test_a_visibility_is_clear_hashed_or_hidden(tmp_path):
    d = only(check(tmp_path, access(see="{public: clear, internal: clear, confidential: masked, restricted: hidden}")),
             "CDP103", "access/analyst.yaml:5:53")
    assert "`see.confidential`: 'masked' is not allowed" in d.message


def test_a_role_is_a_plain_name(tmp_path):
    only(check(tmp_path, access(role='"Marketing Analyst"')), "CDP104", "access/analyst.yaml:4:7")


def test_the_views_schema_is_their_own(tmp_path):
    project = {"definitions/project.yaml": """
        kind: project
        name: shop
        targets: [duckdb, postgres]
        schemas: {staging: cdp__analyst}
        """}
    d = only(check(tmp_path, {**project, **access()}), "CDP219", "access/analyst.yaml:2:7")
    assert "`cdp__analyst`, which is the output schema schemas.staging" in d.message


def test_an_access_needs_profiles(tmp_path):
    project = make_project(tmp_path, {**access(), "definitions/identity/customer.yaml": None})
    diagnostics = [d for d in load_project(project).diagnostics if d.code == "CDP224"]
    assert [str(d.location) for d in diagnostics] == ["definitions/access/analyst.yaml:2:7"]


def test_showing_more_of_a_higher_classification_is_a_warning(tmp_path):
    d = only(check(tmp_path, access(see="{public: clear, internal: clear, confidential: hidden, restricted: hashed}")),
             "CDP225", "access/analyst.yaml:5:73")
    assert not d.is_error and "`restricted` columns hashed but `confidential` ones only hidden" in d.message


def test_the_views_names_fit_every_target(tmp_path):
    name = "a" * 60  # cdp__ + 60 letters: 65 bytes, PostgreSQL keeps 63
    d = only(check(tmp_path, access(name=name)), "CDP218", f"access/{name}.yaml:2:7")
    assert f"schema `cdp__{name}`, 65 bytes long; postgres keeps only the first 63 bytes" in d.message


def test_the_reference_access_definitions_validate():
    project = load_project(ROOT)
    assert project.ok and not [d for d in project.diagnostics if d.code.startswith("CDP22")]
    assert {a.name: a.role for a in project.definitions.accesses.values()} == {
        "data_steward": "data_steward", "marketing_analyst": "marketing_analyst"}


# --------------------------------------------------------------------------- classification


CLASSIFIED = {
    "definitions/contracts/orders.yaml": """
        kind: contract
        name: orders
        version: 1.0.0
        relation: raw.orders
        primary_key: [order_id]
        event_time: ordered_at
        fields:
          order_id: {type: string, required: true}
          email: {type: string, pii: true, classification: confidential}
          amount: {type: "decimal(10,2)", min: 0, classification: public}
          status: {type: string, accepted_values: [paid, refunded], classification: public}
          ordered_at: {type: timestamp, classification: public}
          notes: {type: string, phi: true}
        """,
    "definitions/attributes/classified.yaml": """
        kind: attribute
        name: paid_total
        version: 1.0.0
        type: "decimal(12,2)"
        source: orders
        aggregate: sum(amount)
        where: status = 'paid'
        ---
        kind: attribute
        name: order_count
        version: 1.0.0
        type: integer
        source: orders
        aggregate: count(*)
        ---
        kind: attribute
        name: emails_seen
        version: 1.0.0
        type: integer
        source: orders
        aggregate: count(distinct email)
        ---
        kind: attribute
        name: mixed
        version: 1.0.0
        type: "decimal(12,2)"
        expression: paid_total + emails_seen
        ---
        kind: attribute
        name: has_notes
        version: 1.0.0
        type: boolean
        source: orders
        aggregate: bool_or(notes is not null)
        """,
}


@pytest.fixture(scope="module")
def classified(tmp_path_factory):
    root = make_project(tmp_path_factory.mktemp("classified"), CLASSIFIED)
    project = load_project(root)
    assert project.ok, [d.render() for d in project.diagnostics if d.is_error]
    return root, project


@pytest.mark.parametrize("attribute,expected", [
    ("paid_total", "public"),  # amount and status are public
    ("emails_seen", "confidential"),  # computed from a confidential field
    ("mixed", "confidential"),  # public + confidential: the highest wins
    ("has_notes", "restricted"),  # PHI is restricted
    ("order_count", "internal"),  # count(*) reads no field
])
def test_an_attribute_takes_the_highest_classification_its_lineage_reaches(classified, attribute, expected):
    _, project = classified
    assert node_classification(project.definitions, project.lineage, f"attribute:{attribute}") == expected


def test_identifier_columns_take_their_fields_and_audiences_their_membership(classified):
    _, project = classified
    defs, lineage = project.definitions, project.lineage
    tables = {t.name: {c.name: c.classification for c in t.columns} for t in viewed_tables(defs, lineage)}
    identity = node_classification(defs, lineage, f"identity:{defs.identity.name}")
    assert tables["customer_profiles"]["profile_id"] == identity
    assert column_classification(defs, lineage, ["field:orders.email"]) == "confidential"
    assert all(level in ("public", "internal", "confidential", "restricted")
               for columns in tables.values() for level in columns.values())
    for name, segment in defs.segments.items():
        membership = node_classification(defs, lineage, f"segment:{name}")
        assert tables[name]["profile_id"] == max((identity, membership), key=("public", "internal", "confidential",
                                                                               "restricted").index)


def test_lineage_shows_the_classification_in_text_and_json(classified):
    root, _ = classified
    text = cdpc("lineage", "mixed", "--upstream", "--classification", "--project", str(root))
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert "attribute:mixed (confidential)" in lines
    assert "field:orders.email [pii] (confidential)" in lines
    assert "field:orders.amount (public)" in lines
    data = json.loads(cdpc("lineage", "has_notes", "--classification", "--format", "json",
                           "--project", str(root)).stdout)
    shown = {n["id"]: n["classification"] for n in data["nodes"]}
    assert shown["attribute:has_notes"] == "restricted" and shown["field:orders.notes"] == "restricted"
    plain = json.loads(cdpc("lineage", "has_notes", "--format", "json", "--project", str(root)).stdout)
    assert all("classification" not in n for n in plain["nodes"])


def test_the_manifest_lists_each_definitions_columns_with_their_classification():
    manifest = json.loads((ROOT / "generated" / "manifest.json").read_text(encoding="utf-8"))
    entries = {(e["kind"], e["name"]): e["columns"] for e in manifest["definitions"]}
    assert entries[("attribute", "primary_email")] == {"cdp.customer_profiles": {"primary_email": "confidential"}}
    assert entries[("attribute", "has_medical_flag")] == {"cdp.customer_profiles": {"has_medical_flag": "restricted"}}
    assert entries[("contract", "bookings")]["cdp_staging.bookings"]["notes"] == "restricted"
    assert entries[("segment", "vip_retention")] == {"cdp_audiences.vip_retention": {"profile_id": "confidential"}}
    sync = entries[("destination", "meta_ads")]["cdp_audiences.sync__meta_ads__vip_retention"]
    assert sync["email"] == "confidential" and sync["lifetime_value"] == "internal"
    views = entries[("access", "marketing_analyst")]
    assert views == {}  # the views show these columns: they are listed under the definitions that compute them


# --------------------------------------------------------------------------- the SQL of every target


def test_every_target_writes_the_views_and_the_targets_with_roles_the_grants():
    generated = ROOT / "generated"
    for target, grant in (("postgres", "GRANT SELECT ON TABLE cdp__marketing_analyst.customer_profiles TO marketing_analyst"),
                          ("snowflake", "GRANT SELECT ON VIEW cdp__marketing_analyst.customer_profiles TO ROLE marketing_analyst"),
                          ("spark", "GRANT SELECT ON TABLE cdp__marketing_analyst.customer_profiles TO marketing_analyst"),
                          ("duckdb", None), ("bigquery", None)):
        [path] = generated.glob(f"{target}/*_access__marketing_analyst.sql")
        text = path.read_text(encoding="utf-8")
        assert "CREATE VIEW cdp__marketing_analyst.customer_profiles AS" in text
        if grant:
            assert f"{grant};" in text and "cdpc:no-grants" not in text
        else:
            assert "GRANT" not in text and "-- cdpc:no-grants" in text


# --------------------------------------------------------------------------- DuckDB


def _expected_view(rows: list[tuple], columns, visibility: dict) -> Counter:
    """The rows a view should show, computed here: clear as is, hashed sha256 of the text, hidden NULL."""
    def one(value, column):
        shown = visibility[column.classification]
        if shown == "clear" or value is None:
            return value if shown != "hidden" else None
        return sha256(value) if shown == "hashed" else None
    return Counter(tuple(one(v, c) for v, c in zip(row, columns)) for row in rows)


def _check_views(read, project, access_name: str, read_as_role=None) -> None:
    """Every view of `access_name` (read with `read_as_role`, else `read`) equals its table (read with
    `read`), each column shown as the definition says."""
    defs = project.definitions
    access = defs.accesses[access_name]
    for table in viewed_tables(defs, project.lineage):
        names = ", ".join(c.name for c in table.columns)
        base = read(f"SELECT {names} FROM {table.schema}.{table.name}")
        shown = (read_as_role or read)(f"SELECT {names} FROM cdp__{access_name}.{table.name}")
        see = access.see.model_dump()
        assert Counter(shown) == _expected_view(base, table.columns, see), f"{access_name}: {table.name}"


@pytest.fixture(scope="module")
def duck_run(tmp_path_factory):
    db = tmp_path_factory.mktemp("access") / "wh.duckdb"
    project = require_valid(ROOT)
    engine = DuckDBEngine(db)
    try:
        run_project(project, engine, ROOT / "data", AS_OF_TIME)
    finally:
        engine.close()
    return project, db


def test_duckdb_views_show_each_column_as_see_says(duck_run):
    project, db = duck_run
    with duckdb.connect(str(db), read_only=True) as con:
        read = lambda sql: con.execute(sql).fetchall()  # noqa: E731
        _check_views(read, project, "marketing_analyst")
        _check_views(read, project, "data_steward")
        hashed = read("SELECT profile_id, primary_email FROM cdp__marketing_analyst.customer_profiles")
        assert all(HEX64.match(p) for p, _ in hashed) and any(e is not None for _, e in hashed)
        assert read("SELECT count(*) FROM cdp__marketing_analyst.customer_profiles WHERE has_medical_flag IS NOT NULL") == [(0,)]
        owned = read("SELECT schema_name, table_name FROM cdpc_meta.owned WHERE definition = 'access:marketing_analyst'")
        views = read("SELECT schema_name, view_name FROM duckdb_views() WHERE schema_name = 'cdp__marketing_analyst'")
        assert sorted(owned) == sorted(views) and len(views) == len(viewed_tables(project.definitions, project.lineage))


def test_duckdb_views_survive_a_republish_and_go_with_their_definition(tmp_path):
    root = copy_reference(tmp_path / "project")
    db = tmp_path / "wh.duckdb"
    assert cdpc("run", "--project", str(root), "--db", str(db), "--as-of", AS_OF).exit_code == 0
    later = cdpc("run", "--project", str(root), "--db", str(db), "--as-of", "2026-11-23 00:00:00")
    assert later.exit_code == 0, later.output
    with duckdb.connect(str(db), read_only=True) as con:  # the views read the tables of the second run
        assert con.execute("SELECT count(*) FROM cdp__marketing_analyst.vip_retention").fetchall() == \
            con.execute("SELECT count(*) FROM cdp_audiences.vip_retention").fetchall()
        _check_views(lambda sql: con.execute(sql).fetchall(), require_valid(root), "marketing_analyst")
    (root / STEWARD).unlink()
    shutil.rmtree(root / "generated")
    removed = cdpc("run", "--project", str(root), "--db", str(db), "--as-of", AS_OF)
    assert removed.exit_code == 0, removed.output
    assert "cdp__data_steward.customer_profiles" in removed.output  # listed as removed
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM duckdb_views() WHERE schema_name = 'cdp__data_steward'").fetchall() == [(0,)]
        assert con.execute("SELECT count(*) FROM cdpc_meta.owned WHERE definition LIKE 'access:data_steward'").fetchall() == [(0,)]


def test_duckdb_a_foreign_relation_named_like_a_view_is_exit_2(tmp_path):
    db = tmp_path / "wh.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE SCHEMA cdp__marketing_analyst")
        con.execute("CREATE TABLE cdp__marketing_analyst.vip_retention AS SELECT 'theirs' AS owner")
    result = cdpc("run", "--project", str(ROOT), "--db", str(db), "--as-of", AS_OF)
    assert result.exit_code == 2 and "CDP905" in result.output
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT * FROM cdp__marketing_analyst.vip_retention").fetchall() == [("theirs",)]


# --------------------------------------------------------------------------- PostgreSQL, real roles


def _roles_project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The reference project with roles of this test's own (roles are the server's, not a database's)."""
    root = copy_reference(tmp_path / "project", with_generated=False)
    suffix = uuid.uuid4().hex[:8]
    roles = {"marketing_analyst": f"ma_{suffix}", "data_steward": f"ds_{suffix}"}
    for rel, name in ((ANALYST, "marketing_analyst"), (STEWARD, "data_steward")):
        path = root / rel
        path.write_text(path.read_text(encoding="utf-8").replace(f"role: {name}", f"role: {roles[name]}"), encoding="utf-8")
    return root, roles


@pytest.fixture
def pg_roles(tmp_path, pg_database):
    import psycopg

    root, roles = _roles_project(tmp_path)
    with psycopg.connect(pg_database, autocommit=True) as admin:
        for role in roles.values():
            admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'secret-{role}'")
    try:
        yield root, roles, pg_database
    finally:
        with psycopg.connect(pg_database, autocommit=True) as admin:
            for role in roles.values():
                admin.execute(f"DROP OWNED BY {role}")  # its grants in this database
                admin.execute(f"DROP ROLE {role}")


def _login(dsn: str, role: str):
    import psycopg

    return psycopg.connect(dsn.replace("user=postgres", f"user={role} password=secret-{role}"), autocommit=True)


def _pg_run(root: Path, dsn: str, as_of: dt.datetime = AS_OF_TIME):
    from compiler.run.engines.postgres import PostgresEngine

    engine = PostgresEngine(dsn)
    try:
        return run_project(require_valid(root), engine, root / "data", as_of)
    finally:
        engine.close()


def _admin_read(dsn: str):
    import psycopg

    def read(sql: str) -> list[tuple]:
        with psycopg.connect(dsn, autocommit=True) as admin:
            return admin.execute(sql).fetchall()
    return read


def _owned(dsn: str) -> list[tuple[str, str, str]]:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as admin:
        return admin.execute("SELECT schema_name, table_name, definition FROM cdpc_meta.owned").fetchall()


def _personal_values(dsn: str, project) -> set[str]:
    """Every staged value of a confidential PII text field (emails, phones, member numbers, names,
    device ids), as staged and as identity normalizes it (trimmed, lowercased), read as the superuser."""
    import psycopg

    found = set()
    with psycopg.connect(dsn, autocommit=True) as admin:
        for contract in project.definitions.contracts.values():
            if contract.name in project.definitions.erasure_sources:
                continue  # read, never staged
            for name, spec in contract.fields.items():
                if spec.pii and spec.base_type == "string" and spec.effective_classification == "confidential":
                    for (value,) in admin.execute(f"SELECT {name} FROM cdp_staging.{contract.name} WHERE {name} IS NOT NULL"):
                        found |= {value, value.strip(), value.strip().lower(), value.strip().upper()}
    return found - {""}


def test_postgres_each_role_reads_its_views_and_nothing_else(pg_roles):
    import psycopg

    root, roles, dsn = pg_roles
    result = _pg_run(root, dsn)
    assert not [f for f in result.findings if f.code == "CDP513"], "no role can read more than its views"
    project = require_valid(root)
    owned = _owned(dsn)
    relations = {(s, t) for s, t, _ in owned} | {("cdpc_meta", "owned")}
    for access_name, role in roles.items():
        with _login(dsn, role) as con:
            assert con.execute("SELECT current_user").fetchone()[0] == role
            _check_views(_admin_read(dsn), project, access_name, lambda sql: con.execute(sql).fetchall())
            mine = {(s, t) for s, t, d in owned if d == f"access:{access_name}"}
            assert len(mine) == len(viewed_tables(project.definitions, project.lineage))
            for schema, table in sorted(relations - mine):
                with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
                    con.execute(f'SELECT 1 FROM "{schema}"."{table}" LIMIT 0')


def test_postgres_the_analyst_sees_no_restricted_value_and_confidential_ones_only_hashed(pg_roles):
    root, roles, dsn = pg_roles
    _pg_run(root, dsn)
    project = require_valid(root)
    personal = _personal_values(dsn, project)
    assert any("@" in v for v in personal), "the sample has clear emails to hide"
    with _login(dsn, roles["marketing_analyst"]) as con:
        cells: list = []
        for table in viewed_tables(project.definitions, project.lineage):
            rows = con.execute(f"SELECT * FROM cdp__marketing_analyst.{table.name}").fetchall()
            for column, values in zip(table.columns, zip(*rows) if rows else [() for _ in table.columns]):
                if column.classification == "restricted":
                    assert set(values) <= {None}, f"{table.name}.{column.name} shows a restricted value"
                if column.classification == "confidential":
                    assert all(v is None or HEX64.match(v) for v in values), f"{table.name}.{column.name}"
                cells += [str(v) for v in values if v is not None]
    assert not personal & set(cells), sorted(personal & set(cells))[:5]


def test_postgres_views_and_grants_survive_a_republish(pg_roles):
    import psycopg

    root, roles, dsn = pg_roles
    _pg_run(root, dsn)
    _pg_run(root, dsn, dt.datetime(2026, 11, 23))
    project = require_valid(root)
    with _login(dsn, roles["marketing_analyst"]) as con:
        _check_views(_admin_read(dsn), project, "marketing_analyst", lambda sql: con.execute(sql).fetchall())
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            con.execute("SELECT 1 FROM cdp.customer_profiles LIMIT 0")


def test_postgres_a_right_granted_outside_cdpc_is_a_warning(pg_roles):
    """The analyst is made a member of a role that may read the profiles table: the run says so."""
    import psycopg

    root, roles, dsn = pg_roles
    _pg_run(root, dsn)
    reader = f"reader_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {reader} NOLOGIN")
        admin.execute(f"GRANT USAGE ON SCHEMA cdp TO {reader}")
        admin.execute(f"GRANT SELECT ON cdp.customer_profiles TO {reader}")
        admin.execute(f"GRANT {reader} TO {roles['marketing_analyst']}")
    try:
        result = cdpc("run", "--project", str(root), "--engine", "postgres", "--dsn", dsn, "--as-of", AS_OF)
        assert result.exit_code == 0, result.output  # a warning: cdpc did not grant it
        assert (f"definitions/access/marketing_analyst.yaml:12:7: CDP513 warning: access `marketing_analyst`: role "
                f"`{roles['marketing_analyst']}` can read 1 relation(s) cdpc wrote beside its views: cdp.customer_profiles"
                in result.output)
        assert "access `data_steward`" not in result.output
    finally:
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(f"DROP OWNED BY {reader}")
            admin.execute(f"DROP ROLE {reader}")


def test_postgres_a_role_missing_at_run_time_is_exit_2_and_nothing_changes(pg_roles):
    import psycopg

    root, roles, dsn = pg_roles
    _pg_run(root, dsn)
    before = sorted(_owned(dsn))
    path = root / ANALYST
    path.write_text(path.read_text(encoding="utf-8").replace(roles["marketing_analyst"], "nobody_here"), encoding="utf-8")
    result = cdpc("run", "--project", str(root), "--engine", "postgres", "--dsn", dsn, "--as-of", "2026-11-23")
    assert result.exit_code == 2, result.output
    assert "CDP910 access `marketing_analyst`: role `nobody_here` does not exist" in result.output
    assert "definitions/access/marketing_analyst.yaml:12:7" in result.output
    assert sorted(_owned(dsn)) == before
    with psycopg.connect(dsn, autocommit=True) as admin:
        assert not [s for (s,) in admin.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'cdpc_run_%'")]


# Spark has no roles: it writes the views and runs no grant. tests/test_cross_engine.py
# compares the reference run's views on Spark and PostgreSQL with DuckDB's, and checks that
# Spark's analyst view hashes and hides (one Spark run of the reference project for both).
