"""What changed between the base and the head, per definition.

Each definition is `added`, `removed`, `changed` or `unchanged`. A changed one says
which of its hashes moved: its own semantic keys (`own`: a logic change that the
version rules judge), only something upstream (`upstream`: same own keys, new data
hash), or only its documentation (`metadata`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..diagnostics import Location
from ..fingerprint import Fingerprint, fingerprints, semantic_content
from ..graph import node_id
from ..model import KIND_ORDER, Definition
from ..project import LoadedProject
from .rules import Finding
from .versions import classify, required_bump

ADDED, REMOVED, CHANGED, UNCHANGED = "added", "removed", "changed", "unchanged"


@dataclass
class DefinitionChange:
    kind: str
    name: str
    status: str
    base: Optional[Definition] = None
    head: Optional[Definition] = None
    base_print: Optional[Fingerprint] = None
    head_print: Optional[Fingerprint] = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def node(self) -> str:
        return node_id(self.kind, self.name)

    @property
    def data_changed(self) -> bool:
        return self.status != UNCHANGED and (self.status != CHANGED or self.base_print.data_hash != self.head_print.data_hash)

    @property
    def own_changed(self) -> bool:
        return self.status == CHANGED and self.base_print.own_hash != self.head_print.own_hash

    @property
    def metadata_changed(self) -> bool:
        return self.status == CHANGED and self.base_print.metadata_hash != self.head_print.metadata_hash

    @property
    def what(self) -> str:
        """One word for the report: added, removed, logic, upstream, metadata, version, unchanged."""
        if self.status != CHANGED:
            return self.status
        if self.own_changed:
            return "logic"
        if self.data_changed:
            return "upstream"
        if self.metadata_changed:
            return "metadata"
        return "version" if self.versions[0] != self.versions[1] else UNCHANGED

    @property
    def required_bump(self) -> str:
        return required_bump(self.findings)

    @property
    def versions(self) -> tuple[Optional[str], Optional[str]]:
        return getattr(self.base, "version", None), getattr(self.head, "version", None)

    def location(self, path: tuple = ()) -> Location:
        """Where `path` is in the head definition; its closest written ancestor, else its `version` line."""
        definition = self.head or self.base
        doc = definition.doc
        if doc is None:
            return Location()
        path = tuple(path)
        if path and path in doc.positions:
            return doc.positions[path]  # the changed value itself
        for end in range(len(path) - 1, 0, -1):  # gone from the head: the key of its closest ancestor
            key = path[:end]
            if key in doc.key_positions:
                return doc.key_positions[key]
            if key in doc.positions:
                return doc.positions[key]
        return definition.loc("version") if ("version",) in doc.positions else definition.loc("name")


def compare(base: Optional[LoadedProject], head: LoadedProject,
            head_prints: Optional[dict[str, Fingerprint]] = None) -> list[DefinitionChange]:
    """Every definition of either side, in KIND_ORDER then name order. Both sides must be valid."""
    head_prints = head_prints or fingerprints(head.definitions, head.lineage)
    base_prints = fingerprints(base.definitions, base.lineage) if base is not None else {}
    base_defs = _by_node(base) if base is not None else {}
    head_defs = _by_node(head)
    changes = []
    for node in sorted(set(base_defs) | set(head_defs), key=_order):
        kind, _, name = node.partition(":")
        old, new = base_defs.get(node), head_defs.get(node)
        if old is None:
            changes.append(DefinitionChange(kind, name, ADDED, None, new, None, head_prints[node]))
            continue
        if new is None:
            changes.append(DefinitionChange(kind, name, REMOVED, old, None, base_prints[node], None))
            continue
        change = DefinitionChange(kind, name, CHANGED, old, new, base_prints[node], head_prints[node])
        if change.own_changed:
            change.findings = classify(kind, semantic_content(old, base.definitions.project.expression_dialect),
                                       semantic_content(new, head.definitions.project.expression_dialect))
        elif not change.data_changed and not change.metadata_changed and change.versions[0] == change.versions[1]:
            change.status = UNCHANGED
        changes.append(change)
    return changes


def _by_node(project: LoadedProject) -> dict[str, Definition]:
    return {node_id(d.kind, d.name): d for d in project.definitions.all()}


def _order(node: str) -> tuple:
    kind, _, name = node.partition(":")
    return KIND_ORDER.index(kind), name
