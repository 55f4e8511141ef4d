"""Approval rules: every changed data hash of a governed kind, and every change of the
policy itself, needs the council's sign-off (docs/governance.md, "Approval flow").

The policy (who approves, which kinds, how many) is the base's (policy.py). A
definition of a governed kind whose data hash changed against the base (or that is new)
is approved when approvals.yaml holds entries for it with `hash` equal to its current
data hash and `version` equal to its current version, by at least `min_approvals`
distinct people from the approvers (emails compared case-insensitively), each of whose
approvals either was on the base already or was added by a commit of the change that
passes provenance.py (author, signature, four eyes). A change of the policy is approved
the same way by entries `{project: NAME, hash: <policy hash>}`. An empty approvers list
means nothing needs approval. Without a base nothing counts as changed: an approval
whose hash no longer matches is only a warning (CDP609).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..diagnostics import ERROR, WARNING, Diagnostic, Location
from ..fingerprint import Fingerprint
from ..graph import Lineage, node_id
from ..model import Definitions
from ..model.approvals import Approval
from .policy import Policy
from .provenance import Provenance, Refusal, approval_key

# When an approval does not count: one row per code (docs/governance.md's table quotes these; a test checks it).
APPROVAL_RULES: dict[str, str] = {
    "CDP604": "a changed governed definition has fewer than `min_approvals` counted approvals for its current hash and version (the message says which upstream change voided the old one)",
    "CDP605": "the approver is not in the base's `governance.approvers` (a warning; someone the change adds approves from the next change)",
    "CDP611": "the commit that added the approval (found with `git log` on approvals.yaml between the base and HEAD) is not authored by that approver (author email, case-insensitively)",
    "CDP612": "with `require_signed: true`, that commit is unsigned, or git cannot verify its signature",
    "CDP613": "with `require_signed: true`, the signing key is not in the base's allowed-signers file for that approver, or is expired or revoked",
    "CDP614": "four eyes: the approver authored a commit of the change that edits a file holding the approved definition, anything upstream of it, or project.yaml (for a policy change: project.yaml or the allowed-signers file)",
    "CDP615": "the approval is not committed (an approval only in the working tree counts for nothing)",
    "CDP616": "a change of the governance policy has fewer than `min_approvals` counted approvals from the base's approvers",
}

APPROVE_HINT = "a governance approver runs `cdpc approve {name}{kind}` on the branch and commits approvals.yaml"


@dataclass
class ApprovalStatus:
    kind: str
    name: str
    version: str
    data_hash: str
    needed: int
    approved_by: list[str] = field(default_factory=list)  # counted approvers, as the policy spells them
    not_counted: list[str] = field(default_factory=list)  # on a matching entry but not an approver
    refused: list[tuple[str, Refusal]] = field(default_factory=list)  # approvers whose approval did not count
    stale: list[tuple[Approval, Location]] = field(default_factory=list)  # entries for another hash or version
    location: Location = field(default_factory=Location)
    voided_by: list[str] = field(default_factory=list)  # the upstream changes that moved its data hash
    changes: list[str] = field(default_factory=list)  # for the policy: what changed in it

    @property
    def ok(self) -> bool:
        return len(self.approved_by) >= self.needed


def entries_for(defs: Definitions, kind: str, name: str) -> list[tuple[int, Approval, Location]]:
    approvals = defs.approvals
    if approvals is None:
        return []
    doc = approvals._doc
    return [(i, a, doc.loc("approvals", i) if doc else Location()) for i, a in enumerate(approvals.approvals)
            if a.target == (kind, name)]


def status_of(defs: Definitions, policy: Policy, kind: str, name: str, data_hash: str, version: str,
              location: Location, provenance: Optional[Provenance] = None,
              guarded: Optional[dict[str, str]] = None) -> ApprovalStatus:
    status = ApprovalStatus(kind, name, version, data_hash, policy.min_approvals, location=location)
    for _, approval, loc in entries_for(defs, kind, name):
        if approval.hash != data_hash or (approval.version or "") != version:
            status.stale.append((approval, loc))
            continue
        for person in approval.approved_by:
            listed = policy.approver(person)
            if listed is None:
                if person not in status.not_counted:
                    status.not_counted.append(person)
                continue
            if listed in status.approved_by:
                continue
            refusal = None
            if provenance is not None:
                refusal = provenance.refusal(approval_key(kind, name, version, data_hash, person), guarded or {})
            if refusal is None:
                status.approved_by.append(listed)
                status.refused = [(p, r) for p, r in status.refused if p.casefold() != person.casefold()]
            elif not any(p.casefold() == person.casefold() for p, _ in status.refused):
                status.refused.append((person, refusal))
    return status


def guarded_files(defs: Definitions, lineage: Lineage, node: str) -> dict[str, str]:
    """The files whose authors may not approve `node` (four eyes): its own, those of
    everything upstream of it, and project.yaml (its settings reach every table)."""
    out: dict[str, str] = {}
    project = defs.project
    if project.doc is not None:
        out[project.doc.file] = "the project settings"
    upstream = lineage.upstream(node) if node in lineage.graph else []
    for other in upstream:
        kind, _, name = other.partition(":")
        if kind == "field":
            kind, name = "contract", name.partition(".")[0]
        definition = defs.by_kind(kind).get(name)
        if definition is not None and definition.doc is not None:
            out.setdefault(definition.doc.file, f"{kind} `{name}`, upstream")
    kind, _, name = node.partition(":")
    definition = defs.by_kind(kind).get(name)
    if definition is not None and definition.doc is not None:
        out[definition.doc.file] = f"{kind} `{name}` itself"
    return out


def approval_findings(defs: Definitions, prints: dict[str, Fingerprint], changed: Optional[set[str]],
                      policy: Policy, provenance: Optional[Provenance] = None, lineage: Optional[Lineage] = None,
                      voided_by: Optional[dict[str, list[str]]] = None
                      ) -> tuple[list[Diagnostic], list[ApprovalStatus]]:
    """CDP604 per changed governed definition without enough approvals (`changed` = node ids that
    changed against the base), CDP611-615 per approval that does not count; with `changed=None`
    (no base) CDP609 warnings for stale approvals."""
    diagnostics: list[Diagnostic] = []
    statuses: list[ApprovalStatus] = []
    for kind in policy.governed:
        for name, definition in defs.by_kind(kind).items():
            node = node_id(kind, name)
            if changed is not None and node not in changed:
                continue
            version = getattr(definition, "version", None) or ""
            guarded = guarded_files(defs, lineage, node) if (provenance is not None and lineage is not None) else {}
            status = status_of(defs, policy, kind, name, prints[node].data_hash, version, definition.loc("name"),
                               provenance, guarded)
            if changed is None:
                if status.stale and not status.approved_by and not status.not_counted:
                    approval, loc = status.stale[-1]
                    diagnostics.append(Diagnostic(
                        "CDP609", f"the approval of {kind} `{name}` ({approval.version}, {_short(approval.hash)}) does not "
                        f"match its current version {status.version} and hash {_short(status.data_hash)}: it changed since",
                        loc, APPROVE_HINT.format(name=name, kind=_kind_flag(kind)) + " before merging",
                        severity=WARNING))
                continue
            status.voided_by = (voided_by or {}).get(node, [])
            statuses.append(status)
            diagnostics += status_findings(defs, status)
    return diagnostics, statuses


def policy_findings(defs: Definitions, status: ApprovalStatus, base: Policy) -> list[Diagnostic]:
    """CDP616 when the governance policy changed without enough approvals from the base's council."""
    out = [d for d in status_findings(defs, status, missing=False)]
    if status.ok:
        return out
    have = len(status.approved_by)
    return out + [Diagnostic(
        "CDP616", f"the governance policy changed ({'; '.join(status.changes)}) and needs {status.needed} approval"
        f"{'s' if status.needed != 1 else ''} from the base's approvers ({', '.join(base.approvers) or 'none'}): "
        f"{have} given" + (f" (by {', '.join(status.approved_by)})" if status.approved_by else ""),
        status.location, f"one of the base's approvers runs `cdpc approve {status.name} --kind project` on the "
        "branch and commits approvals.yaml; until it is merged, check applies the base's policy")]


