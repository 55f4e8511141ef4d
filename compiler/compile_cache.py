"""The no-change fast path of `cdpc compile`, like make's.

A compile records a key of its inputs and a digest of what it left in generated/ in
.cdpc/compile-state.json (ignored by git, never in generated/). The next compile with
the same key, finding generated/ still exactly as that compile left it, does nothing:
it prints the warnings that compile printed and reports generated/ unchanged.

The key holds everything the output can depend on:

* cdpc's own code: every file of the `compiler` package, by content (SOURCE_ROOT), so an
  editable install, a local patch or an upgrade without a version bump all count;
* the Python version and the installed distributions (the names and versions of every
  `*.dist-info` on sys.path: sqlglot writes the SQL, PyYAML, pydantic and networkx read
  and order the definitions); any install or upgrade there is a new key;
* the targets asked for, in their order (they are listed in that order in manifest.json;
  none asked: the project's own, which are in project.yaml);
* every definition file: its path and its bytes.

The key is computed before the definitions are read, so a file saved during a compile
gives a key that the next compile does not find. Any doubt (no state, an unreadable
one, generated/ edited by hand or half replaced) means a full compile: a cache miss costs
time, a wrong hit would leave stale SQL.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

from .diagnostics import Diagnostic, Location
from .generated import read_generated
from .load import definition_files

STATE_FILE = ".cdpc/compile-state.json"
FORMAT = 2  # of the state file: an older one is not read
SOURCE_ROOT = Path(__file__).resolve().parent  # the `compiler` package (tests point it at a copy)


@dataclass
class Hit:
    """What the last compile wrote and warned about, still current."""

    outputs: dict[str, str]
    warnings: list[Diagnostic]


def inputs_key(root: Path, targets: Optional[list[str]]) -> str:
    digest = hashlib.sha256(json.dumps({
        "format": FORMAT,
        "cdpc": source_digest(SOURCE_ROOT),
        "python": sys.version,
        "installed": installed_distributions(),
        "targets": targets,
    }, sort_keys=True).encode())
    root = Path(root)
    for path in definition_files(root / "definitions"):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def source_digest(package: Path) -> str:
    """The content of every file of a package (its bytecode caches aside), by relative path."""
    digest = hashlib.sha256()
    for folder, subfolders, files in os.walk(package):
        subfolders[:] = sorted(d for d in subfolders if d != "__pycache__")
        for name in sorted(files):
            path = os.path.join(folder, name)
            with open(path, "rb") as file:
                digest.update(os.path.relpath(path, package).replace(os.sep, "/").encode() + b"\0"
                              + file.read() + b"\0")
    return digest.hexdigest()


def installed_distributions() -> list[str]:
    """`name-version.dist-info` (and `.egg-info`) entries of every folder on sys.path."""
    found: set[str] = set()
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        found.update(name for name in names if name.endswith((".dist-info", ".egg-info")))
    return sorted(found)


def lookup(root: Path, key: str) -> Optional[Hit]:
    """The last compile's outputs and warnings when its key is `key` and generated/ is as it left it."""
    try:
        state = json.loads((Path(root) / STATE_FILE).read_text(encoding="utf-8"))
        if state.get("inputs") != key:
            return None
        outputs = read_generated(root)
        if state.get("outputs") != outputs_digest(outputs):
            return None
        return Hit(outputs, [_diagnostic(d) for d in state.get("warnings", [])])
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None  # unreadable or from another cdpc: compile


def forget(root: Path) -> None:
    """Drop the state before generated/ changes: a compile killed midway leaves no stale record."""
    try:
        (Path(root) / STATE_FILE).unlink()
    except OSError:
        pass


def remember(root: Path, key: str, outputs: dict[str, str], warnings: Iterable[Diagnostic]) -> None:
    state = {"inputs": key, "outputs": outputs_digest(outputs), "warnings": [d.to_dict() for d in warnings]}
    path = Path(root) / STATE_FILE
    try:
        path.parent.mkdir(exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}")
        partial.write_text(json.dumps(state) + "\n", encoding="utf-8")
        os.replace(partial, path)
    except OSError:
        pass  # only a cache: a read-only checkout compiles in full every time


def outputs_digest(outputs: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for rel, text in sorted(outputs.items()):
        digest.update(rel.encode() + b"\0" + text.encode() + b"\0")
    return digest.hexdigest()


def _diagnostic(saved: dict) -> Diagnostic:
    return Diagnostic(saved["code"], saved["message"], Location(saved["file"], saved["line"], saved["col"]),
                      saved["hint"], saved["severity"])
