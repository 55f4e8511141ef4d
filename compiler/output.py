"""How the CLI prints diagnostics: plain text for pipes, CI and tests; colour on a terminal.

The plain form is the contract (`path:line:col: CODE message`, then an indented
`hint: ...`); colour only adds styling to the same text.
"""

from __future__ import annotations

import os
import sys
from typing import Iterable

import click

from .diagnostics import Diagnostic, sort_diagnostics

STYLES = {"location": "bold", "error": "bold red", "warning": "bold yellow", "hint": "cyan"}


def show_diagnostics(diagnostics: Iterable[Diagnostic], err: bool = False) -> None:
    diagnostics = sort_diagnostics(diagnostics)
    if _colour(err):
        _show_rich(diagnostics, err)
        return
    for diagnostic in diagnostics:
        click.echo(diagnostic.render(), err=err)


def summary(diagnostics: Iterable[Diagnostic], definitions: int) -> str:
    diagnostics = list(diagnostics)
    errors = sum(1 for d in diagnostics if d.is_error)
    warnings = len(diagnostics) - errors
    if errors:
        return f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}"
    return f"ok: {_plural(definitions, 'definition')}, " + (_plural(warnings, "warning") if warnings else "no errors")


def exit_code(diagnostics: Iterable[Diagnostic]) -> int:
    """0 without errors; 2 when every error is about the environment (CDP9xx); else 1."""
    errors = [d for d in diagnostics if d.is_error]
    if not errors:
        return 0
    return 2 if all(d.code.startswith("CDP9") for d in errors) else 1


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _colour(err: bool) -> bool:
    stream = sys.stderr if err else sys.stdout
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def _show_rich(diagnostics: list[Diagnostic], err: bool) -> None:
    from rich.console import Console  # imported only on a terminal: keeps `cdpc` quick to start
    from rich.text import Text

    console = Console(stderr=err, highlight=False, soft_wrap=True)
    for diagnostic in diagnostics:
        line = Text.assemble((f"{diagnostic.location}:", STYLES["location"]), " ",
                             (diagnostic.code, STYLES["error" if diagnostic.is_error else "warning"]), " ",
                             ("" if diagnostic.is_error else "warning: ", STYLES["warning"]), diagnostic.message)
        console.print(line)
        if diagnostic.hint:
            console.print(Text.assemble("    ", ("hint:", STYLES["hint"]), " ", diagnostic.hint))
