"""emit: typed definitions in, units of dialect-neutral SQL out, in run order."""

from __future__ import annotations

from functools import partial
from typing import Callable

from sqlglot import exp

from ..graph import Lineage
from ..model import Definitions, kinds
from .plan import Unit
from .profiles import profiles_unit
from .sql import WORK, create_schema


def build_plan(defs: Definitions, lineage: Lineage) -> list[Unit]:
    """Every unit of a run, upstream first; compile renders them, run executes them."""
    return [build() for build in plan_builders(defs, lineage)]


def plan_builders(defs: Definitions, lineage: Lineage) -> list[Callable[[], Unit]]:
    """One function per unit of `build_plan`, in its order: units are independent, so a
    compile can build and render them in any process (pieces of the plan, in parallel).

    Kinds come in registry order, each kind's definitions upstream first, each built by the
    emitter its registry entry names; the profiles table comes before the first kind that
    reads it. An erasure's source has no unit: it is read, never copied (emit/erasure.py).
    Without an identity there are no profiles: only the kinds that need none."""
    builders: list[Callable[[], Unit]] = [lambda: _setup_unit(defs)]
    has_identity = defs.identity is not None
    profiles = has_identity
    for kind in kinds():
        if kind.emit is None or (kind.needs_identity and not has_identity):
            continue
        if kind.after_profiles and profiles:
            builders.append(partial(profiles_unit, defs))
            profiles = False
        emitter, named = kind.emitter(), defs.by_kind(kind.name)
        builders += [partial(emitter, defs, lineage, named[name]) for name in lineage.order(kind.name)
                     if not (kind.name == "contract" and name in defs.erasure_sources)]
    if profiles:
        builders.append(partial(profiles_unit, defs))
    builders.append(lambda: _cleanup_unit(defs))
    return builders


def _schemas(defs: Definitions) -> list[str]:
    s = defs.project.schemas
    return sorted({s.staging, s.identity, s.profiles, s.audiences})


def _setup_unit(defs: Definitions) -> Unit:
    return Unit("setup", "project", defs.project.name, [create_schema(name) for name in [*_schemas(defs), WORK]])


def _cleanup_unit(defs: Definitions) -> Unit:
    drop = exp.Drop(tables=[exp.Table(db=exp.to_identifier(WORK))], kind="SCHEMA", exists=True, cascade=True)
    return Unit("cleanup", "project", defs.project.name, [drop])
