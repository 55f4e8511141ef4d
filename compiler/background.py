"""Run one function in a forked child while the caller goes on; fall back to running it inline.

`cdpc check` spends most of its time compiling the head in memory (for the freshness of
generated/), while reading the base from git, hashing and comparing are independent of
it: on a machine with two cores or more the two overlap. The child inherits the loaded
project (fork, copy-on-write), runs the function and sends the pickled result back
through a pipe. Where fork is unavailable, or the child fails in any way, the function
simply runs in the caller, so an error surfaces exactly as without the child.

`shared_map` spreads many small calls (rendering: a target's units in chunks) over the
caller and forked children through a work queue, so a slow child never leaves the other
cores idle.
"""

from __future__ import annotations

import gc
import os
import pickle
import signal
import struct
from typing import Callable, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")
ENABLED = hasattr(os, "fork") and os.environ.get("CDPC_NO_FORK") != "1"
_in_child = False  # this process is a forked child that exits once its result is sent
_PIPE_CAPACITY = 65536  # Linux's default: the queue is written whole before any reader starts


class Background(Generic[T]):
    def __init__(self, function: Callable[[], T]):
        self.function = function
        self.pid = 0
        self.fd = -1
        if ENABLED and (os.cpu_count() or 1) > 1:
            self._start()

    def _start(self) -> None:
        global _in_child
        read, write = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(read)
            os.close(write)
            return
        if pid == 0:  # the child: compute, send, leave without running the parent's exit handlers
            _in_child = True
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


def shared_map(function: Callable[[int, bool], R], count: int, workers: int) -> list[R]:
    """[function(i, in_child) for i in range(count)], the calls shared by the caller and
    `workers - 1` forked children that take the next index as soon as they are free.
    `in_child` is true in a process that exits after its result (its garbage dies with it).

    The queue is a pipe holding every index as 4 bytes, written before the fork and then
    closed for writing: each read takes one index (pipe reads are atomic), and an empty
    pipe reads as end of file.
    """
    if workers <= 1 or not ENABLED or count * 4 > _PIPE_CAPACITY:
        return [function(i, _in_child) for i in range(count)]
    read, write = os.pipe()
    os.write(write, b"".join(struct.pack("<I", i) for i in range(count)))
    os.close(write)

    def drain(in_child: bool) -> dict[int, R]:
        done = {}
        while token := os.read(read, 4):
            index = struct.unpack("<I", token)[0]
            done[index] = function(index, in_child)
        return done

    children = [Background(lambda: drain(True)) for _ in range(workers - 1)]
    results = drain(_in_child)
    for child in children:  # the queue is empty now: a child that failed lost its calls, redone here
        results.update(child.result() or {})
    os.close(read)
    return [results[i] if i in results else function(i, _in_child) for i in range(count)]
