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
    """The process was asked to stop (SIGTERM, as a scheduler or `kill` sends it; Ctrl-C). A
    BaseException, like KeyboardInterrupt, so that no `except Exception` swallows it and every
    `finally` on the way out runs: private schemas dropped, private folders removed, an open
    publishing transaction rolled back."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum
        self.name = signal.Signals(signum).name


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_requested: list[Stopped] = []  # the stop asked of this process, once asked


def stop_requested() -> Stopped | None:
    """The stop asked of this process, if one was. An engine that checks for signals inside a
    long statement (DuckDB) interrupts it and raises its own error instead of Stopped: the CLI
    asks here to report that error as the stop it is."""
    return _requested[0] if _requested else None


@contextmanager
def stops_cleanly() -> Iterator[None]:
    """SIGTERM and SIGINT (Ctrl-C) raise Stopped in the main thread instead of ending the
    process on the spot. Another one while the first unwinds is ignored, so the cleanup
    finishes (SIGKILL still ends the process at once)."""
    def stop(signum, _frame):
        for asked in STOP_SIGNALS:
            signal.signal(asked, signal.SIG_IGN)
        _requested.append(Stopped(signum))
        raise _requested[0]

    try:
        previous = {asked: signal.signal(asked, stop) for asked in STOP_SIGNALS}
    except ValueError:  # not the main thread (cdpc called from another program's thread)
        yield
        return
    try:
        yield
    finally:
        for asked, handler in previous.items():
            signal.signal(asked, handler)
