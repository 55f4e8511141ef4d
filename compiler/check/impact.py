"""Who a change reaches: downstream definitions through lineage, and (with data) audience members.

Downstream impact follows every edge of the head's lineage graph (data, source and
profile edges alike, as the data hash does). A sync is reached when its segment, the
consent that grants its purpose, an attribute it sends, the identity (when it sends
identifiers) or its destination is. Audience impact runs base and head on the same
raw data on DuckDB in memory, at the same as-of time, and compares members by
`profile_id`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..diagnostics import DiagnosticError
from ..graph import node_id
from ..model import Definitions
from ..project import LoadedProject


@dataclass
class Reach:
    node: str  # what changed, e.g. attribute:spend_365d
    attributes: list[str] = field(default_factory=list)
    segments: list[str] = field(default_factory=list)
    syncs: list[str] = field(default_factory=list)  # destination/segment

    @property
    def empty(self) -> bool:
        return not (self.attributes or self.segments or self.syncs)


def downstream(project: LoadedProject, node: str) -> Reach:
    lineage, defs = project.lineage, project.definitions
    if node not in lineage.graph:
        return Reach(node)
    reached = set(lineage.downstream(node)) | {node}
    names = lambda kind: sorted(n.partition(":")[2] for n in reached if n.startswith(kind + ":") and n != node)  # noqa: E731
    return Reach(node, names("attribute"), names("segment"), _syncs(defs, reached, node))


def _syncs(defs: Definitions, reached: set[str], changed: str) -> list[str]:
    """Syncs whose audience rows can differ. A destination is downstream of every segment it
    syncs, so reaching it says nothing about its other syncs: only its own change counts."""
    identity = defs.identity
    out = []
    for destination in defs.destinations.values():
        sends = {node_id("attribute", f) for f in destination.fields}
        if destination.identifiers and identity is not None:
            sends.add(node_id("identity", identity.name))
        for sync in destination.syncs:
            consent = defs.purposes.get(sync.purpose)
            touched = {node_id("segment", sync.segment), *sends}
            if changed == node_id("destination", destination.name):
                touched.add(changed)
            if consent is not None:
                touched.add(node_id("consent", consent[0].name))
            if touched & reached:
                out.append(f"{destination.name}/{sync.segment}")
    return sorted(set(out))


# --------------------------------------------------------------------------- audience impact on data


@dataclass
class AudienceDelta:
    kind: str  # segment | sync
    name: str  # segment, or destination/segment
    base: Optional[int]  # members on the base (None: not on that side)
    head: Optional[int]
    added: int
    removed: int


@dataclass
class AudienceImpact:
    as_of: dt.datetime
    deltas: list[AudienceDelta] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # a side that could not be run, and why


def audience_impact(base: LoadedProject, head: LoadedProject, data_dir: Path, as_of: dt.datetime) -> AudienceImpact:
    impact = AudienceImpact(as_of)
    sides = {}
    for label, project in (("base", base), ("head", head)):
        try:
            sides[label] = _members(project, data_dir, as_of)
        except DiagnosticError as exc:
            first = exc.diagnostics[0] if exc.diagnostics else None
            impact.problems.append(f"the {label} could not be run: " + (f"{first.code} {first.message}" if first else "unknown error"))
    if len(sides) < 2:
        return impact
    old, new = sides["base"], sides["head"]
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key), new.get(key)
        kind, name = key
        impact.deltas.append(AudienceDelta(kind, name, None if a is None else len(a), None if b is None else len(b),
                                           len((b or set()) - (a or set())), len((a or set()) - (b or set()))))
    return impact


def _members(project: LoadedProject, data_dir: Path, as_of: dt.datetime) -> dict[tuple[str, str], set[str]]:
    from ..emit.syncs import sync_table
    from ..run.engines import EngineError, OutOfMemory
    from ..run.engines.duckdb import DuckDBEngine
    from ..run.runner import run_project

    defs = project.definitions
    schema = defs.project.schemas.audiences
    engine = DuckDBEngine()
    try:
        run_project(project, engine, data_dir, as_of)
        members = {("segment", s): _ids(engine, schema, s) for s in defs.segments}
        for destination in defs.destinations.values():
            for sync in destination.syncs:
                members[("sync", f"{destination.name}/{sync.segment}")] = _ids(
                    engine, schema, sync_table(destination.name, sync.segment))
        return members
    except (EngineError, OutOfMemory) as exc:
        from ..diagnostics import Diagnostic, Location
        raise DiagnosticError([Diagnostic("CDP610", str(exc).splitlines()[0], Location(),
                                          "run `cdpc check` again without audience impact, or fix the engine named above")]) from None
    finally:
        engine.close()


def _ids(engine, schema: str, table: str) -> set[str]:
    return {row[0] for row in engine.rows(f'SELECT profile_id FROM "{schema}"."{table}"')}
