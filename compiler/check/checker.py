"""`cdpc check`: every rule at once, in one pass over the head and (optionally) the git base.

1. validate the head (errors stop here: nothing else can be compared soundly);
2. generated/ up to date (CDP601): an in-memory compile, in a forked child while the
   parent reads the base, applies the rules and reads generated/ (compiler/background.py);
3. with a base: the base's governance policy (policy.py); what changed per definition;
   contract compatibility and version bumps (CDP602, CDP603, CDP606); approvals for every
   changed data hash of a governed kind and for a changed policy (CDP604, CDP605, CDP616),
   each added approval traced to the commit that added it (provenance.py: CDP611-CDP615);
   without a base nothing counts as changed: only stale approvals, as warnings (CDP609);
4. for the report: SQL diff, downstream reach and, with data, audience impact.
"""

from __future__ import annotations

import datetime as dt
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..compile import compile_outputs, compile_targets, finish_outputs, prepare_finish, sql_outputs
from ..generated import read_generated
from ..diagnostics import WARNING, Diagnostic, Location, sort_diagnostics
from ..fingerprint import Fingerprint, fingerprints_of
from ..graph import node_id
from ..project import LoadedProject, load_project
from .approvals import ApprovalStatus, approval_findings, policy_findings, status_of
from .changes import ADDED, CHANGED, UNCHANGED, DefinitionChange, compare, voided_by
from .freshness import freshness_findings
from ..background import Background
from .gitbase import GitBase, read_base, read_file, resolve
from .policy import Policy, differences, head_policy, policy_of
from .provenance import Provenance, entries_of
from .impact import AudienceImpact, Reach, audience_impact, downstream
from .quality import Owners, TestRun, coverage_findings, owner_findings, owners, run_definition_tests, segment_note
from ..coverage import Coverage
from .sqldiff import TargetDiff, diff_sql
from .versions import version_findings


@dataclass
class CheckResult:
    root: Path
    head: LoadedProject
    diagnostics: list[Diagnostic] = field(default_factory=list)
    base: Optional[GitBase] = None
    base_usable: bool = False  # the base validated (or had no definitions/ at all)
    changes: list[DefinitionChange] = field(default_factory=list)
    approvals: list[ApprovalStatus] = field(default_factory=list)
    policy: Optional[Policy] = None  # the policy applied: the base's when there is one
    policy_change: Optional[ApprovalStatus] = None  # the head changes the policy: its approvals
    prints: dict[str, Fingerprint] = field(default_factory=dict)
    sql: Optional[list[TargetDiff]] = None
    reach: list[Reach] = field(default_factory=list)
    audience: Optional[AudienceImpact] = None
    tests: Optional[TestRun] = None  # the definition tests (docs/reference.md §6)
    coverage: Optional[Coverage] = None
    owners: Optional[Owners] = None
    notes: list[str] = field(default_factory=list)  # advice that is no finding (e.g. too many segments)

    @property
    def errors(self) -> int:
        return sum(1 for d in self.diagnostics if d.is_error)

    @property
    def warnings(self) -> int:
        return len(self.diagnostics) - self.errors

    @property
    def validated(self) -> bool:
        return self.head.ok


def run_check(root: Path, base_ref: Optional[str] = None, *, report: bool = False,
              data_dir: Optional[Path] = None, as_of: Optional[dt.datetime] = None) -> CheckResult:
    root = Path(root)
    resolved = resolve(root, base_ref) if base_ref else None  # a bad ref stops here: CDP902, exit 2
    head = load_project(root)
    if not head.ok:
        base = read_base(root, base_ref, resolved) if base_ref else None
        return CheckResult(root, head, sort_diagnostics(head.diagnostics), base)

    # the in-memory compile is most of the work; the base, hashes and rules do not need it
    targets = compile_targets(head)
    compiled = Background(lambda: sql_outputs(head, targets))
    prints = fingerprints_of(head)
    try:
        base = read_base(root, base_ref, resolved) if base_ref else None
        result = CheckResult(root, head, list(head.diagnostics), base)
        defs = head.definitions
        result.prints = prints
        if base is None:
            result.policy = head_policy(root, defs.project)
            found, _ = approval_findings(defs, prints, None, result.policy)
            result.diagnostics += found
        else:
            result.policy = _base_policy(root, base, head)
            changed = _compare_with_base(result, base)
            provenance = _provenance(root, base, result.policy, head)
            voided = (voided_by(base.project, head, result.changes, prints, sorted(changed))
                      if result.base_usable and base.project is not None else {})
            found, result.approvals = approval_findings(defs, prints, changed, result.policy, provenance,
                                                        head.lineage, voided)
            result.diagnostics += found + _policy_change(result, provenance)
        _quality(result)  # the tests run while the child renders
        committed = read_generated(root)
        prepare_finish(head)
    except BaseException:
        compiled.cancel()
        raise
    outputs = finish_outputs(head, targets, compiled.result())
    result.diagnostics += freshness_findings(outputs, committed)
    if base is not None and report and result.base_usable:
        _report_extras(result, outputs, data_dir, as_of)
    result.diagnostics = sort_diagnostics(result.diagnostics)
    return result


