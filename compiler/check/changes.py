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
from ..fingerprint import Fingerprint, field_content, fingerprints, semantic_content
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
    policy_changed: bool = False  # the project's governance policy (checker.py sets it)

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
        """One word for the report: added, removed, governance, logic, upstream, metadata, version, unchanged."""
        if self.status != CHANGED:
            return self.status
        if self.policy_changed and not self.own_changed:
            return "governance"
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


def voided_by(base: LoadedProject, head: LoadedProject, changes: list[DefinitionChange],
              head_prints: dict[str, Fingerprint], nodes: list[str]) -> dict[str, list[str]]:
    """Per node, the changes that moved its data hash: its own keys, the project settings every
    table depends on, and each node upstream of it (column-level lineage) whose own part moved:
    a definition's own keys, a contract's staged rows (every key but fields, and the row rules),
    a field that the lineage reads."""
    base_prints = {c.node: c.base_print for c in changes if c.base_print is not None}
    dialects = (base.definitions.project.expression_dialect, head.definitions.project.expression_dialect)
    contents: dict[tuple[int, str], dict] = {}

    def contract_content(side: int, name: str) -> Optional[dict]:
        defs = (base, head)[side].definitions
        if (side, name) not in contents:
            contract = defs.contracts.get(name)
            contents[side, name] = None if contract is None else semantic_content(contract, dialects[side])
        return contents[side, name]

    def settings(project) -> tuple:
        p = project.definitions.project
        return p.entity, p.expression_dialect, p.schemas.model_dump()

    shared = settings(base) != settings(head)
    out: dict[str, list[str]] = {}
    for node in nodes:
        causes = []
        old, new = base_prints.get(node), head_prints.get(node)
        kind, _, name = node.partition(":")
        if old is not None and new is not None and old.own_hash != new.own_hash:
            causes.append(f"its own keys ({kind} `{name}`)")
        if shared:
            causes.append("the project settings (entity, expression_dialect or schemas)")
        for up in (head.lineage.upstream(node) if node in head.lineage.graph else []):
            up_kind, _, up_name = up.partition(":")
            if up_kind == "field":
                contract, _, column = up_name.partition(".")
                before, after = contract_content(0, contract), contract_content(1, contract)
                was = field_content(before, column) if before is not None else None
                if was is None:
                    causes.append(f"field `{up_name}` (new)")
                elif was != field_content(after, column):
                    causes.append(f"field `{up_name}`")
                continue
            was, now = base_prints.get(up), head_prints.get(up)
            if was is None:
                causes.append(f"{up_kind} `{up_name}` (new)")
            elif up_kind == "contract" and was.local_hash != now.local_hash:
                causes.append(f"contract `{up_name}` (which rows are staged: its keys or a field's row rule)")
            elif up_kind != "contract" and was.own_hash != now.own_hash:
                causes.append(f"{up_kind} `{up_name}`")
        out[node] = causes
    return out
