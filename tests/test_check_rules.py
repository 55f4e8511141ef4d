"""`cdpc check --base`: every compatibility, version and approval rule, on real git repositories.

Each test starts from tests/fixtures/check_project committed as the base, changes the
definitions, recompiles (so generated/ is fresh), commits the head and runs
`cdpc check --base HEAD~1`, asserting the exact `path:line:col: CODE` lines.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from checkrepo import CheckRepo  # noqa: E402

ORDERS = "definitions/contracts/orders.yaml"
SPEND = "definitions/attributes/spend.yaml"
TIER = "definitions/attributes/tier.yaml"
BIG = "definitions/segments/big_spenders.yaml"
REGULARS = "definitions/segments/regulars.yaml"
APPROVALS = "definitions/governance/approvals.yaml"
# Everything reads the orders contract (identity does), so a contract change moves both
# segments' data hashes: without approvals each needs one (CDP604 on its `name:` line).
BOTH_SEGMENTS_NEED_APPROVAL = [f"{BIG}:2:7: CDP604", f"{REGULARS}:2:7: CDP604"]


@pytest.fixture
def repo(tmp_path: Path) -> CheckRepo:
    return CheckRepo(tmp_path)


def head(repo: CheckRepo, *args: str):
    """Compile, commit the head, run check against the previous commit."""
    repo.compile()
    repo.commit("head")
    return repo.cdpc("check", "--base", "HEAD~1", *args)


def col(repo: CheckRepo, rel: str, line_needle: str, value_needle: str) -> str:
    line = repo.line_of(rel, line_needle)
    text = repo.read(rel).splitlines()[line - 1]
    return f"{rel}:{line}:{text.index(value_needle) + 1}"


# --------------------------------------------------------------------------- contracts


def test_removed_field_is_breaking(repo):
    repo.edit(ORDERS, '  coupon: {type: string, pattern: "^[A-Z]+$"}\n', "")
    result = head(repo)
    assert result.exit_code == 1
    assert repo.findings(result.output) == [f"{ORDERS}:8:1: CDP602", *BOTH_SEGMENTS_NEED_APPROVAL]
    assert "field `coupon` removed; needs a MAJOR version bump, but the version is 1.0.0 (base 1.0.0)" in result.output
    assert "hint: set `version: 2.0.0`" in result.output


def test_removed_field_with_major_bump_passes_the_version_rule(repo):
    repo.edit(ORDERS, '  coupon: {type: string, pattern: "^[A-Z]+$"}\n', "")
    repo.edit(ORDERS, "version: 1.0.0", "version: 2.0.0")
    result = head(repo)
    assert repo.findings(result.output) == BOTH_SEGMENTS_NEED_APPROVAL


def test_widened_type_needs_only_a_minor_bump(repo):
    repo.edit(ORDERS, "amount: {type: integer, min: 0}", "amount: {type: bigint, min: 0}")
    result = head(repo)
    where = col(repo, ORDERS, "amount:", "bigint")
    assert repo.findings(result.output) == [f"{where}: CDP603", *BOTH_SEGMENTS_NEED_APPROVAL]
    assert "type integer -> bigint (widening); needs a MINOR version bump" in result.output

    repo.edit(ORDERS, "version: 1.0.0", "version: 1.1.0")
    result = head(repo)  # against the previous head: only the version moved
    assert repo.findings(result.output) == []
    assert result.exit_code == 0


def test_narrowed_type_is_breaking(repo):
    repo.edit(ORDERS, "amount: {type: integer, min: 0}", "amount: {type: bigint, min: 0}")
    repo.edit(ORDERS, "version: 1.0.0", "version: 1.1.0")
    repo.compile()
    repo.commit("widen")
    repo.edit(ORDERS, "amount: {type: bigint, min: 0}", "amount: {type: integer, min: 0}")
    repo.edit(ORDERS, "version: 1.1.0", "version: 1.2.0")  # a MINOR bump is not enough
    result = head(repo)
    where = col(repo, ORDERS, "amount:", "integer")
    assert repo.findings(result.output) == [f"{where}: CDP602", *BOTH_SEGMENTS_NEED_APPROVAL]
    assert "type bigint -> integer is not a widening" in result.output


def test_narrowed_accepted_values_is_breaking(repo):
    repo.edit(ORDERS, "accepted_values: [paid, refunded, pending]", "accepted_values: [paid, refunded]")
    result = head(repo)
    where = col(repo, ORDERS, "status:", "[paid")
    assert repo.findings(result.output) == [f"{where}: CDP602", *BOTH_SEGMENTS_NEED_APPROVAL]
    assert "accepted_values no longer accept `pending`" in result.output


def test_widened_accepted_values_needs_a_minor_bump(repo):
    repo.edit(ORDERS, "accepted_values: [paid, refunded, pending]", "accepted_values: [paid, refunded, pending, void]")
    result = head(repo)
    where = col(repo, ORDERS, "status:", "[paid")
    assert repo.findings(result.output) == [f"{where}: CDP603", *BOTH_SEGMENTS_NEED_APPROVAL]


def test_field_becoming_required_is_breaking(repo):
    repo.edit(ORDERS, "email: {type: string, pii: true}", "email: {type: string, pii: true, required: true}")
    result = head(repo)
    where = col(repo, ORDERS, "email:", "true}")
    assert repo.findings(result.output) == [f"{where}: CDP602", *BOTH_SEGMENTS_NEED_APPROVAL]
    assert "(became-required): field `email`: required: true added" in result.output


def test_tighter_min_is_breaking_and_looser_min_is_minor(repo):
    repo.edit(ORDERS, "min: 0}", "min: 1}")
    result = head(repo)
    where = col(repo, ORDERS, "amount:", "1}")
    assert repo.findings(result.output) == [f"{where}: CDP602", *BOTH_SEGMENTS_NEED_APPROVAL]
    assert "min 0 -> 1 is tighter" in result.output

    repo.edit(ORDERS, "min: 1}", "min: -5}")
    repo.edit(ORDERS, "version: 1.0.0", "version: 1.1.0")
    result = head(repo)
    assert repo.findings(result.output) == BOTH_SEGMENTS_NEED_APPROVAL  # looser: MINOR, and it got one


def test_pattern_change_is_breaking(repo):
    repo.edit(ORDERS, 'pattern: "^[A-Z]+$"', 'pattern: "^[A-Z]{4}$"')
    result = head(repo)
    where = col(repo, ORDERS, "coupon:", '"^[A-Z]{4}$"')
    assert repo.findings(result.output) == [f"{where}: CDP602", *BOTH_SEGMENTS_NEED_APPROVAL]


def test_retention_is_a_semantic_change_shortening_it_is_breaking(repo):
    """Adding or shortening a retention expires rows that were staged: MAJOR (CDP602), and a new
    data hash downstream (approvals void); lengthening it is MINOR."""
    repo.edit(ORDERS, "event_time: ordered_at\n", "event_time: ordered_at\nretention: 730d\n")
    result = head(repo)
    where = col(repo, ORDERS, "retention:", "730d")
    assert repo.findings(result.output) == [f"{where}: CDP602", *BOTH_SEGMENTS_NEED_APPROVAL]
    assert "(retention-shortened): retention 730d added: rows older than it are no longer staged" in result.output

    repo.edit(ORDERS, "version: 1.0.0", "version: 2.0.0")
    repo.compile()
    repo.commit("retention, with its bump")
    repo.edit(ORDERS, "retention: 730d", "retention: 1095d")
    result = head(repo)
    where = col(repo, ORDERS, "retention:", "1095d")
    assert repo.findings(result.output) == [f"{where}: CDP603", *BOTH_SEGMENTS_NEED_APPROVAL]
    assert "(retention-lengthened): retention 730d -> 1095d keeps every row that was kept" in result.output


def test_relation_change_is_breaking(repo):
    repo.edit(ORDERS, "relation: raw.orders", "relation: raw.web_orders")
    result = head(repo)
    assert repo.findings(result.output) == [f"{ORDERS}:5:11: CDP602", *BOTH_SEGMENTS_NEED_APPROVAL]
    assert "relation raw.orders -> raw.web_orders" in result.output


def test_primary_key_change_is_breaking(repo):
    repo.edit(ORDERS, "primary_key: [order_id]", "primary_key: [order_id, email]")
    result = head(repo)
    assert repo.findings(result.output) == [f"{ORDERS}:6:14: CDP602", *BOTH_SEGMENTS_NEED_APPROVAL]


def test_several_breaking_changes_are_all_reported(repo):
    repo.edit(ORDERS, "relation: raw.orders", "relation: raw.web_orders")
    repo.edit(ORDERS, "min: 0}", "min: 1}")
    result = head(repo)
    codes = repo.findings(result.output)
    assert codes == [f"{ORDERS}:5:11: CDP602", f"{col(repo, ORDERS, 'amount:', '1}')}: CDP602",
                     *BOTH_SEGMENTS_NEED_APPROVAL]


def test_description_only_edit_needs_no_bump_and_no_approval(repo):
    repo.edit(ORDERS, "description: Orders from the web shop.", "description: Orders from the web shop, all channels.")
    repo.edit(BIG, "description: Customers who spent 100 or more.", "description: Our best customers.")
    repo.edit(BIG, "owner: data@shop.example", "owner: crm@shop.example")
    repo.edit(ORDERS, "  email: {type: string, pii: true}", "  email: {type: string, pii: true, description: The buyer.}")
    result = head(repo, "--report", str(repo.top / "report.md"))
    assert result.exit_code == 0, result.output
    assert repo.findings(result.output) == []
    assert "2 changed in documentation only" in result.output
    report = (repo.top / "report.md").read_text()
    assert "| contract | `orders` | documentation only | 1.0.0 |" in report
    assert "No governed definition changed: no approval needed." in report


def test_reformatting_and_moving_a_definition_changes_nothing(repo):
    text = repo.read(BIG)
    repo.path(BIG).unlink()
    moved = "definitions/audiences/vip.yml"
    repo.write(moved, "# moved here\n" + "\n".join(reversed(text.strip().splitlines())) + "\n")
    result = head(repo)
    assert result.exit_code == 0, result.output
    assert "no definition changed" in result.output


# --------------------------------------------------------------------------- other kinds


def test_missing_minor_bump(repo):
    repo.edit(REGULARS, "exclude: [big_spenders]\n", "")
    result = head(repo)
    assert repo.findings(result.output) == [f"{REGULARS}:2:7: CDP604", f"{REGULARS}:3:10: CDP603"]
    assert ("segment `regulars`: change (exclude-removed): exclude removed: `big_spenders`; "
            "needs a MINOR version bump, but the version is 1.0.0 (base 1.0.0)") in result.output
    assert "hint: set `version: 1.1.0`" in result.output


def test_minor_bump_given(repo):
    repo.edit(REGULARS, "exclude: [big_spenders]\n", "")
    repo.edit(REGULARS, "version: 1.0.0", "version: 1.1.0")
    result = head(repo)
    assert repo.findings(result.output) == [f"{REGULARS}:2:7: CDP604"]


def test_where_change_needs_major(repo):
    repo.edit(BIG, "where: tier = 'gold'", "where: tier = 'gold' and spend > 500")
    repo.edit(BIG, "version: 1.0.0", "version: 1.1.0")
    result = head(repo)
    assert repo.findings(result.output) == [f"{BIG}:2:7: CDP604", f"{BIG}:5:8: CDP603", f"{REGULARS}:2:7: CDP604"]
    assert "where-changed" in result.output and "needs a MAJOR version bump" in result.output


def test_version_going_backwards(repo):
    repo.edit(BIG, "version: 1.0.0", "version: 0.9.0")
    result = head(repo)
    assert result.exit_code == 1
    assert repo.findings(result.output) == [f"{BIG}:3:10: CDP606"]
    assert "version went backwards, 1.0.0 on the base, 0.9.0 here" in result.output


def test_attribute_logic_change_without_bump(repo):
    repo.edit(SPEND, "where: status = 'paid'", "where: status in ('paid', 'pending')")
    result = head(repo)
    assert repo.findings(result.output) == [f"{SPEND}:8:8: CDP603", *BOTH_SEGMENTS_NEED_APPROVAL]


# --------------------------------------------------------------------------- approvals


def approve_all(repo: CheckRepo, by: str = "ana@shop.example") -> None:
    for name in ("big_spenders", "regulars"):
        result = repo.cdpc("approve", name, "--by", by)
        assert result.exit_code == 0, result.output


def test_upstream_attribute_change_voids_segment_approvals(repo):
    approve_all(repo)
    repo.commit("approved", author="ana@shop.example")
    assert repo.cdpc("check", "--base", "HEAD~1").exit_code == 0

    repo.edit(TIER, "spend >= 100", "spend >= 200")
    repo.edit(TIER, "version: 1.0.0", "version: 2.0.0")
    result = head(repo, "--report", str(repo.top / "report.md"))
    assert result.exit_code == 1
    assert repo.findings(result.output) == BOTH_SEGMENTS_NEED_APPROVAL
    assert "the approval of 1.0.0 (sha256:" in result.output and "is void: its hash changed" in result.output
    report = (repo.top / "report.md").read_text()
    assert "attribute `tier` reaches 2 segments (`big_spenders`, `regulars`); 2 syncs (`mailer/big_spenders`, `mailer/regulars`)" in report

    approve_all(repo, "raj@shop.example")
    repo.commit("re-approved", author="raj@shop.example")
    result = repo.cdpc("check", "--base", "HEAD~2")
    assert result.exit_code == 0, result.output


def test_new_governed_definition_needs_approval(repo):
    repo.write("definitions/segments/lapsed.yaml", "kind: segment\nname: lapsed\nversion: 1.0.0\nwhere: order_count = 0\nowner: crm@shop.example\n")
    result = head(repo)
    assert repo.findings(result.output) == ["definitions/segments/lapsed.yaml:2:7: CDP604"]
    assert repo.cdpc("approve", "lapsed", "--by", "raj@shop.example").exit_code == 0
    repo.commit("approved", author="raj@shop.example")
    assert repo.cdpc("check", "--base", "HEAD~2").exit_code == 0


def test_min_approvals_counts_distinct_listed_people(repo):
    repo.edit("definitions/project.yaml", "min_approvals: 1", "min_approvals: 2")
    repo.commit("the council wants two", author="ana@shop.example")  # merged: the base's policy
    repo.edit(BIG, "where: tier = 'gold'", "where: tier = 'gold' and spend > 500")
    repo.edit(BIG, "version: 1.0.0", "version: 2.0.0")
    repo.compile()
    repo.commit("change")
    approve_all(repo)
    # a hand-written approval by someone who is no approver does not count
    text = repo.read(APPROVALS).replace("approved_by: [ana@shop.example]", "approved_by: [ana@shop.example, eve@shop.example]", 1)
    repo.write(APPROVALS, text)
    repo.commit("approved", author="ana@shop.example")
    result = repo.cdpc("check", "--base", "HEAD~2")
    lines = repo.findings(result.output)
    eve = col(repo, APPROVALS, "eve@shop.example", "eve@shop.example")  # on the name itself
    assert lines == [f"{eve}: CDP605", f"{BIG}:2:7: CDP604", f"{REGULARS}:2:7: CDP604"]
    assert "1 of 2 approvals (by ana@shop.example); not approvers: eve@shop.example" in result.output


def test_no_approvers_means_no_approval_required(repo):
    repo.edit("definitions/project.yaml", "approvers: [ana@shop.example, raj@shop.example]", "approvers: []")
    repo.compile()
    repo.commit("no council")
    repo.edit(TIER, "spend >= 100", "spend >= 200")
    repo.edit(TIER, "version: 1.0.0", "version: 2.0.0")
    result = head(repo)
    assert result.exit_code == 0, result.output


def test_missing_approvals_file_means_no_approvals(repo):
    repo.path(APPROVALS).unlink()
    repo.edit(BIG, "where: tier = 'gold'", "where: tier = 'gold' or spend > 500")
    repo.edit(BIG, "version: 1.0.0", "version: 2.0.0")
    result = head(repo)
    assert repo.findings(result.output) == [f"{BIG}:2:7: CDP604", f"{REGULARS}:2:7: CDP604"]


# --------------------------------------------------------------------------- without a base; environment


def test_stale_generated(repo):
    repo.edit(BIG, "where: tier = 'gold'", "where: tier = 'basic'")
    result = repo.cdpc("check")
    assert result.exit_code == 1
    sql = "generated/duckdb/009_segments__big_spenders.sql"
    line = next(n for n, text in enumerate((repo.root / sql).read_text().splitlines(), 1) if "'gold'" in text)
    assert repo.findings(result.output) == [f"{sql}:{line}:1: CDP601"]
    assert "generated/ is stale: 2 changed files (duckdb/009_segments__big_spenders.sql, manifest.json)" in result.output
    assert "hint: run `cdpc compile` and commit generated/" in result.output
    repo.compile()
    assert repo.cdpc("check").exit_code == 0


def test_missing_generated(repo):
    import shutil
    shutil.rmtree(repo.root / "generated")
    result = repo.cdpc("check")
    assert repo.findings(result.output) == ["generated/duckdb/000_setup__shop.sql:1:1: CDP601"]
    assert "generated/ is missing" in result.output


def test_without_base_a_stale_approval_is_a_warning(repo):
    approve_all(repo)
    repo.edit(TIER, "spend >= 100", "spend >= 200")
    repo.compile()
    result = repo.cdpc("check")
    assert result.exit_code == 0
    assert repo.findings(result.output) == [f"{APPROVALS}:4:5: CDP609", f"{APPROVALS}:5:5: CDP609"]
    assert "warning: the approval of segment `big_spenders` (1.0.0, sha256:" in result.output


def test_base_ref_that_does_not_exist(repo):
    result = repo.cdpc("check", "--base", "origin/nope")
    assert result.exit_code == 2
    assert "CDP902 base ref `origin/nope` does not exist in this repository" in result.output
    assert "fetch-depth: 0" in result.output
    assert "Traceback" not in result.output


def test_not_a_git_repository(tmp_path):
    import shutil
    from checkrepo import FIXTURE
    shutil.copytree(FIXTURE, tmp_path / "p")
    from click.testing import CliRunner
    from compiler.cli import cli
    result = CliRunner().invoke(cli, ["check", "--base", "main", "--project", str(tmp_path / "p")])
    assert result.exit_code == 2
    assert "is not inside a git repository" in result.output


def test_invalid_head_reports_validation_errors_only(repo):
    repo.edit(BIG, "where: tier = 'gold'", "where: tierr = 'gold'")
    result = repo.cdpc("check", "--base", "HEAD")
    assert result.exit_code == 1
    assert [line.split(": ")[1].split()[0] for line in repo.findings(result.output)] == ["CDP303"]


def test_base_that_does_not_validate(repo):
    repo.edit(BIG, "where: tier = 'gold'", "where: tierr = 'gold'")
    repo.commit("broken base")
    repo.edit(BIG, "where: tierr = 'gold'", "where: tier = 'gold'")
    result = head(repo)
    assert repo.findings(result.output) == [f"{BIG}:2:7: CDP604", f"{REGULARS}:2:7: CDP604"]
    assert "warning: the base HEAD~1" in result.output and "does not validate" in result.output


def test_base_without_definitions(tmp_path):
    repo = CheckRepo(tmp_path, subdir="cdp")
    repo.git("rm", "-rq", "cdp/definitions")
    repo.commit("no project yet")
    repo.git("checkout", "-q", "HEAD~1", "--", "cdp/definitions")
    result = head(repo)
    assert "no definitions/ there, everything is new" in result.output
    assert repo.findings(result.output) == BOTH_SEGMENTS_NEED_APPROVAL


# --------------------------------------------------------------------------- output formats


def test_format_github(tmp_path):
    repo = CheckRepo(tmp_path, subdir="cdp")  # annotations name files from the repository root
    repo.edit(ORDERS, "min: 0}", "min: 1}")
    result = head(repo, "--format", "github")
    lines = [line for line in result.output.splitlines() if line.startswith("::")]
    where = col(repo, ORDERS, "amount:", "1}").split(":")
    assert lines[0].startswith(f"::error file=cdp/{ORDERS},line={where[1]},col={where[2]}::CDP602 contract `orders`: "
                               "breaking change (min-tightened): field `amount`: min 0 -> 1 is tighter;")
    assert lines[0].endswith("%0Ahint: set `version: 2.0.0`")
    assert lines[1].startswith(f"::error file=cdp/{BIG},line=2,col=7::CDP604 segment `big_spenders` 1.0.0 changed")
    assert len(lines) == 3
    assert result.output.splitlines()[-1] == "check failed: 3 errors, 0 warnings"


def test_format_github_warning_without_file(repo):
    repo.edit(BIG, "where: tier = 'gold'", "where: tierr = 'gold'")
    repo.commit("broken base")
    repo.edit(BIG, "where: tierr = 'gold'", "where: tier = 'gold'")
    result = head(repo, "--format", "github")
    assert any(line.startswith("::warning::CDP608 the base HEAD~1") for line in result.output.splitlines())


def test_format_json(repo):
    import json
    repo.edit(ORDERS, "relation: raw.orders", "relation: raw.web_orders")
    result = head(repo, "--format", "json")
    content = json.loads(result.stdout)
    assert content["ok"] is False and content["errors"] == 3
    assert content["diagnostics"][0]["code"] == "CDP602"
    orders = next(c for c in content["changes"] if c["name"] == "orders")
    assert orders["change"] == "logic" and orders["required_bump"] == "major"
    assert orders["findings"] == [{"rule": "relation-changed", "bump": "major", "detail": "relation raw.orders -> raw.web_orders"}]


def test_background_compile_falls_back_to_the_caller():
    from compiler import background

    assert background.Background(lambda: {"a": [1, 2]}).result() == {"a": [1, 2]}
    calls = []

    def boom():
        calls.append(1)
        raise ValueError("the real error")
    with pytest.raises(ValueError, match="the real error"):
        background.Background(boom).result()
    assert calls == [1]  # the child's attempt happened elsewhere; the caller re-ran it and raised


def test_check_without_fork_gives_the_same_findings(repo, monkeypatch):
    from compiler import background

    repo.edit(ORDERS, "relation: raw.orders", "relation: raw.web_orders")
    result = head(repo)
    monkeypatch.setattr(background, "ENABLED", False)
    assert repo.cdpc("check", "--base", "HEAD~1").output == result.output
