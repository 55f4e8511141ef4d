"""`cdpc export`: the latest changes of a destination's syncs, as the files its platform takes.

Reads the activation state that runs publish (docs/reference.md §4): the latest published
run in `<meta>.runs`, and per sync `<audiences>.sync__<destination>__<segment>__changes`;
for a removed member on Meta or Google also the sync's `__history`, so that the remove file
carries every value the member was ever sent under (an old email still matched on the
platform is removed too). It writes nothing to the warehouse, and holds it while it reads, as
a run does, so that it never sees half of a publish.

The files are laid out by emit/uploads.py; their rows are sorted, the manifest has no clock
time, so the same warehouse state always gives byte-identical files. DIR is replaced at once:
everything is written to a folder beside it first (`write_export`).
"""

from __future__ import annotations

import csv
import ctypes
import datetime as dt
import errno
import hashlib
import io
import json
import os
import secrets
import shutil
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Optional

from ..diagnostics import Diagnostic, DiagnosticError, Location
from ..emit.syncs import sync_table
from ..emit.uploads import OPS, Layout, UploadFile, upload_layout
from ..model import Definitions, Destination, Sync
from .engines import Engine, EngineError
from .publish import hold

MANIFEST = "manifest.json"
RUNS = "runs"
PUBLISHED = ("published", "partial")  # a partial run published every sync it did not hold


def changes_table(destination: str, segment: str) -> str:
    return f"{sync_table(destination, segment)}__changes"


def history_table(destination: str, segment: str) -> str:
    return f"{sync_table(destination, segment)}__history"


@dataclass
class ExportFile:
    name: str
    segment: str
    changes: dict[str, int]  # op -> rows of the changes table in this file
    rows: int  # lines written under the header
    no_identifier: int  # changes left out: nothing the platform can match them on
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass
class SyncExport:
    segment: str
    mode: str
    table: str
    run_id: Optional[int]  # the run whose changes these are; None when it made none
    changes: dict[str, int]
    files: list[ExportFile] = field(default_factory=list)


@dataclass
class Export:
    destination: str
    platform: str
    run_id: int  # the latest published run
    as_of: str
    syncs: list[SyncExport]

    @property
    def files(self) -> list[ExportFile]:
        return [f for s in self.syncs for f in s.files]

    def manifest(self) -> dict:
        return {
            "destination": self.destination, "platform": self.platform, "run_id": self.run_id, "as_of": self.as_of,
            "syncs": [{"segment": s.segment, "mode": s.mode, "changes_table": s.table, "run_id": s.run_id,
                       "changes": s.changes, "files": [f.name for f in s.files]} for s in self.syncs],
            "files": [{"path": f.name, "sync": f.segment, "changes": f.changes, "rows": f.rows,
                       "no_identifier": f.no_identifier, "sha256": f.sha256} for f in self.files],
        }


def read_export(defs: Definitions, engine: Engine, destination: Destination, wait: float = 0) -> Export:
    """Every file of the destination's export, in memory; DiagnosticError (exit 2) when the
    warehouse holds no published run, or a sync's tables are missing or older than its definition."""
    meta, audiences = defs.project.schemas.meta, defs.project.schemas.audiences
    hold(engine, meta, wait)
    try:
        run_id, as_of = _latest_run(engine, meta)
        layout = upload_layout(defs, destination)
        problems: list[Diagnostic] = []
        syncs = [_read_sync(engine, audiences, destination, sync, layout, problems) for sync in destination.syncs]
    except EngineError as exc:
        raise DiagnosticError([Diagnostic("CDP901", f"cannot read the activation state: {exc}", Location(),
                                          "check that this role may read the meta and audience schemas")]) from None
    if problems:
        raise DiagnosticError(problems)
    return Export(destination.name, destination.platform, run_id, as_of, syncs)


