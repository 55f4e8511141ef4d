"""JSON Schemas of every kind, for editors and pre-commit: `cdpc schema` writes them to schemas/.

One file per kind (straight from the pydantic model) and `cdpc.schema.json`, which
dispatches on `kind` and is self-contained (only local `#/$defs/...` references), so
any tool can use it without resolving other files or URLs. The output is
deterministic: sorted keys, two-space indent, a trailing newline.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

from .model import KINDS

DRAFT = "https://json-schema.org/draft/2020-12/schema"
ID_PREFIX = "urn:cdpc:schema:v1"  # a name, not a URL: nothing is ever fetched
SCHEMA_DIR = "schemas"
DISPATCH_FILE = "cdpc.schema.json"


def kind_schema(kind: str) -> dict[str, Any]:
    model = KINDS[kind]
    schema = model.model_json_schema(by_alias=True)
    schema.update({"$schema": DRAFT, "$id": f"{ID_PREFIX}:{kind}", "title": f"cdpc {kind}",
                   "description": _describe(model)})
    return schema


def dispatch_schema() -> dict[str, Any]:
    """One schema for every definition file: `kind` picks the kind's schema."""
    defs: dict[str, Any] = {}
    branches = []
    for kind in sorted(KINDS):
        schema = kind_schema(kind)
        for name, sub in schema.pop("$defs", {}).items():
            defs[f"{kind}.{name}"] = _prefix_refs(sub, kind)
        defs[kind] = _prefix_refs({k: v for k, v in schema.items() if k not in ("$schema", "$id")}, kind)
        branches.append({"if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
                         "then": {"$ref": f"#/$defs/{kind}"}})
    return {
        "$schema": DRAFT, "$id": ID_PREFIX, "title": "cdpc definition",
        "description": "Any cdpc definition document; its `kind` selects the schema.",
        "type": "object", "required": ["kind"],
        "properties": {"kind": {"enum": sorted(KINDS)}},
        "allOf": branches, "$defs": defs,
    }


def rendered() -> dict[str, str]:
    """File name -> exact file content."""
    files = {f"{kind}.schema.json": _dump(kind_schema(kind)) for kind in sorted(KINDS)}
    files[DISPATCH_FILE] = _dump(dispatch_schema())
    return files


def stale(root: Path) -> list[str]:
    """Relative paths of schema files that are missing or differ from what cdpc would write."""
    directory = Path(root) / SCHEMA_DIR
    return [f"{SCHEMA_DIR}/{name}" for name, text in rendered().items()
            if not (directory / name).is_file() or (directory / name).read_text(encoding="utf-8") != text]


def write(root: Path) -> list[str]:
    """Write every schema file whose content changed; return their relative paths."""
    directory = Path(root) / SCHEMA_DIR
    changed = stale(root)
    directory.mkdir(exist_ok=True)
    for name, text in rendered().items():
        if f"{SCHEMA_DIR}/{name}" in changed:
            (directory / name).write_text(text, encoding="utf-8", newline="\n")
    return changed


def _dump(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _prefix_refs(node: Any, kind: str) -> Any:
    if isinstance(node, dict):
        return {k: (v.replace("#/$defs/", f"#/$defs/{kind}.") if k == "$ref" else _prefix_refs(v, kind))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_prefix_refs(v, kind) for v in node]
    return node


def _describe(model: type) -> str:
    """The first line of the kind's module docstring: `kind: contract — a source table's promise...`."""
    doc = inspect.getmodule(model).__doc__ or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""
