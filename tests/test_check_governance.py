"""Governance that the change it governs cannot switch off (docs/governance.md, "Approval flow"), attacked on real git
repositories with real SSH-signed commits.

Every test starts from the fixture shop with a base whose policy requires signed
approvals: ana's and raj's keys are in the allowed-signers file, eve (who writes the
pull requests) is no approver. Each attack is one test; each says which code stops it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from checkrepo import CheckRepo  # noqa: E402

from compiler.fingerprint import fingerprints  # noqa: E402
from compiler.project import load_project  # noqa: E402

PROJECT = "definitions/project.yaml"
APPROVALS = "definitions/governance/approvals.yaml"
SIGNERS = "definitions/governance/allowed_signers"
TIER = "definitions/attributes/tier.yaml"
SPEND = "definitions/attributes/spend.yaml"
ORDERS = "definitions/contracts/orders.yaml"
BIG = "definitions/segments/big_spenders.yaml"
REGULARS = "definitions/segments/regulars.yaml"
ANA, RAJ, EVE = "ana@shop.example", "raj@shop.example", "eve@shop.example"
SEGMENTS = ("big_spenders", "regulars")


class Council:
    def __init__(self, tmp_path: Path, signed: bool = True):
        self.repo = repo = CheckRepo(tmp_path)
        self.keys = {who: repo.keygen(who) for who in ("ana", "raj", "eve", "ana_laptop")}
        repo.write(SIGNERS, f"{ANA} {self.public('ana')}\n{RAJ} {self.public('raj')}\n")
        if signed:
            repo.edit(PROJECT, "min_approvals: 1",
                      f"min_approvals: 1\n  require_signed: true\n  allowed_signers: {SIGNERS}")
        repo.compile()
        self.base = repo.commit("the council's policy", author=ANA)

    def public(self, key: str) -> str:
        """`ssh-ed25519 AAAA…`: the key as an allowed-signers line names it."""
        return " ".join(Path(str(self.keys[key]) + ".pub").read_text().split()[:2])

    def change_tier(self, author: str = EVE, key: str | None = None) -> None:
        """The pull request: tier's threshold moves; both segments (and the mailer) change upstream."""
        self.repo.edit(TIER, "spend >= 100", "spend >= 200")
        self.repo.edit(TIER, "version: 1.0.0", "version: 2.0.0")
        self.repo.compile()
        self.repo.commit("raise the gold threshold", author=author, key=self.keys[key] if key else None)

    def approve(self, by: str, *names: str, kind: str | None = None, base: str | None = None) -> None:
        for name in names:
            result = self.repo.cdpc("approve", name, "--by", by, *(["--kind", kind] if kind else []),
                                    *(["--base", base] if base else []))
            assert result.exit_code == 0, result.output

    def commit(self, message: str, author: str, key: str | None = None) -> str:
        return self.repo.commit(message, author=author, key=self.keys[key] if key else None)

    def check(self, *args: str):
        return self.repo.cdpc("check", "--base", self.base, *args)

    def codes(self, result) -> list[str]:
        return [line.rsplit(": ", 1)[1] for line in self.repo.findings(result.output)]


@pytest.fixture
def council(tmp_path: Path) -> Council:
    return Council(tmp_path)


def data_hash(repo: CheckRepo, node: str) -> str:
    project = load_project(repo.root)
    return fingerprints(project.definitions, project.lineage)[node].data_hash


# --------------------------------------------------------------------------- the flow that works


def test_the_approver_signs_her_own_approval_and_check_passes(council):
    council.change_tier()
    council.approve(ANA, *SEGMENTS)
    council.commit("approve", ANA, key="ana")
    result = council.check()
    assert result.exit_code == 0, result.output


def test_approvals_merged_on_the_base_count_without_history(council):
    council.approve(ANA, *SEGMENTS)
    council.commit("approve", ANA, key="ana")
    council.base = council.repo.git("rev-parse", "HEAD").strip()
    council.repo.edit(BIG, "description: Customers who spent 100 or more.", "description: Our best.")
    council.repo.compile()
    council.commit("docs", EVE)
    assert council.check().exit_code == 0


