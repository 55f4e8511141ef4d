"""Definition tests (`kind: test`, `cdpc test`): docs/reference.md §6.

- every test of the reference project passes, and each one fails when the logic it guards
  is broken (the definition mutated in a copy; the consent tie rule, which lives in the
  compiler, mutated in the emitter);
- how rows compare: the columns named only, rows as a multiset, `contains`, `lacks`, values
  by type, a profile named by an identifier value (normalized; none, blocklisted or a
  conflict value names no profile: a failure, not a validation error);
- validation: every name and value a test writes is checked, at its file:line:col;
- the command: the side-by-side failure at file:line, a line per test, the exit codes.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest

from compiler.project import load_project, require_valid
from compiler.run.deftest import run_tests
from compiler.run.testrows import raw_text, same

from helpers import cdpc, copy_reference, write_files

REFERENCE_TESTS = 15


@pytest.fixture(scope="module")
def reference_results():
    project = require_valid(Path(__file__).resolve().parent.parent)
    tests = [project.definitions.tests[n] for n in sorted(project.definitions.tests)]
    return {r.name: r for r in run_tests(project, tests)}


def test_the_reference_project_ships_tests_that_pass(reference_results):
    assert len(reference_results) >= 12
    failed = {name: [f"{f.location}: {f.title}: {f.problem}" for f in r.failures]
              for name, r in reference_results.items() if not r.passed}
    assert failed == {}


# --------------------------------------------------------------------------- each test guards its logic

# test -> (file under definitions/, text to replace, replacement): the logic it guards, broken
MUTATIONS = {
    "winback_seven_day_edge": ("segments/winback_7d_inactive.yaml", "days_since_last_visit >= 7",
                               "days_since_last_visit > 7"),
    "winback_excludes_vacation_hold": ("segments/winback_7d_inactive.yaml", "exclude: [vacation_hold_members]",
                                       "exclude: []"),
    "shared_family_email_stays_a_conflict": ("identity/customer.yaml",
                                             "{type: membership_id, normalize: upper_trim, max_per_profile: 1}",
                                             "{type: membership_id, normalize: upper_trim, max_per_profile: 2}"),
    "phone_in_three_formats_links": ("identity/customer.yaml", "pos_transactions: {phone: phone, email: email}",
                                     "pos_transactions: {email: email}"),
    "medical_flag_suppresses_marketing": ("consent/marketing.yaml",
                                          "suppress_when: [marketing_hold, has_medical_flag]",
                                          "suppress_when: [marketing_hold]"),
    "meta_hashes_phone_digits_only": ("destinations/meta_ads.yaml", "platform: meta_custom_audiences",
                                      "platform: generic"),
    "marketing_hold_stops_every_sync": ("consent/marketing.yaml", "suppress_when: [marketing_hold, has_medical_flag]",
                                        "suppress_when: [has_medical_flag]"),
    "blocklisted_email_never_links": ("identity/customer.yaml", "    - test@example.com\n", ""),
    "bookings_quarantine_reasons": ("contracts/bookings.yaml", "    min: 0\n", ""),
    "membership_id_typed_loosely_links": ("identity/customer.yaml", "{type: membership_id, normalize: upper_trim,",
                                          "{type: membership_id, normalize: none,"),
    "engagement_tier_thresholds": ("attributes/engagement_tier.yaml", "when visits_30d >= 12", "when visits_30d > 12"),
    "primary_email_trusts_the_crm": ("attributes/primary_email.yaml",
                                     "from: [crm_contacts, bookings, consent_events, pos_transactions]",
                                     "from: [bookings, crm_contacts, consent_events, pos_transactions]"),
    "sms_audience_needs_sms_consent": ("consent/marketing.yaml", "  sms_marketing: {channels: [sms]}",
                                       "  sms_marketing:\n    channels: [sms]\n    sources:\n"
                                       "      - {source: crm_contacts, granted: true}"),
    "crm_opt_out_after_grant_wins": ("consent/marketing.yaml", "{source: crm_contacts, granted_field: email_opt_in}",
                                     "{source: crm_contacts, granted_field: email_opt_in, time_field: created_at}"),
}


def _failing_after(tmp_path: Path, test_name: str) -> list[str]:
    project = require_valid(tmp_path)  # the mutation is a valid project: the failure is the test's
    [result] = run_tests(project, [project.definitions.tests[test_name]])
    return [f.title for f in result.failures]


@pytest.mark.parametrize("test_name", sorted(MUTATIONS))
def test_each_reference_test_fails_when_its_logic_is_broken(tmp_path, reference_results, test_name):
    assert reference_results[test_name].passed
    copy_reference(tmp_path, with_generated=False)
    rel, old, new = MUTATIONS[test_name]
    path = tmp_path / "definitions" / rel
    text = path.read_text(encoding="utf-8")
    assert old in text, f"the mutation of {rel} no longer applies"
    path.write_text(text.replace(old, new), encoding="utf-8")
    assert _failing_after(tmp_path, test_name), f"{test_name} still passes with {rel} broken"


def test_the_consent_tie_test_fails_when_a_grant_wins_the_tie(tmp_path, monkeypatch, reference_results):
    """The tie rule lives in the compiler (emit/consent.py orders denials first): break it there."""
    from compiler.emit import consent, sql

    assert reference_results["consent_tie_denial_wins"].passed
    copy_reference(tmp_path, with_generated=False)
    monkeypatch.setattr(consent, "asc", sql.desc)  # a grant first on a tie
    assert _failing_after(tmp_path, "consent_tie_denial_wins") == ["`customer_consent` (rows)"]


def test_every_reference_test_has_a_mutation():
    names = set(require_valid(Path(__file__).resolve().parent.parent).definitions.tests)
    assert names - set(MUTATIONS) == {"consent_tie_denial_wins"}


# --------------------------------------------------------------------------- comparing rows

PROJECT = {
    "definitions/project.yaml": """
        kind: project
        name: shop
        """,
    "definitions/contracts/orders.yaml": """
        kind: contract
        name: orders
        version: 1.0.0
        relation: raw.orders
        primary_key: [order_id]
        event_time: ordered_at
        fields:
          order_id: {type: string, required: true}
          email: {type: string}
          amount: {type: "decimal(10,2)", min: 0}
          ratio: {type: double}
          paid: {type: boolean}
          ordered_at: {type: timestamp, required: true}
          day: {type: date}
        """,
    "definitions/identity/customer.yaml": """
        kind: identity
        name: customer
        version: 1.0.0
        identifiers:
          - {type: email, normalize: email, max_per_profile: 1}
        sources:
          orders: {email: email}
        blocklist:
          email: [test@example.com]
        """,
    "definitions/attributes/spend.yaml": """
        kind: attribute
        name: spend
        version: 1.0.0
        type: "decimal(12,2)"
        source: orders
        aggregate: sum(amount)
        default: 0
        """,
    "definitions/segments/big.yaml": """
        kind: segment
        name: big
        version: 1.0.0
        where: spend >= 100
        """,
}

ROWS = """
given:
  orders:
    - {order_id: "1", email: " Ana@Example.org", amount: 60.5, ratio: 0.3333333, paid: true, ordered_at: 2026-11-01 10:00:00, day: 2026-11-01}
    - {order_id: "2", email: ana@example.org, amount: 50, ratio: 0.5, paid: false, ordered_at: 2026-11-02, day: 2026-11-02}
    - {order_id: "3", email: bo@example.org, amount: 10.00, ordered_at: 2026-11-03 10:00:00}
    - {order_id: "4", email: test@example.com, amount: 10.00, ordered_at: 2026-11-03 10:00:00}
