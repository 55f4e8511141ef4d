"""The typed model of a project: one pydantic module per kind, gathered into `Definitions`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Optional

from .approvals import Approval, Approvals
from .attribute import Attribute, Pick
from .base import Definition, Versioned
from .consent import Consent
from .contract import Contract, ContractField, parse_field_type
from .destination import Destination, Sync
from .identity import Identity
from .project import Project
from .segment import Segment

KINDS: dict[str, type] = {
    "project": Project,
    "contract": Contract,
    "identity": Identity,
    "attribute": Attribute,
    "segment": Segment,
    "consent": Consent,
    "destination": Destination,
    "approvals": Approvals,
}

# Order in which kinds are listed in manifests and reports: upstream first.
KIND_ORDER = ("project", "contract", "identity", "attribute", "consent", "segment", "destination")


@dataclass
class Definitions:
    """Every definition of a project, by kind and name. Dicts are name-sorted for determinism."""

    project: Project
    contracts: dict[str, Contract] = field(default_factory=dict)
    identities: dict[str, Identity] = field(default_factory=dict)
    attributes: dict[str, Attribute] = field(default_factory=dict)
    segments: dict[str, Segment] = field(default_factory=dict)
    consents: dict[str, Consent] = field(default_factory=dict)
    destinations: dict[str, Destination] = field(default_factory=dict)
    approvals: Optional[Approvals] = None

    def by_kind(self, kind: str) -> dict[str, Definition]:
        return {
            "project": {self.project.name: self.project},
            "contract": self.contracts,
            "identity": self.identities,
            "attribute": self.attributes,
            "segment": self.segments,
            "consent": self.consents,
            "destination": self.destinations,
        }[kind]

    def all(self) -> Iterator[Definition]:
        for kind in KIND_ORDER:
            yield from self.by_kind(kind).values()

    @property
    def identity(self) -> Optional[Identity]:
        return next(iter(self.identities.values()), None)

    @property
    def purposes(self) -> dict[str, tuple[Consent, list[str]]]:
        """purpose name -> (its consent definition, its channels)."""
        return {p: (c, spec.channels) for c in self.consents.values() for p, spec in c.purposes.items()}


__all__ = [
    "Approval", "Approvals", "Attribute", "Consent", "Contract", "ContractField", "Definition",
    "Definitions", "Destination", "Identity", "KINDS", "KIND_ORDER", "Pick", "Project", "Segment",
    "Sync", "Versioned", "parse_field_type",
]
