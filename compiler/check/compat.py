"""Contract compatibility (docs/reference.md §4.1): which changes of a contract are breaking.

A breaking change needs a MAJOR bump (CDP602 without one); every other semantic change
needs at least a MINOR bump (CDP603); documentation-only changes need none. The rules
are the tables below: CONTRACT_RULES for the contract's own keys, FIELD_SET_RULES for
fields that come, go or move, FIELD_RULES for the keys of a field present on both sides.
"""

from __future__ import annotations

from typing import Any, Optional

from ..model.base import duration_seconds
from .rules import (MAJOR, MINOR, Finding, Rule, added, always, apply, compare, is_widening, names, removed,
                    shown)


def _tighter(bound: str, direction: int):
    """min is tighter when it rises (direction 1), max when it falls (-1); added counts as tighter."""
    def fires(old: Any, new: Any) -> Optional[str]:
        if new is None:
            return None
        if old is None:
            return f"{bound} {shown(new)} added"
        order = compare(new, old)
        if order is None:
            return f"{bound} {shown(old)} -> {shown(new)} (not comparable: treated as tighter)"
        return f"{bound} {shown(old)} -> {shown(new)} is tighter" if order == direction else None
    return fires


def _looser(bound: str, direction: int):
    def fires(old: Any, new: Any) -> Optional[str]:
        if old is None:
            return None
        if new is None:
            return f"{bound} {shown(old)} removed"
        order = compare(new, old)
        return f"{bound} {shown(old)} -> {shown(new)} is looser" if order == -direction else None
    return fires


def _accepted_narrowed(old: Any, new: Any) -> Optional[str]:
    if new is None:
        return None
    if old is None:
        return f"accepted_values added ({names(new)})"
    gone = removed(old, new)
    return f"accepted_values no longer accept {names(gone)}" if gone else None


def _accepted_widened(old: Any, new: Any) -> Optional[str]:
    if old is None:
        return None
    if new is None:
        return "accepted_values removed"
    more = added(old, new)
    return f"accepted_values also accept {names(more)}" if more else None


def _retention_shortened(old: Any, new: Any) -> Optional[str]:
    if new is None:
        return None
    if old is None:
        return f"retention {new} added: rows older than it are no longer staged"
    if duration_seconds(new) < duration_seconds(old):
        return f"retention {old} -> {new} is shorter: rows between the two ages are no longer staged"
    return None


def _retention_lengthened(old: Any, new: Any) -> Optional[str]:
    if old is None:
        return None
    if new is None:
        return f"retention {old} removed: no row expires any more"
    if duration_seconds(new) >= duration_seconds(old):
        return f"retention {old} -> {new} keeps every row that was kept"
    return None


def _flag_on(key: str):
    return lambda old, new: f"{key}: true added" if new and not old else None


def _flag_off(key: str):
    return lambda old, new: f"{key}: true removed" if old and not new else None


CONTRACT_RULES: tuple[Rule, ...] = (
    Rule("relation-changed", ("relation",), MAJOR, "`relation` changed: the data comes from another table",
         always("relation {old} -> {new}")),
    Rule("primary-key-changed", ("primary_key",), MAJOR, "`primary_key` changed (fields or their order)",
         always("primary_key {old} -> {new}")),
    Rule("event-time-changed", ("event_time",), MINOR, "`event_time` changed, added or removed",
         always("event_time {old} -> {new}")),
    Rule("freshness-changed", ("freshness",), MINOR, "`freshness` changed (a run check, not a row rule)",
         always("freshness {old} -> {new}")),
    Rule("retention-shortened", ("retention",), MAJOR, "`retention` added or shortened: rows that were staged expire",
         _retention_shortened),
    Rule("retention-lengthened", ("retention",), MINOR, "`retention` removed, lengthened or written otherwise "
         "(`24h` for `1d`): no staged row expires", _retention_lengthened),
)
CONTRACT_FALLBACK = Rule("contract-other", ("*",), MINOR, "any other semantic change of the contract",
                         always("changed"))

FIELD_SET_RULES: tuple[Rule, ...] = (
    Rule("field-removed", ("fields",), MAJOR, "a field is removed", lambda old, new: "removed" if new is None else None),
    Rule("field-added-required", ("fields",), MAJOR, "a field is added with `required: true` (rows without it are rejected)",
         lambda old, new: "added as required" if old is None and new.get("required") else None),
    Rule("field-added", ("fields",), MINOR, "a field is added, not required",
         lambda old, new: "added" if old is None and not new.get("required") else None),
    Rule("field-order", ("fields",), MINOR, "fields are reordered (the staged column order and `_reject_reasons` order)",
         always("fields reordered")),
)

