"""Every check that needs more than one definition at a time.

`validate(defs)` runs every rule and returns all diagnostics at once, sorted. Rules are
grouped by concern, one module each; a rule is a function `(Context) -> Iterable[Diagnostic]`
that never raises on bad input, and skips what another rule already reports (an unknown
contract is reported once, not again by every rule that would read its fields). Each kind's
own module is named by its registry entry (`model/kinds.py`); `MODULES` are the concerns
that span kinds.
"""

from __future__ import annotations

from importlib import import_module
from typing import Optional

from ..diagnostics import Diagnostic, sort_diagnostics
from ..graph import Lineage
from ..model import Definitions, kinds
from . import cycles, expressions, naming, privacy
from .context import Context

MODULES = (naming, expressions, cycles, privacy)


def validate(defs: Definitions, lineage: Optional[Lineage] = None) -> list[Diagnostic]:
    """Every diagnostic of every rule, sorted; `lineage` is the project's graph when the caller
    has built it already (it is built from `defs` otherwise)."""
    ctx = Context(defs, lineage)
    diagnostics: list[Diagnostic] = []
    for module in rule_modules():
        for rule in module.RULES:
            diagnostics.extend(rule(ctx))
    return sort_diagnostics(diagnostics)


def rule_modules() -> list:
    """Each kind's module in registry order, then the cross-cutting ones."""
    return [*(import_module(k.validate) for k in kinds() if k.validate), *MODULES]


__all__ = ["validate", "Context"]
