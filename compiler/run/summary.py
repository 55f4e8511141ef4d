"""The run summary: what a run staged, resolved, computed and synced, and how long each stage took."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from .runner import RunResult


def print_summary(result: RunResult, engine: str, console: Console) -> None:
    stats = result.stats
    console.print(f"cdpc run on {engine}, as of {result.as_of:%Y-%m-%d %H:%M:%S} UTC")
    staging = _table("contract", "staged", "rejected", "expired")
    for name in sorted(stats.staged):
        staging.add_row(name, _n(stats.staged[name]), _n(stats.rejected[name]), _n(stats.expired.get(name, 0)))
    console.print(staging)
    if stats.requests:
        # the erasure (docs/privacy.md §4): its requests, and the rows it removed per contract
        erasure = _table("erasure", "count")
        for status in ("applied", "future", "ignored"):
            erasure.add_row(f"requests {status}", _n(stats.requests.get(status, 0)))
        for name in sorted(stats.staged):
            erasure.add_row(f"rows erased: {name}", _n(stats.erased.get(name, 0)))
        console.print(erasure)
    if stats.records:
        identity = _table("identity", "count")
        identity.add_row("records", _n(stats.records))
        identity.add_row("profiles", _n(stats.profiles))
        identity.add_row("multi-record profiles", _n(stats.multi_record_profiles))
        identity.add_row("conflicts", _n(stats.conflicts))
        console.print(identity)
    if stats.segments:
        segments = _table("segment", "members")
        for name in sorted(stats.segments):
            segments.add_row(name, _n(stats.segments[name]))
        console.print(segments)
    outcomes = {o.shape.table: o for o in result.activation.outcomes} if result.activation else {}
    published = sorted(name for name in stats.syncs if name not in outcomes or not outcomes[name].held)
    if published:
        # add/update/remove: the rows of the sync's __changes table, as its mode sends them
        syncs = _table("sync", "rows", "no identifier", "add", "update", "remove")
        for name in published:
            changes = [_n(outcomes[name].sent(op)) if name in outcomes else "" for op in ("add", "update", "remove")]
            syncs.add_row(name, _n(stats.syncs[name]), _n(stats.syncs_without_identifier.get(name, 0)), *changes)
        console.print(syncs)
    held = sorted((o for o in outcomes.values() if o.held), key=lambda o: o.shape.table)
    if held:
        # published: the audience that stays; held: the one kept for `cdpc release` (why: CDP530)
        table = _table("held sync (not published)", "published", "held", "would leave")
        for outcome in held:
            table.add_row(outcome.shape.table, _n(outcome.before), _n(outcome.members), _n(outcome.removes))
        console.print(table)
    if result.dropped:
        dropped = _table("removed (its definition is gone)")
        for name in result.dropped:
            dropped.add_row(name)
        console.print(dropped)
    timing = _table("stage", "seconds")
    for stage, seconds in result.seconds.items():
        timing.add_row(stage, f"{seconds:.2f}")
    console.print(timing)
    if result.activation is not None:
        held_note = f" ({len(held)} sync{'s' if len(held) != 1 else ''} held)" if held else ""
        console.print(f"run {result.run_id}: {result.activation.status}{held_note}")


def _table(*columns: str) -> Table:
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for index, column in enumerate(columns):
        table.add_column(column, justify="left" if index == 0 else "right")
    return table


def _n(value: int) -> str:
    return f"{value:,}"