def _quality(result: CheckResult) -> None:
    """Tests, test coverage, owners and the segments note (compiler/check/quality.py)."""
    defs = result.head.definitions
    result.tests, failures = run_definition_tests(result.head)
    result.coverage, below = coverage_findings(defs, result.policy)
    result.owners = owners(defs)
    result.diagnostics += failures + below + owner_findings(defs, result.policy.require_owner)
    note = segment_note(defs)
    result.notes = [note] if note else []


def _compare_with_base(result: CheckResult, base: GitBase) -> set[str]:
    """Fill result.changes and version findings; return the node ids whose data hash changed."""
    head = result.head
    project = base.project
    if project is not None and not project.ok:
        errors = [d for d in project.diagnostics if d.is_error]
        result.diagnostics.append(Diagnostic(
            "CDP608", f"the base {base.ref} ({base.short}) does not validate ({len(errors)} error"
            f"{'s' if len(errors) != 1 else ''}, first: {errors[0].location}: {errors[0].code} {errors[0].message}); "
            "compatibility and version rules were skipped and every governed definition counts as changed",
            Location(), "fix the base branch first, or compare with another --base", severity=WARNING))
        return {node_id(kind, name) for kind in result.policy.governed for name in head.definitions.by_kind(kind)}
    result.base_usable = True
    result.changes = compare(project, head, result.prints)
    for change in result.changes:
        if change.base is not None and change.head is not None:
            result.diagnostics += version_findings(change)
    return {c.node for c in result.changes if c.head is not None and (c.status == ADDED or c.data_changed)}


def _base_policy(root: Path, base: GitBase, head: LoadedProject) -> Policy:
    """The base's policy; the head's when the base has no project yet (the change that adds it)."""
    defs = base.project.definitions if base.project is not None else None
    if defs is None:
        return head_policy(root, head.definitions.project)
    project = defs.project
    signers = None
    if project.governance.allowed_signers:
        path = posixpath.normpath(base.prefix + project.governance.allowed_signers)
        if not path.startswith("../"):
            blob = read_file(root, base.commit, path)
            signers = blob.decode("utf-8", "replace") if blob is not None else None
    return policy_of(project, "base", signers)


def _provenance(root: Path, base: GitBase, policy: Policy, head: LoadedProject) -> Provenance:
    files = []
    base_entries: set = set()
    if head.definitions.approvals is not None and head.definitions.approvals._doc is not None:
        files.append(head.definitions.approvals.file)
    if base.project is not None:
        base_docs = [d for d in base.project.documents
                     if isinstance(d.data, dict) and d.data.get("kind") == "approvals"]
        files += [d.file for d in base_docs]
        base_entries = entries_of(base_docs)
    return Provenance(root, base.commit, base.prefix, policy, files, base_entries)


def _policy_change(result: CheckResult, provenance: Provenance) -> list[Diagnostic]:
    """A head that changes the base's policy needs the base's council: CDP616 until it has it."""
    policy = result.policy
    if policy.origin != "base":
        return []
    project = result.head.definitions.project
    head = head_policy(result.root, project)
    if head.hash == policy.hash:
        return []
    guarded = {project.doc.file: "the governance policy"} if project.doc is not None else {}
    for path in {policy.allowed_signers, head.allowed_signers} - {None}:
        guarded[posixpath.normpath(path)] = "the allowed-signers file"
    status = status_of(result.head.definitions, policy, "project", project.name, head.hash, "",
                       project.loc("governance"), provenance, guarded)
    if not policy.approvers:
        status.needed = 0  # no council on the base (the default: nothing needs approval): this sets one up
    status.changes = differences(policy, head)
    result.policy_change = status
    node = node_id("project", project.name)
    for change in result.changes:
        if change.node == node:
            change.policy_changed = True
            if change.status == UNCHANGED:
                change.status = CHANGED
    return policy_findings(result.head.definitions, status, policy)


def _report_extras(result: CheckResult, outputs: dict[str, str], data_dir: Optional[Path],
                   as_of: Optional[dt.datetime]) -> None:
    base_project = result.base.project
    base_outputs = compile_outputs(base_project) if base_project is not None else {}
    result.sql = diff_sql(base_outputs, outputs)
    for change in result.changes:
        if change.head is not None and (change.status == ADDED or change.own_changed) and change.kind != "project":
            reach = downstream(result.head, change.node)
            if not reach.empty:
                result.reach.append(reach)
    if data_dir is not None and base_project is not None:
        moment = as_of or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
        result.audience = audience_impact(base_project, result.head, data_dir, moment)
        for problem in result.audience.problems:
            result.diagnostics.append(Diagnostic("CDP610", problem, Location(),
                                                 "check --data DIR: it needs a raw file per contract of both sides",
                                                 severity=WARNING))