# --------------------------------------------------------------------------- forged approvals


def test_forged_approval_in_the_authors_own_commit(council):
    council.change_tier()
    council.approve(ANA, *SEGMENTS)  # eve writes ana's name into approvals.yaml
    council.commit("approve", EVE, key="eve")
    result = council.check()
    assert result.exit_code == 1
    assert sorted(council.codes(result)) == ["CDP604", "CDP604", "CDP611", "CDP611"]
    assert ("the approval of segment `big_spenders` by ana@shop.example does not count: commit "
            in result.output and "is authored by eve@shop.example, not by ana@shop.example" in result.output)


def test_forged_author_without_a_signature(council):
    council.change_tier()
    council.approve(ANA, *SEGMENTS)
    council.commit("approve", ANA)  # `git commit --author=ana`: anyone can, nobody can sign for her
    result = council.check()
    assert sorted(council.codes(result)) == ["CDP604", "CDP604", "CDP612", "CDP612"]
    assert "is not signed, and the base requires signed approvals" in result.output


def test_forged_author_signed_with_the_forgers_key(council):
    council.change_tier()
    council.approve(ANA, *SEGMENTS)
    council.commit("approve", ANA, key="eve")
    result = council.check()
    assert sorted(council.codes(result)) == ["CDP604", "CDP604", "CDP613", "CDP613"]
    assert "a key that the base's allowed-signers file does not list" in result.output


def test_signed_with_a_key_not_in_allowed_signers(council):
    council.change_tier()
    council.approve(ANA, *SEGMENTS)
    council.commit("approve", ANA, key="ana_laptop")  # ana's, but never registered
    result = council.check()
    assert sorted(council.codes(result)) == ["CDP604", "CDP604", "CDP613", "CDP613"]


def test_signed_with_another_approvers_key(council):
    council.change_tier()
    council.approve(ANA, *SEGMENTS)
    council.commit("approve", ANA, key="raj")  # a key the file lists, for raj
    result = council.check()
    assert sorted(council.codes(result)) == ["CDP604", "CDP604", "CDP613", "CDP613"]
    assert "lists for raj@shop.example, not for ana@shop.example" in result.output


def test_a_key_added_in_the_change_does_not_count_yet(council):
    council.change_tier()
    signers = council.repo.read(SIGNERS)
    council.repo.write(SIGNERS, signers + f"{ANA} {council.public('ana_laptop')}\n")
    council.commit("my new laptop", EVE)
    council.approve(ANA, *SEGMENTS)
    council.commit("approve", ANA, key="ana_laptop")
    result = council.check()
    assert sorted(council.codes(result)) == ["CDP604", "CDP604", "CDP613", "CDP613", "CDP616"]
    assert "the keys in definitions/governance/allowed_signers changed" in result.output


def test_uncommitted_approval_does_not_count(council):
    council.change_tier()
    council.approve(ANA, *SEGMENTS)
    result = council.check()
    assert sorted(council.codes(result)) == ["CDP604", "CDP604", "CDP615", "CDP615"]


# --------------------------------------------------------------------------- the policy comes from the base


def test_policy_switched_off_in_the_same_change(council):
    council.repo.edit(PROJECT, "require_approval: [segment]", "require_approval: []")
    council.repo.edit(PROJECT, "approvers: [ana@shop.example, raj@shop.example]", "approvers: []")
    council.change_tier()
    report = council.repo.top / "report.md"
    result = council.check("--report", str(report))
    assert result.exit_code == 1
    assert sorted(council.codes(result)) == ["CDP604", "CDP604", "CDP616"]
    assert ("the governance policy changed (approvers loses ana@shop.example, raj@shop.example; "
            "require_approval loses segment) and needs 1 approval from the base's approvers") in result.output
    text = report.read_text()
    assert "| project | `shop` | governance policy changed |" in text and "documentation only" not in text
    assert "| governance policy |" in text and "cdpc approve shop --kind project" in text

    # the base's council may approve it (raj did not write it): then it merges
    council.approve(RAJ, "shop", kind="project", base=council.base)
    council.approve(RAJ, *SEGMENTS, base=council.base)
    council.commit("approve", RAJ, key="raj")
    result = council.check()
    assert result.exit_code == 0, result.output


