"""The JSON files of generated/ beside the SQL: what a delivery job and a reviewer read.

generated/manifest.json                every definition: kind, name, version, hashes, upstream, files
generated/syncs/<destination>.json     what a delivery job needs to push an audience

A sync manifest describes the SQL of emit/syncs.py, so it asks the same rules
(`sent_field`, `drops_phone_plus`) instead of restating them.
"""

from __future__ import annotations

import json
from typing import Mapping

from .. import __version__
from ..graph import node_id
from ..model import Definitions, Destination
from .syncs import drops_phone_plus, sent_field, sync_table


def manifest(defs: Definitions, targets: list[str], prints: Mapping, upstream_of: Mapping[str, list[str]],
             produced: Mapping[tuple[str, str], list[str]], columns: Mapping[str, dict] = {}) -> dict:
    """`prints`: node id -> Fingerprint; `produced`: (kind, name) -> paths under generated/;
    `columns`: node id -> {schema.table -> {column -> classification}} (emit/columns.py)."""
    entries = []
    for definition in defs.all():
        node = node_id(definition.kind, definition.name)
        upstream = [n for n in upstream_of.get(node, []) if not n.startswith("field:")]
        entries.append({
            "kind": definition.kind,
            "name": definition.name,
            "version": getattr(definition, "version", None),
            "file": definition.file,
            "data_hash": prints[node].data_hash,
            "metadata_hash": prints[node].metadata_hash,
            "upstream": upstream,
            "files": sorted(produced.get((definition.kind, definition.name), [])),
            "columns": columns.get(node, {}),
        })
    return {"cdpc_version": __version__, "project": defs.project.name, "targets": targets, "definitions": entries}


def sync_manifest(defs: Definitions, destination: Destination, pii_attributes: set[str]) -> dict:
    identity = defs.identity
    identifiers = [{
        "type": t,
        "normalize": identity.identifier(t).normalize,
        "hash": destination.hash,
        "sent_as": _sent_as(destination, identity.identifier(t).normalize),
    } for t in destination.identifiers]
    fields = [_sent_field(defs, destination, f, pii_attributes) for f in destination.fields]
    syncs = [{
        "segment": s.segment, "purpose": s.purpose, "cadence": s.cadence, "mode": s.mode,
        "audience_table": f"{defs.project.schemas.audiences}.{sync_table(destination.name, s.segment)}",
        "columns": ["profile_id", *destination.identifiers, *destination.fields],
    } for s in destination.syncs]
    return {"destination": destination.name, "version": destination.version, "platform": destination.platform,
            "channel": destination.channel, "identifiers": identifiers, "fields": fields, "syncs": syncs}


def to_json(content: dict) -> str:
    return json.dumps(content, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def _sent_field(defs: Definitions, destination: Destination, field: str, pii_attributes) -> dict:
    id_type, hashed = sent_field(defs, pii_attributes, destination, field)
    normalizer = defs.identity.identifier(id_type).normalize if id_type else "none"
    sent_as = (_sent_as(destination, normalizer) if id_type else "sha256 hex of the value as text" if hashed
               else "the value")
    return {"attribute": field, "type": defs.attributes[field].type, "normalize": normalizer,
            "hash": "sha256" if hashed else "none", "sent_as": sent_as}


def _sent_as(destination: Destination, normalizer: str) -> str:
    if destination.hash != "sha256":
        return "normalized value"
    if drops_phone_plus(destination, normalizer):
        return "sha256 hex of the digits, without +"
    return "sha256 hex of the normalized value"
