"""The reviewer's Markdown report (`cdpc check --report`), and the SQL diff and reach behind it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from checkrepo import CheckRepo  # noqa: E402

from compiler.check.sqldiff import diff_sql, sql_key  # noqa: E402

TIER = "definitions/attributes/tier.yaml"


@pytest.fixture
def repo(tmp_path: Path) -> CheckRepo:
    return CheckRepo(tmp_path)


def report_of(repo: CheckRepo, *args: str, base: str = "HEAD") -> tuple[object, str]:
    path = repo.top / "report.md"
    result = repo.cdpc("check", "--base", base, "--report", str(path), *args)
    return result, path.read_text(encoding="utf-8")


def sections(report: str) -> list[str]:
    return [line for line in report.splitlines() if line.startswith("#")]


def test_report_sections_for_an_attribute_change(repo):
    repo.edit(TIER, "spend >= 100", "spend >= 50")
    repo.edit(TIER, "version: 1.0.0", "version: 2.0.0")
    repo.write("definitions/attributes/first_order.yaml",
               "kind: attribute\nname: first_order\nversion: 1.0.0\ntype: timestamp\nsource: orders\n"
               "aggregate: min(ordered_at)\n")
    repo.path("definitions/attributes/order_count.yaml").unlink()
    repo.edit("definitions/segments/regulars.yaml", "where: order_count >= 2", "where: first_order is not null")
    repo.edit("definitions/segments/regulars.yaml", "version: 1.0.0", "version: 2.0.0")
    repo.compile()
    repo.commit("change")
    assert repo.cdpc("approve", "big_spenders", "--by", "ana@shop.example").exit_code == 0
    repo.commit("approved", author="ana@shop.example")
    result, report = report_of(repo, "--data", str(repo.root / "data"), "--as-of", "2026-02-01", base="HEAD~2")
    assert result.exit_code == 1  # regulars is not approved
    assert f"report written to {repo.top / 'report.md'}" in result.output
    assert sections(report) == ["# cdpc check: shop", "## Findings", "## Tests and owners", "## Definitions", "### What changed",
                                "## Downstream impact", "## Generated SQL", "## Audience impact", "## Approvals"]
    assert "❌ **check failed: 1 error, 0 warnings**" in report
    assert "| ❌ | `definitions/segments/regulars.yaml:2:7` | CDP604 |" in report
    # added, removed and changed definitions, breaking or not
    assert "| attribute | `first_order` | added | 1.0.0 |" in report
    assert "| attribute | `order_count` | removed | 1.0.0 |" in report
    assert "| attribute | `tier` | changed | 1.0.0 → 2.0.0 | MAJOR | **yes** |" in report
    assert ("  - ⚠️ breaking: expression `CASE WHEN spend >= 100 THEN 'gold' ELSE 'basic' END` -> "
            "`CASE WHEN spend >= 50 THEN 'gold' ELSE 'basic' END` (`attribute-logic-changed`, MAJOR)") in report
    assert "- segment: `big_spenders`" in report  # changed only upstream, in the collapsed list
    # downstream impact through lineage
    assert ("- attribute `tier` reaches 2 segments (`big_spenders`, `regulars`); "
            "2 syncs (`mailer/big_spenders`, `mailer/regulars`)") in report
    assert "- attribute `first_order` reaches 1 segment (`regulars`); 1 sync (`mailer/regulars`)" in report
    # SQL diff per target: files matched by <layer>__<name>, whatever their run-order prefix
    assert "| duckdb | 1 | 1 | 3 |" in report
    assert "<details><summary>duckdb: 5 files," in report
    assert "`attributes__first_order.sql` (added), `attributes__order_count.sql` (removed), " \
           "`attributes__tier.sql` (changed), `profiles__customer.sql` (changed), `segments__regulars.sql` (changed)" in report
    assert "```diff\n--- /dev/null\n+++ b/generated/duckdb/" in report
    assert "-  CAST(CASE WHEN spend >= 100 THEN 'gold' ELSE 'basic' END AS TEXT) AS value" in report
    # audience impact on the data
    assert "Base and head run on the same data, as of 2026-02-01 00:00:00." in report
    assert "| segment `big_spenders` | 1 | 2 | +1 | −0 |" in report
    assert "| segment `regulars` | 1 | 2 | +2 | −1 |" in report
    assert "| sync `mailer/regulars` | 1 | 1 | +1 | −1 |" in report
    assert "| sync `mailer/big_spenders` | 1 | 2 | +1 | −0 |" in report
    # approvals present and missing
    assert "| segment `big_spenders` | 1.0.0 | `sha256:" in report and "| ana@shop.example | 1 | ✅ approved |" in report
    assert "| segment `regulars` | 2.0.0 | `sha256:" in report and "| – | 1 | ❌ missing 1 |" in report
    assert "cdpc approve regulars" in report


def test_report_of_a_breaking_contract_change(repo):
    repo.edit("definitions/contracts/orders.yaml", "accepted_values: [paid, refunded, pending]",
              "accepted_values: [paid, refunded]")
    repo.compile()
    _, report = report_of(repo)
    assert "| contract | `orders` | changed | 1.0.0 | MAJOR | **yes** |" in report
    assert "- **contract `orders`** needs a MAJOR bump" in report
    assert ("  - ⚠️ breaking: field `status`: accepted_values no longer accept `pending` "
            "(`accepted-values-narrowed`, MAJOR)") in report


def test_report_without_changes(repo):
    result, report = report_of(repo)
    assert result.exit_code == 0
    assert "✅ **check passed: 0 errors, 0 warnings**" in report
    assert "No definition changed." in report
    assert "No generated SQL changed." in report
    assert "No governed definition changed: no approval needed." in report


def test_report_without_base(repo):
    path = repo.top / "report.md"
    result = repo.cdpc("check", "--report", str(path))
    assert result.exit_code == 0
    report = path.read_text()
    assert "No `--base` was given" in report
    assert sections(report) == ["# cdpc check: shop", "## Findings", "## Tests and owners"]


def test_report_when_the_head_does_not_validate(repo):
    repo.edit("definitions/segments/big_spenders.yaml", "where: tier = 'gold'", "where: tierr = 'gold'")
    result, report = report_of(repo)
    assert result.exit_code == 1
    assert "CDP303" in report and "## Definitions" not in report


def test_data_without_report_is_a_usage_error(repo):
    result = repo.cdpc("check", "--base", "HEAD", "--data", str(repo.root / "data"))
    assert result.exit_code == 2
    assert "--data needs --base and --report" in result.output


def test_missing_data_is_a_warning_in_the_report(repo, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    repo.edit(TIER, "spend >= 100", "spend >= 50")
    repo.edit(TIER, "version: 1.0.0", "version: 2.0.0")
    repo.compile()
    result, report = report_of(repo, "--data", str(empty))
    assert "CDP610 warning: the base could not be run: CDP501" in result.output
    assert "- ⚠️ the base could not be run: CDP501" in report


def test_sql_files_match_by_layer_and_name():
    assert sql_key("019_attributes__spend.sql") == "attributes__spend.sql"
    base = {"duckdb/001_staging__a.sql": "x\n", "duckdb/002_attributes__b.sql": "y\n"}
    head = {"duckdb/001_staging__a.sql": "x\n", "duckdb/002_attributes__a2.sql": "new\n",
            "duckdb/003_attributes__b.sql": "y\n"}
    [target] = diff_sql(base, head)
    assert [(f.key, f.status, f.plus, f.minus) for f in target.files] == [("attributes__a2.sql", "added", 1, 0)]
