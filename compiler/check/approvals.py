"""Approval rules: every changed data hash of a governed kind needs the council's sign-off.

A definition of a kind in `governance.require_approval` whose data hash changed
against the base (or that is new) is approved when approvals.yaml holds entries for
it with `hash` equal to its current data hash and `version` equal to its current
version, signed by at least `min_approvals` distinct people from
`governance.approvers` (emails compared case-insensitively). An empty approvers list
means nothing needs approval. Without a base nothing counts as changed: an approval
whose hash no longer matches is only a warning (CDP609).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..diagnostics import WARNING, Diagnostic, Location
from ..fingerprint import Fingerprint
from ..graph import node_id
from ..model import Definitions
from ..model.approvals import Approval

APPROVE_HINT = "a governance approver runs `cdpc approve {name}{kind} --by EMAIL` and commits approvals.yaml"


@dataclass
class ApprovalStatus:
    kind: str
    name: str
    version: str
    data_hash: str
    needed: int
    approved_by: list[str] = field(default_factory=list)  # counted approvers, as listed in governance.approvers
    not_counted: list[str] = field(default_factory=list)  # on a matching entry but not an approver
    stale: list[tuple[Approval, Location]] = field(default_factory=list)  # entries for another hash or version
    location: Location = field(default_factory=Location)

    @property
    def ok(self) -> bool:
        return len(self.approved_by) >= self.needed


def governed(defs: Definitions) -> list[str]:
    """The kinds that need approval; none when nobody may approve."""
    governance = defs.project.governance
    return list(governance.require_approval) if governance.approvers else []


def entries_for(defs: Definitions, kind: str, name: str) -> list[tuple[int, Approval, Location]]:
    approvals = defs.approvals
    if approvals is None:
        return []
    doc = approvals._doc
    return [(i, a, doc.loc("approvals", i) if doc else Location()) for i, a in enumerate(approvals.approvals)
            if a.target == (kind, name)]


def status_of(defs: Definitions, kind: str, name: str, fingerprint: Fingerprint) -> ApprovalStatus:
    definition = defs.by_kind(kind)[name]
    governance = defs.project.governance
    listed = {a.casefold(): a for a in governance.approvers}
    version = getattr(definition, "version", None) or ""
    status = ApprovalStatus(kind, name, version, fingerprint.data_hash, governance.min_approvals,
                            location=definition.loc("name"))
    for _, approval, loc in entries_for(defs, kind, name):
        if approval.hash != fingerprint.data_hash or approval.version != version:
            status.stale.append((approval, loc))
            continue
        for person in approval.approved_by:
            key = person.casefold()
            if key in listed:
                if listed[key] not in status.approved_by:
                    status.approved_by.append(listed[key])
            elif person not in status.not_counted:
                status.not_counted.append(person)
    return status


def approval_findings(defs: Definitions, prints: dict[str, Fingerprint],
                      changed: Optional[set[str]]) -> tuple[list[Diagnostic], list[ApprovalStatus]]:
    """CDP604 per changed governed definition without enough approvals (`changed` = node ids that
    changed against the base); with `changed=None` (no base) CDP609 warnings for stale approvals."""
    diagnostics: list[Diagnostic] = []
    statuses: list[ApprovalStatus] = []
    for kind in governed(defs):
        for name in defs.by_kind(kind):
            node = node_id(kind, name)
            status = status_of(defs, kind, name, prints[node])
            if changed is None:
                if status.stale and not status.approved_by and not status.not_counted:
                    approval, loc = status.stale[-1]
                    diagnostics.append(Diagnostic(
                        "CDP609", f"the approval of {kind} `{name}` ({approval.version}, {_short(approval.hash)}) does not "
                        f"match its current version {status.version} and hash {_short(status.data_hash)}: it changed since",
                        loc, APPROVE_HINT.format(name=name, kind=_kind_flag(kind)) + " before merging",
                        severity=WARNING))
                continue
            if node not in changed:
                continue
            statuses.append(status)
            if not status.ok:
                diagnostics.append(_missing(status))
            for person in status.not_counted:
                diagnostics.append(Diagnostic(
                    "CDP605", f"`{person}` approved {kind} `{name}` but is not in governance.approvers: not counted",
                    _entry_loc(defs, kind, name, status),
                    "approvals count only from people listed in project.yaml governance.approvers",
                    severity=WARNING))
    return diagnostics, statuses


def _missing(status: ApprovalStatus) -> Diagnostic:
    kind, name = status.kind, status.name
    have = len(status.approved_by)
    why = [f"{have} of {status.needed} approval{'s' if status.needed != 1 else ''}"
           + (f" (by {', '.join(status.approved_by)})" if status.approved_by else "")]
    if status.stale:
        old = status.stale[-1][0]
        reason = "its hash changed" if old.hash != status.data_hash else "it names another version"
        why.append(f"the approval of {old.version} ({_short(old.hash)}) is void: {reason}")
    if status.not_counted:
        why.append("not approvers: " + ", ".join(status.not_counted))
    return Diagnostic("CDP604", f"{kind} `{name}` {status.version} changed (data hash {_short(status.data_hash)}) and "
                      f"needs approval: " + "; ".join(why), status.location,
                      APPROVE_HINT.format(name=name, kind=_kind_flag(kind)))


def _entry_loc(defs: Definitions, kind: str, name: str, status: ApprovalStatus) -> Location:
    for _, approval, loc in entries_for(defs, kind, name):
        if approval.hash == status.data_hash and approval.version == status.version:
            return loc
    return status.location


def _kind_flag(kind: str) -> str:
    return "" if kind == "segment" else f" --kind {kind}"


def _short(hash_: str) -> str:
    return hash_[:19] + "…" if len(hash_) > 20 else hash_
