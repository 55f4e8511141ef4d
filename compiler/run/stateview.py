"""What `cdpc runs`, `cdpc diff`, `cdpc release` and `cdpc rollback` print: plain text
columns (never wrapped, so a pipe gets whole lines) or JSON."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any, Optional

from ..emit.changes import OPS
from .history import Diff, RunEntry
from .republish import Republished

CHANGE_HEADERS = ("add", "update", "remove")


def runs_text(entries: list[RunEntry]) -> str:
    if not entries:
        return "no runs recorded yet\n"
    rows = []
    for entry in entries:
        run = entry.run
        held = ", ".join(f"{s.destination} -> {s.segment}" for s in entry.held)
        rows.append([str(run.run_id), entry.command, _time(run.as_of), run.status, _time(run.started_at),
                     str(len(entry.published)), *(str(entry.total(op)) for op in CHANGE_HEADERS), held])
    text = columns(["run id", "command", "as of", "status", "started (UTC)", "syncs", *CHANGE_HEADERS, "held"],
                   rows, right={5, 6, 7, 8})
    latest = {}
    for entry in entries:
        for record in entry.syncs:
            latest[(record.destination, record.segment)] = record
    held = [f"{d} -> {s} (since run {r.run_id})" for (d, s), r in sorted(latest.items()) if r.outcome == "held"]
    return text + (f"held now: {', '.join(held)}\n" if held else "")


def runs_json(entries: list[RunEntry]) -> str:
    content = [{
        "run_id": e.run.run_id, "command": e.command, "as_of": _time(e.run.as_of), "status": e.run.status,
        "definitions_hash": e.run.definitions_hash, "started_at": _time(e.run.started_at),
        "finished_at": _time(e.run.finished_at),
        "syncs": [{"destination": s.destination, "segment": s.segment, "outcome": s.outcome,
                   "source_run": s.source_run, "members": s.members, "add": s.adds, "update": s.updates,
                   "remove": s.removes, "reason": s.reason} for s in e.syncs],
    } for e in entries]
    return json.dumps(content, indent=2) + "\n"


def diff_text(diff: Diff) -> str:
    shape = diff.shape
    header = (f"sync {shape.destination} -> {shape.segment}: run {diff.from_run.run_id} "
              f"(as of {_time(diff.from_run.as_of)}) to run {diff.to_run.run_id} (as of {_time(diff.to_run.as_of)})\n")
    table = columns(["op", "profile_id", *shape.names], [[_text(v) for v in row] for row in diff.rows]) if diff.rows else ""
    counts = ", ".join(f"{diff.count(op)} {word}" for op, word in zip(OPS, ("added", "removed", "updated")))
    return header + table + counts + "\n"


def diff_json(diff: Diff) -> str:
    names = ["profile_id", *diff.shape.names]
    content = {"destination": diff.shape.destination, "segment": diff.shape.segment,
               "from_run": diff.from_run.run_id, "to_run": diff.to_run.run_id,
               **{word: [dict(zip(names, (_plain(v) for v in row[1:]))) for row in diff.rows if row[0] == op]
                  for op, word in zip(OPS, ("added", "removed", "updated"))}}
    return json.dumps(content, indent=2) + "\n"


def republished_text(done: Republished, engine: str) -> str:
    shape, outcome = done.outcome.shape, done.outcome
    what = {"release": f"the audience that run {done.source_run} held",
            "rollback": f"the audience that run {done.source_run} published"}[done.command]
    lines = f"cdpc {done.command} on {engine}: run {done.run_id} publishes {what}\n"
    lines += columns(["sync", "rows", *CHANGE_HEADERS],
                     [[shape.table, str(outcome.members), *(str(outcome.sent(op)) for op in CHANGE_HEADERS)]],
                     right={1, 2, 3, 4})
    return lines + f"run {done.run_id}: published\n"


def columns(headers: list[str], rows: list[list[str]], right: Optional[set[int]] = None) -> str:
    """Aligned columns, two spaces apart, trailing spaces trimmed."""
    right = right or set()
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows)]
    out = []
    for row in [headers, *rows]:
        cells = [str(c).rjust(w) if i in right else str(c).ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out) + "\n"


def _time(value: Optional[dt.datetime]) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""


def _text(value: Any) -> str:
    return "" if value is None else str(_plain(value))


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    return value
