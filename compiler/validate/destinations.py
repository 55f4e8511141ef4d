"""Destination rules: what is sent exists and fits in one table; every sync's segment and
purpose exist and allow the destination's channel (the compile-time rules of docs/reference.md §2.7)."""

from __future__ import annotations

from typing import Iterator

from ..diagnostics import Diagnostic, did_you_mean
from ..emit.uploads import upload_layout


from ..emit.changes import CHANGE_COLUMNS, HISTORY_COLUMNS
from ..model import Destination, Sync
from .context import Context, duplicates, error


def sent_columns(ctx: Context) -> Iterator[Diagnostic]:
    types = ctx.identifier_types
    attributes = ctx.defs.attributes
    for destination in ctx.defs.destinations.values():
        for index, id_type in enumerate(destination.identifiers):
            if ctx.unknown_identifier_type(id_type):
                yield error("CDP206", f"unknown identifier type `{id_type}`", destination.loc("identifiers", index),
                            did_you_mean(id_type, types) or "send identifier types that the identity declares")
        for index, name in enumerate(destination.fields):
            if ctx.unknown("attribute", name):
                yield error("CDP203", f"`fields` names unknown attribute `{name}`", destination.loc("fields", index),
                            did_you_mean(name, attributes) or "declare it under definitions/attributes/")
        yield from _collisions(destination)


def _collisions(destination: Destination) -> Iterator[Diagnostic]:
    """The sync table has `profile_id`, one column per identifier, one per field."""
    columns = [("profile_id", ("name",))]
    columns += [(name, ("identifiers", i)) for i, name in enumerate(destination.identifiers)]
    columns += [(name, ("fields", i)) for i, name in enumerate(destination.fields)]
    first: dict[str, tuple] = {}
    for name, path in columns[1:]:
        if name in CHANGE_COLUMNS + HISTORY_COLUMNS:
            yield error("CDP214", f"column `{name}` of the sync tables of `{destination.name}` is one that their "
                        "changes or history table adds (reference.md §5)", destination.loc(*path),
                        "rename the attribute (an identifier type: in the identity)")
    for name, path in columns:
        if name in first:
            yield error("CDP214", f"column `{name}` would appear twice in the sync tables of `{destination.name}`",
                        destination.loc(*path), "send each identifier and field once; an attribute cannot be named "
                        "like an identifier type it is sent with, nor `profile_id`")
        else:
            first[name] = path


def syncs(ctx: Context) -> Iterator[Diagnostic]:
    for destination in ctx.defs.destinations.values():
        for index, sync in enumerate(destination.syncs):
            yield from _sync(ctx, destination, index, sync)
        for index, segment in duplicates(s.segment for s in destination.syncs):
            yield error("CDP217", f"segment `{segment}` is synced twice to `{destination.name}`; both would write "
                        f"table sync__{destination.name}__{segment}", destination.loc("syncs", index, "segment"),
                        "one sync per segment and destination; make a second destination for another purpose")


def _sync(ctx: Context, destination: Destination, index: int, sync: Sync) -> Iterator[Diagnostic]:
    segment = ctx.defs.segments.get(sync.segment)
    if segment is None and ctx.unknown("segment", sync.segment):
        yield error("CDP204", f"unknown segment `{sync.segment}`", destination.loc("syncs", index, "segment"),
                    did_you_mean(sync.segment, ctx.defs.segments) or "declare it under definitions/segments/")
    purposes = ctx.defs.purposes
    if sync.purpose not in purposes:
        if ctx.unknown_purpose(sync.purpose):
            yield error("CDP205", f"purpose `{sync.purpose}` is not declared by any consent",
                        destination.loc("syncs", index, "purpose"),
                        did_you_mean(sync.purpose, purposes) or "declare it under a consent's `purposes`")
        return
    consent, channels = purposes[sync.purpose]
    if destination.channel not in channels:
        yield error("CDP401", f"purpose `{sync.purpose}` covers channels {', '.join(channels)}, not "
                    f"`{destination.channel}`", destination.loc("syncs", index, "purpose"),
                    f"use a purpose for `{destination.channel}`, or add the channel to `{sync.purpose}` in consent "
                    f"`{consent.name}` if the grants cover it")
    if segment is not None and sync.purpose not in segment.purposes:
        yield error("CDP402", f"segment `{segment.name}` may not be activated for `{sync.purpose}` "
                    f"(its purposes: {', '.join(segment.purposes) or 'none'})", destination.loc("syncs", index, "purpose"),
                    f"add `{sync.purpose}` to the segment's `purposes` if the council agrees")


def upload_columns(ctx: Context) -> Iterator[Diagnostic]:
    """Meta and Google take a file of named columns: everything sent needs one (emit/uploads.py)."""
    if ctx.identity_failed:
        return
    for destination in ctx.defs.destinations.values():
        for path, message, hint in upload_layout(ctx.defs, destination).problems:
            yield error("CDP409", message, destination.loc(*path), hint)


RULES = (sent_columns, syncs, upload_columns)
