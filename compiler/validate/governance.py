"""Approvals are checked by `cdpc check`; validate only warns about entries that name nothing.
Ownership: every segment, destination and contract names an `owner` (a warning, an error
with `governance.require_owner`)."""

from __future__ import annotations

from typing import Iterator

from ..diagnostics import Diagnostic, did_you_mean
from .context import Context, error, warning

OWNED = ("contract", "segment", "destination")  # the kinds that must name an owner


def approval_targets(ctx: Context) -> Iterator[Diagnostic]:
    approvals = ctx.defs.approvals
    if approvals is None or approvals._doc is None:
        return
    doc = approvals._doc
    for index, approval in enumerate(approvals.approvals):
        kind, name = approval.target
        existing = ctx.defs.by_kind(kind)
        if name not in existing and ctx.unknown(kind, name):
            yield warning("CDP607", f"approval for unknown {kind} `{name}`", doc.loc("approvals", index, kind),
                          did_you_mean(name, existing) or "remove the entry if the definition was deleted")


def owners(ctx: Context) -> Iterator[Diagnostic]:
    yield from owner_findings(ctx.defs, ctx.defs.project.governance.require_owner)


def owner_findings(defs, required: bool) -> Iterator[Diagnostic]:
    """CDP621 for each contract, segment and destination without an owner; an error when `required`."""
    report = error if required else warning
    for kind in OWNED:
        for definition in defs.by_kind(kind).values():
            if not (definition.owner or "").strip():
                yield report("CDP621", f"{kind} `{definition.name}` names no owner", definition.loc("name"),
                             "add `owner:` with the team or person who answers for it, e.g. an email")


RULES = (approval_targets, owners)
