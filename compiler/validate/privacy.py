"""What may leave the warehouse: nothing derived from PHI, and on ads channels nothing
identifying or PII-derived in clear text. Column-level lineage decides (SPEC)."""

from __future__ import annotations

from typing import Iterator

from ..diagnostics import Diagnostic
from ..graph import field_id, node_id
from .context import Context, error, has_key, warning

SHOWN_PATHS = 3


def phi_fields(ctx: Context) -> Iterator[Diagnostic]:
    for destination in ctx.defs.destinations.values():
        for index, name in enumerate(destination.fields):
            paths = _paths_to(ctx, node_id("attribute", name), "phi")
            if paths:
                yield error("CDP403", f"field `{name}` derives from PHI and would be sent to `{destination.name}`: "
                            + _join(paths), destination.loc("fields", index),
                            "remove it from `fields`; PHI-derived values never leave the warehouse")


def phi_segments(ctx: Context) -> Iterator[Diagnostic]:
    """Membership of a PHI-defined audience reveals the PHI even without a column (an extension: a warning)."""
    for destination in ctx.defs.destinations.values():
        for index, sync in enumerate(destination.syncs):
            paths = _paths_to(ctx, node_id("segment", sync.segment), "phi")
            if paths:
                yield warning("CDP403", f"segment `{sync.segment}` is defined from PHI, so its audience on "
                              f"`{destination.name}` reveals it: " + _join(paths),
                              destination.loc("syncs", index, "segment"),
                              "sync a segment that does not read PHI-derived attributes")


def ads_hashing(ctx: Context) -> Iterator[Diagnostic]:
    for destination in ctx.defs.destinations.values():
        if destination.channel != "ads" or destination.hash == "sha256":
            continue
        clear = [f"identifier `{t}`" for t in destination.identifiers]
        for name in destination.fields:
            paths = _paths_to(ctx, node_id("attribute", name), "pii")
            clear += [f"PII-derived field `{name}` ({paths[0]})"] if paths else []
        if clear:
            where = destination.loc("hash") if has_key(destination, "hash") else destination.loc("channel")
            yield error("CDP404", f"ads destination `{destination.name}` would send in clear text: " + ", ".join(clear),
                        where, "set `hash: sha256`")


def _paths_to(ctx: Context, node: str, flag: str) -> list[str]:
    """Readable lineage chains `attr <- ... <- contract.field` from every `flag` field to `node`."""
    lineage = ctx.lineage
    if node not in lineage.graph:
        return []
    paths = []
    for contract, field in sorted(lineage.fields_reaching(node)):
        if getattr(ctx.defs.contracts[contract].fields[field], flag):
            chain = lineage.lineage_path(field_id(contract, field), node)
            paths.append(" <- ".join(_short(n) for n in reversed(chain)))
    return paths


def _short(node: str) -> str:
    return node.split(":", 1)[1]


def _join(paths: list[str]) -> str:
    shown = "; ".join(paths[:SHOWN_PATHS])
    return shown + (f" (and {len(paths) - SHOWN_PATHS} more)" if len(paths) > SHOWN_PATHS else "")


RULES = (phi_fields, phi_segments, ads_hashing)
