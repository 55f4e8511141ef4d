"""Consent rules: every source of evidence is an identity source whose fields fit their roles
and whose `where` is a condition; every purpose has evidence; purposes are unique across
the project; suppression reads boolean attributes."""

from __future__ import annotations

from typing import Iterator, Optional

from sqlglot import exp

from .. import allowlist
from ..diagnostics import Diagnostic, did_you_mean
from ..model import Consent
from ..model.consent import LOG_KEYS, Evidence
from ..snippets import SnippetError
from .context import Context, error

GRANT = (("boolean",), "it must be boolean")
TIME = (("date", "timestamp"), "it must be a date or timestamp")


def source(ctx: Context) -> Iterator[Diagnostic]:
    for consent in ctx.defs.consents.values():
        for evidence in consent.evidence:
            yield from ctx.identity_source(evidence.source, consent.loc(*evidence.path, "source"))
            contract = ctx.defs.contracts.get(evidence.source)
            if contract is not None:
                yield from _fields(ctx, consent, evidence, contract)


def _fields(ctx: Context, consent: Consent, evidence: Evidence, contract) -> Iterator[Diagnostic]:
    roles = (("purpose_field", None, ""), ("granted_field", *GRANT), ("time_field", *TIME))
    for key, types, hint in roles:
        name = getattr(evidence, key)
        if name is None:
            continue
        location = consent.loc(*evidence.path, key)
        if name not in contract.fields:
            yield from ctx.contract_field(contract, name, location, key)
        elif types and contract.fields[name].base_type not in types:
            fitting = [n for n, f in contract.fields.items() if f.base_type in types]
            yield error("CDP215", f"{key} `{name}` is a {contract.fields[name].type} field; {hint}", location,
                        did_you_mean(name, fitting) or f"point {key} at a field of the right type")
    if evidence.time_field is None:
        event_time = contract.event_time
        if event_time is None:
            yield error("CDP210", f"evidence from `{contract.name}` needs a time: no `time_field`, and contract "
                        f"`{contract.name}` sets no `event_time`", consent.loc(*evidence.path, "source"),
                        f"add `time_field: <date or timestamp field>`, or `event_time:` to contract `{contract.name}`")
        elif event_time in contract.fields and contract.fields[event_time].base_type not in TIME[0]:
            yield error("CDP215", f"the time of evidence from `{contract.name}` is its event_time `{event_time}`, "
                        f"a {contract.fields[event_time].type} field; {TIME[1]}", consent.loc(*evidence.path, "source"),
                        "add `time_field:` naming a date or timestamp field")


def event_log_keys(ctx: Context) -> Iterator[Diagnostic]:
    """The event log is `source`, `purpose_field` and `granted_field` together (`time_field` optional)."""
    for consent in ctx.defs.consents.values():
        given = [key for key in (*LOG_KEYS, "time_field") if getattr(consent, key) is not None]
        missing = [key for key in LOG_KEYS if getattr(consent, key) is None]
        if given and missing:
            yield error("CDP102", f"the consent's event log needs {_keys(LOG_KEYS)} together: "
                        f"{_keys(given)} {'is' if len(given) == 1 else 'are'} given, {_keys(missing)} not",
                        consent.key_loc(given[0]),
                        f"add {_keys(missing)}, or leave the event log out and list each purpose's `sources`")


def one_grant(ctx: Context) -> Iterator[Diagnostic]:
    """Each purpose's source gives its grant one way: a boolean field or a constant."""
    for consent in ctx.defs.consents.values():
        for evidence in consent.evidence:
            if evidence.purpose is None:
                continue
            if evidence.granted_field is not None and evidence.granted is not None:
                yield error("CDP103", "give `granted_field` or `granted`, not both: each row's grant is its boolean "
                            "field, or the same constant for every row that passes `where`",
                            consent.key_loc(*evidence.path, "granted"), "keep one of them")
            elif evidence.granted_field is None and evidence.granted is None:
                yield error("CDP102", f"evidence from `{evidence.source}` gives no grant: add `granted_field` "
                            "(a boolean field) or `granted: true|false`", consent.loc(*evidence.path),
                            "a snapshot names its boolean field; an event that always means the same answer "
                            "gives `granted` and a `where` that keeps those events")


