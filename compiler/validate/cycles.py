"""Cycles among attributes (expressions naming each other) and segments (include/exclude).

Both read the lineage graph, so a cycle is reported from the same edges that later
order the SQL. Each strongly connected component is reported once, as a readable
chain starting at its smallest name.
"""

from __future__ import annotations

from typing import Iterator

import networkx as nx

from ..diagnostics import Diagnostic
from .context import Context, error


def attribute_cycles(ctx: Context) -> Iterator[Diagnostic]:
    for chain in _cycles(ctx, "attribute"):
        first = ctx.defs.attributes[chain[0]]
        yield error("CDP212", "attribute cycle: " + " -> ".join(chain + [chain[0]]), first.loc("expression"),
                    "each attribute reads the next; break the loop by computing one of them from fields")


def segment_cycles(ctx: Context) -> Iterator[Diagnostic]:
    for chain in _cycles(ctx, "segment"):
        first = ctx.defs.segments[chain[0]]
        following = chain[1] if len(chain) > 1 else chain[0]
        key, index = _reference(first, following)
        yield error("CDP211", "segment include/exclude cycle: " + " -> ".join(chain + [chain[0]]),
                    first.loc(key, index), "a segment cannot be defined, even indirectly, by itself")


def _reference(segment, other: str) -> tuple[str, int]:
    for key in ("include", "exclude"):
        names = getattr(segment, key)
        if other in names:
            return key, names.index(other)
    return "name", 0


def _cycles(ctx: Context, kind: str) -> Iterator[list[str]]:
    """Each cycle as names in reading order: a reads b reads c (and c reads a)."""
    graph = ctx.lineage.graph
    nodes = [n for n in graph if graph.nodes[n]["kind"] == kind]
    # Lineage edges point from what is read to the reader; reverse them to read "a reads b".
    reads = nx.DiGraph()
    reads.add_nodes_from(sorted(nodes))
    reads.add_edges_from(sorted((v, u) for u, v in graph.subgraph(nodes).edges))
    for component in sorted((sorted(c) for c in nx.strongly_connected_components(reads)), key=lambda c: c[0]):
        start = component[0]
        if len(component) > 1 or reads.has_edge(start, start):
            yield [node.split(":", 1)[1] for node in _cycle_from(reads.subgraph(component), start)]


def _cycle_from(component: nx.DiGraph, start: str) -> list[str]:
    """A shortest cycle through `start` (deterministic: BFS over sorted neighbours)."""
    best: list[str] = [start]
    for successor in sorted(component.successors(start)):
        if successor == start:
            return [start]
        path = nx.shortest_path(component, successor, start)
        if len(best) == 1 or len(path) < len(best):
            best = [start] + path[:-1]
    return best


RULES = (attribute_cycles, segment_cycles)
