"""Lineage pictures drawn as SVG at build time: a layered layout, left to right.

The layout is deterministic (the same graph gives the same bytes) and needs nothing but
Python: each node's layer is the length of the longest path that reaches it, so every
edge points right; within a layer, nodes start in the order given and are then moved by
a few sweeps of the barycenter heuristic (each node towards the mean position of its
neighbours in the layer before, then after), ties kept in the previous order. Nodes of a
layer share one width; an edge is a cubic curve from the right side of its source to the
left side of its target. Node labels are drawn in a monospace font so their width can be
computed here without measuring text.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Optional

import networkx as nx

CHAR = 7.3  # the width of one character at the labels' 12px monospace
PAD_X, NODE_H, GAP_X, GAP_Y, MARGIN = 12, 38, 48, 14, 8
MAX_CHARS = 34  # longer labels are cut (the whole text is in the node's tooltip)
SWEEPS = 4


@dataclass(frozen=True)
class Node:
    id: str
    label: str  # the name, drawn in monospace
    caption: str  # the kind, drawn small above it
    css: str  # the class that colours it (its kind)
    href: Optional[str] = None
    title: str = ""  # the tooltip


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    css: str = "lineage"


def layers(graph: nx.DiGraph, order: list[str]) -> list[list[str]]:
    """Nodes per layer (longest path from a source), each layer ordered to cross few edges."""
    rank = {node: i for i, node in enumerate(order)}
    depth: dict[str, int] = {}
    for node in nx.lexicographical_topological_sort(graph, key=rank.__getitem__):
        depth[node] = max((depth[p] + 1 for p in graph.predecessors(node)), default=0)
    found: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for node in order:
        found[depth[node]].append(node)
    for _ in range(SWEEPS):
        for i in range(1, len(found)):
            found[i] = _by_barycenter(found[i], found[i - 1], graph.predecessors)
        for i in range(len(found) - 2, -1, -1):
            found[i] = _by_barycenter(found[i], found[i + 1], graph.successors)
    return found


def _by_barycenter(layer: list[str], fixed: list[str], neighbours) -> list[str]:
    where = {node: i for i, node in enumerate(fixed)}

    def key(item: tuple[int, str]) -> tuple[float, int]:
        index, node = item
        near = [where[n] for n in neighbours(node) if n in where]
        return (sum(near) / len(near) if near else float(index), index)

    return [node for _, node in sorted(enumerate(layer), key=key)]


def render(nodes: list[Node], edges: list[Edge], title: str, focus: Optional[str] = None) -> str:
    """The picture as an inline <svg> element; `nodes` in reading order (it breaks ties)."""
    graph = nx.DiGraph()
    graph.add_nodes_from(n.id for n in nodes)
    graph.add_edges_from((e.source, e.target) for e in edges)
    by_id = {n.id: n for n in nodes}
    columns = layers(graph, [n.id for n in nodes])
    widths = [max(_text_width(by_id[n]) for n in column) + 2 * PAD_X for column in columns]
    tallest = max((len(c) for c in columns), default=0)
    height = MARGIN * 2 + tallest * NODE_H + max(tallest - 1, 0) * GAP_Y
    place: dict[str, tuple[int, int, int]] = {}  # id -> x, y, width
    x = MARGIN
    for column, width in zip(columns, widths):
        used = len(column) * NODE_H + (len(column) - 1) * GAP_Y
        y = MARGIN + (height - 2 * MARGIN - used) // 2
        for node in column:
            place[node] = (x, y, width)
            y += NODE_H + GAP_Y
        x += width + GAP_X
    total_width = max(x - GAP_X + MARGIN, 2 * MARGIN)
    out = [f'<svg class="lineage" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {total_width} {height}" '
           f'width="{total_width}" height="{height}" role="img" aria-label="{escape(title)}">',
           f"<title>{escape(title)}</title>"]
    for edge in sorted(edges, key=lambda e: (place[e.source][0], place[e.source][1], place[e.target][1])):
        sx, sy, sw = place[edge.source]
        tx, ty, _ = place[edge.target]
        x1, y1, x2, y2 = sx + sw, sy + NODE_H // 2, tx, ty + NODE_H // 2
        bend = max((x2 - x1) // 2, 24)
        out.append(f'<path class="edge {edge.css}" d="M{x1} {y1} C{x1 + bend} {y1} {x2 - bend} {y2} {x2 - 6} {y2}"/>')
        out.append(f'<path class="arrow {edge.css}" d="M{x2 - 7} {y2 - 4} L{x2} {y2} L{x2 - 7} {y2 + 4} Z"/>')
    for node in nodes:
        nx_, ny, width = place[node.id]
        css = f"node {node.css}" + (" focus" if node.id == focus else "")
        label = node.label if len(node.label) <= MAX_CHARS else node.label[:MAX_CHARS - 1] + "…"
        body = (f'<rect x="{nx_}" y="{ny}" width="{width}" height="{NODE_H}" rx="6"/>'
                f'<text class="caption" x="{nx_ + PAD_X}" y="{ny + 14}">{escape(node.caption)}</text>'
                f'<text class="name" x="{nx_ + PAD_X}" y="{ny + 30}">{escape(label)}</text>'
                f"<title>{escape(node.title or node.label)}</title>")
        if node.href and node.id != focus:
            out.append(f'<a class="{css}" href="{escape(node.href)}">{body}</a>')
        else:
            out.append(f'<g class="{css}">{body}</g>')
    out.append("</svg>")
    return "\n".join(out)


def _text_width(node: Node) -> int:
    chars = max(min(len(node.label), MAX_CHARS), len(node.caption) * 0.85)
    return int(chars * CHAR + 0.5)
