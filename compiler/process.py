"""What a cdpc process owns while it runs and how it ends: folders named with its pid (a
later process tells that their owner is gone, killed, and removes them), and a stop asked
by SIGTERM that unwinds like Ctrl-C, cleaning up on the way."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


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


class Stopped(BaseException):
    """The process was asked to stop (SIGTERM, as a scheduler or `kill` sends it). A
    BaseException, like KeyboardInterrupt, so that no `except Exception` swallows it and every
    `finally` on the way out runs: private schemas dropped, private folders removed, an open
    publishing transaction rolled back."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum
        self.name = signal.Signals(signum).name


@contextmanager
def stops_cleanly() -> Iterator[None]:
    """SIGTERM raises Stopped in the main thread instead of ending the process on the spot.
    A second SIGTERM while the first unwinds is ignored, so the cleanup finishes (SIGKILL
    still ends the process at once)."""
    def stop(signum, _frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Stopped(signum)

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread (cdpc called from another program's thread)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
