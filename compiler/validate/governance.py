"""Approvals are checked by `cdpc check`; validate only warns about entries that name nothing."""

from __future__ import annotations

from typing import Iterator

from ..diagnostics import Diagnostic, did_you_mean
from .context import Context, warning


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


RULES = (approval_targets,)
