"""Find and check the raw files of a run: `DIR/<schema>.<table>.{csv,parquet}`, columns by name."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from ..diagnostics import Diagnostic
from ..model import Contract, Definitions


@dataclass(frozen=True)
class RawFile:
    contract: str
    schema: str
    table: str
    path: Path
    format: str  # csv | parquet
    columns: tuple[str, ...]  # the contract's fields, in contract order


def find_raw_files(defs: Definitions, data_dir: Path) -> tuple[list[RawFile], list[Diagnostic]]:
    files, diagnostics = [], []
    for contract in defs.contracts.values():
        found, diags = _find_one(contract, data_dir)
        diagnostics += diags
        if found:
            files.append(found)
    return files, diagnostics


def _find_one(contract: Contract, data_dir: Path) -> tuple[RawFile | None, list[Diagnostic]]:
    where = contract.loc("relation")
    candidates = [data_dir / f"{contract.relation}.{ext}" for ext in ("csv", "parquet")]
    existing = [p for p in candidates if p.is_file()]
    if not existing:
        return None, [Diagnostic("CDP501", f"no raw data for contract `{contract.name}`: expected {_shown(candidates[0])} or .parquet",
                                 where, f"put the export at {_shown(candidates[0])}, or pass --data DIR")]
    path = existing[0]
    try:
        header = _csv_header(path) if path.suffix == ".csv" else _parquet_columns(path)
    except (OSError, UnicodeDecodeError, csv.Error, RuntimeError) as exc:
        return None, [Diagnostic("CDP503", f"cannot read {_shown(path)}: {exc}", where,
                                 "CSV must be UTF-8 with a header row; Parquet must be a valid file")]
    missing = [f for f in contract.fields if f not in header]
    if missing:
        return None, [Diagnostic("CDP502", f"{_shown(path)} has no column {', '.join(f'`{m}`' for m in missing)} "
                                 f"declared by contract `{contract.name}`",
                                 contract.loc("fields", missing[0]),
                                 f"the file's columns are: {', '.join(header) or '(none)'}")]
    return RawFile(contract.name, contract.relation_schema, contract.relation_table, path,
                   path.suffix.lstrip("."), tuple(contract.fields)), []


def _csv_header(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return next(csv.reader(handle), [])


def _parquet_columns(path: Path) -> list[str]:
    import duckdb

    from .engines.duckdb import NO_EXTENSIONS
    try:  # a connection of its own: the module's default one would autoload extensions
        with duckdb.connect(config=NO_EXTENSIONS) as local:
            return [row[0] for row in local.sql(f"DESCRIBE SELECT * FROM read_parquet('{_quote(path)}')").fetchall()]
    except duckdb.Error as exc:
        raise RuntimeError(str(exc).splitlines()[0]) from None


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")


def _shown(path: Path) -> str:
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path.as_posix()
