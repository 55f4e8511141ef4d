"""The typed model of a project: one pydantic module per kind, gathered into `Definitions`.

Which kinds there are, and every fact about each, is the registry in `kinds.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Iterator, Optional

from .approvals import Approval, Approvals
from .attribute import Attribute, Pick
from .base import Definition, Versioned
from .consent import Consent
from .contract import Contract, ContractField, parse_field_type
from .destination import Destination, Sync
from .erasure import Erasure
from .identity import Identity
from .kinds import REGISTRY, Kind, approvable_kinds, definition_kinds, kinds
from .project import Project
from .segment import Segment
from .test import Test
from .access import Access  # last: pydantic's JSON Schema of a date union follows the order models are built


class _Models(Mapping):
    """kind name -> its model class, read from the registry (so a kind added later is in it)."""

    def __getitem__(self, name: str) -> type:
        return REGISTRY[name].model

    def __iter__(self) -> Iterator[str]:
        return iter(REGISTRY)

    def __len__(self) -> int:
        return len(REGISTRY)


KINDS: Mapping[str, type] = _Models()


@dataclass
class Definitions:
    """Every definition of a project, by kind and name. Dicts are name-sorted for determinism.

    The project and the approvals are one document each; every other kind is a dict by name,
    read as `defs.by_kind("contract")` or by its registry `collection` (`defs.contracts`)."""

    project: Project
    approvals: Optional[Approvals] = None
    collections: dict[str, dict[str, Definition]] = field(default_factory=dict)  # kind -> name -> definition
    # kind -> names of its documents that failed to model ("" for one without a usable name).
    # They were reported once; the rules treat them as existing but skip what needs their details.
    failed: dict[str, set[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for kind in kinds():
            if kind.definition and not kind.single:  # `defs.contracts` is `defs.by_kind("contract")`
                setattr(self, kind.collection, self.collections.setdefault(kind.name, {}))

    def by_kind(self, kind: str) -> dict[str, Definition]:
        entry = REGISTRY[kind]
        if not entry.definition:
            raise KeyError(kind)
        return {self.project.name: self.project} if entry.single else self.collections[kind]

    def exists(self, kind: str, name: str) -> bool:
        """`name` is a definition of `kind`, or may be one that failed to model (one mistake, one error)."""
        return name in self.by_kind(kind) or self.failed_as(kind, name)

    def failed_as(self, kind: str, name: str) -> bool:
        """A document of `kind` that failed to model may be the definition `name`."""
        names = self.failed.get(kind, ())
        return name in names or "" in names

    def all(self) -> Iterator[Definition]:
        for kind in definition_kinds():
            yield from self.by_kind(kind).values()

    @property
    def identity(self) -> Optional[Identity]:
        return next(iter(self.identities.values()), None)

    @property
    def erasure_sources(self) -> frozenset[str]:
        """The contracts that erasure definitions read: cdpc stages none of them."""
        return frozenset(e.source for e in self.erasures.values())

    @property
    def purposes(self) -> dict[str, tuple[Consent, list[str]]]:
        """purpose name -> (its consent definition, its channels)."""
        return {p: (c, spec.channels) for c in self.consents.values() for p, spec in c.purposes.items()}


# Definition kinds in registry order, as imported (definition_kinds() also sees entries added since).
KIND_ORDER = definition_kinds()

__all__ = [
    "Access", "Approval", "Approvals", "Attribute", "Consent", "Contract", "ContractField", "Definition",
    "Definitions", "Destination", "Erasure", "Identity", "KINDS", "KIND_ORDER", "Kind", "Pick", "Project", "REGISTRY", "Segment",
    "Sync", "Test", "Versioned", "approvable_kinds", "definition_kinds", "kinds", "parse_field_type",
]
