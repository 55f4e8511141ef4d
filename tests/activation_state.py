"""The activation state of docs/reference.md §4 (`<meta>.runs`, each sync's `__changes` and
`__history`), computed in Python from the audiences that real runs published.

A stand-in until `cdpc run` writes those tables itself: the tests of `cdpc export` run the
reference project for real, day after day, and `Activation.publish` then records what
reference.md §4 says each run leaves, by the rules of the sync's `mode`. The columns come from
the compiled sync manifest (the audience table's columns), never typed per test. Once runs
write the state themselves, the fixture stops calling `publish`/`write`, and this module is
the pure-Python reference to compare the engine's tables with.
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

    def write(self, engine: Engine, project) -> None:
        """(Re)create the tables of reference.md §4 from what was published."""
        defs = project.definitions
        q = engine.quote
        meta, schema = defs.project.schemas.meta, defs.project.schemas.audiences
        runs = f"{q(meta)}.{q('runs')}"
        engine.execute(f"DROP TABLE IF EXISTS {runs}")
        engine.execute(f"CREATE TABLE {runs} (run_id BIGINT, as_of TIMESTAMP, status VARCHAR(16), "
                       "definitions_hash VARCHAR(64), started_at TIMESTAMP, finished_at TIMESTAMP)")
        for run_id, as_of in self.runs:
            engine.execute(f"INSERT INTO {runs} VALUES ({run_id}, {_literal(as_of)}, 'published', 'test', "
                           f"{_literal(as_of)}, {_literal(as_of)})")
        for (destination, segment), columns in sync_columns(project).items():
            audience = f"{q(schema)}.{q(f'sync__{destination}__{segment}')}"
            selected = ", ".join(q(c) for c in columns)
            changes = f"{q(schema)}.{q(changes_table(destination, segment))}"
            history = f"{q(schema)}.{q(history_table(destination, segment))}"
            for table in (changes, history):
                engine.execute(f"DROP TABLE IF EXISTS {table}")
            # the audience table's column types, no rows
            engine.execute(f"CREATE TABLE {changes} AS SELECT CAST(NULL AS BIGINT) AS run_id, "
                           f"CAST(NULL AS VARCHAR(8)) AS op, {selected} FROM {audience} WHERE 1 = 0")
            engine.execute(f"CREATE TABLE {history} AS SELECT {selected}, CAST(NULL AS BIGINT) AS valid_from_run, "
                           f"CAST(NULL AS BIGINT) AS valid_to_run FROM {audience} WHERE 1 = 0")
            for run_id, op, profile, values in self.changes.get((destination, segment), []):
                engine.execute(f"INSERT INTO {changes} VALUES ({run_id}, '{op}', {_values(profile, values)})")
            for profile, values, start, end in self.history.get((destination, segment), []):
                engine.execute(f"INSERT INTO {history} VALUES ({_values(profile, values)}, {start}, "
                               f"{'NULL' if end is None else end})")


def modes(project) -> dict[tuple[str, str], str]:
    return {(d.name, s.segment): s.mode for d in project.definitions.destinations.values() for s in d.syncs}


def _values(profile: str, values: tuple) -> str:
    return ", ".join(_literal(v) for v in (profile, *values))


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, Decimal, float)):
        return str(value)
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP '{value:%Y-%m-%d %H:%M:%S}'"
    return "'" + str(value).replace("'", "''") + "'"
