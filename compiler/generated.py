"""generated/ on disk: read it, and make it hold exactly a compile's files.

How generated/ is replaced (the choice is explained in docs/commands/compile.md, "Atomic"):

1. every file whose text changes is written first into a staging folder beside generated/,
   `.generated-<pid>-<random>/`; a failure here (a full disk) removes the staging folder
   and leaves generated/ exactly as it was;
2. each staged file is moved over its old copy with `os.replace`, a rename within one
   file system: atomic on POSIX and on Windows, so a reader sees the old text or the
   new, never half a file; then the files no longer produced are deleted, and the
   folders left empty. A rename or delete that fails here puts back what was already
   moved (the old texts are in memory). A first compile (no generated/ yet) renames the
   whole staging folder into place instead.

So generated/ exists at every moment. What is not promised is one instant for the whole
tree: during step 2 (only changed files move) a reader can see some files new and others
old. A process killed during step 2 leaves that mix and its staging folder: the next
compile deletes `.generated-*` folders whose process is gone, and compiles in full, since
generated/ no longer matches the digest the compile state recorded (compile_cache.py).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from .process import alive, owner_pid

GENERATED = "generated"
STAGING_PREFIX = ".generated-"


def read_generated(root: Path) -> dict[str, str]:
    """Relative path -> text of every file under generated/ (empty when there is none)."""
    target = Path(root) / GENERATED
    if not target.is_dir():
        return {}
    found: dict[str, str] = {}
    for folder, _, files in os.walk(target):
        prefix = os.path.relpath(folder, target).replace(os.sep, "/")
        for name in files:
            with open(os.path.join(folder, name), encoding="utf-8") as file:  # universal newlines
                found[name if prefix == "." else f"{prefix}/{name}"] = file.read()
    return dict(sorted(found.items()))


def write_generated(root: Path, outputs: dict[str, str]) -> bool:
    """Make generated/ hold exactly `outputs`; False (and nothing written) when it already does."""
    root = Path(root)
    remove_leftovers(root)
    current = read_generated(root)
    if current == outputs:
        return False
    target = root / GENERATED
    changed = {rel: text for rel, text in outputs.items() if current.get(rel) != text}
    staging = tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=root)
    try:
        for folder in sorted({os.path.dirname(rel) for rel in changed} - {""}):
            os.makedirs(os.path.join(staging, folder), exist_ok=True)
        for rel, content in changed.items():
            _write_file(os.path.join(staging, rel), content)
        if not target.is_dir():
            os.rename(staging, target)  # a first compile: the whole tree appears at once
            return True
        moved: list[str] = []
        try:
            for rel in changed:
                os.makedirs(os.path.dirname(target / rel), exist_ok=True)
                os.replace(os.path.join(staging, rel), target / rel)
                moved.append(rel)
            for rel in sorted(set(current) - set(outputs)):
                os.remove(target / rel)
                moved.append(rel)
        except BaseException:
            _put_back(target, current, moved)
            raise
        _remove_empty_folders(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return True


def remove_leftovers(root: Path) -> list[Path]:
    """Delete the staging folders of compiles that died (their process is gone); return them."""
    removed = []
    for path in Path(root).glob(f"{STAGING_PREFIX}*"):
        if path.is_dir() and not _owner_alive(path.name):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _owner_alive(name: str) -> bool:
    """Is the compile that made this staging folder still running? (`.generated-<pid>-…`;
    an older cdpc's folder, `.generated-old-<pid>` or `.generated-<random>`, has no owner)."""
    pid = owner_pid(name, STAGING_PREFIX)
    return pid is not None and alive(pid)


def _put_back(target: Path, old: dict[str, str], moved: list[str]) -> None:
    """Undo the moves of a write that failed midway (best effort: it is already failing)."""
    for rel in reversed(moved):
        try:
            if rel in old:
                _write_file(os.path.join(target, rel), old[rel])
            else:
                os.remove(target / rel)
        except OSError:
            pass


def _remove_empty_folders(target: Path) -> None:
    for folder, _, files in os.walk(target, topdown=False):
        if folder != str(target) and not files and not os.listdir(folder):
            os.rmdir(folder)


def _write_file(path: str, content: str) -> None:
    with open(path, "wb") as out:  # plain open(): pathlib's per-call cost tripled a 5,000-file write
        out.write(content.encode("utf-8"))
