"""The lineage DAG: definitions, contract fields, and which of them each one reads.

Node ids are `<kind>:<name>` (`attribute:spend_365d`) and `field:<contract>.<field>`.
Edges point upstream -> downstream and carry a `kind`:

- `lineage`  data flows: a snippet or a pick names it (a pick by time also reads the
             source's `event_time`), a segment includes it, a destination sends it. The column-level lineage of docs/reference.md §2.9, the only kind that
             `fields_reaching` follows (PHI/PII rules).
- `member`   a field belongs to its contract.
- `source`   the rows of a contract feed it (an aggregate's `source`, a pick's `from`,
             a consent's evidence or the identity's source contracts): `count(*)` names no
             field, yet the attribute still changes when the contract does.
- `profile`  the identity decides which records form a profile, so everything
             computed per profile depends on it.

`member`, `source` and `profile` edges count for `upstream`/`downstream` (impact,
semantic hashes) but are not lineage: belonging to a contract or a profile is not
reading a column. The builder tolerates unknown names and cycles, because validate
reads the graph before it knows the project is sound; topological orders are only
asked for once validation passed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Iterable, Optional

import networkx as nx

from .model import Definitions, kinds
from .model.contract import highest_classification
from .snippets import SnippetError, parse_snippet

LINEAGE, MEMBER, SOURCE, PROFILE = "lineage", "member", "source", "profile"


def _kind_rank() -> dict[str, int]:
    """The graph's kinds in registry order, `field` right after the kind whose fields are nodes."""
    ranked = []
    for kind in kinds():
        if kind.lineage is not None:
            ranked += [kind.name, "field"] if kind.fields_are_nodes else [kind.name]
    return {kind: rank for rank, kind in enumerate(ranked)}


KIND_RANK = _kind_rank()


def node_id(kind: str, name: str) -> str:
    return f"{kind}:{name}"


def field_id(contract: str, field: str) -> str:
    return f"field:{contract}.{field}"


def node_sort_key(node: str) -> tuple:
    kind, _, name = node.partition(":")
    return KIND_RANK.get(kind, len(KIND_RANK)), name


def snippet_columns(text: Optional[str], dialect: str) -> tuple[str, ...]:
    """Names a snippet reads; none when it does not parse (validate reports that)."""
    if text is None:
        return ()
    try:
        return parse_snippet(text, dialect).columns
    except SnippetError:
        return ()


