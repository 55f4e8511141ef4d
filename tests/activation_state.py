"""A pure-Python reference of the activation state of docs/reference.md §5 (each sync's
`__changes` and `__history`), computed from the audiences that real runs published.

The tests of `cdpc export` run the reference project for real, day after day; after each run
`Activation.publish` records what the reference says that run leaves, by the rules of the
sync's `mode`, and the tests compare it with the tables the run wrote (`published_state`). The
columns come from the compiled sync manifest (the audience table's columns), never typed per test.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from compiler.emit.manifests import sync_manifest
from compiler.run.engines import Engine
from compiler.run.export import changes_table, history_table

MODES = {"mirror": ("add", "update", "remove"), "upsert": ("add", "update"), "append": ("add",)}


def sync_columns(project) -> dict[tuple[str, str], list[str]]:
    """(destination, segment) -> the columns of its audience table, from the sync manifest."""
    defs = project.definitions
    found = {}
    for destination in defs.destinations.values():
        manifest = sync_manifest(defs, destination, project.lineage.pii_attributes)
        for sync in manifest["syncs"]:
            found[(destination.name, sync["segment"])] = sync["columns"]
    return found


def audiences(engine: Engine, project) -> dict[tuple[str, str], dict[str, tuple]]:
    """What the last run published: per sync, profile_id -> the values sent."""
    schema = project.definitions.project.schemas.audiences
    found = {}
    for (destination, segment), columns in sync_columns(project).items():
        selected = ", ".join(engine.quote(c) for c in columns)
        rows = engine.rows(f"SELECT {selected} FROM {engine.quote(schema)}.{engine.quote(f'sync__{destination}__{segment}')}")
        found[(destination, segment)] = {row[0]: tuple(row[1:]) for row in rows}
    return found


def last_run_id(engine: Engine, project) -> int:
    meta = project.definitions.project.schemas.meta
    return int(engine.rows(f"SELECT max(run_id) FROM {engine.quote(meta)}.owned")[0][0])


@dataclass
class Activation:
    """Every published run so far: the runs, and per sync the history and the latest changes."""

    runs: list[tuple[int, dt.datetime]] = field(default_factory=list)
    current: dict[tuple[str, str], dict[str, tuple]] = field(default_factory=dict)
    history: dict[tuple[str, str], list[list]] = field(default_factory=dict)  # [profile_id, values, from, to]
    changes: dict[tuple[str, str], list[tuple]] = field(default_factory=dict)  # (run_id, op, profile_id, values)

    def publish(self, run_id: int, as_of: dt.datetime, published: dict[tuple[str, str], dict[str, tuple]],
                modes: dict[tuple[str, str], str]) -> None:
        self.runs.append((run_id, as_of))
        for key, now in published.items():
            before = self.current.get(key, {})
            ops = MODES[modes[key]]
            made = [("add", p, v) for p, v in now.items() if p not in before]
            made += [("update", p, v) for p, v in now.items() if p in before and before[p] != v]
            made += [("remove", p, v) for p, v in before.items() if p not in now]
            self.changes[key] = sorted((run_id, op, p, v) for op, p, v in made if op in ops)
            rows = self.history.setdefault(key, [])
            for op, profile, values in made:
                if op in ("update", "remove"):
                    next(r for r in rows if r[0] == profile and r[3] is None)[3] = run_id
                if op in ("add", "update"):
                    rows.append([profile, values, run_id, None])
            self.current[key] = dict(now)

    def expected(self, project) -> dict[str, list[tuple]]:
        """The rows reference.md §4 says each sync's `__changes` and `__history` hold now."""
        found = {}
        for (destination, segment) in sync_columns(project):
            key = (destination, segment)
            found[changes_table(destination, segment)] = sorted(
                ((run_id, op, profile, *values) for run_id, op, profile, values in self.changes.get(key, [])),
                key=_order)
            found[history_table(destination, segment)] = sorted(
                ((profile, *values, start, end) for profile, values, start, end in self.history.get(key, [])),
                key=_order)
        return found


def published_state(engine: Engine, project) -> dict[str, list[tuple]]:
    """The rows each sync's `__changes` and `__history` hold in the warehouse, in the column order
    of `Activation.expected`."""
    q, schema = engine.quote, project.definitions.project.schemas.audiences
    found = {}
    for (destination, segment), columns in sync_columns(project).items():
        selected = ", ".join(q(c) for c in columns)
        changes, history = changes_table(destination, segment), history_table(destination, segment)
        found[changes] = sorted(engine.rows(f"SELECT run_id, op, {selected} FROM {q(schema)}.{q(changes)}"),
                                key=_order)
        found[history] = sorted(engine.rows(
            f"SELECT {selected}, valid_from_run, valid_to_run FROM {q(schema)}.{q(history)}"), key=_order)
    return found


def _order(row: tuple) -> tuple:
    return tuple((value is None, value) for value in row)


def modes(project) -> dict[tuple[str, str], str]:
    return {(d.name, s.segment): s.mode for d in project.definitions.destinations.values() for s in d.syncs}


