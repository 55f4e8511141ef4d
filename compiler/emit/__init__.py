"""emit: typed definitions in, units of dialect-neutral SQL out, in run order."""

from __future__ import annotations

from functools import cache, partial
from typing import Callable

from sqlglot import exp

from ..graph import Lineage
from ..model import Definitions
from .attributes import attribute_unit
from .consent import consent_unit
from .identity import identity_unit
from .plan import Unit
from .profiles import profiles_unit
from .segments import segment_unit
from .sql import WORK, create_schema
from .staging import staging_unit
from .syncs import sync_unit


def build_plan(defs: Definitions, lineage: Lineage) -> list[Unit]:
    """Every unit of a run, upstream first; compile renders them, run executes them."""
    return [build() for build in plan_builders(defs, lineage)]


def plan_builders(defs: Definitions, lineage: Lineage) -> list[Callable[[], Unit]]:
    """One function per unit of `build_plan`, in its order: units are independent, so a
    compile can build and render them in any process (pieces of the plan, in parallel)."""
    builders: list[Callable[[], Unit]] = [lambda: _setup_unit(defs)]
    builders += [partial(staging_unit, defs, c) for c in defs.contracts.values()]
    identity = defs.identity
    if identity is not None:
        builders.append(partial(identity_unit, defs, identity))
        builders += [partial(attribute_unit, defs, defs.attributes[name]) for name in lineage.attribute_order()]
        builders += [partial(consent_unit, defs, c) for c in defs.consents.values()]
        builders.append(partial(profiles_unit, defs))
        builders += [partial(segment_unit, defs, defs.segments[name]) for name in lineage.segment_order()]
        pii = cache(lambda: pii_attributes(defs, lineage))  # shared by every destination, found once
        builders += [lambda d=d: sync_unit(defs, d, pii()) for d in defs.destinations.values()]
    builders.append(lambda: _cleanup_unit(defs))
    return builders


def pii_attributes(defs: Definitions, lineage: Lineage) -> set[str]:
    """Attributes whose column-level lineage reaches a field marked pii (or phi)."""
    def sensitive(contract: str, field: str) -> bool:
        spec = defs.contracts[contract].fields.get(field)
        return bool(spec and (spec.pii or spec.phi))
    return {name for name in defs.attributes
            if any(sensitive(c, f) for c, f in lineage.fields_reaching(f"attribute:{name}"))}


def _schemas(defs: Definitions) -> list[str]:
    s = defs.project.schemas
    return sorted({s.staging, s.identity, s.profiles, s.audiences})


def _setup_unit(defs: Definitions) -> Unit:
    return Unit("setup", "project", defs.project.name, [create_schema(name) for name in [*_schemas(defs), WORK]])


def _cleanup_unit(defs: Definitions) -> Unit:
    drop = exp.Drop(tables=[exp.Table(db=exp.to_identifier(WORK))], kind="SCHEMA", exists=True, cascade=True)
    return Unit("cleanup", "project", defs.project.name, [drop])
