"""run: execute a compiled plan on an engine and summarize what it left."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Optional

from ..diagnostics import Diagnostic, DiagnosticError, Location
from ..project import LoadedProject
from .engines import Engine, EngineError, OutOfMemory, WarehouseBusy
from .runner import RunResult, run_project


def execute(project: LoadedProject, engine_name: str, data_dir: Path, as_of: dt.datetime, *,
            db: Optional[Path] = None, dsn: Optional[str] = None, master: Optional[str] = None,
            warehouse: Optional[Path] = None, sources: str = "files", wait: float = 0,
            memory_limit: Optional[int] = None) -> RunResult:
    """Open the engine, run the project with a live progress line, print the summary and findings."""
    from rich.console import Console

    from ..output import show_diagnostics
    from .summary import print_summary

    engine = connect(engine_name, db=db, dsn=dsn, master=master, warehouse=warehouse, wait=wait,
                     memory_limit=memory_limit)
    console = Console(highlight=False, soft_wrap=False)
    if not console.is_terminal:  # a pipe or a file: whole lines, never a name cut to fit 80 columns
        console.width = 160
    try:
        with console.status("running", spinner="dots") as status:
            result = run_project(project, engine, data_dir, as_of, progress=lambda text: status.update(text),
                                 sources_mode=sources, wait=wait)
    except OutOfMemory as exc:  # nothing was published: the previous outputs are unchanged
        raise DiagnosticError([Diagnostic("CDP909", f"{exc}; nothing was published", Location(),
                                          "raise --memory-limit (the default is a fifth of the machine's memory), "
                                          "or free disk space in the temporary folder DuckDB spills to")]) from None
    finally:
        engine.close()
    print_summary(result, engine_name, console)
    show_diagnostics(result.findings)
    return result


def connect(engine_name: str, **options) -> Engine:
    """The engine of `cdpc run` and the commands that read or change activation state, with
    `cdpc run`'s options; a DiagnosticError (exit 2) when it cannot start."""
    from .engines import open_engine

    try:
        return open_engine(engine_name, **options)
    except WarehouseBusy as exc:  # DuckDB: the database file is locked by another process
        raise DiagnosticError([Diagnostic("CDP906", str(exc), Location(),
                                          "let that run finish, or pass --wait SECONDS to wait for it")]) from None
    except EngineError as exc:
        raise DiagnosticError([Diagnostic("CDP901", f"cannot start the {engine_name} engine: {exc}", Location(),
                                          "see docs/engines.md for what each engine needs")]) from None
