"""`cdpc init DIR`: a new project that validates, compiles, runs, passes its tests and `cdpc check`.

The starter project is the folder `template/` beside this module (package data of the
wheel): definitions with comments, sample data, a README, pre-commit hooks and a GitHub
workflow. A path part `dot-<x>` is written as `.<x>` (a wheel's file globs skip dot
files), and `__PROJECT__` and `__CDPC_VERSION__` in every file become the project's name
and the running cdpc's version. Then `schemas/` and `generated/` are written as `cdpc
schema` and `cdpc compile` write them, so that `cdpc check` passes before any edit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Iterator, Optional

from .. import __version__
from .. import schema as schemas
from ..compile import compile_outputs
from ..generated import write_generated
from ..model.base import NAME_RE
from ..project import require_valid

TEMPLATE = "template"
DOT = "dot-"


class InitError(Exception):
    """The project cannot be created there (a usage error: exit 2); the message says why."""


@dataclass
class Created:
    root: Path
    name: str
    files: list[str]  # relative paths, sorted


def init_project(root: Path, name: Optional[str] = None) -> Created:
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise InitError(f"{root} exists and is not a directory")
    if root.is_dir() and any(root.iterdir()):
        raise InitError(f"{root} is not empty: cdpc init writes a new project into an empty or new directory")
    name = name if name is not None else project_name(root)
    if not NAME_RE.match(name):
        raise InitError(f"{name!r} is not a valid project name: use lowercase letters, digits and `_`, starting "
                        "with a letter (at most 63); pass --name")
    written = []
    for relative, content in template_files():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.replace(b"__PROJECT__", name.encode()).replace(b"__CDPC_VERSION__",
                                                                                  __version__.encode()))
        written.append(relative)
    written += schemas.write(root)
    project = require_valid(root)
    write_generated(project.root, compile_outputs(project))
    written += [p.relative_to(root).as_posix() for p in (root / "generated").rglob("*") if p.is_file()]
    return Created(root, name, sorted(written))


def project_name(root: Path) -> str:
    """A project name from a directory name: `My Shop` -> `my_shop`; `2shop` -> `p_2shop`."""
    text = re.sub(r"[^a-z0-9_]+", "_", root.resolve().name.lower()).strip("_")[:63]
    return text if text[:1].isalpha() else f"p_{text}"[:63]


def template_files() -> Iterator[tuple[str, bytes]]:
    """(relative path as written, content) of every file of the template, in path order."""
    base = resources.files(__package__) / TEMPLATE
    for path, node in sorted(_walk(base, "")):
        yield path, node.read_bytes()


def _walk(node, prefix: str) -> Iterator[tuple[str, object]]:
    for child in node.iterdir():
        name = "." + child.name[len(DOT):] if child.name.startswith(DOT) else child.name
        if child.is_dir():
            if child.name != "__pycache__":
                yield from _walk(child, f"{prefix}{name}/")
        else:
            yield f"{prefix}{name}", child
