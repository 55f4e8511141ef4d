"""What `cdpc check` says about tests and owners (docs/reference.md §6.4 and docs/reference.md §6.5).

- it runs the definition tests: a failure is a CDP520 error at the expectation;
- test coverage of segments, attributes and syncs, the list of what no test covers, and
  `governance.min_test_coverage` (read from the base with --base) as CDP620;
- owners: CDP621 warnings, errors under `governance.require_owner`, and owner coverage;
- the note for more than eight segments without one to eight tagged `primary`;
- `tests_covering`, which the docs site reads: per definition, the tests that cover it.
"""

from __future__ import annotations

import json
from pathlib import Path

from compiler import coverage as cov
from compiler.project import require_valid

from checkrepo import CheckRepo
from helpers import cdpc, copy_reference, write_files

ROOT = Path(__file__).resolve().parent.parent


def _check(root: Path, *args: str):
    return cdpc("check", "--project", str(root), *args)


def _project(tmp_path: Path) -> Path:
    root = copy_reference(tmp_path)
    assert cdpc("compile", "--project", str(root)).exit_code == 0
    return root


def test_check_runs_the_tests_and_prints_coverage_and_owners(tmp_path):
    root = _project(tmp_path)
    result = _check(root, "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    defs = require_valid(root).definitions
    assert report["tests"] == {"passed": len(defs.tests), "failed": [], "skipped": None}
    measured = cov.coverage(defs)
    assert report["coverage"]["ratio"] == round(measured.ratio, 4)
    assert "segment winback_7d_inactive" in report["coverage"]["covered"]
    assert "sync meta_ads.high_value_lapsed" in report["coverage"]["covered"]
    assert "attribute app_sessions_30d" in report["coverage"]["uncovered"]
    assert report["owners"] == {"named": 16, "total": 16, "missing": []}
    text = _check(root).stdout.splitlines()
    assert text[0].startswith(f"tests: {len(defs.tests)} passed, 0 failed (")
    assert text[1] == (f"test coverage: {measured.percent} of segments, attributes and syncs "
                       f"({len(measured.covered)} of {measured.total})")
    assert text[2].startswith("  not covered: segment at_risk_churn, segment new_members_onboarding, ")
    assert text[3] == "owners: 16 of 16 contracts, segments and destinations name an owner (100%)"
    assert text[4] == "check passed: 0 errors, 0 warnings"


def test_a_failing_test_fails_check_at_its_expectation(tmp_path):
    root = _project(tmp_path)
    path = root / "definitions" / "segments" / "winback_7d_inactive.yaml"
    path.write_text(path.read_text().replace("days_since_last_visit >= 7", "days_since_last_visit >= 8"))
    assert cdpc("compile", "--project", str(root)).exit_code == 0
    result = _check(root)
    assert result.exit_code == 1
    assert ("definitions/tests/winback_7d_inactive.yaml:23:7: CDP520 test `winback_seven_day_edge`: segment "
            "`winback_7d_inactive` (rows): 1 expected row missing (the table has 0 rows)") in result.stdout
    assert "`cdpc test winback_seven_day_edge` shows the expected and actual rows side by side" in result.stdout
    assert "tests: 14 passed, 1 failed (" in result.stdout and "): winback_seven_day_edge" in result.stdout


def test_min_test_coverage_makes_low_coverage_an_error(tmp_path):
    root = _project(tmp_path)
    project = root / "definitions" / "project.yaml"
    project.write_text(project.read_text().replace("  min_approvals: 1\n", "  min_approvals: 1\n  min_test_coverage: 0.9\n"))
    result = _check(root)
    measured = cov.coverage(require_valid(root).definitions)
    assert result.exit_code == 1
    assert (f"definitions/project.yaml:44:22: CDP620 test coverage is {measured.percent} of segments, attributes and "
            f"syncs ({len(measured.covered)} of {measured.total}), below governance.min_test_coverage 0.9") in result.stdout
    project.write_text(project.read_text().replace("min_test_coverage: 0.9", f"min_test_coverage: {measured.ratio - 0.01:.2f}"))
    assert _check(root).exit_code == 0


def test_missing_owners_are_warnings_then_errors_under_require_owner(tmp_path):
    root = _project(tmp_path)
    for rel in ("segments/vip_retention.yaml", "contracts/app_events.yaml"):
        path = root / "definitions" / rel
        path.write_text("".join(line for line in path.read_text().splitlines(keepends=True)
                                if not line.startswith("owner:")))
    assert cdpc("compile", "--project", str(root)).exit_code == 0  # owner is in each definition's metadata hash
    result = _check(root)
    assert result.exit_code == 0
    assert "definitions/contracts/app_events.yaml:5:7: CDP621 warning: contract `app_events` names no owner" in result.stdout
    assert "definitions/segments/vip_retention.yaml:2:7: CDP621 warning: segment `vip_retention` names no owner" in result.stdout
    assert ("owners: 14 of 16 contracts, segments and destinations name an owner (87%); missing: contract app_events, "
            "segment vip_retention") in result.stdout
    assert cdpc("validate", "--project", str(root)).output.endswith("no errors\n")  # governance: check's, not validate's
    project = root / "definitions" / "project.yaml"
    project.write_text(project.read_text().replace("  min_approvals: 1\n", "  min_approvals: 1\n  require_owner: true\n"))
    result = _check(root)
    assert result.exit_code == 1
    assert "definitions/segments/vip_retention.yaml:2:7: CDP621 segment `vip_retention` names no owner" in result.stdout


def test_more_than_eight_segments_need_primary_ones(tmp_path):
    root = _project(tmp_path)
    for index in range(2):
        write_files(root, {f"definitions/segments/extra_{index}.yaml": f"""
            kind: segment
            name: extra_{index}
            version: 1.0.0
            owner: growth-marketing@fitclub.example
            where: visits_30d > {index}
            """})
    assert cdpc("compile", "--project", str(root)).exit_code == 0
    result = _check(root, "--report", str(tmp_path / "report.md"))
    note = ("9 segments, and none is tagged `primary`: start with five to eight segments the team acts on, and tag "
            "those `tags: [primary]` so that reviewers see which ones matter most")
    assert f"note: {note}" in result.stdout
    assert f"Note: {note}." in (tmp_path / "report.md").read_text()
    path = root / "definitions" / "segments" / "winback_7d_inactive.yaml"
    path.write_text(path.read_text().replace("tags: [lifecycle, winback]", "tags: [lifecycle, winback, primary]"))
    assert "note:" not in _check(root).stdout


def test_the_policy_keys_come_from_the_base(tmp_path):
    """A pull request cannot lower min_test_coverage or drop require_owner for itself."""
    repo = CheckRepo(tmp_path)
    repo.edit("definitions/project.yaml", "min_approvals: 1", "min_approvals: 1\n  min_test_coverage: 0.5")
    repo.compile()
    repo.commit("a coverage floor")
    repo.edit("definitions/project.yaml", "  min_test_coverage: 0.5", "  min_test_coverage: 0.0")
    result = repo.cdpc("check", "--base", "HEAD")
    assert result.exit_code == 1
    assert "CDP620 test coverage is 0% of segments, attributes and syncs" in result.output
    assert "CDP616 the governance policy changed (min_test_coverage 0.5 -> 0.0)" in result.output


def test_tests_covering_names_the_tests_of_each_definition():
    defs = require_valid(ROOT).definitions
    covering = cov.tests_covering(defs)
    assert covering[("segment", "winback_7d_inactive")] == ["marketing_hold_stops_every_sync",
                                                            "sms_audience_needs_sms_consent",
                                                            "winback_excludes_vacation_hold", "winback_seven_day_edge"]
    assert covering[("destination", "meta_ads")] == ["meta_hashes_phone_digits_only"]
    assert covering[("sync", "meta_ads.high_value_lapsed")] == ["meta_hashes_phone_digits_only"]
    assert covering[("identity", "customer")][:2] == ["blocklisted_email_never_links", "membership_id_typed_loosely_links"]
    assert covering[("contract", "bookings")] == ["bookings_quarantine_reasons", "membership_id_typed_loosely_links"]
    assert cov.covers(defs.tests["consent_tie_denial_wins"], defs) == [("consent", "marketing")]
    assert ("attribute", "app_sessions_30d") not in covering