"""


def _project(tmp_path: Path, test_body: str, name: str = "t") -> Path:
    files = dict(PROJECT)
    files["definitions/tests/t.yaml"] = f"kind: test\nname: {name}\nas_of: 2026-11-20\n" + ROWS + test_body
    return write_files(tmp_path, files)


def _run(root: Path) -> list:
    project = require_valid(root)
    [result] = run_tests(project, list(project.definitions.tests.values()))
    return result.failures


def test_rows_compare_on_the_columns_they_name_as_a_multiset(tmp_path):
    failures = _run(_project(tmp_path, """
expect:
  staged:
    orders:
      - {order_id: "3", amount: 10}
      - {order_id: "2", amount: 50.00, ratio: 0.5, paid: false, ordered_at: 2026-11-02 00:00:00, day: 2026-11-02}
      - {order_id: "1", amount: 60.50, ratio: 0.333, paid: true, ordered_at: 2026-11-01 10:00:00}
      - {order_id: "4"}
  profiles:
    - {profile: {email: ANA@example.org }, spend: 110.5}
    - {profile: {email: bo@example.org}, spend: 10}
    - {spend: 10}
  segments:
    big:
      - profile: {email: ana@example.org}
"""))
    assert failures == []


def test_a_missing_and_an_unexpected_row_fail_side_by_side(tmp_path):
    root = _project(tmp_path, """
