"""emit: typed definitions in, units of dialect-neutral SQL out, in run order."""

from __future__ import annotations

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
    units = [_setup_unit(defs)]
    units += [staging_unit(defs, c) for c in defs.contracts.values()]
    identity = defs.identity
    if identity is not None:
        units.append(identity_unit(defs, identity))
        units += [attribute_unit(defs, defs.attributes[name]) for name in lineage.attribute_order()]
        units += [consent_unit(defs, c) for c in defs.consents.values()]
        units.append(profiles_unit(defs))
        units += [segment_unit(defs, defs.segments[name]) for name in lineage.segment_order()]
        pii = pii_attributes(defs, lineage)
        units += [sync_unit(defs, d, pii) for d in defs.destinations.values()]
    units.append(_cleanup_unit(defs))
    return units


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
