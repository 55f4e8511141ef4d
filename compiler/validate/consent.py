"""Consent rules: the source is an identity source whose fields fit their roles; purposes
are unique across the project; suppression reads boolean attributes."""

from __future__ import annotations

from typing import Iterator

from ..diagnostics import Diagnostic, did_you_mean
from ..model import Consent
from .context import Context, error

ROLES = (  # key, the types it accepts, the hint when it does not
    ("purpose_field", None, ""),
    ("granted_field", ("boolean",), "it must be boolean"),
    ("time_field", ("date", "timestamp"), "it must be a date or timestamp"),
)


def source(ctx: Context) -> Iterator[Diagnostic]:
    for consent in ctx.defs.consents.values():
        yield from ctx.identity_source(consent.source, consent.loc("source"))
        contract = ctx.defs.contracts.get(consent.source)
        if contract is not None:
            yield from _fields(ctx, consent, contract)


def _fields(ctx: Context, consent: Consent, contract) -> Iterator[Diagnostic]:
    for key, types, hint in ROLES:
        name = getattr(consent, key)
        if name not in contract.fields:
            yield from ctx.contract_field(contract, name, consent.loc(key), key)
        elif types and contract.fields[name].base_type not in types:
            fitting = [n for n, f in contract.fields.items() if f.base_type in types]
            yield error("CDP215", f"{key} `{name}` is a {contract.fields[name].type} field; {hint}", consent.loc(key),
                        did_you_mean(name, fitting) or f"point {key} at a field of the right type")


def unique_purposes(ctx: Context) -> Iterator[Diagnostic]:
    owner: dict[str, Consent] = {}
    for consent in ctx.defs.consents.values():  # name order: the first consent keeps the purpose
        for purpose in consent.purposes:
            if purpose in owner:
                yield error("CDP213", f"purpose `{purpose}` is already declared by consent `{owner[purpose].name}`",
                            consent.key_loc("purposes", purpose), "declare each purpose in one consent only")
            else:
                owner[purpose] = consent


def suppress_when(ctx: Context) -> Iterator[Diagnostic]:
    attributes = ctx.defs.attributes
    for consent in ctx.defs.consents.values():
        for index, name in enumerate(consent.suppress_when):
            if ctx.unknown("attribute", name):  # one that failed to model was reported already
                yield error("CDP203", f"`suppress_when` names unknown attribute `{name}`",
                            consent.loc("suppress_when", index), did_you_mean(name, attributes) or "declare it under definitions/attributes/")
            elif ctx.attribute_base_type(name) not in (None, "boolean"):
                yield error("CDP215", f"`suppress_when` attribute `{name}` is {attributes[name].type}, not boolean",
                            consent.loc("suppress_when", index), "suppress with a boolean attribute, e.g. `x > 0`")


RULES = (source, unique_purposes, suppress_when)
