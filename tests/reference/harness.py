"""Write a throwaway cdpc project to disk and run it on DuckDB (tests only)."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Optional

import yaml

AS_OF = dt.datetime(2026, 11, 20, 12, 0, 0)


def write_yaml(path: Path, docs: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False, allow_unicode=True), encoding="utf-8")


def write_csv(path: Path, header: list[str], rows: Iterable[Iterable[Optional[str]]]) -> None:
    """None -> empty unquoted cell (NULL); '' -> quoted "" (empty string)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(_cell(h) for h in header) + "\n")
        for row in rows:
            fh.write(",".join(_cell(c) for c in row) + "\n")


def _cell(value: Optional[str]) -> str:
    if value is None:
        return ""
    value = str(value)
    if value == "" or any(ch in value for ch in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


def project_doc(name: str = "proj", entity: str = "customer", **extra: Any) -> dict:
    doc = {"kind": "project", "name": name, "entity": entity, "targets": ["duckdb"]}
    doc.update(extra)
    return doc


def run(root: Path, as_of: dt.datetime = AS_OF):
    from compiler.project import require_valid
    from compiler.run.engines.duckdb import DuckDBEngine
    from compiler.run.runner import run_project

    project = require_valid(root)
    engine = DuckDBEngine()
    result = run_project(project, engine, root / "data", as_of)
    return engine, result


def norm_cell(value: Any) -> Any:
    """Make engine values comparable with the reference's Python values."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return round(value, 9)
    if isinstance(value, list):
        return tuple(value)
    return value
