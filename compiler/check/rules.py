"""The shape of a rule table, and the engine that applies one to a definition's own change.

A rule names the keys it reads, the bump it requires when it fires, a one-line summary
(the docs' tables are these summaries) and a function `(base value, head value) -> detail`
that says what changed, or None when the rule does not apply. Every changed key is
offered to every rule that reads it; a changed key that no rule claims falls to the
kind's fallback rule, so nothing changes unclassified.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Optional

from ..model.contract import parse_field_type

MAJOR, MINOR, PATCH, NONE = "major", "minor", "patch", "none"
RANK = {NONE: 0, PATCH: 1, MINOR: 2, MAJOR: 3}

Fires = Callable[[Any, Any], Optional[str]]


@dataclass(frozen=True)
class Rule:
    name: str
    keys: tuple[str, ...]  # the definition's keys it reads (`*` for the fallback)
    level: str  # the bump it requires: MAJOR or MINOR
    summary: str  # when it fires, in words (docs/governance.md lists these)
    fires: Fires


@dataclass(frozen=True)
class Finding:
    """One classified own change of a definition."""

    rule: Rule
    detail: str
    path: tuple  # where it is in the head definition (a key path), for the location

    @property
    def level(self) -> str:
        return self.rule.level


def apply(rules: tuple[Rule, ...], fallback: Rule, old: dict, new: dict, prefix: tuple = ()) -> list[Finding]:
    """Classify every key whose value differs between `old` and `new`."""
    findings: list[Finding] = []
    for key in sorted(set(old) | set(new)):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        fired = [Finding(rule, detail if len(rule.keys) == 1 else f"{key} {detail}", prefix + (key,))
                 for rule in rules if key in rule.keys if (detail := rule.fires(before, after))]
        findings += fired or [Finding(fallback, f"`{'.'.join(map(str, prefix + (key,)))}` changed", prefix + (key,))]
    return findings


# --------------------------------------------------------------------------- helpers for rule functions


def always(text: str) -> Fires:
    return lambda old, new: text.format(old=shown(old), new=shown(new))


def shown(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def names(values) -> str:
    return ", ".join(f"`{v}`" for v in values)


def as_set(values: Any) -> set:
    return {value_key(v) for v in (values or [])}


def value_key(value: Any) -> str:
    """Compare YAML scalars as the compiled SQL does: `1` and `"1"` are the same text."""
    return value if isinstance(value, str) else json.dumps(value)


def added(old: Any, new: Any) -> list:
    before = as_set(old)
    return [v for v in (new or []) if value_key(v) not in before]


def removed(old: Any, new: Any) -> list:
    return added(new, old)


WIDENINGS = {("integer", "bigint"), ("integer", "double"), ("bigint", "double")}


def is_widening(old: str, new: str) -> bool:
    """integer -> bigint -> double, and decimal to a larger precision that keeps every value."""
    a, b = parse_field_type(old or ""), parse_field_type(new or "")
    if a is None or b is None:
        return False
    if (a[0], b[0]) in WIDENINGS:
        return True
    if a[0] == b[0] == "decimal":
        (p, s), (q, t) = a[1:], b[1:]
        return q > p and t >= s and q - t >= p - s
    return False


def compare(a: Any, b: Any) -> Optional[int]:
    """-1/0/1 for numbers (Decimal-exact), ISO dates and timestamps, and texts; None when incomparable."""
    def number(v: Any) -> Optional[Decimal]:
        if isinstance(v, bool):
            return None
        try:
            return Decimal(str(v))
        except (InvalidOperation, ValueError):
            return None
    x, y = number(a), number(b)
    if x is not None and y is not None:
        return (x > y) - (x < y)
    if isinstance(a, str) and isinstance(b, str):
        a, b = a.replace("T", " "), b.replace("T", " ")
        return (a > b) - (a < b)
    return None