def test_min_approvals_lowered_in_the_change_still_needs_the_base_count(council):
    council.repo.edit(PROJECT, "min_approvals: 1", "min_approvals: 2")
    council.commit("two sign-offs", ANA)
    council.base = council.repo.git("rev-parse", "HEAD").strip()
    council.repo.edit(PROJECT, "min_approvals: 2", "min_approvals: 1")
    council.change_tier()
    council.approve(ANA, *SEGMENTS)
    council.commit("approve", ANA, key="ana")
    result = council.check()
    assert sorted(council.codes(result)) == ["CDP604", "CDP604", "CDP616"]
    assert "1 of 2 approvals (by ana@shop.example)" in result.output


def test_self_approval_by_adding_oneself_to_the_council(council):
    council.repo.edit(PROJECT, "approvers: [ana@shop.example, raj@shop.example]",
                      "approvers: [ana@shop.example, raj@shop.example, eve@shop.example]")
    council.repo.write(SIGNERS, council.repo.read(SIGNERS) + f"{EVE} {council.public('eve')}\n")
    council.change_tier()
    council.approve(EVE, *SEGMENTS)
    council.approve(EVE, "shop", kind="project")
    council.commit("approve", EVE, key="eve")
    result = council.check()
    assert result.exit_code == 1
    assert sorted(council.codes(result)) == ["CDP604", "CDP604", "CDP605", "CDP605", "CDP605", "CDP616"]
    assert "is not in the base's governance.approvers" in result.output


# --------------------------------------------------------------------------- four eyes


def test_an_approver_who_edited_something_upstream_does_not_count(council):
    council.change_tier(author=ANA, key="ana")
    council.approve(ANA, *SEGMENTS)
    council.commit("approve", ANA, key="ana")
    result = council.check()
    assert sorted(council.codes(result)) == ["CDP604", "CDP604", "CDP614", "CDP614"]
    assert ("ana@shop.example authored commit" in result.output
            and "which edits definitions/attributes/tier.yaml (attribute `tier`, upstream)" in result.output)

    council.approve(RAJ, *SEGMENTS)  # the other approver reviews it
    council.commit("approve", RAJ, key="raj")
    result = council.check()
    assert sorted(council.codes(result)) == ["CDP614", "CDP614"]  # ana's entries stay refused
    council.repo.write(APPROVALS, council.repo.read(APPROVALS).replace("ana@shop.example, ", ""))
    council.commit("drop my own approvals", ANA)
    assert council.check().exit_code == 0


def test_an_edit_elsewhere_does_not_bar_an_approver(council):
    council.change_tier()
    council.repo.write("definitions/segments/lapsed.yaml",
                       "kind: segment\nname: lapsed\nversion: 1.0.0\nwhere: order_count = 0\nowner: crm@shop.example\n")
    council.repo.compile()
    council.commit("a new audience", RAJ)  # raj wrote lapsed: it is not upstream of the others
    council.approve(RAJ, *SEGMENTS)
    council.approve(ANA, "lapsed")
    council.commit("approve", RAJ, key="raj")
    result = council.check()
    assert sorted(council.codes(result)) == ["CDP604", "CDP611"]  # ana's approval of lapsed is in raj's commit


# --------------------------------------------------------------------------- what voids an approval


def approved_base(council: Council) -> None:
    council.approve(ANA, *SEGMENTS)
    council.commit("approved", ANA, key="ana")
    council.base = council.repo.git("rev-parse", "HEAD").strip()


def test_description_only_edit_is_still_free(council):
    approved_base(council)
    council.repo.edit(SPEND, "description: Paid order amounts.", "description: >\n  What members paid.")
    council.repo.edit(ORDERS, "email: {type: string, pii: true}", "email: {type: string, pii: true, description: Buyer.}")
    council.repo.compile()
    council.commit("docs", EVE)
    result = council.check()
    assert result.exit_code == 0, result.output


