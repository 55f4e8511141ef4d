"""A week of runs over evolving data, for the activation-state tests (docs/reference.md §5).

ACTIVATION_PROJECT: one contract of members, an identity keyed by member id (so a new email
is the same profile), a segment `active` with expected_size {min: 1}, and four destinations
syncing it: `crm` (mirror, plain values and a decimal), `esp_upsert` (upsert), `esp_append`
(append) and `ads` (mirror, hashed, max_remove 0.3). Its schemas are its own, so that runs on
a warehouse shared with other tests (Spark's) meet nothing else.

`Scenario` drives runs, releases and rollbacks on one engine and, after each, checks every
sync's changes and history against tests/reference/activation.py, fed with the audience the
engine computed (the sync table when published, the held audience when held).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Callable, Optional

from compiler.emit.changes import changes_table, held_table, history_table
from compiler.project import require_valid
from compiler.run.history import diff_runs, find_sync
from compiler.run.republish import release, rollback
from compiler.run.runlog import read_runs, read_syncs
from compiler.run.runner import run_project

from reference import activation as ref

SCHEMAS = {"staging": "act_staging", "identity": "act_identity", "profiles": "act_profiles",
           "audiences": "act_audiences", "meta": "act_meta"}

ACTIVATION_PROJECT = {
    "definitions/project.yaml": f"""
        kind: project
        name: week
        entity: customer
        targets: [duckdb, postgres, spark]
        schemas: {{staging: {SCHEMAS['staging']}, identity: {SCHEMAS['identity']}, profiles: {SCHEMAS['profiles']},
                   audiences: {SCHEMAS['audiences']}, meta: {SCHEMAS['meta']}}}
    """,
    "definitions/members.yaml": """
        kind: contract
        name: members
        version: 1.0.0
        relation: raw.members
        primary_key: [member_id]
        event_time: updated_at
        fields:
          member_id: {type: string, required: true}
          email: {type: string, pii: true}
          status: {type: string}
          tier: {type: string}
          amount: {type: "decimal(10,2)"}
          updated_at: {type: timestamp, required: true}
        ---
        kind: identity
        name: customer
        version: 1.0.0
        identifiers:
          - {type: member_id, normalize: upper_trim, max_per_profile: 1}
          - {type: email, normalize: email, max_per_profile: 3}
        sources:
          members: {member_id: member_id, email: email}
        ---
        kind: attribute
        name: member_status
        version: 1.0.0
        type: string
        source: members
        aggregate: max(status)
        ---
        kind: attribute
        name: tier
        version: 1.0.0
        type: string
        source: members
        aggregate: max(tier)
        ---
        kind: attribute
        name: spend
        version: 1.0.0
        type: "decimal(12,2)"
        source: members
        aggregate: sum(amount)
        ---
        kind: consent
        name: marketing
        version: 1.0.0
        purposes:
          email_marketing:
            channels: [email]
            sources: [{source: members, granted: true}]
          ads_personalization:
            channels: [ads]
            sources: [{source: members, granted: true}]
        ---
        kind: segment
        name: active
        version: 1.0.0
        where: member_status = 'active'
        purposes: [email_marketing, ads_personalization]
        expected_size: {min: 1}
    """,
    "definitions/destinations.yaml": """
        kind: destination
        name: crm
        version: 1.0.0
        channel: email
        identifiers: [email]
        fields: [tier, spend]
        syncs:
          - {segment: active, purpose: email_marketing, mode: mirror}
        ---
        kind: destination
        name: esp_upsert
        version: 1.0.0
        channel: email
        identifiers: [email]
        fields: [tier]
        syncs:
          - {segment: active, purpose: email_marketing, mode: upsert}
        ---
        kind: destination
        name: esp_append
        version: 1.0.0
        channel: email
        identifiers: [email]
        syncs:
          - {segment: active, purpose: email_marketing, mode: append}
        ---
        kind: destination
        name: ads
        version: 1.0.0
        channel: ads
        platform: meta_custom_audiences
        identifiers: [email]
        hash: sha256
        syncs:
          - {segment: active, purpose: ads_personalization, mode: mirror, max_remove: 0.3}
    """,
}

SYNCS = (("crm", "active"), ("esp_upsert", "active"), ("esp_append", "active"), ("ads", "active"))
HEADER = ["member_id", "email", "status", "tier", "amount", "updated_at"]


def member(n: int, email: Optional[str] = None, status: str = "active", tier: str = "gold",
           amount: str = "10.00") -> list:
    return [f"m{n}", email if email is not None else f"m{n}@club.example", status, tier, amount, "2026-11-01 08:00:00"]


# Each day's raw members: who joins, leaves, changes email or tier; day 4 a bad export breaks the
# segment (every status in capitals: nobody is `active`); day 5 half the members lapse.
DAYS: dict[int, list[list]] = {
    1: [member(n) for n in range(1, 7)] + [member(7, status="lapsed"), member(8, email="")],
    2: [member(1), member(2, status="lapsed"), member(3, email="m3.new@club.example"), member(4, tier="silver"),
        member(5, amount="12.50"), member(6), member(7), member(8, email="")],
    4: [member(n, status="ACTIVE") for n in range(1, 9)],
    5: [member(1), member(2, status="lapsed"), member(3, email="m3.new@club.example"), member(4, status="lapsed"),
        member(5, status="lapsed"), member(6, status="lapsed"), member(7), member(8, email="")],
}


def write_day(folder: Path, day: int) -> Path:
    import csv

    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "raw.members.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADER)
        for row in DAYS[day]:
            writer.writerow(row)
    return folder


class Scenario:
    """Operations on one engine, each checked against the reference as it goes."""

    def __init__(self, root: Path, engine: Callable[[], object], close: bool):
        self.root, self.project = root, require_valid(root)
        self.engine, self.close = engine, close
        self.shapes = {key: find_sync(self.project, *key).shape for key in SYNCS}
        self.history = {key: [] for key in SYNCS}  # the reference's history per sync
        self.published: dict[tuple, dict[int, dict]] = {key: {} for key in SYNCS}  # run -> audience it published
        self.runs: list[int] = []
        self.results: dict[int, object] = {}
        self.last: Optional[dict] = None  # the state after the last operation (each is read once)

    # ---- operations --------------------------------------------------------------------

    def run(self, day: int, as_of: dt.datetime) -> int:
        before = self.state()
        result = self._with(lambda e: run_project(self.project, e, write_day(self.root / f"day{day}", day), as_of))
        run_id = result.run_id
        self.runs.append(run_id)
        self.last = None
        after = self.state()
        for key in SYNCS:
            shape = self.shapes[key]
            decided = after["syncs"][(run_id, *key)]
            new = self._audience(after["held"][key] if decided.outcome == "held" else after["audience"][key])
            segment_size = result.stats.segments["active"]
            expect_held = ref.held(self.history[key], new, segment_size, (1, None), shape.max_remove)
            assert (decided.outcome == "held") == expect_held, f"run {run_id} {key}: {decided.outcome}, expected held={expect_held}"
            if expect_held:
                self._unchanged(key, before, after)
            else:
                self._published(key, run_id, new, after)
        assert [r.run_id for r in after["runs"]][-1] == run_id
        self.results[run_id] = result
        return run_id

    def release(self, destination: str, segment: str):
        key = (destination, segment)
        before = self.state()
        held = self._audience(before["held"][key])
        done = self._with(lambda e: release(self.project, e, destination, segment))
        self.last = None
        after = self.state()
        self._published(key, done.run_id, held, after)
        assert after["held"][key] is None, "a release ends the hold"
        self._others_unchanged(key, before, after)
        self.runs.append(done.run_id)
        return done

    def rollback(self, destination: str, segment: str, to_run: int):
        key = (destination, segment)
        before = self.state()
        target = ref.audience_at(self.history[key], to_run)
        assert target == self.published[key][to_run]
        done = self._with(lambda e: rollback(self.project, e, destination, segment, to_run))
        self.last = None
        after = self.state()
        self._published(key, done.run_id, target, after)
        self._others_unchanged(key, before, after)
        self.runs.append(done.run_id)
        return done

    def diff(self, destination: str, segment: str, from_run: int, to_run: int):
        key = (destination, segment)
        found = self._with(lambda e: diff_runs(self.project, e, destination, segment, from_run, to_run))
        expected = ref.difference(self.published[key][to_run], self.published[key][from_run])
        assert sorted((r[0], r[1], tuple(r[2:])) for r in found.rows) == sorted(expected)
        return found

    # ---- checks ------------------------------------------------------------------------

    def _published(self, key: tuple, run_id: int, new: dict, after: dict) -> None:
        shape = self.shapes[key]
        changes, history = ref.publish(self.history[key], new, run_id, shape.mode)
        assert self._audience(after["audience"][key]) == new, f"{key}: the published audience"
        assert sorted(after["changes"][key]) == sorted((r, op, p, *v) for r, op, p, v in changes), f"{key}: changes"
        assert sorted(after["history"][key]) == sorted((p, *v, f, t) for p, v, f, t in history), f"{key}: history"
        self.history[key] = history
        self.published[key][run_id] = new
        for run, audience in self.published[key].items():  # every earlier audience can be rebuilt exactly
            assert ref.audience_at(history, run) == audience, f"{key}: the audience of run {run} from the history"

    def _unchanged(self, key: tuple, before: dict, after: dict) -> None:
        for part in ("changes", "history"):
            assert sorted(after[part][key]) == sorted(before[part][key] or []), f"{key}: held, but its {part} changed"
        if before["audience"][key] is not None:
            assert sorted(after["audience"][key]) == sorted(before["audience"][key]), f"{key}: held, but its audience changed"
        else:  # held on its first publication: published empty
            assert after["audience"][key] == [] and after["history"][key] == []

    def _others_unchanged(self, key: tuple, before: dict, after: dict) -> None:
        for other in SYNCS:
            if other != key:
                for part in ("audience", "changes", "history", "held"):
                    assert _sorted(before[part][other]) == _sorted(after[part][other]), f"{other} {part} changed"

    # ---- reading -----------------------------------------------------------------------

    def state(self) -> dict:
        """What the engine holds now: read after each operation, and only then."""
        if self.last is None:
            self.last = self._state()
        return self.last

    def _state(self) -> dict:
        def read(engine):
            state = {"audience": {}, "changes": {}, "history": {}, "held": {}}
            audiences, meta = SCHEMAS["audiences"], SCHEMAS["meta"]
            for key in SYNCS:
                shape = self.shapes[key]
                names = ["profile_id", *shape.names]
                state["audience"][key] = _read(engine, audiences, shape.table, names)
                state["changes"][key] = _read(engine, audiences, changes_table(*key), ["run_id", "op", *names])
                state["history"][key] = _read(engine, audiences, history_table(*key),
                                              [*names, "valid_from_run", "valid_to_run"])
                state["held"][key] = _read(engine, meta, held_table(*key), names)
            state["runs"] = read_runs(engine, meta)
            state["syncs"] = {(s.run_id, s.destination, s.segment): s for s in read_syncs(engine, meta)}
            return state
        return self._with(read)

    def _audience(self, rows: Optional[list]) -> dict:
        return {row[0]: tuple(row[1:]) for row in rows or []}

    def _with(self, work):
        engine = self.engine()
        try:
            return work(engine)
        finally:
            if self.close:
                engine.close()

    def tables(self) -> dict:
        """Every activation table, run ids replaced by their order (engines number runs alike)."""
        order = {run_id: index for index, run_id in enumerate(sorted(self.runs), 1)}
        state = self.state()

        def plain(value):
            from tables import normalize
            return order.get(value, value) if isinstance(value, int) else normalize(value)

        found = {}
        for part in ("audience", "changes", "history", "held"):
            for key in SYNCS:
                found[(part, *key)] = sorted((tuple(plain(v) for v in row) for row in state[part][key] or []), key=repr)
        found["runs"] = [(order[r.run_id], r.status, plain(r.as_of)) for r in state["runs"]]
        found["run_syncs"] = sorted(tuple(plain(v) for v in (s.run_id, s.destination, s.segment, s.command, s.source_run,
                                                             s.outcome, s.members, s.adds, s.removes, s.updates, s.reason))
                                    for s in state["syncs"].values())
        return found


def _read(engine, schema: str, table: str, columns: list[str]) -> Optional[list[tuple]]:
    engine.adopt(schema, table)
    if engine.relation_columns(schema, table) is None:
        return None
    q = engine.quote
    return [tuple(row) for row in engine.rows(f"SELECT {', '.join(q(c) for c in columns)} FROM {q(schema)}.{q(table)}")]


def _sorted(rows):
    return None if rows is None else sorted(rows, key=repr)
