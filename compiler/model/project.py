"""kind: project — the one per-project settings document."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from ..dialects import target_names
from .approvals import APPROVABLE
from .base import Definition, Name, Strict, one_of

Target = one_of(target_names)  # the target registry, compiler/dialects.py
ApprovableKind = one_of(lambda: APPROVABLE)


class Schemas(Strict):
    staging: Name = "cdp_staging"
    identity: Name = "cdp_identity"
    profiles: Name = "cdp"
    audiences: Name = "cdp_audiences"


class Governance(Strict):
    require_approval: list[ApprovableKind] = ["segment"]
    approvers: list[str] = []
    min_approvals: int = Field(default=1, ge=1)


class Project(Definition):
    kind: Literal["project"]
    entity: Name = "customer"
    expression_dialect: Target = "duckdb"
    targets: list[Target] = Field(default=["duckdb"], min_length=1)
    schemas: Schemas = Schemas()
    governance: Governance = Governance()
    version: Optional[str] = None  # tolerated for documentation; SPEC gives projects no version
