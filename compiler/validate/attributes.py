"""Attribute rules outside the SQL snippets: the type, the default, the sources and the pick."""

from __future__ import annotations

from typing import Iterator

from ..diagnostics import Diagnostic, did_you_mean
from ..model import Attribute, parse_field_type
from ..model.contract import field_type_hint
from .context import Context, duplicates, error
from .values import describe, fits

NEEDS_EVENT_TIME = ("most_recent", "first_seen")


def attribute_type(ctx: Context) -> Iterator[Diagnostic]:
    for attribute in ctx.defs.attributes.values():
        parsed = parse_field_type(attribute.type)
        if parsed is None or (parsed[0] == "decimal" and not (1 <= parsed[1] <= 38 and parsed[2] <= parsed[1])):
            yield error("CDP108", f"unknown attribute type {attribute.type!r}", attribute.loc("type"),
                        field_type_hint(attribute.type))


def default_value(ctx: Context) -> Iterator[Diagnostic]:
    for attribute in ctx.defs.attributes.values():
        base = ctx.attribute_base_type(attribute.name)
        if attribute.default is not None and base is not None and not fits(attribute.default, base):
            yield error("CDP103", f"default {describe(attribute.default)} does not fit {attribute.type}",
                        attribute.loc("default"), f"give a default of the attribute's type ({attribute.type})")


def aggregate_source(ctx: Context) -> Iterator[Diagnostic]:
    for attribute in ctx.defs.attributes.values():
        if attribute.form == "aggregate":
            yield from ctx.identity_source(attribute.source, attribute.loc("source"))


def pick(ctx: Context) -> Iterator[Diagnostic]:
    for attribute in ctx.defs.attributes.values():
        if attribute.form == "pick":
            yield from _pick_sources(ctx, attribute)
            yield from _pick_field_map(attribute)
            yield from _pick_fields(ctx, attribute)


def _pick_sources(ctx: Context, attribute: Attribute) -> Iterator[Diagnostic]:
    sources = attribute.pick.from_
    for index, source in enumerate(sources):
        yield from ctx.identity_source(source, attribute.loc("pick", "from", index))
    for index, source in duplicates(sources):
        yield error("CDP217", f"`{source}` is listed twice in `pick.from`", attribute.loc("pick", "from", index),
                    "list each source once, in priority order")


def _pick_field_map(attribute: Attribute) -> Iterator[Diagnostic]:
    if not isinstance(attribute.pick.field, dict):
        return
    sources = attribute.pick.from_
    for source in sources:
        if source not in attribute.pick.field:
            yield error("CDP202", f"`pick.field` names no field for source `{source}`", attribute.loc("pick", "field"),
                        f"add `{source}: <field>` to the map")
    for source in attribute.pick.field:
        if source not in sources:
            yield error("CDP103", f"`pick.field` maps `{source}`, which is not in `pick.from`",
                        attribute.key_loc("pick", "field", source), did_you_mean(source, sources) or "remove it")


def _pick_fields(ctx: Context, attribute: Attribute) -> Iterator[Diagnostic]:
    strategy = attribute.pick.strategy
    for index, source in enumerate(attribute.pick.from_):
        contract = ctx.defs.contracts.get(source)
        field = attribute.pick.field_for(source)
        if contract is None or field is None or source in attribute.pick.from_[:index]:
            continue
        path = ("pick", "field", source) if isinstance(attribute.pick.field, dict) else ("pick", "field")
        yield from ctx.contract_field(contract, field, attribute.loc(*path), "pick.field")
        if strategy in NEEDS_EVENT_TIME and contract.event_time is None:
            yield error("CDP210", f"strategy `{strategy}` orders by event_time, which contract `{source}` does not set",
                        attribute.loc("pick", "from", index),
                        f"add `event_time:` to contract `{source}`, or use source_priority or most_frequent")


RULES = (attribute_type, default_value, aggregate_source, pick)