@dataclass
class Lineage:
    graph: nx.DiGraph
    # node id -> classification, shown by every format when set (`cdpc lineage --classification`;
    # compiler/classification.py computes it)
    classes: Optional[dict[str, str]] = None

    def classified(self, classes: dict[str, str]) -> "Lineage":
        """The same graph, its formats showing each node's classification."""
        return Lineage(self.graph, classes)

    def upstream(self, node: str) -> list[str]:
        return list(self.all_upstream[node])

    @cached_property
    def all_upstream(self) -> dict[str, list[str]]:
        """Every node's ancestors in `node_sort_key` order, found in one pass in topological
        order (not one graph search per node); the graph is complete before a Lineage exists."""
        ancestors: dict[str, frozenset[str]] = {}
        for node in nx.topological_sort(self.graph):
            parents = list(self.graph.predecessors(node))
            ancestors[node] = frozenset(parents).union(*(ancestors[p] for p in parents))
        rank = {node: i for i, node in enumerate(sorted(self.graph, key=node_sort_key))}
        return {node: sorted(found, key=rank.__getitem__) for node, found in ancestors.items()}

    def downstream(self, node: str) -> list[str]:
        return sorted(nx.descendants(self.graph, node), key=node_sort_key)

    def fields_reaching(self, node: str) -> set[tuple[str, str]]:
        """(contract, field) pairs whose values flow into `node`, over lineage edges only."""
        return {(self.graph.nodes[n]["contract"], self.graph.nodes[n]["field"])
                for n in self._lineage_ancestors(node) if self.graph.nodes[n]["kind"] == "field"}

    def classification(self, node: str) -> str:
        """The privacy class of what `node` computes: a field's own (`phi` is `restricted`, no
        `classification` is `internal`); a contract's the highest of its fields'; anything else
        the highest class among the fields its column-level lineage reaches (`public < internal
        < confidential < restricted`), and `internal` when it reaches none (a count of rows reads
        no value)."""
        return highest_classification(self.graph.nodes[n]["classification"] for n in self.classified_by(node))

    def classified_by(self, node: str) -> list[str]:
        """The fields that decide `node`'s class: itself for a field, a contract's fields, else
        the fields its lineage reaches; those of the highest class among them (node_sort_key order)."""
        nodes = self.graph.nodes
        if nodes[node]["kind"] == "field":
            return [node]
        members = [n for n in self.graph.successors(node) if self.graph.edges[node, n]["kind"] == MEMBER]
        fields = members or [n for n in self._lineage_ancestors(node) if nodes[n]["kind"] == "field"]
        top = highest_classification(nodes[n]["classification"] for n in fields)
        return sorted((n for n in fields if nodes[n]["classification"] == top), key=node_sort_key)

    def lineage_path(self, upstream: str, downstream: str) -> list[str]:
        """Shortest chain of lineage edges from `upstream` to `downstream` (both included)."""
        view = nx.subgraph_view(self.graph, filter_edge=lambda u, v: self.graph.edges[u, v]["kind"] == LINEAGE)
        return nx.shortest_path(view, upstream, downstream)

    def attribute_order(self) -> list[str]:
        return self.order("attribute")

    def segment_order(self) -> list[str]:
        return self.order("segment")

    @cached_property
    def pii_attributes(self) -> frozenset[str]:
        """Attributes whose column-level lineage reaches a field marked pii (or phi): found once,
        for every destination's emit and sync manifest."""
        nodes = self.graph.nodes
        return frozenset(nodes[n]["name"] for n in self.graph if nodes[n]["kind"] == "attribute"
                         and any(nodes[up]["pii"] or nodes[up]["phi"]
                                 for up in self._lineage_ancestors(n) if nodes[up]["kind"] == "field"))

    def around(self, node: str, upstream: bool = True, downstream: bool = True) -> "Lineage":
        """The subgraph of `node` with its transitive upstream and/or downstream, for reading.

        A `profile` edge is shown but not followed: every attribute depends on the identity,
        and walking through it would pull in every identity field upstream, or every
        definition downstream, burying the column lineage asked for.
        """
        keep = {node}
        if upstream:
            keep |= self._reach(node, self.graph.predecessors, lambda other, me: (other, me))
        if downstream:
            keep |= self._reach(node, self.graph.successors, lambda other, me: (me, other))
        return Lineage(self.graph.subgraph(keep).copy(), self.classes)

    def _reach(self, start: str, neighbours, edge_of) -> set[str]:
        seen: set[str] = set()
        stack = [start]
        while stack:
            current = stack.pop()
            for other in neighbours(current):
                if other in seen or other == start:
                    continue
                seen.add(other)
                if self.graph.edges[edge_of(other, current)]["kind"] != PROFILE:
                    stack.append(other)
        return seen

    def find(self, name: str) -> list[str]:
        """Nodes a user may mean by `name`: an exact id, `kind:name`, `contract.field` or a bare name."""
        if name in self.graph:
            return [name]
        if "." in name and f"field:{name}" in self.graph:
            return [f"field:{name}"]
        return sorted((n for n in self.graph if self.graph.nodes[n]["name"] == name), key=node_sort_key)

    def nodes(self) -> list[str]:
        return sorted(self.graph, key=node_sort_key)

    def edges(self) -> list[tuple[str, str, str]]:
        return sorted(((u, v, k) for u, v, k in self.graph.edges(data="kind")),
                      key=lambda e: (node_sort_key(e[0]), node_sort_key(e[1])))

    def to_json(self) -> str:
        # a field's own class is graph data (the site reads it); the formats show classes only when asked
        nodes = [{"id": n, **{k: v for k, v in self.graph.nodes[n].items() if k != "classification"},
                  **({"classification": self.classes[n]} if self.classes else {})} for n in self.nodes()]
        edges = [{"from": u, "to": v, "kind": k} for u, v, k in self.edges()]
        return json.dumps({"nodes": nodes, "edges": edges}, indent=2, sort_keys=True) + "\n"

    def to_text(self) -> str:
        lines = []
        for node in self.nodes():
            lines.append(self.label(node))
            for up in sorted(self.graph.predecessors(node), key=node_sort_key):
                kind = self.graph.edges[up, node]["kind"]
                lines.append(f"  <- {up}" + ("" if kind == LINEAGE else f" ({kind})"))
        return "\n".join(lines) + "\n"

    def to_mermaid(self) -> str:
        ids = _mermaid_ids(self.nodes())
        lines = ["flowchart LR"]
        lines += [f'  {ids[n]}["{self.label(n)}"]' for n in self.nodes()]
        for u, v, kind in self.edges():
            arrow = "-->" if kind == LINEAGE else f"-. {kind} .->"
            lines.append(f"  {ids[u]} {arrow} {ids[v]}")
        return "\n".join(lines) + "\n"

    def to_dot(self) -> str:
        lines = ["digraph lineage {", "  rankdir=LR;", "  node [shape=box];"]
        lines += [f'  "{n}" [label="{self.label(n)}"];' for n in self.nodes()]
        for u, v, kind in self.edges():
            style = "" if kind == LINEAGE else f' [style=dashed, label="{kind}"]'
            lines.append(f'  "{u}" -> "{v}"{style};')
        return "\n".join(lines + ["}"]) + "\n"

    def label(self, node: str) -> str:
        data = self.graph.nodes[node]
        flags = [flag for flag in ("phi", "pii") if data.get(flag)]
        shown = node + (f" [{', '.join(flags)}]" if flags else "")
        return shown + (f" ({self.classes[node]})" if self.classes else "")

    def _lineage_ancestors(self, node: str) -> set[str]:
        seen: set[str] = set()
        stack = [node]
        while stack:
            current = stack.pop()
            for up in self.graph.predecessors(current):
                if up not in seen and self.graph.edges[up, current]["kind"] == LINEAGE:
                    seen.add(up)
                    stack.append(up)
        return seen

    def order(self, kind: str) -> list[str]:
        """Names of `kind`, upstream first (name order among independent ones)."""
        sub = self.graph.subgraph(n for n in self.graph if self.graph.nodes[n]["kind"] == kind)
        return [self.graph.nodes[n]["name"] for n in nx.lexicographical_topological_sort(sub)]



