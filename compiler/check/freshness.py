"""Is generated/ what `cdpc compile` would write now? (CDP601)

The compile runs in memory and is compared file by file with generated/ on disk. One
diagnostic sums it up, placed on the first differing file (at its first differing
line), so CI points at something concrete without listing hundreds of files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..generated import GENERATED
from ..diagnostics import Diagnostic, Location

SHOWN = 5


@dataclass
class Staleness:
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # compile would write them; not on disk
    extra: list[str] = field(default_factory=list)  # on disk; compile would not write them

    @property
    def stale(self) -> bool:
        return bool(self.changed or self.missing or self.extra)


def compare_generated(expected: dict[str, str], actual: dict[str, str]) -> Staleness:
    return Staleness(
        changed=sorted(p for p in expected.keys() & actual.keys() if expected[p] != actual[p]),
        missing=sorted(expected.keys() - actual.keys()),
        extra=sorted(actual.keys() - expected.keys()),
    )


def freshness_findings(expected: dict[str, str], actual: dict[str, str]) -> list[Diagnostic]:
    result = compare_generated(expected, actual)
    if not result.stale:
        return []
    paths = sorted(result.changed + result.missing + result.extra)
    first = paths[0]
    line = _first_difference(expected.get(first), actual.get(first)) if first in result.changed else 1
    parts = [f"{len(v)} {k}" for k, v in (("changed", result.changed), ("missing", result.missing),
                                          ("not produced by the definitions", result.extra)) if v]
    if not actual:
        message = "generated/ is missing: the definitions compile to files that are not committed"
    else:
        listed = ", ".join(paths[:SHOWN]) + (f" and {len(paths) - SHOWN} more" if len(paths) > SHOWN else "")
        message = f"generated/ is stale: {', '.join(parts)} file{'s' if len(paths) != 1 else ''} ({listed})"
    return [Diagnostic("CDP601", message, Location(f"{GENERATED}/{first}", line, 1),
                       "run `cdpc compile` and commit generated/")]


def _first_difference(expected: Optional[str], actual: Optional[str]) -> int:
    a, b = (expected or "").splitlines(), (actual or "").splitlines()
    for number, (x, y) in enumerate(zip(a, b), start=1):
        if x != y:
            return number
    return min(len(a), len(b)) + 1
