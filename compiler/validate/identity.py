"""Identity rules: one identity, unique identifier types, sources that can be keyed and mapped."""

from __future__ import annotations

from typing import Iterator

from ..diagnostics import Diagnostic, did_you_mean
from ..normalize import normalize_value
from .context import Context, duplicates, error, warning


def one_identity(ctx: Context) -> Iterator[Diagnostic]:
    identities = list(ctx.defs.identities.values())
    for extra in identities[1:]:
        yield error("CDP209", f"second identity `{extra.name}` (the project already has `{identities[0].name}`)",
                    extra.loc("name"), "a project has one profile entity and one identity in v1: merge them")


def identifier_types(ctx: Context) -> Iterator[Diagnostic]:
    for identity in ctx.defs.identities.values():
        for index, id_type in duplicates(identity.types):
            yield error("CDP217", f"identifier type `{id_type}` is listed twice", identity.loc("identifiers", index, "type"),
                        "list each identifier type once, in priority order")


def sources(ctx: Context) -> Iterator[Diagnostic]:
    for identity in ctx.defs.identities.values():
        types = identity.types
        for source, mapping in identity.sources.items():
            contract = ctx.defs.contracts.get(source)
            yield from ctx.known_contract(source, identity.key_loc("sources", source))
            if contract is not None and not contract.primary_key:
                yield error("CDP207", f"identity source `{source}` has no primary_key, so its records have no key",
                            identity.key_loc("sources", source), f"add `primary_key: [...]` to contract `{source}`")
            for id_type, field in mapping.items():
                if id_type not in types:
                    yield error("CDP206", f"unknown identifier type `{id_type}`", identity.key_loc("sources", source, id_type),
                                did_you_mean(id_type, types) or "declare it under `identifiers`")
                if contract is not None:
                    yield from ctx.contract_field(contract, field, identity.loc("sources", source, id_type))


def blocklist(ctx: Context) -> Iterator[Diagnostic]:
    for identity in ctx.defs.identities.values():
        for id_type, values in identity.blocklist.items():
            if id_type not in identity.types:
                yield error("CDP206", f"blocklist names unknown identifier type `{id_type}`",
                            identity.key_loc("blocklist", id_type),
                            did_you_mean(id_type, identity.types) or "declare it under `identifiers`")
                continue
            yield from _blocking_nothing(identity, id_type, values)


def _blocking_nothing(identity, id_type: str, values: list[str]) -> Iterator[Diagnostic]:
    """Blocklist entries are compared after normalization; one that normalizes to nothing blocks nothing."""
    normalizer = identity.identifier(id_type).normalize
    for index, value in enumerate(values):
        if normalize_value(normalizer, value) is None:
            yield warning("CDP103", f"blocklist value {value!r} is not a valid `{id_type}` once normalized "
                          f"({normalizer}), so it blocks nothing", identity.loc("blocklist", id_type, index),
                          "write the value as it appears in the data; it is normalized before comparing")


RULES = (one_identity, identifier_types, sources, blocklist)
