"""kind: project — the one per-project settings document."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, model_validator

from .base import Definition, Name, Strict

Target = Literal["duckdb", "postgres", "spark", "snowflake", "bigquery"]


class Schemas(Strict):
    staging: Name = "cdp_staging"
    identity: Name = "cdp_identity"
    profiles: Name = "cdp"
    audiences: Name = "cdp_audiences"
    meta: Name = "cdpc_meta"  # what cdpc owns (`owned`); not an output schema


OUTPUT_ROLES = ("staging", "identity", "profiles", "audiences")


class Governance(Strict):
    """The council's policy. `cdpc check --base` reads it from the base, never from the change."""

    require_approval: list[Literal["contract", "identity", "attribute", "segment", "consent", "destination"]] = ["segment"]
    approvers: list[str] = []
    min_approvals: int = Field(default=1, ge=1)
    require_signed: bool = False  # approvals added in a change need an SSH signature git verifies
    allowed_signers: Optional[str] = None  # git's allowed-signers format, path relative to the project

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
    version: Optional[str] = None  # tolerated for documentation; SPEC gives projects no version
