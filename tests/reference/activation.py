"""Reference implementation of docs/reference.md §5, *activation state*, written from that text alone.

An audience is a dict profile_id -> the tuple of values sent (identifiers, then fields).
A history is a list of rows (profile_id, values, valid_from_run, valid_to_run).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Optional

MODE_OPS = {"mirror": {"add", "remove", "update"}, "upsert": {"add", "update"}, "append": {"add"}}


def audience_at(history: list[tuple], run_id: int) -> dict:
    """reference.md §5.3: a row belongs to the audience of run R when valid_from_run <= R and
    (valid_to_run is NULL or R < valid_to_run)."""
    found = {}
    for profile_id, values, valid_from, valid_to in history:
        if valid_from <= run_id and (valid_to is None or run_id < valid_to):
            assert profile_id not in found, f"{profile_id} twice in the audience of run {run_id}"
            found[profile_id] = values
    return found


def current(history: list[tuple]) -> dict:
    return {row[0]: row[1] for row in history if row[3] is None}


def difference(new: dict, old: dict) -> list[tuple]:
    """(op, profile_id, values): add for new members, remove for members who left (with the
    values last sent), update for members whose values changed (with the values now sent)."""
    rows = []
    for profile_id in sorted(new.keys() | old.keys()):
        if profile_id not in old:
            rows.append(("add", profile_id, new[profile_id]))
        elif profile_id not in new:
            rows.append(("remove", profile_id, old[profile_id]))
        elif new[profile_id] != old[profile_id]:  # None == None: NULLs compare as values
            rows.append(("update", profile_id, new[profile_id]))
    return rows


def publish(history: list[tuple], new: dict, run_id: int, mode: str) -> tuple[list[tuple], list[tuple]]:
    """One published run of one sync: (its changes table as (run_id, op, profile_id, values), the new history)."""
    diff = difference(new, current(history))
    changes = [(run_id, op, profile_id, values) for op, profile_id, values in diff if op in MODE_OPS[mode]]
    leaving = {profile_id for op, profile_id, _ in diff if op in ("remove", "update")}
    kept = [(p, v, f, run_id if t is None and p in leaving else t) for p, v, f, t in history]
    opened = [(p, v, run_id, None) for op, p, v in diff if op in ("add", "update")]
    return changes, kept + opened


def held(history: list[tuple], new: dict, segment_size: int, expected: Optional[tuple], max_remove: float) -> bool:
    """reference.md §5.4: held when the segment breaks expected_size (min, max; None: no bound), or when more
    than max_remove of the published audience would leave."""
    if expected is not None:
        low, high = expected
        if (low is not None and segment_size < low) or (high is not None and segment_size > high):
            return True
    before = current(history)
    leaving = len(before.keys() - new.keys())
    return bool(before) and Fraction(leaving, len(before)) > Fraction(str(max_remove))
