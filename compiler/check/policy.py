"""The governance policy that `cdpc check --base` applies: the base's, never the change's (docs/governance.md, "The policy comes from the base").

A policy is `project.governance` (approvers, require_approval, min_approvals,
require_signed, allowed_signers) plus the text of the allowed-signers file it names.
With a base, check applies the base's policy and compares it with the head's: a
change of either (the signers file included) is a governance change that the base's
approvers must approve, like a changed definition; it is never documentation. Without
a base, or on a base that has no project yet (the pull request that adds it), the
head's policy is all there is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..diagnostics import Location
from ..fingerprint import digest
from ..model import Project

POLICY_KEYS = ("approvers", "require_approval", "min_approvals", "require_signed", "allowed_signers",
               "require_owner", "min_test_coverage")


@dataclass(frozen=True)
class Policy:
    origin: str  # "base" or "head": where it was read
    project: str  # the project's name (an approval of a policy change names it)
    approvers: tuple[str, ...]
    require_approval: tuple[str, ...]
    min_approvals: int
    require_signed: bool
    allowed_signers: Optional[str]  # path relative to the project
    signers: Optional[str]  # the allowed-signers file's text; None when it is absent (or not named)
    require_owner: bool = False  # a contract, segment or destination without an owner is an error
    min_test_coverage: Optional[float] = None  # the least share of segments, attributes and syncs tests cover

    @property
    def governed(self) -> list[str]:
        """The kinds that need approval; none when nobody may approve (the default)."""
        return list(self.require_approval) if self.approvers else []

    def approver(self, person: str) -> Optional[str]:
        """`person` as governance.approvers spells it (compared case-insensitively), or None."""
        folded = person.casefold()
        return next((a for a in self.approvers if a.casefold() == folded), None)

    def content(self) -> dict:
        """What a policy approval covers: order and case of the lists do not matter, nor
        comments and blank lines in the signers file."""
        content = {"approvers": sorted({a.casefold() for a in self.approvers}),
                   "require_approval": sorted(set(self.require_approval)),
                   "min_approvals": self.min_approvals, "require_signed": self.require_signed,
                   "allowed_signers": self.allowed_signers, "signers": _signer_lines(self.signers)}
        # the later keys count only when set, so that a policy without them keeps its hash (and its approvals)
        if self.require_owner:
            content["require_owner"] = True
        if self.min_test_coverage is not None:
            content["min_test_coverage"] = self.min_test_coverage
        return content

    @property
    def hash(self) -> str:
        return digest(self.content())


def policy_of(project: Project, origin: str, signers: Optional[str]) -> Policy:
    g = project.governance
    return Policy(origin, project.name, tuple(g.approvers), tuple(g.require_approval), g.min_approvals,
                  g.require_signed, g.allowed_signers, signers, g.require_owner, g.min_test_coverage)


def head_policy(root: Path, project: Project) -> Policy:
    return policy_of(project, "head", read_head_signers(root, project))


def read_head_signers(root: Path, project: Project) -> Optional[str]:
    path = project.governance.allowed_signers
    if not path:
        return None
    try:
        return (Path(root) / path).read_bytes().decode("utf-8", "replace")
    except OSError:
        return None


def differences(old: Policy, new: Policy) -> list[str]:
    """What a change does to the policy, in words, for the finding and the report."""
    out = []
    before, after = old.content(), new.content()
    for key in ("approvers", "require_approval"):
        gone = [v for v in before[key] if v not in after[key]]
        came = [v for v in after[key] if v not in before[key]]
        if gone:
            out.append(f"{key} loses {', '.join(gone)}")
        if came:
            out.append(f"{key} gains {', '.join(came)}")
    for key in ("min_approvals", "require_signed", "allowed_signers", "require_owner", "min_test_coverage"):
        if before.get(key) != after.get(key):
            out.append(f"{key} {before.get(key)} -> {after.get(key)}")
    if before["signers"] != after["signers"] and before["allowed_signers"] == after["allowed_signers"]:
        out.append(f"the keys in {new.allowed_signers or 'the allowed-signers file'} changed")
    return out


def policy_location(project: Project) -> Location:
    return project.loc("governance")


def _signer_lines(text: Optional[str]) -> Optional[list[str]]:
    if text is None:
        return None
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