def identifier_classification(lineage: Lineage, identity, id_type: str) -> str:
    """An identifier column (a sync's `email`) takes the highest class of the fields the
    identity maps to that type, in every source."""
    return highest_classification(lineage.classification(field_id(source, mapping[id_type]))
                                  for source, mapping in sorted(identity.sources.items())
                                  if id_type in mapping and field_id(source, mapping[id_type]) in lineage.graph)


def _mermaid_ids(nodes: Iterable[str]) -> dict[str, str]:
    """Mermaid ids allow no `:` or `.`; dedupe the rare collisions deterministically."""
    ids: dict[str, str] = {}
    used: set[str] = set()
    for node in nodes:
        base = re.sub(r"[^A-Za-z0-9_]", "_", node)
        candidate, n = base, 1
        while candidate in used:
            n += 1
            candidate = f"{base}_{n}"
        used.add(candidate)
        ids[node] = candidate
    return ids


# --------------------------------------------------------------------------- building


def build_lineage(defs: Definitions) -> Lineage:
    builder = _Builder(defs)
    builder.add_nodes()
    builder.add_edges()
    return Lineage(builder.graph)


class _Builder:
    """Each kind's registry entry names the function that adds its edges (`kinds.py`)."""

    def __init__(self, defs: Definitions):
        self.defs = defs
        self.dialect = defs.project.expression_dialect
        self.graph = nx.DiGraph()
        self.kinds = [kind for kind in kinds() if kind.definition and kind.lineage is not None]

    def add_nodes(self) -> None:
        for kind in self.kinds:
            for name, definition in self.defs.by_kind(kind.name).items():
                self.graph.add_node(node_id(kind.name, name), kind=kind.name, name=name)
                if kind.fields_are_nodes:
                    for field, spec in definition.fields.items():
                        self.graph.add_node(field_id(name, field), kind="field", name=f"{name}.{field}",
                                            contract=name, field=field, type=spec.type, pii=spec.pii, phi=spec.phi,
                                            classification=spec.effective_classification)

    def add_edges(self) -> None:
        for kind in self.kinds:
            edges = kind.edges()
            for definition in self.defs.by_kind(kind.name).values():
                edges(self, definition)

    def link(self, upstream: str, downstream: str, kind: str) -> None:
        # Unknown names are validate's to report; the graph just leaves them out.
        if upstream in self.graph and downstream in self.graph and not self.graph.has_edge(upstream, downstream):
            self.graph.add_edge(upstream, downstream, kind=kind)

    def profile(self, downstream: str) -> None:
        if self.defs.identity is not None:
            self.link(node_id("identity", self.defs.identity.name), downstream, PROFILE)

    def pick_columns(self, pick, source: str) -> list[str]:
        """The picked field, and the event_time that decides which value wins: a value chosen
        by time discloses the time (the emitted SQL orders by it)."""
        contract = self.defs.contracts.get(source)
        event_time = contract.event_time if contract and pick.orders_by_time else None
        return [c for c in (pick.field_for(source), event_time) if c is not None]