FIELD_RULES: tuple[Rule, ...] = (
    Rule("type-narrowed", ("type",), MAJOR, "`type` changes other than widening (integer→bigint→double, decimal to a larger precision)",
         lambda old, new: None if is_widening(old, new) else f"type {old} -> {new} is not a widening"),
    Rule("type-widened", ("type",), MINOR, "`type` widened: integer→bigint, integer→double, bigint→double, decimal(p,s)→decimal(p',s') with p'>p, s'≥s and p'−s'≥p−s",
         lambda old, new: f"type {old} -> {new} (widening)" if is_widening(old, new) else None),
    Rule("became-required", ("required",), MAJOR, "`required` becomes true", _flag_on("required")),
    Rule("no-longer-required", ("required",), MINOR, "`required` becomes false", _flag_off("required")),
    Rule("became-unique", ("unique",), MAJOR, "`unique` becomes true (data that passed can now fail the run)", _flag_on("unique")),
    Rule("no-longer-unique", ("unique",), MINOR, "`unique` becomes false", _flag_off("unique")),
    Rule("accepted-values-narrowed", ("accepted_values",), MAJOR, "`accepted_values` added, or a value no longer accepted",
         _accepted_narrowed),
    Rule("accepted-values-widened", ("accepted_values",), MINOR, "`accepted_values` removed, or values added",
         _accepted_widened),
    Rule("min-tightened", ("min",), MAJOR, "`min` added or raised", _tighter("min", 1)),
    Rule("min-loosened", ("min",), MINOR, "`min` removed or lowered", _looser("min", 1)),
    Rule("max-tightened", ("max",), MAJOR, "`max` added or lowered", _tighter("max", -1)),
    Rule("max-loosened", ("max",), MINOR, "`max` removed or raised", _looser("max", -1)),
    Rule("pattern-tightened", ("pattern",), MAJOR, "`pattern` added or changed (cdpc cannot prove a new regex accepts every old value)",
         lambda old, new: None if new is None else f"pattern {shown(old)} -> {shown(new)}"),
    Rule("pattern-removed", ("pattern",), MINOR, "`pattern` removed",
         lambda old, new: "pattern removed" if new is None else None),
    Rule("privacy-changed", ("pii", "phi", "classification"), MINOR, "`pii`, `phi` or `classification` changed",
         always("{old} -> {new}")),
)
FIELD_FALLBACK = Rule("field-other", ("*",), MINOR, "any other change of a field", always("changed"))

RULE_TABLES = (CONTRACT_RULES, (CONTRACT_FALLBACK,), FIELD_SET_RULES, FIELD_RULES, (FIELD_FALLBACK,))


def classify_contract(old: dict, new: dict) -> list[Finding]:
    """Own changes of a contract, from the two sides' semantic content (fingerprint.semantic_content)."""
    old_fields, new_fields = dict(old.get("fields", [])), dict(new.get("fields", []))
    top_old = {k: v for k, v in old.items() if k != "fields"}
    top_new = {k: v for k, v in new.items() if k != "fields"}
    findings = apply(CONTRACT_RULES, CONTRACT_FALLBACK, top_old, top_new)
    for name in sorted(set(old_fields) | set(new_fields)):
        before, after = old_fields.get(name), new_fields.get(name)
        if before is None or after is None:
            for rule in FIELD_SET_RULES[:3]:
                detail = rule.fires(before, after)
                if detail:
                    findings.append(Finding(rule, f"field `{name}` {detail}", ("fields", name)))
            continue
        for finding in apply(FIELD_RULES, FIELD_FALLBACK, before, after, ("fields", name)):
            key = finding.path[-1]
            findings.append(Finding(finding.rule, f"field `{name}`: {finding.detail}" if finding.rule is not FIELD_FALLBACK
                                    else f"field `{name}`: `{key}` {shown(before.get(key))} -> {shown(after.get(key))}",
                                    finding.path))
    common_old = [n for n in old_fields if n in new_fields]
    common_new = [n for n in new_fields if n in old_fields]
    if common_old != common_new:
        findings.append(Finding(FIELD_SET_RULES[3], "fields reordered", ("fields",)))
    return findings
