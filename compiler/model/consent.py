"""kind: consent — declared purposes, where grants come from, and suppression.

Evidence of a grant comes from two places, both optional, at least one per purpose:
the consent-level event log (`source` with `purpose_field` and `granted_field`: one row
per answer, for any declared purpose) and each purpose's own `sources` (a boolean
snapshot field, or a constant grant for the rows a `where` keeps).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

from pydantic import Field

from .base import Name, Strict, Versioned

Channel = Literal["email", "sms", "ads", "push", "webhook", "warehouse"]


class EvidenceSource(Strict):
    """One source of evidence for a purpose: each staged row of `source` that passes `where`."""

    source: str
    granted_field: Optional[str] = None  # a boolean field: the row's grant
    granted: Optional[bool] = None  # or the same grant for every row
    time_field: Optional[str] = None  # default: the contract's event_time
    where: Optional[str] = None  # a row filter over the source's fields


class Purpose(Strict):
    channels: list[Channel] = Field(min_length=1)
    sources: list[EvidenceSource] = []


LOG_KEYS = ("source", "purpose_field", "granted_field")  # the event log: all three or none (validate)


class Consent(Versioned):
    kind: Literal["consent"]
    source: Optional[str] = None  # the event log: every declared purpose, by purpose_field
    purpose_field: Optional[str] = None
    granted_field: Optional[str] = None
    time_field: Optional[str] = None  # default: the contract's event_time
    purposes: dict[Name, Purpose] = Field(min_length=1)
    suppress_when: list[str] = []

    @property
    def evidence(self) -> list["Evidence"]:
        """Every source of evidence: the event log first, then each purpose's sources in order."""
        found = []
        if self.source is not None:
            found.append(Evidence(None, self.source, self.granted_field, None, self.time_field, None, (),
                                  self.purpose_field))
        for purpose, spec in self.purposes.items():
            for index, item in enumerate(spec.sources):
                found.append(Evidence(purpose, item.source, item.granted_field, item.granted, item.time_field,
                                      item.where, ("purposes", purpose, "sources", index)))
        return found


@dataclass(frozen=True)
class Evidence:
    """One source of evidence, as the later stages read it."""

    purpose: Optional[str]  # None: the event log (its rows name their purpose)
    source: str
    granted_field: Optional[str]
    granted: Optional[bool]  # the constant grant when there is no granted_field
    time_field: Optional[str]  # as written; `time(contracts)` applies the default
    where: Optional[str]
    path: tuple  # where its keys are written in the document (() for the consent level)
    purpose_field: Optional[str] = None

    def time(self, contracts) -> Optional[str]:
        if self.time_field is not None:
            return self.time_field
        contract = contracts.get(self.source)
        return contract.event_time if contract is not None else None

    def fields(self, contracts) -> list[str]:
        """The fields whose values decide the evidence (not those of `where`)."""
        return [f for f in (self.purpose_field, self.granted_field, self.time(contracts)) if f is not None]
