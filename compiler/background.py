"""Run one function in a forked child while the caller goes on; fall back to running it inline.

`cdpc check` spends most of its time compiling the head in memory (for the freshness of
generated/), while reading the base from git, hashing and comparing are independent of
it: on a machine with two cores or more the two overlap. The child inherits the loaded
project (fork, copy-on-write), runs the function and sends the pickled result back
through a pipe. Where fork is unavailable, or the child fails in any way, the function
simply runs in the caller, so an error surfaces exactly as without the child.
"""

from __future__ import annotations

import gc
import os
import pickle
import signal
from typing import Callable, Generic, TypeVar

T = TypeVar("T")
ENABLED = hasattr(os, "fork") and os.environ.get("CDPC_NO_FORK") != "1"


class Background(Generic[T]):
    def __init__(self, function: Callable[[], T]):
        self.function = function
        self.pid = 0
        self.fd = -1
        if ENABLED and (os.cpu_count() or 1) > 1:
            self._start()

    def _start(self) -> None:
        read, write = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(read)
            os.close(write)
            return
        if pid == 0:  # the child: compute, send, leave without running the parent's exit handlers
            gc.disable()  # it exits right after: collecting its garbage would be wasted work
            os.close(read)
            try:
                payload = pickle.dumps(("ok", self.function()), protocol=pickle.HIGHEST_PROTOCOL)
            except BaseException:  # noqa: BLE001 - the parent re-runs it and reports the real error
                payload = pickle.dumps(("failed", None))
            try:
                with os.fdopen(write, "wb") as out:
                    out.write(payload)
            finally:
                os._exit(0)
        os.close(write)
        self.pid, self.fd = pid, read

    def result(self) -> T:
        if not self.pid:
            return self.function()
        with os.fdopen(self.fd, "rb") as pipe:
            payload = pipe.read()
        os.waitpid(self.pid, 0)
        self.pid = 0
        try:
            status, value = pickle.loads(payload)
        except Exception:  # noqa: BLE001 - a truncated pipe: do it here instead
            status, value = "failed", None
        return value if status == "ok" else self.function()

    def cancel(self) -> None:
        """Stop the child (the caller failed and will not read its result)."""
        if not self.pid:
            return
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except OSError:
            pass
        os.close(self.fd)
        self.pid = 0
