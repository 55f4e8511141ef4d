"""Access rules: an access definition's views need profiles to show, and a schema of their own."""

from __future__ import annotations

from typing import Iterator

from ..diagnostics import Diagnostic
from ..emit.access import access_schema
from ..model.access import VISIBILITIES
from ..model.contract import CLASSIFICATIONS
from ..model.project import OUTPUT_ROLES
from .context import Context, error, warning
from .naming import scratch_schemas, same_name, targets_of


def needs_profiles(ctx: Context) -> Iterator[Diagnostic]:
    if ctx.defs.identity is not None or ctx.identity_failed:
        return
    for access in ctx.defs.accesses.values():
        yield error("CDP224", f"access `{access.name}` shows the profiles, consent and audience tables, and this "
                    "project has none: it has no identity", access.loc("name"),
                    "define the identity (definitions/identity/), or remove the access definition")


def own_schema(ctx: Context) -> Iterator[Diagnostic]:
    """`<profiles>__<name>` holds the views and nothing else cdpc writes: not an output schema, the
    meta schema, the scratch schema or a raw relation's schema (whose tables the role would reach)."""
    project, targets = ctx.defs.project, targets_of(ctx)
    taken = {getattr(project.schemas, role): f"the output schema schemas.{role}" for role in OUTPUT_ROLES}
    taken[project.schemas.meta] = "the meta schema schemas.meta"
    taken.update({name: what for name, (what, _) in scratch_schemas(ctx).items()})
    for access in ctx.defs.accesses.values():
        schema = access_schema(ctx.defs, access)
        long = next((t for t in targets if t.names.too_long(schema)), None)
        if long is not None:
            effect = "would silently rename it" if long.names.truncates else "would refuse to create it"
            yield error("CDP218", f"the views of access `{access.name}` would go to schema `{schema}`, "
                        f"{len(schema.encode('utf-8'))} bytes long; {long.name} {long.names.limit_text()}",
                        access.loc("name"), f"use a shorter name: {long.name} {effect}")
        what = next((w for name, w in taken.items() if any(same_name(schema, name, t) for t in targets)), None)
        if what is not None:
            yield error("CDP219", f"the views of access `{access.name}` would go to schema `{schema}`, which is {what}",
                        access.loc("name"), "give the access definition another name (its schema is "
                        "`<schemas.profiles>__<name>`), or the other schema another name in project.yaml")


def shows_less_of_more(ctx: Context) -> Iterator[Diagnostic]:
    """A role that sees a higher classification more clearly than a lower one is almost always a typo."""
    for access in ctx.defs.accesses.values():
        shown = [VISIBILITIES.index(access.shows(level)) for level in CLASSIFICATIONS]
        for lower, higher in zip(range(len(shown) - 1), range(1, len(shown))):
            if shown[higher] < shown[lower]:
                low, high = CLASSIFICATIONS[lower], CLASSIFICATIONS[higher]
                yield warning("CDP225", f"access `{access.name}` shows `{high}` columns {access.shows(high)} but "
                              f"`{low}` ones only {access.shows(low)}: the more sensitive data is the more visible",
                              access.loc("see", high), f"show `{high}` at most as much as `{low}`")


RULES = (needs_profiles, own_schema, shows_less_of_more)
