"""What the site says about a project, gathered once: no HTML here.

Everything a page shows is read from the same places the other commands read: the
lineage graph (graph.py), the data hashes (fingerprint.py), the compiled SQL
(compile.py's outputs, grouped per definition by manifest.json), the approval status
that `cdpc check` computes (check/approvals.py, under the project's own policy), and,
when given, the figures of the last run (figures.py). Tests that cover a definition come
from one function, `covering_tests` (coverage.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Optional

from ..check.approvals import ApprovalStatus, entries_for, status_of
from ..check.policy import Policy, head_policy
from ..compile import compile_outputs
from ..fingerprint import Fingerprint, fingerprints_of
from ..classification import node_classification
from ..graph import (LINEAGE, MEMBER, PROFILE, SOURCE, Lineage, highest_classification, identifier_classification,
                     node_id, node_sort_key)
from ..model import KIND_ORDER, Definitions
from ..model.approvals import Approval
from ..project import LoadedProject
from .coverage import TestRef, covering_tests
from .figures import RunFigures

# What each kind is, in the words of someone who does not read YAML (singular, plural, one line).
KIND_WORDS: dict[str, tuple[str, str, str]] = {
    "project": ("Project", "Project", "the settings every definition shares: targets, schemas and the governance policy"),
    "contract": ("Source", "Sources", "a source table's promise: its columns, their types and rules, and how fresh it must be"),
    "identity": ("Identity", "Identity", "how records from every source are matched into one profile per person"),
    "attribute": ("Attribute", "Attributes", "a fact computed for every profile, such as spend over the last year"),
    "consent": ("Consent", "Consent", "which purposes each profile has agreed to, and what always suppresses marketing"),
    "segment": ("Segment", "Segments", "an audience: the profiles that meet a condition"),
    "destination": ("Destination", "Destinations", "a tool that audiences are sent to, with what is sent and how"),
}
def kind_words(kind: str) -> tuple[str, str, str]:
    """A kind's words; a kind added to the registry later gets plain ones from its name."""
    return KIND_WORDS.get(kind, (kind.capitalize(), kind.capitalize() + "s", f"a {kind} definition"))


TARGET_NAMES = {"duckdb": "DuckDB", "postgres": "PostgreSQL", "spark": "Spark", "snowflake": "Snowflake",
                "bigquery": "BigQuery"}


def page_of(kind: str, name: str) -> str:
    """The file of a definition's page (flat: every page sits in the site's top folder)."""
    return f"{kind}.{name}.html"


def href_of(node: str) -> str:
    """Where a lineage node is described: its page, or a field's row on its contract's page."""
    kind, _, name = node.partition(":")
    if kind == "field":
        contract, _, column = name.partition(".")
        return f"{page_of('contract', contract)}#field-{column}"
    return page_of(kind, name)


@dataclass
class ApprovalView:
    """A definition's approvals as the council reads them: who signed which version, and whether it still counts."""

    governed: bool  # its changes need the council (its kind is in governance.require_approval, approvers listed)
    status: ApprovalStatus
    entries: list[tuple[Approval, bool]] = field(default_factory=list)  # every entry for it, current or not

    @property
    def approved(self) -> bool:
        return bool(self.status.approved_by) and self.status.ok


