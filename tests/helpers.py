"""Shared test helpers: copy the reference project, write small projects, run the CLI."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

from click.testing import CliRunner, Result

from compiler.cli import cli

ROOT = Path(__file__).resolve().parent.parent
AS_OF = "2026-11-20 00:00:00"


def copy_reference(dest: Path, with_generated: bool = True) -> Path:
    """A private copy of the reference project (definitions/, data/, generated/)."""
    for name in ("definitions", "data") + (("generated",) if with_generated else ()):
        if (ROOT / name).exists():
            shutil.copytree(ROOT / name, dest / name)
    return dest


def write_files(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


def cdpc(*args: str) -> Result:
    """Run a cdpc command in-process (click's runner); output is the plain, non-TTY form."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def cdpc_subprocess(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "compiler.cli", *args], cwd=cwd, capture_output=True, text=True)
