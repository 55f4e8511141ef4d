"""Render the plan for each target: the SQL text `cdpc compile` writes and `cdpc run` executes.

generated/<target>/NNN_<layer>__<name>.sql   one file per unit, numbered in run order
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

from .background import shared_map
from .dialects import DIALECTS
from .emit import build_plan, plan_builders
from .emit.plan import RenderedUnit, Unit, render_unit
from .gcpause import gc_paused
from .project import LoadedProject

CHUNK = 10  # units per work item (each rendered for every target): small enough to balance

SqlFile = tuple[str, str, str, str]  # (path under generated/, kind, name, text)


def plan_of(project: LoadedProject) -> list[Unit]:
    """The emitted units of a valid project (built once and kept on the project)."""
    cached = getattr(project, "_plan", None)
    if cached is None:
        with gc_paused():
            cached = build_plan(project.definitions, project.lineage)
        project._plan = cached
    return cached


def render_target(project: LoadedProject, target: str) -> list[RenderedUnit]:
    """Every unit for one target, in run order (what `cdpc run` executes)."""
    units = plan_of(project)
    with gc_paused():
        return [render_unit(unit, DIALECTS[target]) for unit in units]


def sql_file_names(units: Sequence[RenderedUnit | Unit | _Texts]) -> list[str]:
    width = max(3, len(str(len(units))))
    return [f"{index:0{width}d}_{unit.layer}__{unit.name}.sql" for index, unit in enumerate(units)]


def sql_outputs(project: LoadedProject, targets: list[str]) -> list[SqlFile]:
    """The SQL files of every target, the bulk of a compile. When the renders (units times
    targets) pay for more than one process (background.workers_for), the caller and forked
    children take chunks of units from a shared queue and build and render each for every
    target (no whole plan is built first); the result is the same as rendering in turn."""
    builders = plan_builders(project.definitions, project.lineage)
    chunks = range(0, len(builders), CHUNK)

    def render(index: int, in_child: bool) -> list[_Texts]:
        rendered = []
        for build in builders[chunks[index]:chunks[index] + CHUNK]:
            unit = build()
            # a child's garbage dies with it: no need to free its trees one by one
            texts = [render_unit(unit, DIALECTS[target], release=not in_child).text() for target in targets]
            rendered.append(_Texts(unit.layer, unit.kind, unit.name, texts))
        return rendered

    with gc_paused():
        units = [unit for chunk in shared_map(render, len(chunks), len(builders) * len(targets)) for unit in chunk]
        names = sql_file_names(units)
        return [(f"{target}/{file}", unit.kind, unit.name, unit.texts[i])
                for i, target in enumerate(targets) for file, unit in zip(names, units)]


class _Texts(NamedTuple):
    """One unit's SQL text per target, as a worker sends it back."""
    layer: str
    kind: str
    name: str
    texts: list[str]
