"""Fingerprints, split as SQLMesh splits them.

data hash      every key that changes compiled behaviour, of the definition and of
               everything upstream of it (its lineage ancestors and the project settings
               that reach every table: entity, expression_dialect, schemas); computed as
               a Merkle DAG: local part + the project settings + the parents' hashes
metadata hash  the documentation keys: description, owner, tags and field descriptions
               (`governance` is in neither: it is policy, compared by `cdpc check` itself)
own hash       the data keys of the definition alone (what `cdpc check` compares to tell an
               own change from an upstream one)
local hash     what the node hands to the Merkle DAG itself (`cdpc check` names the nodes
               whose local hash moved as the upstream changes that voided an approval)

A contract is read column by column (docs/governance.md, "Two hashes per definition"): its readers see, of it, only *which rows
are staged* (every key but `fields`, and the row rules of every field: `required`, a
type other than string (castability), `accepted_values`, `min`, `max`, `pattern`: a
rule on any field can reject a row) and, through a field node each, the fields their
lineage reads. So a field that nothing reads and no rule rejects on can come, go or
change without moving any hash downstream; the contract's own data hash covers all of it.

What never changes the data hash:
- `version` (a label of the change, not the change: bumping it alone keeps every approval);
- documentation keys; the file a definition lives in; YAML formatting, quoting, comments;
- the order of keys in a mapping, and the order of lists that are sets (segment
  `include`/`exclude`/`purposes`, consent `suppress_when` and `channels`, the identity
  blocklist, `accepted_values`);
- a key written with its default value vs left out (`include: []`);
- how a SQL snippet is spelled: snippets are hashed in sqlglot's canonical rendering;
  likewise `decimal(10, 2)` is `decimal(10,2)`.
What does: contract field order (it is the staged column order and the order of
`_reject_reasons`), identifier priority, `primary_key` order, `pick.from` order, and
every other list whose order the compiled SQL follows.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import networkx as nx

from .graph import Lineage, field_id, node_id
from .model import Definition, Definitions, Sync
from .model.base import DOC_KEYS
from .model.contract import parse_field_type
from .snippets import SnippetError, parse_snippet

if TYPE_CHECKING:
    from .project import LoadedProject

_SNIPPET_KEYS = ("aggregate", "where", "expression")
_NOT_SEMANTIC = set(DOC_KEYS) | {"version"}
# Project keys that are policy or which dialects get rendered: not what any table holds.
_PROJECT_POLICY_KEYS = ("governance",)
_PROJECT_OWN_ONLY_KEYS = ("targets",)  # in the project's own hash, not passed downstream
# Lists whose order means nothing (sets); sorted before hashing. (kind, path with * for any key)
_SET_LISTS = {
    "segment": (("include",), ("exclude",), ("purposes",)),
    "consent": (("suppress_when",), ("purposes", "*", "channels")),
    "identity": (("blocklist", "*"),),
    "contract": (("fields", "*", "accepted_values"),),
}


# The keys of a contract field that can reject a row (reference.md §2.2: required, castable to type,
# accepted_values, min, max, pattern); `type` counts unless it is string (always castable).
_ROW_RULES = ("required", "accepted_values", "min", "max", "pattern")


@dataclass(frozen=True)
class Fingerprint:
    data_hash: str
    metadata_hash: str
    own_hash: str = ""
    local_hash: str = ""


def fingerprints_of(project: LoadedProject) -> dict[str, Fingerprint]:
    """`fingerprints` of a valid loaded project, computed once and kept on it."""
    cached = getattr(project, "_prints", None)
    if cached is None:
        cached = project._prints = fingerprints(project.definitions, project.lineage)
    return cached


def fingerprints(defs: Definitions, lineage: Lineage) -> dict[str, Fingerprint]:
    """node id (`segment:winback`) -> Fingerprint, for every definition but approvals."""
    dialect = defs.project.expression_dialect
    contents = {node_id(d.kind, d.name): semantic_content(d, dialect) for d in defs.all()}
    own = {node: _digest(content) for node, content in contents.items()}
    project_node = node_id("project", defs.project.name)
    shared = _digest({k: v for k, v in contents[project_node].items() if k not in _PROJECT_OWN_ONLY_KEYS})
    # A Merkle DAG over the lineage graph: a node's data hash covers its own keys and its
    # parents' data hashes, so it covers everything upstream, in one pass over the edges.
    # Field nodes have no keys of their own; their parent (the contract) stands for them.
    # A contract hands its readers which rows are staged; each field node, that field.
    graph = lineage.graph
    local = dict(own)
    for contract in defs.contracts.values():
        content = contents[node_id("contract", contract.name)]
        local[node_id("contract", contract.name)] = _digest(staged_rows_content(content))
        for name, spec in content["fields"]:
            local[field_id(contract.name, name)] = _digest(spec)
    chained: dict[str, str] = {}
    for node in nx.topological_sort(graph):
        parents = {p: chained[p] for p in graph.predecessors(node)}
        chained[node] = _digest({"self": local.get(node, node), "project": shared, "parents": parents})
    result = {}
    for node, own_hash in own.items():
        if node.startswith("contract:") or node not in chained:  # a contract's own hash covers all of it
            data = _digest({"self": own_hash, "project": shared, "parents": {}})
        else:
            data = chained[node]
        result[node] = Fingerprint(data, _digest(metadata_content(_definition(defs, node))), own_hash, local[node])
    return result


def staged_rows_content(contract_content: dict) -> dict:
    """Of a contract's semantic content, what decides which rows are staged: every key but
    `fields`, and per field the rules that can reject a row (fields without any left out)."""
    rows = {key: value for key, value in contract_content.items() if key != "fields"}
    rules = {}
    for name, spec in contract_content["fields"]:
        found = {key: spec[key] for key in _ROW_RULES if spec.get(key) not in (None, False)}
        if spec.get("type") != "string":
            found["type"] = spec.get("type")
        if found:
            rules[name] = found
    rows["row_rules"] = rules
    return rows


def field_content(contract_content: dict, field: str) -> Any:
    """One field's semantic keys, from its contract's semantic content (None when absent)."""
    return next((spec for name, spec in contract_content["fields"] if name == field), None)


def semantic_content(definition: Definition, dialect: str) -> Any:
    """The definition's own data keys, normalized: what its data hash is made of."""
    data = definition.model_dump(mode="json", by_alias=True)
    for key in _NOT_SEMANTIC:
        data.pop(key, None)
    if definition.kind == "project":
        for key in _PROJECT_POLICY_KEYS:
            data.pop(key, None)
        # where cdpc keeps its list of owned tables: no table's rows depend on it, and a new
        # key must not change every hash (and void every approval) of an existing project
        data.get("schemas", {}).pop("meta", None)
    for key in _SNIPPET_KEYS:
        if isinstance(data.get(key), str):
            data[key] = _canonical_snippet(data[key], dialect)
    for path in _SET_LISTS.get(definition.kind, ()):
        _sort_lists(data, path)
    if definition.kind == "attribute":
        data["type"] = canonical_type(data["type"])
    if definition.kind == "consent":
        _consent_content(data, dialect)
    if definition.kind == "destination":
        # `max_remove` came after approvals were given: at its default it is left out, so
        # that the new key voids no approval (a change of it is a semantic change)
        for sync in data.get("syncs", []):
            if sync.get("max_remove") == Sync.model_fields["max_remove"].default:
                sync.pop("max_remove")
    if definition.kind == "contract":
        for spec in data["fields"].values():
            spec.pop("description", None)
            spec["type"] = canonical_type(spec["type"])
        # field order is the staged column order: keep it (a dict would be hashed sorted)
        data["fields"] = [[name, spec] for name, spec in data["fields"].items()]
    return data