@dataclass
class Facts:
    project: LoadedProject
    figures: Optional[RunFigures] = None

    @property
    def defs(self) -> Definitions:
        return self.project.definitions

    @property
    def lineage(self) -> Lineage:
        return self.project.lineage

    @cached_property
    def prints(self) -> dict[str, Fingerprint]:
        return fingerprints_of(self.project)

    @cached_property
    def policy(self) -> Policy:
        return head_policy(self.project.root, self.defs.project)

    @cached_property
    def outputs(self) -> dict[str, str]:
        return compile_outputs(self.project)

    @cached_property
    def sql(self) -> dict[str, dict[str, list[tuple[str, str]]]]:
        """node id -> target -> [(generated/ path, SQL text)] in run order."""
        found: dict[str, dict[str, list[tuple[str, str]]]] = {}
        manifest = json.loads(self.outputs["manifest.json"])
        for entry in manifest["definitions"]:
            per_target = found.setdefault(node_id(entry["kind"], entry["name"]), {})
            for path in entry["files"]:
                target, _, _ = path.partition("/")
                if path.endswith(".sql"):
                    per_target.setdefault(target, []).append((f"generated/{path}", self.outputs[path]))
        return found

    @cached_property
    def tests(self) -> dict[str, list[TestRef]]:
        return covering_tests(self.project)

    def source_text(self, rel: str) -> Optional[str]:
        """A definition file's text as written (newlines as \\n), or None when it cannot be read."""
        try:
            return (self.project.root / rel).read_bytes().decode("utf-8").replace("\r\n", "\n")
        except (OSError, UnicodeDecodeError):
            return None

    # ------------------------------------------------------------------ definitions

    def definitions(self, kind: str) -> list:
        return list(self.defs.by_kind(kind).values())

    def all_nodes(self) -> list[str]:
        return [node_id(kind, name) for kind in KIND_ORDER for name in self.defs.by_kind(kind)]

    def definition(self, node: str):
        kind, _, name = node.partition(":")
        return self.defs.by_kind(kind)[name]

    def reads(self, node: str) -> list[str]:
        """What `node` reads directly (lineage and source edges; fields folded into their contract
        are kept as fields), in node order."""
        graph = self.lineage.graph
        if node not in graph:
            return []
        return sorted((u for u in graph.predecessors(node) if graph.edges[u, node]["kind"] in (LINEAGE, SOURCE)),
                      key=node_sort_key)

    def read_by(self, node: str) -> list[str]:
        """What reads `node` directly; for a contract, what reads its rows or any of its fields."""
        graph = self.lineage.graph
        if node not in graph:
            return []
        found = {v for v in graph.successors(node) if graph.edges[node, v]["kind"] in (LINEAGE, SOURCE)}
        for member in graph.successors(node):
            if graph.edges[node, member]["kind"] == MEMBER:
                found |= {v for v in graph.successors(member) if graph.edges[member, v]["kind"] == LINEAGE}
        return sorted(found, key=node_sort_key)

    def per_profile(self, node: str) -> bool:
        graph = self.lineage.graph
        return node in graph and any(graph.edges[u, node]["kind"] == PROFILE for u in graph.predecessors(node))

    def classification(self, node: str) -> str:
        """A node's privacy class; a destination's is that of the values it sends (its columns),
        not of everything that decides who is sent (consent reads health flags to suppress)."""
        if node.startswith("destination:"):
            return highest_classification(level for _, level in self.sent_values(node.partition(":")[2]))
        return node_classification(self.defs, self.lineage, node)  # the rule the access views apply

    def sent_values(self, destination: str) -> list[tuple[str, str]]:
        """(value, its class) for every identifier and field a destination sends, in its order."""
        d = self.defs.destinations[destination]
        found = [(id_type, self.identifier_classification(id_type)) for id_type in d.identifiers]
        return found + [(f, self.lineage.classification(node_id("attribute", f))) for f in d.fields]

    def identifier_classification(self, id_type: str) -> str:
        return identifier_classification(self.lineage, self.defs.identity, id_type)

    def identifier_of(self, contract: str, column: str) -> list[str]:
        identity = self.defs.identity
        return identity.types_of(contract, column) if identity is not None else []

    # ------------------------------------------------------------------ governance

    def approval(self, kind: str, name: str) -> ApprovalView:
        definition = self.defs.by_kind(kind)[name]
        if kind == "project":
            data_hash, version = self.policy.hash, ""
            governed = bool(self.policy.approvers)
        else:
            data_hash = self.prints[node_id(kind, name)].data_hash
            version = getattr(definition, "version", None) or ""
            governed = kind in self.policy.governed
        status = status_of(self.defs, self.policy, kind, name, data_hash, version, definition.loc("name"))
        entries = [(a, a.hash == data_hash and (a.version or "") == version)
                   for _, a, _ in entries_for(self.defs, kind, name)]
        return ApprovalView(governed, status, entries)

    def owner_kinds(self) -> list[str]:
        """The kinds whose definitions each name an owner (every definition kind)."""
        return list(KIND_ORDER)