def test_an_unused_field_removed_keeps_every_approval(council):
    council.repo.edit(ORDERS, "  ordered_at:", "  note: {type: string}\n  ordered_at:")
    council.repo.compile()
    council.commit("a free-text note", EVE)
    approved_base(council)
    before = data_hash(council.repo, "segment:big_spenders")
    council.repo.edit(ORDERS, "  note: {type: string}\n", "")
    council.repo.edit(ORDERS, "version: 1.0.0", "version: 2.0.0")
    council.repo.compile()
    council.commit("drop note", EVE)
    assert data_hash(council.repo, "segment:big_spenders") == before
    result = council.check()
    assert result.exit_code == 0, result.output


def test_a_rule_tightened_on_an_unread_field_voids_the_approvals(council):
    approved_base(council)
    council.repo.edit(ORDERS, 'pattern: "^[A-Z]+$"', 'pattern: "^[A-Z]{3,}$"')
    council.repo.edit(ORDERS, "version: 1.0.0", "version: 2.0.0")
    report = council.repo.top / "report.md"
    council.repo.compile()
    council.commit("coupons have three letters at least", EVE)
    result = council.check("--report", str(report))
    assert sorted(council.codes(result)) == ["CDP604", "CDP604"]
    assert ("is void: its hash changed through contract `orders` (which rows are staged: its keys or a field's "
            "row rule)") in result.output
    assert "voided by contract `orders` (which rows are staged" in report.read_text()


def test_a_read_field_voids_only_its_readers(council):
    approved_base(council)
    council.repo.edit(ORDERS, "amount: {type: integer, min: 0}", "amount: {type: integer, min: 0, pii: true}")
    council.repo.edit(ORDERS, "version: 1.0.0", "version: 1.1.0")
    council.repo.compile()
    council.commit("amount is personal", EVE)
    result = council.check()
    assert sorted(council.codes(result)) == ["CDP604", "CDP604"]  # both read spend (regulars excludes big_spenders)
    assert "through field `orders.amount`" in result.output


# --------------------------------------------------------------------------- any versioned kind; no git


def test_a_destination_can_be_governed(tmp_path):
    council = Council(tmp_path, signed=False)
    council.repo.edit(PROJECT, "require_approval: [segment]", "require_approval: [segment, destination]")
    council.commit("govern what we send", ANA)
    council.base = council.repo.git("rev-parse", "HEAD").strip()
    council.repo.edit("definitions/destinations/mailer.yaml", "fields: [tier]", "fields: [tier, spend]")
    council.repo.edit("definitions/destinations/mailer.yaml", "version: 1.0.0", "version: 1.1.0")
    council.repo.compile()
    council.commit("send spend too", EVE)
    result = council.check()
    assert council.codes(result) == ["CDP604"] and "destination `mailer` 1.1.0 changed" in result.output
    council.approve(RAJ, "mailer", kind="destination")
    council.commit("approve", RAJ)
    assert council.check().exit_code == 0


def test_approve_without_git(tmp_path, monkeypatch):
    import shutil
    root = tmp_path / "plain"
    shutil.copytree(Path(__file__).resolve().parent / "fixtures" / "check_project", root)
    from click.testing import CliRunner
    from compiler.cli import cli
    result = CliRunner().invoke(cli, ["approve", "big_spenders", "--by", ANA, "--project", str(root)])
    assert result.exit_code == 0, result.output  # not a repository: --by is enough
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))  # no git binary at all
    result = CliRunner().invoke(cli, ["approve", "regulars", "--by", ANA, "--project", str(root)])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, ["approve", "regulars", "--project", str(root)])
    assert result.exit_code == 2
    assert "CDP901 no --by was given and git is not installed" in result.output
    assert "Traceback" not in result.output


def test_approve_takes_the_approver_from_git(council):
    council.change_tier()
    council.repo.git("config", "user.email", RAJ)
    result = council.repo.cdpc("approve", "big_spenders")
    assert result.exit_code == 0, result.output
    assert "by raj@shop.example" in result.output