expect:
  segments:
    big:
      - profile: {email: bo@example.org}
""")
    [failure] = _run(root)
    assert failure.title == "segment `big` (rows)"
    assert failure.problem == "1 expected row missing, 1 row not expected (the table has 1 row)"
    assert [(l.mark, l.expected, l.actual) for l in failure.lines] == [
        ("-", ["email: bo@example.org"], None), ("+", None, ["email: ana@example.org"])]
    assert str(failure.location) == "definitions/tests/t.yaml:15:7"


def test_contains_and_lacks(tmp_path):
    root = _project(tmp_path, """
expect:
  staged:
    orders:
      contains:
        - {order_id: "1"}
        - {order_id: "1"}
      lacks:
        - {order_id: "3"}
        - {order_id: "9"}
""")
    failures = _run(root)
    assert [(f.title, f.problem) for f in failures] == [
        ("the staged table of `orders` (contains)", "1 expected row missing (the table has 4 rows)"),
        ("the staged table of `orders` (lacks)", "the table has 1 row the test says it lacks")]
    assert [l.mark for l in failures[1].lines] == ["!"]


@pytest.mark.parametrize("named, why", [
    ("{email: nobody@example.org}", "'nobody@example.org' is on no staged record"),
    ("{email: test@example.com}", "is on the identity's blocklist"),
    ("{email: not-an-email}", "is no email once normalized"),
])
def test_an_identifier_that_names_no_profile_is_a_failure_not_an_error(tmp_path, named, why):
    root = _project(tmp_path, f"""
expect:
  profiles:
    contains:
      - {{profile: {named}}}
""")
    assert load_project(root).ok
    [failure] = _run(root)
    assert "names no profile" in failure.problem and why in failure.notes[0]


def test_a_conflict_value_names_no_profile(tmp_path):
    files = dict(PROJECT)
    files["definitions/identity/customer.yaml"] = files["definitions/identity/customer.yaml"].replace(
        "orders: {email: email}", "orders: {email: email, order: order_id}").replace(
        "  - {type: email, normalize: email, max_per_profile: 1}",
        "  - {type: order, max_per_profile: 1}\n          - {type: email, normalize: email, max_per_profile: 1}")
    files["definitions/tests/t.yaml"] = "kind: test\nname: t\nas_of: 2026-11-20\n" + ROWS + """
expect:
  conflicts:
    - {id_type: email, id_value: ana@example.org}
  profiles:
    contains:
      - {profile: {email: ana@example.org}}