def _consent_content(data: dict, dialect: str) -> None:
    """A purpose without `sources` hashes as it did before purposes could have them; a
    source's `where` is a snippet like any other; unwritten keys are left out."""
    for purpose in data.get("purposes", {}).values():
        sources = purpose.pop("sources", None)
        if sources:
            purpose["sources"] = [{key: _canonical_snippet(value, dialect) if key == "where" else value
                                   for key, value in source.items() if value is not None} for source in sources]


def metadata_content(definition: Definition) -> Any:
    """Documentation, with whitespace collapsed: a description folded with `>` or written on
    one line is the same text."""
    data = {key: _words(getattr(definition, key)) for key in DOC_KEYS}
    if definition.kind == "contract":
        data["fields"] = {name: _words(spec.description) for name, spec in definition.fields.items()}
    return data


def digest(content: Any) -> str:
    """`sha256:<hex>` of canonical JSON (sorted keys, no whitespace)."""
    return _digest(content)


def _words(value: Any) -> Any:
    return " ".join(value.split()) if isinstance(value, str) else value


def canonical_type(text: str) -> str:
    """`decimal(10, 2)` and `decimal(10,2)` are one type; other texts are kept as written."""
    parsed = parse_field_type(text) if isinstance(text, str) else None
    if parsed is None:
        return text
    return f"decimal({parsed[1]},{parsed[2]})" if parsed[0] == "decimal" else parsed[0]


def _sort_lists(data: Any, path: tuple) -> None:
    if not isinstance(data, dict) or not path:
        return
    head, rest = path[0], path[1:]
    keys = list(data) if head == "*" else [head] if head in data else []
    for key in keys:
        if rest:
            _sort_lists(data[key], rest)
        elif isinstance(data[key], list):
            data[key] = sorted(data[key], key=lambda v: json.dumps(v, sort_keys=True, default=str))


@lru_cache(maxsize=8192)  # the base and the head share most snippets
def _canonical_snippet(text: str, dialect: str) -> str:
    try:
        return parse_snippet(text, dialect).expr.sql(dialect="duckdb")
    except SnippetError:
        return text


def _definition(defs: Definitions, node: str) -> Definition:
    kind, _, name = node.partition(":")
    return defs.by_kind(kind)[name]


def _digest(content: Any) -> str:
    payload = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(payload.encode()).hexdigest()
