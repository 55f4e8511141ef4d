"""kind: approvals — the governance council's sign-offs, one entry per approved hash."""

from __future__ import annotations

import datetime as dt
from typing import Literal, Optional, Union

from pydantic import Field, PrivateAttr, model_validator

from .base import Strict

class Approval(Strict):
    # One key per kind an approval can name (the registry's `approvable`), exactly one per entry.
    segment: Optional[str] = None
    attribute: Optional[str] = None
    contract: Optional[str] = None
    identity: Optional[str] = None
    consent: Optional[str] = None
    destination: Optional[str] = None
    access: Optional[str] = None
    project: Optional[str] = None  # a change of the governance policy (project has no version)
    version: Optional[str] = None
    hash: str
    approved_by: list[str] = Field(min_length=1)
    approved_at: Optional[Union[dt.date, str]] = None

    @model_validator(mode="after")
    def _one_target(self) -> "Approval":
        if len(self.targets) != 1:
            raise ValueError("cdpc_approval_target")
        if self.version is None and self.target[0] != "project":
            raise ValueError("cdpc_approval_version")
        return self

    @property
    def targets(self) -> list[tuple[str, str]]:
        return [(k, getattr(self, k)) for k in APPROVABLE if getattr(self, k) is not None]

    @property
    def target(self) -> tuple[str, str]:
        return self.targets[0]


SIGNOFF_KEYS = ("version", "hash", "approved_by", "approved_at")
APPROVABLE = tuple(key for key in Approval.model_fields if key not in SIGNOFF_KEYS)  # in the order above


class Approvals(Strict):
    kind: Literal["approvals"]
    approvals: list[Approval] = []

    _doc: Optional[object] = PrivateAttr(default=None)

    @property
    def file(self) -> str:
        return self._doc.file if self._doc else ""