"""
    [failure] = _run(write_files(tmp_path, files))
    assert "is on records of 2 profiles (a conflict)" in failure.notes[0]


@pytest.mark.parametrize("expected, actual, equal", [
    (12.5, Decimal("12.50"), True), (12, Decimal("12.00"), True), ("12.5", Decimal("12.50"), True),
    (12.51, Decimal("12.50"), False), (0.333, 1 / 3, True), (0.3334, 1 / 3, False), (3, 3, True), (3.0, 3, True),
    (True, True, True), ("true", True, True), (1, True, False), (None, None, True), (None, "", False), ("", None, False),
    (dt.date(2026, 11, 2), dt.datetime(2026, 11, 2), True), ("2026-11-02 00:00:00", dt.datetime(2026, 11, 2), True),
    (dt.datetime(2026, 11, 2, 0, 0, 1), dt.datetime(2026, 11, 2), False), (dt.date(2026, 11, 2), dt.date(2026, 11, 2), True),
    (dt.datetime(2026, 11, 2), dt.date(2026, 11, 2), False), ("x", "x", True), ("x ", "x", False),
    (["a", "b"], ["a", "b"], True), (["b", "a"], ["a", "b"], False),
])
def test_values_compare_by_the_columns_type(expected, actual, equal):
    assert same(expected, actual) is equal


@pytest.mark.parametrize("value, base, text", [
    (None, "string", None), (" a ", "string", " a "), (True, "boolean", "true"), (12.5, "decimal", "12.5"),
    (1e-05, "decimal", "0.00001"), (3.0, "integer", "3"), (7, "bigint", "7"),
    (dt.datetime(2026, 11, 2, 8, 0), "timestamp", "2026-11-02 08:00:00"),
    (dt.datetime(2026, 11, 2, 8, 0, 0, 5), "timestamp", "2026-11-02 08:00:00.000005"),
    (dt.date(2026, 11, 2), "timestamp", "2026-11-02 00:00:00"), (dt.date(2026, 11, 2), "date", "2026-11-02"),
    (dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))), "timestamp", "2026-11-02 06:00:00"),
])
def test_given_values_reach_staging_as_raw_text(value, base, text):
    assert raw_text(value, base) == text


# --------------------------------------------------------------------------- validation

def test_every_name_and_value_a_test_writes_is_checked_where_it_is_written(tmp_path):
    root = write_files(copy_reference(tmp_path, with_generated=False), {"definitions/tests/bad.yaml": """
        kind: test
        name: bad
        as_of: yesterday
        given:
          bookingz: []
          bookings:
            - {booking_id: 12, membership_idd: FC1, price: abc}
        expect:
          segments:
            winback_7d_inactve: []
          profiles:
            - {profile: {emial: a@b.c}, visits_30: 3}
            - {profile: {email: a@b.c, phone: "1"}}
            - {}
          consent:
            - {purpose: email_marketng, granted: true}
          syncs:
            meta_ads: {winback_7d_inactive: []}
            metaads: {x: []}
          rejected:
            bookings:
              contains: [{_reject_reasons: "x"}]
          map:
            - {id_type: email}
        """})
    found = [f"{d.location.line}:{d.location.col} {d.code} {d.message}" for d in load_project(root).diagnostics
             if d.location.file == "definitions/tests/bad.yaml"]
    assert found == [
        "3:8 CDP103 `as_of` 'yesterday' is not a date or a timestamp",
        "5:3 CDP201 unknown contract `bookingz`",
        "7:20 CDP103 `booking_id`: 12 (a YAML number) does not fit string",
        "7:24 CDP202 field `membership_idd` is not a field of contract `bookings`",
        "7:52 CDP103 `price`: 'abc' does not fit decimal(10,2)",
        "10:5 CDP204 `expect.segments` names unknown segment `winback_7d_inactve`",
        "12:18 CDP206 `profile` names unknown identifier type `emial`",
        "12:33 CDP203 `visits_30` is not a column of `customer_profiles`",
        "13:17 CDP103 `profile` names a profile by one identifier value, e.g. `{email: anna@example.com}`",
        "14:7 CDP103 an expected row names no column, so it matches any row",
        "16:17 CDP205 purpose `email_marketng` is not declared by any consent",
        "18:16 CDP230 destination `meta_ads` has no sync of segment `winback_7d_inactive`",
        "19:15 CDP230 `expect.syncs` names unknown destination `metaads`",
        "22:36 CDP103 `_reject_reasons` is a list of texts, not 'x'",
        "24:8 CDP231 `id_type` is not a column of `customer_map`",
    ]


@pytest.mark.parametrize("expect, code, message", [
    ("expect:\n  segment: {big: []}", "CDP101", "unknown key `segment` in `expect`"),
    ("expect: {}", "CDP102", "`expect` names no table"),
    ("expect:\n  segments:\n    big: {}", "CDP102", "an expectation needs `rows`, `contains` or `lacks`"),
    ("expect:\n  segments:\n    big: {rows: [], lacks: []}", "CDP103", "`rows` says the table holds exactly"),
])
def test_the_shape_of_expect_is_checked(tmp_path, expect, code, message):
    root = _project(tmp_path, expect)
    found = [d for d in load_project(root).diagnostics if d.is_error]
    assert [d.code for d in found] == [code] and message in found[0].message


def test_tables_of_profiles_need_an_identity(tmp_path):
    files = {k: v for k, v in PROJECT.items() if "identity" not in k and "attributes" not in k and "segments" not in k}
    files["definitions/tests/t.yaml"] = "kind: test\nname: t\nas_of: 2026-11-20\n" + ROWS + "expect:\n  map: []\n"
    found = [d for d in load_project(write_files(tmp_path, files)).diagnostics if d.is_error]
    assert [(d.code, d.message) for d in found] == [
        ("CDP230", "`expect.map`: the project has no identity, so no profiles and no `map` table")]


def test_a_test_is_not_compiled(tmp_path):
    """Tests change no table and no hash: generated/ does not list them."""
    root = _project(tmp_path, "expect:\n  segments:\n    big: []\n")
    assert cdpc("compile", "--project", str(root)).exit_code == 0
    assert '"test"' not in (root / "generated" / "manifest.json").read_text()


# --------------------------------------------------------------------------- the command

def test_cdpc_test_prints_failures_side_by_side_then_a_line_per_test(tmp_path):
    root = _project(tmp_path, """