def _latest_run(engine: Engine, meta: str) -> tuple[int, str]:
    q = engine.quote
    runs = f"{q(meta)}.{q(RUNS)}"
    states = ", ".join(f"'{s}'" for s in PUBLISHED)
    rows = []
    if engine.relation_columns(meta, RUNS) is not None:
        rows = engine.rows(f"SELECT run_id, as_of FROM {runs} WHERE run_id = "
                           f"(SELECT max(run_id) FROM {runs} WHERE status IN ({states}))")
    if not rows:
        raise DiagnosticError([Diagnostic(
            "CDP907", f"no published run in `{meta}.{RUNS}`: there are no changes to export", Location(),
            "run `cdpc run` first, with the same --engine and connection options (on DuckDB, pass --db FILE: "
            "the database that run wrote; the default is an empty database in memory)")])
    run_id, as_of = rows[0]
    return int(run_id), as_of.strftime("%Y-%m-%d %H:%M:%S") if isinstance(as_of, dt.datetime) else str(as_of)


def _read_sync(engine: Engine, schema: str, destination: Destination, sync: Sync, layout: Layout,
               problems: list[Diagnostic]) -> SyncExport:
    q = engine.quote
    sent = ["profile_id", *destination.identifiers, *destination.fields]
    name = changes_table(destination.name, sync.segment)
    result = SyncExport(sync.segment, sync.mode, f"{schema}.{name}", None, {op: 0 for op in OPS})
    if not _has_columns(engine, schema, name, ["run_id", "op", *sent], destination, sync, problems):
        return result
    selected = ", ".join(q(c) for c in sent)
    rows = engine.rows(f"SELECT run_id, op, {selected} FROM {q(schema)}.{q(name)}")
    unknown = sorted({str(r[1]) for r in rows} - set(OPS))
    if unknown:
        problems.append(_stale(destination, sync, f"`{schema}.{name}` holds op {', '.join(unknown)}: only "
                               f"{', '.join(OPS)} are changes"))
        return result
    changes = [(r[1], dict(zip(sent, r[2:]))) for r in rows]
    result.run_id = max((int(r[0]) for r in rows), default=None)
    for op, _ in changes:
        result.changes[op] += 1
    earlier: list[dict[str, Any]] = []
    if any(op == "remove" for op, _ in changes) and destination.platform != "generic":
        history = history_table(destination.name, sync.segment)
        if not _has_columns(engine, schema, history, [*sent, "valid_from_run", "valid_to_run"], destination, sync,
                            problems):
            return result
        earlier = [dict(zip(sent, r)) for r in engine.rows(
            f"SELECT {selected} FROM {q(schema)}.{q(history)} WHERE profile_id IN "
            f"(SELECT profile_id FROM {q(schema)}.{q(name)} WHERE op = 'remove')")]
    result.files = [f for f in (_file(layout, upload, sync.segment, changes, earlier) for upload in layout.files)
                    if f.rows]
    return result


def _file(layout: Layout, upload: UploadFile, segment: str, changes: list[tuple[str, dict]],
          earlier: list[dict[str, Any]]) -> ExportFile:
    """One file: its changes as rows of cells, sorted; on Meta and Google, removes also under
    every earlier value, and nothing without an identifier (the platform could match no one)."""
    mine = [(op, row) for op, row in changes if op in upload.ops]
    counts = {op: sum(1 for o, _ in mine if o == op) for op in upload.ops}
    if upload.with_op:
        lines = {(op, *(_cell(row[c]) for c, _ in layout.columns)) for op, row in mine}
        skipped = 0
    else:
        matchable = [c for c, header in layout.columns if header.lower() in ("email", "phone")]
        removed = {row["profile_id"] for op, row in mine if op == "remove"}
        candidates = [row for _, row in mine] + [row for row in earlier if row["profile_id"] in removed]
        skipped = sum(1 for _, row in mine if all(row[c] is None for c in matchable))
        lines = {tuple(_cell(row[c]) for c, _ in layout.columns) for row in candidates
                 if any(row[c] is not None for c in matchable)}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(layout.headers)
    writer.writerows(sorted(lines))
    return ExportFile(f"{segment}{upload.suffix}.csv", segment, counts, len(lines), skipped,
                      out.getvalue().encode("utf-8"))