def _keys(keys) -> str:
    return ", ".join(f"`{k}`" for k in keys)


def evidence_per_purpose(ctx: Context) -> Iterator[Diagnostic]:
    for consent in ctx.defs.consents.values():
        if consent.source is not None:
            continue
        for purpose, spec in consent.purposes.items():
            if not spec.sources:
                yield error("CDP102", f"purpose `{purpose}` has no evidence: consent `{consent.name}` has no event "
                            "log (`source`) and the purpose lists no `sources`", consent.key_loc("purposes", purpose),
                            "add `sources: [{source: <contract>, granted_field: <boolean field>}]` to the purpose")


def where_is_a_condition(ctx: Context) -> Iterator[Diagnostic]:
    """A `where` keeps the rows for which it is true: it must be a condition. Names, parsing and
    the allow-list are checked with every other snippet (validate/expressions.py)."""
    targets = tuple(ctx.defs.project.targets)
    for consent in ctx.defs.consents.values():
        for evidence in consent.evidence:
            contract = ctx.defs.contracts.get(evidence.source)
            if evidence.where is None or contract is None:
                continue
            parsed = ctx.parse(evidence.where)
            if isinstance(parsed, SnippetError) or allowlist.check(parsed.expr, allowlist.ROW_FILTER, targets,
                                                                  evidence.where):
                continue
            types = {name: spec.base_type for name, spec in contract.fields.items()}
            if value_type(parsed.expr, types) not in (None, "boolean"):
                yield error("CDP222", f"`where` `{evidence.where}` is not a condition: it gives a "
                            f"{value_type(parsed.expr, types)}, not true or false", consent.loc(*evidence.path, "where"),
                            "compare it, e.g. `event_name = 'Unsubscribed'`, or name a boolean field")


_CONDITIONS = (exp.Predicate, exp.And, exp.Or, exp.Not, exp.Boolean, exp.RegexpLike)
_NUMBERS = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.Neg, exp.Abs, exp.Round, exp.Floor, exp.Ceil,
            exp.Length, exp.DateDiff, exp.Extract, exp.Year, exp.Month, exp.Day, exp.StrPosition)
_TEXTS = (exp.Lower, exp.Upper, exp.Trim, exp.Substring, exp.Left, exp.Right, exp.Concat, exp.DPipe, exp.Replace)
_TIMES = (exp.CurrentDate, exp.CurrentTimestamp, exp.DateAdd, exp.TimestampTrunc)


def value_type(node: exp.Expression, types: dict[str, str]) -> Optional[str]:
    """What a row-wise snippet gives: `boolean`, another base type or kind of value, or None
    when it cannot be told (a NULL, a `case` of mixed branches): only a sure non-condition
    is reported."""
    if isinstance(node, exp.Paren):
        return value_type(node.this, types)
    if isinstance(node, _CONDITIONS):
        return "boolean"
    if isinstance(node, exp.Column):
        return types.get(node.name)
    if isinstance(node, exp.Literal):
        return "text" if node.is_string else "number"
    if isinstance(node, exp.Cast):
        return "boolean" if node.to.this == exp.DataType.Type.BOOLEAN else node.to.sql(dialect="duckdb").lower()
    if isinstance(node, _NUMBERS):
        return "number"
    if isinstance(node, _TEXTS):
        return "text"
    if isinstance(node, _TIMES):
        return "date or timestamp"
    if isinstance(node, (exp.Case, exp.If, exp.Coalesce, exp.Nullif, exp.Greatest, exp.Least)):
        branches = [node.args.get("true"), node.args.get("false")] if isinstance(node, exp.If) else \
            [*(i.args.get("true") for i in node.args.get("ifs") or []), node.args.get("default")] \
            if isinstance(node, exp.Case) else [node.this, *(node.expressions or [])]
        found = {value_type(b, types) for b in branches if b is not None and not isinstance(b, exp.Null)}
        return found.pop() if len(found) == 1 else None
    return None


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


RULES = (event_log_keys, one_grant, source, evidence_per_purpose, where_is_a_condition, unique_purposes, suppress_when)