# --------------------------------------------------------------------------- bad input, bad environment


def test_require_signed_needs_allowed_signers(tmp_path):
    repo = CheckRepo(tmp_path)
    repo.edit(PROJECT, "min_approvals: 1", "min_approvals: 1\n  require_signed: true")
    result = repo.cdpc("validate")
    assert result.exit_code == 1
    assert repo.findings(result.output) == [f"{PROJECT}:7:3: CDP102"]
    assert "`require_signed: true` needs `allowed_signers`" in result.output


def test_signers_file_missing_on_the_base(council):
    council.repo.path(SIGNERS).unlink()
    council.commit("lost the keys", ANA)
    council.base = council.repo.git("rev-parse", "HEAD").strip()
    council.change_tier()
    council.approve(ANA, *SEGMENTS)
    council.commit("approve", ANA, key="ana")
    result = council.check()
    assert sorted(council.codes(result)) == ["CDP604", "CDP604", "CDP613", "CDP613"]
    assert "has no allowed-signers file `definitions/governance/allowed_signers`" in result.output


def test_a_shallow_clone_cannot_judge_approvals(council, tmp_path):
    council.change_tier()
    council.approve(ANA, *SEGMENTS)
    council.commit("approve", ANA, key="ana")
    clone = tmp_path / "clone"
    council.repo.git("clone", "-q", "--depth", "1", f"file://{council.repo.top}", str(clone))
    council.repo.git("-C", str(clone), "fetch", "-q", "--depth", "1", "origin", council.base)
    from click.testing import CliRunner
    from compiler.cli import cli
    result = CliRunner().invoke(cli, ["check", "--base", council.base, "--project", str(clone)])
    assert result.exit_code == 2, result.output
    assert "CDP902 this clone is shallow" in result.output and "fetch-depth: 0" in result.output


def test_json_names_the_policy_and_the_refusals(council):
    import json
    council.change_tier()
    council.approve(ANA, *SEGMENTS)
    council.commit("approve", EVE)
    content = json.loads(council.check("--format", "json").output)
    assert content["policy"]["from"] == "base" and content["policy"]["require_signed"] is True
    big = next(a for a in content["approvals"] if a["name"] == "big_spenders")
    assert big["voided_by"] == ["attribute `tier`"]
    assert [r["code"] for r in big["not_counted"]] == ["CDP611"]


def test_a_project_in_a_subdirectory(tmp_path):
    repo = CheckRepo(tmp_path, subdir="cdp")
    base = repo.git("rev-parse", "HEAD").strip()
    repo.edit(TIER, "spend >= 100", "spend >= 200")
    repo.edit(TIER, "version: 1.0.0", "version: 2.0.0")
    repo.compile()
    repo.commit("change", author=ANA)
    for name in SEGMENTS:
        assert repo.cdpc("approve", name, "--by", ANA).exit_code == 0
    repo.commit("approve", author=ANA)
    result = repo.cdpc("check", "--base", base)
    assert sorted(c.rsplit(": ", 1)[1] for c in repo.findings(result.output)) == ["CDP604", "CDP604", "CDP614", "CDP614"]
    for name in SEGMENTS:
        assert repo.cdpc("approve", name, "--by", RAJ).exit_code == 0
    repo.write(APPROVALS, repo.read(APPROVALS).replace("ana@shop.example, ", ""))  # ana's stay refused
    repo.commit("approve", author=RAJ)
    result = repo.cdpc("check", "--base", base)
    assert result.exit_code == 0, result.output


def test_a_base_without_a_council_may_set_one_up(tmp_path):
    repo = CheckRepo(tmp_path)
    repo.edit(PROJECT, "approvers: [ana@shop.example, raj@shop.example]", "approvers: []")
    base = repo.commit("no council yet")
    repo.edit(PROJECT, "approvers: []", "approvers: [ana@shop.example, raj@shop.example]")
    repo.commit("a council", author=EVE)
    result = repo.cdpc("check", "--base", base)
    assert result.exit_code == 0, result.output
    assert "governance policy changed" in result.output
