"""Classification through lineage: how sensitive each column that cdpc writes is.

A contract field's classification is written on it (`classification`, default `internal`;
`phi: true` is always `restricted`). A column cdpc computes takes the highest
classification among the fields its lineage reaches (`public < internal < confidential <
restricted`): an attribute computed from a confidential field is confidential, whatever
else it reads. The lineage is the graph of compiler/graph.py, followed over its `lineage`
edges only (docs/reference.md §2.9), so the classification of a column agrees with the
PHI and PII rules that read the same graph.

- A column whose lineage reaches no field (a `count(*)`, a purpose name) is `internal`,
  the classification a field has when none is written: cdpc never calls a column
  `public` that nobody called public.
- An identifier column takes its fields': the highest classification among the fields that
  the identity maps to that identifier type, in every source. `profile_id` is a hash of
  one of those values, or of a record key, so it takes the identity's (every identifier
  field and every identity source's primary key).
- A table whose rows are a segment's members, or a sync's audience, says of each row that
  the profile is a member: every column of it is at least as classified as the membership
  (the segment's `where`, `include` and `exclude`, and for a sync the evidence of its
  purpose's grants). This is cdpc's one addition to column lineage: a view that shows a
  hashed `profile_id` of a segment defined from restricted data would disclose it.

The lineage graph is passed in, never built here: this module sits beside graph.py, below
emit/ (which lays out the tables and asks for each column's classification here) and the
CLI (`cdpc lineage --classification`).
"""

from __future__ import annotations

from typing import Any, Iterable

from .model import Definitions
from .model.contract import CLASSIFICATIONS
from .snippets import SnippetError, parse_snippet

Lineage = Any  # graph.Lineage, passed in by the caller: this module does not import graph.py (one layer)

UNREACHED = "internal"  # a column that reads no field: the default classification of a field
_RANK = {level: rank for rank, level in enumerate(CLASSIFICATIONS)}


def highest(levels: Iterable[str], default: str = UNREACHED) -> str:
    """The highest of `levels` (`public < internal < confidential < restricted`); `default` for none."""
    found = list(levels)
    return max(found, key=_RANK.__getitem__) if found else default


def at_least(level: str, floor: str) -> bool:
    """`level` is `floor` or higher."""
    return _RANK[level] >= _RANK[floor]


def field_classification(defs: Definitions, contract: str, field: str) -> str:
    return defs.contracts[contract].fields[field].effective_classification


def column_classification(defs: Definitions, lineage: Lineage, reads: Iterable[str]) -> str:
    """The classification of a column computed from the lineage nodes `reads` (node ids:
    `field:<contract>.<field>`, `attribute:<name>`, `identity:<name>`, ...): the highest
    among the fields their lineage reaches, a field counting for itself; `internal` when
    they reach none."""
    levels = []
    for node in reads:
        data = lineage.graph.nodes.get(node)
        if data is None:
            continue
        if data["kind"] == "field":
            levels.append(field_classification(defs, data["contract"], data["field"]))
        levels += [field_classification(defs, c, f) for c, f in lineage.fields_reaching(node)]
    return highest(levels)


def node_classification(defs: Definitions, lineage: Lineage, node: str) -> str:
    """What `cdpc lineage --classification` shows for a node: a field its own, a contract the
    highest of its fields, any other definition the classification of what it computes."""
    data = lineage.graph.nodes[node]
    if data["kind"] == "contract":
        contract = defs.contracts.get(data["name"])
        return highest(f.effective_classification for f in contract.fields.values()) if contract else UNREACHED
    return column_classification(defs, lineage, [node])


def identifier_fields(defs: Definitions, id_type: str) -> list[str]:
    """The field nodes that carry identifier type `id_type`, in every identity source."""
    identity = defs.identity
    if identity is None:
        return []
    return [f"field:{source}.{mapping[id_type]}" for source, mapping in sorted(identity.sources.items())
            if id_type in mapping]


def grant_fields(defs: Definitions, purpose: str) -> list[str]:
    """The field nodes a purpose's grants are decided from: its evidence's grant, time and
    `where` fields, and the event log's purpose field (not `suppress_when`, which only takes
    members out: the `granted` column reads it, an audience is only narrowed by it)."""
    declared = defs.purposes.get(purpose)
    if declared is None:
        return []
    consent = declared[0]
    found = []
    for evidence in consent.evidence:
        if evidence.purpose not in (None, purpose) or evidence.source not in defs.contracts:
            continue
        names = list(evidence.fields(defs.contracts))
        if evidence.where:
            try:
                names += parse_snippet(evidence.where, defs.project.expression_dialect).columns
            except SnippetError:
                pass
        found += [f"field:{evidence.source}.{name}" for name in names]
    return list(dict.fromkeys(found))


def node_classifications(defs: Definitions, lineage: Lineage) -> dict[str, str]:
    """node id -> its classification, for every node of the graph."""
    return {node: node_classification(defs, lineage, node) for node in lineage.graph}