expect:
  profiles:
    - {profile: {email: ana@example.org}, spend: 110.5}
    - {profile: {email: bo@example.org}, spend: 11}
    - {spend: 10}
""")
    write_files(root, {"definitions/tests/ok.yaml": "kind: test\nname: ok\nas_of: 2026-11-20\n" + ROWS
                       + "expect:\n  segments:\n    big:\n      - profile: {email: ana@example.org}\n"})
    result = cdpc("test", "--project", str(root))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    # the third profile has no identifier: its only email is on the blocklist
    assert lines[:7] == [
        "definitions/tests/t.yaml:14:5: CDP520 test `t`: `customer_profiles` (rows): "
        "1 expected row missing, 1 row not expected (the table has 3 rows)",
        "      expected                      | actual",
        "      profile                 spend | profile                                       spend",
        "    = email: ana@example.org  110.5 | email: ana@example.org                        110.50",
        "    - email: bo@example.org   11    |",
        "    =                         10    | profile_id: 365904e1e295ff4eab91c208c6849bd9  10.00",
        "    +                               | email: bo@example.org                         10.00",
    ]
    assert re.fullmatch(r"PASS ok  definitions/tests/ok\.yaml:2  1 expectation  \(\d+ ms\)", lines[7])
    assert re.fullmatch(r"FAIL t  definitions/tests/t\.yaml:2  1 of 1 expectation failed  \(\d+ ms\)", lines[8])
    assert re.fullmatch(r"2 tests: 1 passed, 1 failed \(\d+\.\d\d s\)", lines[9])
    assert len(lines) == 10
    only = cdpc("test", "ok", "--project", str(root))
    assert only.exit_code == 0 and "1 test: 1 passed, 0 failed" in only.stdout


def test_cdpc_test_usage_errors(tmp_path):
    root = _project(tmp_path, "expect:\n  segments:\n    big: []\n")
    result = cdpc("test", "tt", "--project", str(root))
    assert result.exit_code == 2 and "no test named `tt`; did you mean `t`?" in result.output
    project_yaml = root / "definitions" / "project.yaml"
    project_yaml.write_text(project_yaml.read_text() + "targets: [postgres]\n")
    result = cdpc("test", "--project", str(root))
    assert result.exit_code == 2 and "tests run on DuckDB" in result.output


def test_cdpc_test_without_tests(tmp_path):
    root = write_files(tmp_path, {k: v for k, v in PROJECT.items()})
    result = cdpc("test", "--project", str(root))
    assert result.exit_code == 0 and result.output.startswith("no tests")


def test_a_bad_test_stops_cdpc_test_like_any_invalid_definition(tmp_path):
    root = _project(tmp_path, "expect:\n  segments:\n    bigg: []\n")
    result = cdpc("test", "--project", str(root))
    assert result.exit_code == 1 and "CDP204" in result.output


def test_a_test_runs_only_the_units_its_tables_read():
    from compiler.run.deftest import needed_units, test_plan

    plan = test_plan(require_valid(Path(__file__).resolve().parent.parent))
    names = lambda paths: [(u.layer, u.name) for u in needed_units(plan, paths)]  # noqa: E731
    assert {layer for layer, _ in names([("staged", "bookings")])} == {"staging"}
    assert {layer for layer, _ in names([("map",)])} == {"staging", "identity"}
    units = names([("syncs", "meta_ads", "high_value_lapsed")])
    # a destination's unit writes every sync of it: it reads the segments of all of them
    assert sorted(n for layer, n in units if layer == "segments") == ["high_value_lapsed", "vacation_hold_members",
                                                                        "vip_retention"]
    assert [n for layer, n in units if layer == "syncs"] == ["meta_ads"]
    assert len([n for layer, n in units if layer == "attributes"]) == 19  # the profiles table reads every one
    reactivation = [n for layer, n in names([("segments", "reactivation_sms")]) if layer == "segments"]
    assert sorted(reactivation) == ["at_risk_churn", "new_members_onboarding", "reactivation_sms",
                                    "vacation_hold_members", "winback_7d_inactive"]


# --------------------------------------------------------------------------- what a test runs, and how fast

def _reference_plan():
    from compiler.run.deftest import test_plan

    project = require_valid(Path(__file__).resolve().parent.parent)
    return project, test_plan(project)


def _executed(units) -> list[str]:
    from compiler.emit.plan import rendered_statements

    return [s for u in units for s in rendered_statements(u.steps)]


def test_the_statements_a_test_runs_depend_on_its_expected_tables_only():
    project, plan = _reference_plan()
    tests = project.definitions.tests
    winback = [p for p, _ in tests["winback_seven_day_edge"].expect.tables()]
    first = plan.run_for(winback)
    # the same tables in another order: the same statements, made once (the key is the set of tables)
    assert plan.run_for(list(reversed(winback))) is first
    # another test's rows and as-of time play no part: a test of its own with these tables gets them too
    other = [p for p, _ in tests["winback_excludes_vacation_hold"].expect.tables()]
    assert plan.run_for(other) is not first and plan.run_for(other) == plan.run_for(list(other))
    staged = _executed(plan.run_for([("staged", "bookings")]))
    assert staged and all("bookings" in s for s in staged)  # one contract's staging, nothing else
    assert not any(s.startswith("DROP TABLE IF EXISTS") for s in staged)  # nothing to drop in a new database
    consent = " ".join(_executed(plan.run_for([("consent",)])))
    assert "attr__has_medical_flag" in consent and "attr__marketing_hold" in consent  # what consent reads
    assert "CREATE TABLE cdpc_work.attr__engagement_tier" not in consent  # what it does not
    everything = " ".join(_executed(plan.run_for([("profiles",)])))
    assert all(f"CREATE TABLE cdpc_work.attr__{name} " in everything for name in project.definitions.attributes)


def test_a_statement_whose_tables_cannot_be_told_keeps_everything_before_it():
    from sqlglot import parse_one

    from compiler.run.deftest import _tables

    assert _tables(parse_one("CREATE TABLE s.t AS SELECT * FROM s.a JOIN s.b ON TRUE")) == \
        (frozenset({("s", "t")}), frozenset({("s", "a"), ("s", "b")}))
    assert _tables(parse_one("WITH c AS (SELECT 1) INSERT INTO S.T SELECT * FROM c")) == \
        (frozenset({("s", "t")}), frozenset({("s", "t")}))
    assert _tables(parse_one("CREATE TABLE s.t AS SELECT * FROM unplaced"))[1] is None
    assert _tables(parse_one("CREATE TABLE s.t AS SELECT * FROM other.s.a"))[1] is None


def test_a_sliced_run_leaves_the_same_tables_as_every_unit_with_the_optimizer_on():
    """The tables each reference test reads, after the statements it runs (on one thread,
    without DuckDB's optimizer), hold exactly the rows that every needed unit leaves on a
    DuckDB connection with default settings."""
    from compiler.run.deftest import _Databases, _load, needed_units, physical_table
    from compiler.run.engines.duckdb import DuckDBEngine
    from compiler.run.runner import execute_units

    project, plan = _reference_plan()
    defs = project.definitions

    def tables(engine, paths) -> dict:
        read = {}
        for path in paths:
            schema, name = physical_table(defs, path)
            read[path] = sorted(map(repr, engine.rows(f'SELECT * FROM "{schema}"."{name}"')))
        return read

    databases = _Databases()
    try:
        for test in defs.tests.values():
            paths = [p for p, _ in test.expect.tables()]
            with databases.database() as engine:
                _load(engine, plan, test)
                execute_units(engine, plan.run_for(paths))
                sliced = tables(engine, paths)
            full = DuckDBEngine()
            try:
                _load(full, plan, test)
                execute_units(full, needed_units(plan, paths))
                assert tables(full, paths) == sliced, test.name
            finally:
                full.close()
    finally:
        databases.close()


def test_threads_give_the_results_of_one(reference_results):
    project = require_valid(Path(__file__).resolve().parent.parent)
    tests = [project.definitions.tests[n] for n in sorted(project.definitions.tests)]
    one = run_tests(project, tests, workers=1)
    assert [r.name for r in one] == sorted(reference_results)
    assert [(r.name, r.passed, r.expectations, r.failures) for r in one] == \
        [(r.name, r.passed, r.expectations, r.failures) for r in (reference_results[n] for n in sorted(reference_results))]
