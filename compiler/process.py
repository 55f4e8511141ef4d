"""Folders a cdpc process owns while it runs, named with its pid, and how a later process
tells that their owner is gone (killed) so it can remove them."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def alive(pid: int) -> bool:
    """Is process `pid` running? (Another user's process counts as running.)"""
    if pid == os.getpid():
        return True
    if os.name != "posix":
        return False  # no harmless probe: os.kill ends the process on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: someone else's
        return True
    return True


def owner_pid(name: str, prefix: str) -> int | None:
    """The pid in a folder name `<prefix><pid>-<anything>`, None when there is none."""
    pid = name[len(prefix):].partition("-")[0] if name.startswith(prefix) else ""
    return int(pid) if pid.isdigit() else None


def private_temp_folder(prefix: str) -> Path:
    """A new folder `<prefix><pid>-<random>` (mode 0700) in the temporary folder, after
    removing this user's folders of the same prefix whose process is gone."""
    for folder in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
        pid = owner_pid(folder.name, prefix)
        if pid is not None and not alive(pid) and _mine(folder):
            shutil.rmtree(folder, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-"))


def _mine(folder: Path) -> bool:
    try:
        return folder.is_dir() and not folder.is_symlink() and folder.stat().st_uid == os.getuid()
    except OSError:
        return False
