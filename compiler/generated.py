"""generated/ on disk: read it, and replace it with a compile's files."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

GENERATED = "generated"


def read_generated(root: Path) -> dict[str, str]:
    target = root / GENERATED
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
    """Replace generated/ with exactly `outputs`; False (and nothing written) when unchanged."""
    target = root / GENERATED
    if read_generated(root) == outputs:
        return False
    staging = Path(tempfile.mkdtemp(prefix=".generated-", dir=root))
    try:
        for folder in sorted({os.path.dirname(rel) for rel in outputs} - {""}):
            (staging / folder).mkdir(parents=True, exist_ok=True)
        for rel, content in outputs.items():
            _write_file(os.path.join(staging, rel), content)
        old = None
        if target.exists():
            old = root / f".generated-old-{os.getpid()}"
            target.rename(old)
        staging.rename(target)  # the swap: readers see the old tree or the new one, never a mix
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return True


def _write_file(path: str, content: str) -> None:
    with open(path, "wb") as out:  # plain open(): pathlib's per-call cost tripled a 5,000-file write
        out.write(content.encode("utf-8"))