# ---- each kind's edges (named by its registry entry)


def contract_edges(b: _Builder, contract) -> None:
    for name in contract.fields:
        b.link(node_id("contract", contract.name), field_id(contract.name, name), MEMBER)


def identity_edges(b: _Builder, identity) -> None:
    me = node_id("identity", identity.name)
    for source, mapping in identity.sources.items():
        b.link(node_id("contract", source), me, SOURCE)
        contract = b.defs.contracts.get(source)
        record_key = contract.primary_key if contract else []
        for column in [*mapping.values(), *record_key]:
            b.link(field_id(source, column), me, LINEAGE)


def erasure_edges(b: _Builder, erasure) -> None:
    """The requests it reads: their type, value and time fields; and what it rewrites: every
    field of each identity source, staged and rejected rows alike (it copies them whole,
    without the erased ones), and the identity it resolves again (a `profile` edge). It
    changes which records the identity resolves, but adds no value to any output, so nothing
    reads from it: its reading PHI fields taints nothing downstream."""
    me = node_id("erasure", erasure.name)
    b.link(node_id("contract", erasure.source), me, SOURCE)
    for column in (erasure.type_field, erasure.value_field, erasure.time_field):
        b.link(field_id(erasure.source, column), me, LINEAGE)
    identity = b.defs.identity
    if identity is None:
        return
    b.profile(me)
    for source in sorted(identity.sources):
        contract = b.defs.contracts.get(source)
        if contract is None:
            continue
        b.link(node_id("contract", source), me, SOURCE)
        for column in contract.fields:
            b.link(field_id(source, column), me, LINEAGE)


def attribute_edges(b: _Builder, attribute) -> None:
    me = node_id("attribute", attribute.name)
    b.profile(me)
    if attribute.form == "aggregate":
        b.link(node_id("contract", attribute.source), me, SOURCE)
        for text in (attribute.aggregate, attribute.where):
            for column in snippet_columns(text, b.dialect):
                b.link(field_id(attribute.source, column), me, LINEAGE)
    elif attribute.form == "expression":
        for column in snippet_columns(attribute.expression, b.dialect):
            b.link(node_id("attribute", column), me, LINEAGE)
    else:
        for source in attribute.pick.from_:
            b.link(node_id("contract", source), me, SOURCE)
            for column in b.pick_columns(attribute.pick, source):
                b.link(field_id(source, column), me, LINEAGE)


def consent_edges(b: _Builder, consent) -> None:
    """Each source of evidence: its rows, the fields that give purpose, grant and time (the
    contract's event_time when no time_field is written) and the fields its `where` names."""
    me = node_id("consent", consent.name)
    b.profile(me)
    for evidence in consent.evidence:
        b.link(node_id("contract", evidence.source), me, SOURCE)
        for column in [*evidence.fields(b.defs.contracts), *snippet_columns(evidence.where, b.dialect)]:
            b.link(field_id(evidence.source, column), me, LINEAGE)
    for attribute in consent.suppress_when:
        b.link(node_id("attribute", attribute), me, LINEAGE)


def segment_edges(b: _Builder, segment) -> None:
    me = node_id("segment", segment.name)
    b.profile(me)
    for column in snippet_columns(segment.where, b.dialect):
        b.link(node_id("attribute", column), me, LINEAGE)
    for other in [*segment.include, *segment.exclude]:
        b.link(node_id("segment", other), me, LINEAGE)


def access_edges(b: _Builder, access) -> None:
    """An access definition's views show the profiles, consent and audience tables: every value
    of them flows into it (hashed or hidden, but its SQL reads them all)."""
    me = node_id("access", access.name)
    if b.defs.identity is not None:
        b.link(node_id("identity", b.defs.identity.name), me, LINEAGE)
    for kind in ("attribute", "consent", "segment", "destination"):
        for name in b.defs.by_kind(kind):
            b.link(node_id(kind, name), me, LINEAGE)


def destination_edges(b: _Builder, destination) -> None:
    me = node_id("destination", destination.name)
    if destination.identifiers and b.defs.identity is not None:
        b.link(node_id("identity", b.defs.identity.name), me, LINEAGE)
    for attribute in destination.fields:
        b.link(node_id("attribute", attribute), me, LINEAGE)
    purposes = b.defs.purposes
    for sync in destination.syncs:
        b.link(node_id("segment", sync.segment), me, LINEAGE)
        if sync.purpose in purposes:
            b.link(node_id("consent", purposes[sync.purpose][0].name), me, LINEAGE)