def _cell(value: Any) -> str:
    """A value as text, the same on every engine: NULL empty, numbers without exponent."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _has_columns(engine: Engine, schema: str, table: str, wanted: list[str], destination: Destination, sync: Sync,
                 problems: list[Diagnostic]) -> bool:
    columns = engine.relation_columns(schema, table)
    if columns is None:
        problems.append(_stale(destination, sync, f"`{schema}.{table}` does not exist"))
        return False
    missing = [c for c in wanted if c.lower() not in {name.lower() for name in columns}]
    if missing:
        problems.append(_stale(destination, sync, f"`{schema}.{table}` has no column {', '.join(missing)}"))
        return False
    return True


def _stale(destination: Destination, sync: Sync, what: str) -> Diagnostic:
    index = next(i for i, s in enumerate(destination.syncs) if s is sync)
    return Diagnostic("CDP908", f"sync `{destination.name}` -> `{sync.segment}`: {what}",
                      destination.loc("syncs", index, "segment"),
                      "the warehouse holds no run of this sync as it is defined now (a sync or a column added "
                      "since the last run): run `cdpc run` with the same engine options, then export")


def export_lines(result: Export, out: Path) -> list[str]:
    """What `cdpc export` prints: the run, a row per sync (its changes by op and its files)."""
    rows = [("sync", "run", *OPS, "files")]
    for s in result.syncs:
        rows.append((s.segment, str(s.run_id) if s.run_id is not None else "-",
                     *(f"{s.changes[op]:,}" for op in OPS), ", ".join(f.name for f in s.files) or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    table = ["  ".join(c.ljust(w) if i in (0, 1, len(widths) - 1) else c.rjust(w)
                       for i, (c, w) in enumerate(zip(r, widths))).rstrip() for r in rows]
    count = len(result.files)
    return [f"cdpc export {result.destination} ({result.platform}): run {result.run_id}, as of {result.as_of} UTC",
            *table, f"wrote {out}: {count} file{'' if count == 1 else 's'} and {MANIFEST}"]


# --------------------------------------------------------------------------- writing DIR


def is_export(path: Path) -> bool:
    """DIR may be replaced: it does not exist, is empty, or holds an earlier export."""
    return not path.exists() or (path.is_dir() and (not any(path.iterdir()) or (path / MANIFEST).is_file()))


def write_export(result: Export, out: Path) -> None:
    """Write every file and manifest.json into a new folder beside `out`, then put it in the
    place of `out` in one rename (where the system can swap two folders; else two renames, the
    old folder put back when the second fails). A failure leaves `out` as it was."""
    out = out.absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    staged = _new_folder(out, "export")
    try:
        for file in result.files:
            _write(staged / file.name, file.content)
        _write(staged / MANIFEST, (json.dumps(result.manifest(), indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
        _replace(staged, out)
    finally:
        shutil.rmtree(staged, ignore_errors=True)  # the new files when it failed, else the old DIR


def _write(path: Path, content: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


def _replace(staged: Path, out: Path) -> None:
    """Move `staged` to `out`; afterwards `staged` holds the old `out`, if there was one."""
    if not out.exists():
        os.rename(staged, out)
        return
    if _exchange(staged, out):
        return
    aside = _new_folder(out, "old")
    os.rmdir(aside)
    os.rename(out, aside)
    try:
        os.rename(staged, out)
    except OSError:
        os.rename(aside, out)
        raise
    os.rename(aside, staged)


AT_FDCWD, RENAME_EXCHANGE = -100, 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one step (Linux renameat2 RENAME_EXCHANGE); False where the system
    or file system cannot."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _new_folder(out: Path, what: str) -> Path:
    """A new folder beside `out`, `.<name>.<what>-<pid>-<random>`, with the usual mode (umask)."""
    while True:
        path = out.parent / f".{out.name}.{what}-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
