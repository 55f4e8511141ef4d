"""The no-change fast path of `cdpc compile`."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from . import __version__
from .generated import read_generated


# ---- the no-change fast path -------------------------------------------------------------
# Like make: when the definitions' bytes, the targets and cdpc itself are what they were at
# the last compile, and generated/ still holds exactly what that compile wrote, there is
# nothing to do. The state lives in .cdpc/ (ignored by git), never in generated/.

STATE_FILE = ".cdpc/compile-state.json"


def inputs_digest(root: Path, targets: list[str] | None) -> str:
    import sqlglot

    from .load import definition_files
    digest = hashlib.sha256(f"{__version__}|{sqlglot.__version__}|{sorted(targets or [])}".encode())
    for path in definition_files(root / "definitions"):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def outputs_digest(outputs: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for rel, text in sorted(outputs.items()):
        digest.update(rel.encode() + b"\0" + text.encode() + b"\0")
    return digest.hexdigest()


def unchanged_since_last_compile(root: Path, targets: list[str] | None) -> bool:
    try:
        state = json.loads((root / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (state.get("inputs") == inputs_digest(root, targets)
            and state.get("outputs") == outputs_digest(read_generated(root)))


def remember_compile(root: Path, targets: list[str] | None, outputs: dict[str, str]) -> None:
    state = {"inputs": inputs_digest(root, targets), "outputs": outputs_digest(outputs)}
    try:
        (root / ".cdpc").mkdir(exist_ok=True)
        (root / STATE_FILE).write_text(json.dumps(state) + "\n", encoding="utf-8")
    except OSError:
        pass  # only a cache: a read-only checkout compiles in full every time
