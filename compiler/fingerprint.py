"""Fingerprints, split as SQLMesh splits them.

data hash      every key that changes compiled behaviour, of the definition and of
               everything upstream of it (its lineage ancestors and the project's settings)
metadata hash  the documentation keys: description, owner, tags (and field descriptions)

SQL snippets are hashed in sqlglot's canonical rendering, so reformatting a snippet,
reordering YAML keys or moving a definition to another file keeps both hashes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from .graph import Lineage, node_id
from .model import Definition, Definitions
from .model.base import DOC_KEYS
from .snippets import SnippetError, parse_snippet

_SNIPPET_KEYS = ("aggregate", "where", "expression")
_PROJECT_DOC_KEYS = set(DOC_KEYS) | {"governance"}  # approvals policy is not compiled behaviour


@dataclass(frozen=True)
class Fingerprint:
    data_hash: str
    metadata_hash: str


def fingerprints(defs: Definitions, lineage: Lineage) -> dict[str, Fingerprint]:
    """node id (`segment:winback`) -> Fingerprint, for every definition but approvals."""
    dialect = defs.project.expression_dialect
    own = {node_id(d.kind, d.name): _digest(semantic_content(d, dialect)) for d in defs.all()}
    project_hash = own[node_id("project", defs.project.name)]
    result = {}
    for node, own_hash in own.items():
        upstream = {n: own[n] for n in lineage.upstream(node) if n in own} if node in lineage.graph else {}
        data = _digest({"self": own_hash, "project": project_hash, "upstream": upstream})
        definition = _definition(defs, node)
        result[node] = Fingerprint(data, _digest(metadata_content(definition)))
    return result


def semantic_content(definition: Definition, dialect: str) -> Any:
    data = definition.model_dump(mode="json", by_alias=True)
    for key in DOC_KEYS:
        data.pop(key, None)
    if definition.kind == "project":
        for key in _PROJECT_DOC_KEYS:
            data.pop(key, None)
    for key in _SNIPPET_KEYS:
        if isinstance(data.get(key), str):
            data[key] = _canonical_snippet(data[key], dialect)
    if definition.kind == "contract":
        for spec in data["fields"].values():
            spec.pop("description", None)
    return data


def metadata_content(definition: Definition) -> Any:
    data = {key: getattr(definition, key) for key in DOC_KEYS}
    if definition.kind == "contract":
        data["fields"] = {name: spec.description for name, spec in definition.fields.items()}
    return data


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
