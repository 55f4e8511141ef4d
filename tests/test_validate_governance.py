"""Validate never requires approvals; it only warns about entries that name nothing."""

from __future__ import annotations

from validate_helpers import check, only

APPROVALS = "definitions/governance/approvals.yaml"


def test_approval_of_an_unknown_definition_is_a_warning(tmp_path):
    text = ("kind: approvals\napprovals:\n"
            "  - {segment: vpi, version: 1.0.0, hash: 'sha256:00', approved_by: [ana@example.com]}\n")
    d = only(check(tmp_path, {APPROVALS: text}), "CDP607", "governance/approvals.yaml:3:15",
             "approval for unknown segment `vpi`")
    assert not d.is_error
    assert d.hint == "did you mean `vip`?"


def test_approvals_of_other_kinds(tmp_path):
    text = ("kind: approvals\napprovals:\n"
            "  - {attribute: spend, version: 1.0.0, hash: 'sha256:00', approved_by: [ana@example.com]}\n"
            "  - {contract: ghost, version: 1.0.0, hash: 'sha256:00', approved_by: [ana@example.com]}\n")
    only(check(tmp_path, {APPROVALS: text}), "CDP607", "governance/approvals.yaml:4:16", "unknown contract `ghost`")


def test_missing_or_stale_approvals_never_fail_validate(tmp_path):
    project = ("kind: project\nname: shop\ntargets: [duckdb]\n"
               "governance: {require_approval: [segment], approvers: [ana@example.com], min_approvals: 2}\n")
    text = ("kind: approvals\napprovals:\n"
            "  - {segment: vip, version: 0.9.0, hash: 'sha256:old', approved_by: [someone@else.com]}\n")
    assert check(tmp_path, {"definitions/project.yaml": project, APPROVALS: text}) == []
