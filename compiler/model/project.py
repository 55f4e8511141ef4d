"""kind: project — the one per-project settings document."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, model_validator

from ..dialects import target_names
from .approvals import APPROVABLE
from .base import Definition, Name, Strict, one_of

Target = one_of(target_names)  # the target registry, compiler/dialects.py
# what a policy may govern: every approvable kind but the project (its policy always needs the council)
GovernedKind = one_of(lambda: tuple(kind for kind in APPROVABLE if kind != "project"))


class Schemas(Strict):
    staging: Name = "cdp_staging"
    identity: Name = "cdp_identity"
    profiles: Name = "cdp"
    audiences: Name = "cdp_audiences"
    meta: Name = "cdpc_meta"  # what cdpc owns (`owned`); not an output schema


OUTPUT_ROLES = ("staging", "identity", "profiles", "audiences")


class Governance(Strict):
    """The council's policy. `cdpc check --base` reads it from the base, never from the change."""

    require_approval: list[GovernedKind] = ["segment"]
    approvers: list[str] = []
    min_approvals: int = Field(default=1, ge=1)
    require_signed: bool = False  # approvals added in a change need an SSH signature git verifies
    allowed_signers: Optional[str] = None  # git's allowed-signers format, path relative to the project
    require_owner: bool = False  # a segment, destination or contract without `owner` is an error, not a warning
    min_test_coverage: Optional[float] = Field(default=None, ge=0, le=1)  # share of segments, attributes, syncs

    @model_validator(mode="after")
    def _signers(self) -> "Governance":
        if self.require_signed and not self.allowed_signers:
            raise ValueError("cdpc_signers_required")
        return self


class Project(Definition):
    kind: Literal["project"]
    entity: Name = "customer"
    expression_dialect: Target = "duckdb"
    targets: list[Target] = Field(default=["duckdb"], min_length=1)
    schemas: Schemas = Schemas()
    governance: Governance = Governance()
    version: Optional[str] = None  # tolerated for documentation; docs/reference.md §1.2 gives projects no version
