"""What may leave the warehouse: nothing derived from PHI, and on ads channels nothing
identifying or PII-derived in clear text. Column-level lineage decides (docs/reference.md §2.9,
docs/guarantees.md §1)."""

from __future__ import annotations

from typing import Iterator

from ..diagnostics import Diagnostic
from ..graph import field_id, node_id, snippet_columns
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
    """Membership of a PHI-defined audience reveals the PHI even without a column (docs/guarantees.md §1)."""
    for destination in ctx.defs.destinations.values():
        for index, sync in enumerate(destination.syncs):
            paths = _paths_to(ctx, node_id("segment", sync.segment), "phi")
            if paths:
                yield error("CDP403", f"segment `{sync.segment}` is defined from PHI, so its audience on "
                            f"`{destination.name}` reveals it: " + _join(paths),
                            destination.loc("syncs", index, "segment"),
                            "sync a segment whose where, include and exclude read no PHI-derived attribute")


def phi_grants(ctx: Context) -> Iterator[Diagnostic]:
    """A grant decides who is *in* an audience: evidence read from PHI would disclose it just as
    a segment's `where` would. (Suppression may use PHI: it only removes members.)"""
    for destination in ctx.defs.destinations.values():
        for index, sync in enumerate(destination.syncs):
            declared = ctx.defs.purposes.get(sync.purpose)
            if declared is None:
                continue  # CDP205 elsewhere
            for evidence in declared[0].evidence:
                if evidence.purpose not in (None, sync.purpose):
                    continue
                for field in _evidence_fields(ctx, evidence):
                    if _flag(ctx.defs.contracts[evidence.source], field, "phi"):
                        yield error("CDP403", f"purpose `{sync.purpose}` is granted from PHI field "
                                    f"`{evidence.source}.{field}`, so its audience on `{destination.name}` "
                                    "reveals it", destination.loc("syncs", index, "purpose"),
                                    "grant the purpose from fields that are not PHI; to keep members out "
                                    "on PHI, use consent's `suppress_when`")


def _evidence_fields(ctx: Context, evidence) -> list[str]:
    if evidence.source not in ctx.defs.contracts:
        return []  # CDP201 elsewhere
    where = snippet_columns(evidence.where, ctx.dialect) if evidence.where else ()
    return list(dict.fromkeys([*evidence.fields(ctx.defs.contracts), *where]))


def phi_identifiers(ctx: Context) -> Iterator[Diagnostic]:
    """A PHI field may not identify a record: identifier values are sent, and `profile_id` is a
    hash of the highest identifier or of the record key (docs/reference.md §2.3, docs/guarantees.md §1)."""
    for identity in ctx.defs.identities.values():
        for source, mapping in identity.sources.items():
            contract = ctx.defs.contracts.get(source)
            if contract is None:
                continue  # CDP201 elsewhere
            for id_type, field in mapping.items():
                if _flag(contract, field, "phi"):
                    yield error("CDP405", f"PHI field `{source}.{field}` cannot be the identifier `{id_type}`: "
                                "identifier values are sent to destinations and name profiles",
                                identity.loc("sources", source, id_type),
                                "map a non-PHI field, or drop it from the identity's sources")
            for index, field in enumerate(contract.primary_key):
                if _flag(contract, field, "phi"):
                    yield error("CDP405", f"PHI field `{field}` is in the primary key of identity source `{source}`: "
                                "a profile without identifiers is named by a hash of its record key",
                                contract.loc("primary_key", index), "key the contract by a non-PHI field")


def phi_sent_identifiers(ctx: Context) -> Iterator[Diagnostic]:
    """Identifiers sent follow the rules of fields: none may carry a PHI field's values."""
    identity = ctx.defs.identity
    if identity is None:
        return
    for destination in ctx.defs.destinations.values():
        for index, id_type in enumerate(destination.identifiers):
            for source, field in _identifier_fields(ctx, id_type):
                if _flag(ctx.defs.contracts[source], field, "phi"):
                    yield error("CDP403", f"identifier `{id_type}` carries PHI field `{source}.{field}` and would be "
                                f"sent to `{destination.name}`", destination.loc("identifiers", index),
                                "remove it from `identifiers`; PHI never leaves the warehouse")


def ads_hashing(ctx: Context) -> Iterator[Diagnostic]:
    for destination in ctx.defs.destinations.values():
        if destination.channel != "ads" or destination.hash == "sha256":
            continue
        clear = [f"identifier `{t}`" for t in destination.identifiers]
        for name in destination.fields:
            paths = _paths_to(ctx, node_id("attribute", name), "pii")
            id_type = _picked_identifier(ctx, name)
            clear += ([f"PII-derived field `{name}` ({paths[0]})"] if paths
                      else [f"field `{name}` (a pick of identifier `{id_type}` values)"] if id_type else [])
        if clear:
            where = destination.loc("hash") if has_key(destination, "hash") else destination.loc("channel")
            yield error("CDP404", f"ads destination `{destination.name}` would send in clear text: " + ", ".join(clear),
                        where, "set `hash: sha256`")


def ads_unmatchable(ctx: Context) -> Iterator[Diagnostic]:
    """On ads, a hashed PII-derived field is matchable only when it is a pick of identifier values, which
    are normalized like their type before hashing (docs/reference.md §2.7); any other is hashed as it is."""
    for destination in ctx.defs.destinations.values():
        if destination.channel != "ads" or destination.hash != "sha256":
            continue  # not hashed: CDP404
        for index, name in enumerate(destination.fields):
            paths = _paths_to(ctx, node_id("attribute", name), "pii")
            if paths and _picked_identifier(ctx, name) is None:
                yield warning("CDP406", f"PII-derived field `{name}` is sent to `{destination.name}` hashed as it "
                              f"is ({paths[0]}), not normalized like an identifier, so the platform may not match it",
                              destination.loc("fields", index),
                              "send a pick of a field that the identity maps to one identifier type in every source "
                              "of `from` (it is normalized before hashing), or send the identifier in `identifiers`")


def _picked_identifier(ctx: Context, name: str) -> str | None:
    attribute = ctx.defs.attributes.get(name)
    return attribute.picked_identifier(ctx.defs.identity) if attribute else None


def _identifier_fields(ctx: Context, id_type: str) -> list[tuple[str, str]]:
    identity = ctx.defs.identity
    return [(source, mapping[id_type]) for source, mapping in identity.sources.items()
            if id_type in mapping and source in ctx.defs.contracts]


def _flag(contract, field: str, flag: str) -> bool:
    spec = contract.fields.get(field)
    return bool(spec is not None and getattr(spec, flag))


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


RULES = (phi_fields, phi_segments, phi_grants, phi_identifiers, phi_sent_identifiers, ads_hashing, ads_unmatchable)
