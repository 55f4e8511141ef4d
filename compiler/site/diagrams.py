"""Which boxes and arrows a lineage picture shows: the whole project's, or one definition's.

The project's picture has a box per definition (fields folded into their contract); a
definition's has what it reads and what reads it, down to the fields read, and leaves out
what is joined to it only by being computed per profile. svg.py lays them out and draws them.
"""

from __future__ import annotations

import networkx as nx

from ..graph import LINEAGE, MEMBER, SOURCE, node_id, node_sort_key
from . import svg
from .facts import Facts, href_of, kind_words

MAX_FIELD_BOXES = 12  # a definition's picture with more fields read draws their contracts instead


def project_picture(facts: Facts) -> str:
    graph = facts.lineage.graph
    keep = [n for n in facts.lineage.nodes() if graph.nodes[n]["kind"] not in ("field", "project")]
    edges: set[tuple[str, str]] = set()
    for u, v, kind in facts.lineage.edges():
        if kind == LINEAGE and graph.nodes[u]["kind"] == "field":
            u = node_id("contract", graph.nodes[u]["contract"])
        if kind in (LINEAGE, SOURCE) and u in keep and v in keep:
            edges.add((u, v))
    return svg.render([_box(facts, n) for n in keep], [svg.Edge(u, v) for u, v in sorted(edges)],
                          f"Lineage of {facts.defs.project.name}: sources on the left, destinations on the right")


def definition_picture(facts: Facts, node: str) -> str:
    lineage = facts.lineage
    around = lineage.around(node).graph
    kinds = {n: around.nodes[n]["kind"] for n in around}
    read_fields = {u for u, v, k in around.edges(data="kind") if k == LINEAGE and kinds[u] == "field"}
    shown_contracts = {around.nodes[f]["contract"] for f in read_fields}
    keep = []
    for n in sorted(around, key=node_sort_key):
        if kinds[n] == "field" and n not in read_fields:
            continue
        if kinds[n] == "contract" and n != node and n.partition(":")[2] in shown_contracts:
            continue
        keep.append(n)
    kept = set(keep)
    edges = []
    for u, v, kind in sorted(around.edges(data="kind"), key=lambda t: (node_sort_key(t[0]), node_sort_key(t[1]))):
        if u in kept and v in kept and (kind in (LINEAGE, SOURCE) or (kind == MEMBER and u == node)):
            edges.append(svg.Edge(u, v, "lineage" if kind != SOURCE else "source"))
    # only what is joined to the definition by the edges drawn: a definition that `around` reached
    # through a profile edge alone (everything computed per profile) is left out
    drawn = nx.DiGraph((edge.source, edge.target) for edge in edges)
    drawn.add_node(node)
    joined = {node} | nx.ancestors(drawn, node) | nx.descendants(drawn, node)
    keep = [n for n in keep if n in joined]
    edges = [edge for edge in edges if edge.source in joined and edge.target in joined]
    if sum(1 for n in keep if kinds[n] == "field") > MAX_FIELD_BOXES:  # too tall: one box per contract instead
        keep, edges = _fold_fields(keep, edges, around)
    if len(keep) == 1:
        return ""
    name = node.partition(":")[2]
    return svg.render([_box(facts, n) for n in keep], edges,
                          f"What {name} reads (left) and what reads it (right)", focus=node)


def _fold_fields(keep: list[str], edges: list, graph) -> tuple[list[str], list]:
    """Each field box replaced by its contract's, the edges moved with it (once each)."""
    def folded(n: str) -> str:
        data = graph.nodes[n]
        return node_id("contract", data["contract"]) if data["kind"] == "field" else n

    nodes = sorted(dict.fromkeys(folded(n) for n in keep), key=node_sort_key)
    moved: dict[tuple[str, str], str] = {}
    for edge in edges:
        pair = (folded(edge.source), folded(edge.target))
        if pair[0] != pair[1]:
            moved[pair] = "source" if moved.get(pair, edge.css) == "source" and edge.css == "source" else "lineage"
    return nodes, [svg.Edge(u, v, css) for (u, v), css in sorted(moved.items())]


def _box(facts: Facts, node: str) -> svg.Node:
    data = facts.lineage.graph.nodes[node]
    kind = data["kind"]
    if kind == "field":
        level = data["classification"]
        flags = [flag for flag in ("phi", "pii") if data.get(flag)]
        caption = "field · " + level + (f" · {', '.join(flags)}" if flags else "")
        return svg.Node(node, data["name"], caption, f"field class-{level}", href_of(node),
                            f"field {data['name']} ({data['type']}, {level})")
    definition = facts.definition(node)
    return svg.Node(node, data["name"], kind_words(kind)[0].lower(), kind, href_of(node),
                        f"{kind_words(kind)[0]} {data['name']}" + (f": {definition.description}"
                                                                   if definition.description else ""))