def status_findings(defs: Definitions, status: ApprovalStatus, missing: bool = True) -> list[Diagnostic]:
    out = []
    if missing and not status.ok:
        out.append(_missing(status))
    kind, name = status.kind, status.name
    for person in status.not_counted:
        out.append(Diagnostic(
            "CDP605", f"`{person}` approved {kind} `{name}` but is not in the base's governance.approvers: not counted",
            _entry_loc(defs, status, person),
            "approvals count only from people listed in governance.approvers on the base; a person added by this "
            "change approves from the next one", severity=WARNING))
    for person, refusal in status.refused:
        out.append(Diagnostic(
            refusal.code, f"the approval of {kind} `{name}` by {person} does not count: {refusal.why}",
            _entry_loc(defs, status, person), refusal.hint, severity=ERROR))
    return out


def _missing(status: ApprovalStatus) -> Diagnostic:
    kind, name = status.kind, status.name
    have = len(status.approved_by)
    why = [f"{have} of {status.needed} approval{'s' if status.needed != 1 else ''}"
           + (f" (by {', '.join(status.approved_by)})" if status.approved_by else "")]
    if status.stale:
        old = status.stale[-1][0]
        reason = "its hash changed" if old.hash != status.data_hash else "it names another version"
        if old.hash != status.data_hash and status.voided_by:
            reason += " through " + ", ".join(status.voided_by)
        why.append(f"the approval of {old.version} ({_short(old.hash)}) is void: {reason}")
    if status.refused:
        why.append("not counted: " + ", ".join(f"{p} ({r.code})" for p, r in status.refused))
    if status.not_counted:
        why.append("not approvers: " + ", ".join(status.not_counted))
    return Diagnostic("CDP604", f"{kind} `{name}` {status.version} changed (data hash {_short(status.data_hash)}) and "
                      f"needs approval: " + "; ".join(why), status.location,
                      APPROVE_HINT.format(name=name, kind=_kind_flag(kind)))


def _entry_loc(defs: Definitions, status: ApprovalStatus, person: str) -> Location:
    for index, approval, loc in entries_for(defs, status.kind, status.name):
        if approval.hash == status.data_hash and (approval.version or "") == status.version:
            doc = defs.approvals._doc
            for i, p in enumerate(approval.approved_by):
                if p.casefold() == person.casefold() and doc is not None:
                    return doc.loc("approvals", index, "approved_by", i)
            return loc
    return status.location


def _kind_flag(kind: str) -> str:
    return "" if kind == "segment" else f" --kind {kind}"


def _short(hash_: str) -> str:
    return hash_[:19] + "…" if len(hash_) > 20 else hash_
