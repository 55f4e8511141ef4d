"""Every check that needs more than one definition at a time.

`validate(defs)` runs every rule and returns all diagnostics at once, sorted. Rules are
grouped by concern, one module each; a rule is a function `(Context) -> Iterable[Diagnostic]`
that never raises on bad input, and skips what another rule already reports (an unknown
contract is reported once, not again by every rule that would read its fields).
"""

from __future__ import annotations

from ..diagnostics import Diagnostic, sort_diagnostics
from ..model import Definitions
from . import (attributes, consent, contracts, cycles, destinations, expressions, governance, identity, naming,
               privacy, segments)
from .context import Context

MODULES = (identity, contracts, naming, attributes, expressions, cycles, segments, consent, destinations, privacy,
           governance)


def validate(defs: Definitions) -> list[Diagnostic]:
    ctx = Context(defs)
    diagnostics: list[Diagnostic] = []
    for module in MODULES:
        for rule in module.RULES:
            diagnostics.extend(rule(ctx))
    return sort_diagnostics(diagnostics)


__all__ = ["validate", "Context"]
