"""Contract rules: keys and event_time name real fields, field rules fit the field's type."""

from __future__ import annotations

import re
from typing import Iterator

from ..diagnostics import Diagnostic, did_you_mean
from ..model import Contract, ContractField
from ..model.base import duration_seconds
from .context import Context, duplicates, error, warning
from .values import ORDERED, comparable, describe, fits

TIME_TYPES = ("date", "timestamp")


def primary_key(ctx: Context) -> Iterator[Diagnostic]:
    for contract in ctx.defs.contracts.values():
        for index, name in enumerate(contract.primary_key):
            yield from ctx.contract_field(contract, name, contract.loc("primary_key", index), "primary_key")
        for index, name in duplicates(contract.primary_key):
            yield error("CDP217", f"`{name}` is listed twice in `primary_key`", contract.loc("primary_key", index),
                        "list each key field once")


def event_time(ctx: Context) -> Iterator[Diagnostic]:
    for contract in ctx.defs.contracts.values():
        name = contract.event_time
        if name is None:
            if contract.freshness is not None:
                yield error("CDP210", "`freshness` is measured from `event_time`, which this contract does not set",
                            contract.key_loc("freshness"), "add `event_time: <a date or timestamp field>`")
            if contract.retention is not None:
                yield error("CDP210", "`retention` expires rows by their `event_time`, which this contract does not set",
                            contract.key_loc("retention"), "add `event_time: <a date or timestamp field>`, the "
                            "time from which each row's age is counted")
            continue
        if name not in contract.fields:
            yield from ctx.contract_field(contract, name, contract.loc("event_time"), "event_time")
        elif contract.fields[name].base_type not in TIME_TYPES:
            yield error("CDP215", f"event_time `{name}` is {contract.fields[name].type}, not a date or timestamp",
                        contract.loc("event_time"), did_you_mean(name, _time_fields(contract)) or
                        "point event_time at a date or timestamp field")
        elif contract.retention is not None and not contract.fields[name].required:
            # docs/reference.md §2.2: a row without an event_time has no age, so retention never expires it
            yield warning("CDP223", f"`retention` counts from event_time `{name}`, which is not required: a row "
                          f"whose `{name}` is NULL never expires", contract.key_loc("retention"),
                          f"set `required: true` on field `{name}` (a row without it is then rejected), "
                          "or accept that such rows are kept")


def freshness_order(ctx: Context) -> Iterator[Diagnostic]:
    for contract in ctx.defs.contracts.values():
        fresh = contract.freshness
        if fresh and fresh.warn_after and fresh.error_after and \
                duration_seconds(fresh.warn_after) > duration_seconds(fresh.error_after):
            yield warning("CDP103", f"freshness warn_after {fresh.warn_after} is longer than error_after "
                          f"{fresh.error_after}, so the warning can never show", contract.loc("freshness", "warn_after"),
                          "make warn_after the shorter of the two")


def field_rules(ctx: Context) -> Iterator[Diagnostic]:
    for contract in ctx.defs.contracts.values():
        for name, spec in contract.fields.items():
            yield from _bounds(contract, name, spec)
            yield from _pattern(contract, name, spec)
            yield from _accepted_values(contract, name, spec)
            yield from _classification(contract, name, spec)


def _bounds(contract: Contract, name: str, spec: ContractField) -> Iterator[Diagnostic]:
    present = [key for key in ("min", "max") if getattr(spec, key) is not None]
    if present and spec.base_type not in ORDERED:
        for key in present:
            yield error("CDP215", f"`{key}` does not apply to {spec.type} field `{name}`",
                        contract.key_loc("fields", name, key), "min and max apply to numbers, dates and timestamps")
        return
    for key in present:
        value = getattr(spec, key)
        if not fits(value, spec.base_type):
            yield error("CDP103", f"`{key}` of field `{name}` is {describe(value)}, which does not fit {spec.type}",
                        contract.loc("fields", name, key), _form_hint(spec.base_type))
            return
    if len(present) == 2 and comparable(spec.min) > comparable(spec.max):
        yield error("CDP103", f"field `{name}` has min {spec.min} above max {spec.max}: no value can pass",
                    contract.loc("fields", name, "min"), "swap them")


def _pattern(contract: Contract, name: str, spec: ContractField) -> Iterator[Diagnostic]:
    if spec.pattern is None:
        return
    if spec.base_type != "string":
        yield error("CDP215", f"`pattern` does not apply to {spec.type} field `{name}`",
                    contract.key_loc("fields", name, "pattern"), "pattern applies to string fields only")
        return
    try:
        re.compile(spec.pattern)
    except re.error as exc:
        yield error("CDP216", f"pattern of field `{name}` is not a valid regular expression: {exc}",
                    contract.loc("fields", name, "pattern"),
                    "in YAML, single-quote patterns so that backslashes stay as written: '^\\d+$'")


def _accepted_values(contract: Contract, name: str, spec: ContractField) -> Iterator[Diagnostic]:
    values = spec.accepted_values
    if values is None:
        return
    if not values:
        yield error("CDP103", f"`accepted_values` of field `{name}` is empty, so every non-NULL value is rejected",
                    contract.loc("fields", name, "accepted_values"), "list the values, or remove the key")
    for index, value in enumerate(values):
        if not fits(value, spec.base_type):
            yield error("CDP103", f"accepted value {describe(value)} of field `{name}` does not fit {spec.type}",
                        contract.loc("fields", name, "accepted_values", index), _form_hint(spec.base_type))
    for index, value in duplicates(values):
        yield warning("CDP217", f"accepted value {describe(value)} of field `{name}` is listed twice",
                      contract.loc("fields", name, "accepted_values", index), "remove the repeat")


def _classification(contract: Contract, name: str, spec: ContractField) -> Iterator[Diagnostic]:
    if spec.phi and spec.classification not in (None, "restricted"):
        # docs/reference.md §2.2: phi implies restricted; the explicit classification is overridden, so only warn
        yield warning("CDP103", f"field `{name}` is `phi: true` but classified `{spec.classification}`; PHI is always restricted",
                    contract.loc("fields", name, "classification"), "use `classification: restricted` or remove the key")


def _time_fields(contract: Contract) -> list[str]:
    return [n for n, f in contract.fields.items() if f.base_type in TIME_TYPES]


def _form_hint(base_type: str) -> str:
    return {
        "string": "quote it: YAML reads yes/no/on/off as booleans and 1.0 as a number",
        "date": "write a date as YYYY-MM-DD",
        "timestamp": "write a timestamp as YYYY-MM-DD HH:MM:SS",
        "boolean": "use true or false",
    }.get(base_type, "write a number")


RULES = (primary_key, event_time, freshness_order, field_rules)
