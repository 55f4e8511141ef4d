"""`cdpc approve`: records the current data hash and version, editing approvals.yaml as text."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from checkrepo import CheckRepo  # noqa: E402

from compiler.fingerprint import fingerprints  # noqa: E402
from compiler.project import load_project  # noqa: E402

APPROVALS = "definitions/governance/approvals.yaml"


@pytest.fixture
def repo(tmp_path: Path) -> CheckRepo:
    return CheckRepo(tmp_path)


def current(repo: CheckRepo, node: str) -> str:
    project = load_project(repo.root)
    return fingerprints(project.definitions, project.lineage)[node].data_hash


def today() -> str:
    return dt.date.today().isoformat()


def test_approve_replaces_the_empty_list_and_keeps_comments(repo):
    result = repo.cdpc("approve", "big_spenders", "--by", "ana@shop.example")
    assert result.exit_code == 0, result.output
    digest = current(repo, "segment:big_spenders")
    assert f"approved segment `big_spenders` 1.0.0 ({digest}) by ana@shop.example" in result.output
    assert repo.read(APPROVALS) == (
        "# Council sign-offs: written by `cdpc approve`. Keep this comment.\n"
        "kind: approvals\n"
        "approvals: # none yet\n"
        f'  - {{segment: big_spenders, version: 1.0.0, hash: "{digest}", approved_by: [ana@shop.example], '
        f"approved_at: {today()}}}\n")


def test_second_entry_and_second_approver(repo):
    assert repo.cdpc("approve", "big_spenders", "--by", "ana@shop.example").exit_code == 0
    assert repo.cdpc("approve", "regulars", "--by", "raj@shop.example").exit_code == 0
    result = repo.cdpc("approve", "big_spenders", "--by", "RAJ@shop.example")  # matched case-insensitively
    assert result.exit_code == 0, result.output
    lines = repo.read(APPROVALS).splitlines()
    assert lines[3].startswith("  - {segment: big_spenders, version: 1.0.0, hash: \"sha256:")
    assert lines[3].endswith(f"approved_by: [ana@shop.example, raj@shop.example], approved_at: {today()}}}")
    assert lines[4].startswith("  - {segment: regulars, version: 1.0.0,")
    assert len(lines) == 5

    before = repo.read(APPROVALS)
    again = repo.cdpc("approve", "big_spenders", "--by", "ana@shop.example")
    assert again.exit_code == 0
    assert "is already approved by ana@shop.example" in again.output
    assert repo.read(APPROVALS) == before


def test_approve_after_a_change_adds_a_new_entry(repo):
    assert repo.cdpc("approve", "big_spenders", "--by", "ana@shop.example").exit_code == 0
    repo.edit("definitions/segments/big_spenders.yaml", "where: tier = 'gold'", "where: tier = 'gold' and spend > 500")
    repo.edit("definitions/segments/big_spenders.yaml", "version: 1.0.0", "version: 2.0.0")
    assert repo.cdpc("approve", "big_spenders", "--by", "ana@shop.example").exit_code == 0
    lines = repo.read(APPROVALS).splitlines()
    assert "version: 1.0.0" in lines[3] and "version: 2.0.0" in lines[4]
    assert current(repo, "segment:big_spenders") in lines[4]


def test_approve_refuses_a_non_approver(repo):
    before = repo.read(APPROVALS)
    result = repo.cdpc("approve", "big_spenders", "--by", "eve@shop.example")
    assert result.exit_code == 1
    assert repo.findings(result.output) == ["definitions/project.yaml:8:14: CDP605"]
    assert "`eve@shop.example` is not in governance.approvers (ana@shop.example, raj@shop.example)" in result.output
    assert repo.read(APPROVALS) == before


def test_approve_with_no_approvers_listed(repo):
    repo.edit("definitions/project.yaml", "approvers: [ana@shop.example, raj@shop.example]", "approvers: []")
    result = repo.cdpc("approve", "big_spenders", "--by", "ana@shop.example")
    assert result.exit_code == 1
    assert "CDP605" in result.output and "governance.approvers is empty" in result.output


def test_approve_creates_a_missing_file(repo):
    repo.path(APPROVALS).unlink()
    result = repo.cdpc("approve", "regulars", "--by", "raj@shop.example")
    assert result.exit_code == 0, result.output
    text = repo.read(APPROVALS)
    assert text.startswith("# Governance council sign-offs")
    assert "kind: approvals\napprovals:\n  - {segment: regulars, version: 1.0.0" in text
    assert repo.cdpc("validate").exit_code == 0


def test_approve_keeps_a_block_style_layout(repo):
    repo.write(APPROVALS, (
        "kind: approvals\n"
        "approvals:\n"
        "# the first sign-off\n"
        "- segment: regulars\n"
        "  version: 0.9.0\n"
        "  hash: \"sha256:old\"\n"
        "  approved_by:\n"
        "    - ana@shop.example\n"
        "  approved_at: 2026-01-01\n"
        "\n"
        "# trailing comment stays last\n"))
    assert repo.cdpc("approve", "regulars", "--by", "raj@shop.example").exit_code == 0
    digest = current(repo, "segment:regulars")
    assert repo.read(APPROVALS) == (
        "kind: approvals\n"
        "approvals:\n"
        "# the first sign-off\n"
        "- segment: regulars\n"
        "  version: 0.9.0\n"
        "  hash: \"sha256:old\"\n"
        "  approved_by:\n"
        "    - ana@shop.example\n"
        "  approved_at: 2026-01-01\n"
        "- segment: regulars\n"
        "  version: 1.0.0\n"
        f"  hash: \"{digest}\"\n"
        "  approved_by: [raj@shop.example]\n"
        f"  approved_at: {today()}\n"
        "\n"
        "# trailing comment stays last\n")


def test_second_approver_in_a_block_list(repo):
    digest = current(repo, "segment:regulars")
    repo.write(APPROVALS, (
        "kind: approvals\n"
        "approvals:\n"
        "  - segment: regulars   # the one we care about\n"
        "    version: 1.0.0\n"
        f"    hash: '{digest}'\n"
        "    approved_by:\n"
        "      - ana@shop.example   # council chair\n"
        "    approved_at: 2026-01-01\n"))
    assert repo.cdpc("approve", "regulars", "--by", "raj@shop.example").exit_code == 0
    assert repo.read(APPROVALS) == (
        "kind: approvals\n"
        "approvals:\n"
        "  - segment: regulars   # the one we care about\n"
        "    version: 1.0.0\n"
        f"    hash: '{digest}'\n"
        "    approved_by:\n"
        "      - ana@shop.example   # council chair\n"
        "      - raj@shop.example\n"
        "    approved_at: 2026-01-01\n")


def test_approve_in_a_multi_document_file(repo):
    repo.path(APPROVALS).unlink()
    repo.write("definitions/governance/all.yaml", (
        "kind: approvals\n"
        "approvals: [{segment: regulars, version: 0.1.0, hash: \"sha256:x\", approved_by: [ana@shop.example]}]\n"
        "---\n"
        "kind: segment\n"
        "name: lapsed\n"
        "version: 1.0.0\n"
        "where: order_count = 0\n"))
    assert repo.cdpc("approve", "lapsed", "--by", "ana@shop.example").exit_code == 0
    text = repo.read("definitions/governance/all.yaml")
    first, second = text.split("---\n")
    assert first.startswith("kind: approvals\napprovals: [{segment: regulars, version: 0.1.0, hash: \"sha256:x\", "
                            "approved_by: [ana@shop.example]}, {segment: lapsed, version: 1.0.0, hash: \"sha256:")
    assert second == "kind: segment\nname: lapsed\nversion: 1.0.0\nwhere: order_count = 0\n"


def test_approve_another_kind(repo):
    result = repo.cdpc("approve", "tier", "--by", "ana@shop.example")  # the only definition named tier
    assert result.exit_code == 0, result.output
    assert "approved attribute `tier` 1.0.0" in result.output
    assert "{attribute: tier, version: 1.0.0," in repo.read(APPROVALS)
    result = repo.cdpc("approve", "orders", "--by", "ana@shop.example", "--kind", "contract")
    assert result.exit_code == 0 and "{contract: orders, version: 1.0.0," in repo.read(APPROVALS)


def test_approve_unknown_name_is_a_usage_error(repo):
    result = repo.cdpc("approve", "big_spender", "--by", "ana@shop.example")
    assert result.exit_code == 2
    assert "no segment named `big_spender`; did you mean `big_spenders`?" in result.output
    result = repo.cdpc("approve", "tier", "--by", "ana@shop.example", "--kind", "segment")
    assert result.exit_code == 2


def test_approve_needs_a_valid_project(repo):
    repo.edit("definitions/segments/big_spenders.yaml", "where: tier = 'gold'", "where: tierr = 'gold'")
    result = repo.cdpc("approve", "big_spenders", "--by", "ana@shop.example")
    assert result.exit_code == 1
    assert "CDP303" in result.output


def test_approved_then_check_passes(repo):
    repo.edit("definitions/attributes/tier.yaml", "spend >= 100", "spend >= 150")
    repo.edit("definitions/attributes/tier.yaml", "version: 1.0.0", "version: 2.0.0")
    repo.compile()
    assert repo.cdpc("check", "--base", "HEAD").exit_code == 1
    repo.commit("change")
    for name in ("big_spenders", "regulars"):
        assert repo.cdpc("approve", name, "--by", "ana@shop.example").exit_code == 0
    result = repo.cdpc("check", "--base", "HEAD~1")
    assert result.exit_code == 1 and "CDP615" in result.output  # approvals count once committed
    repo.commit("approved", author="ana@shop.example")
    result = repo.cdpc("check", "--base", "HEAD~2")
    assert result.exit_code == 0, result.output
