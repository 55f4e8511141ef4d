"""Forked children for work big enough to pay for them; otherwise everything runs inline.

`shared_map` spreads many small calls (rendering: chunks of units) over the caller and
forked children through a work queue, so a slow child never leaves the other cores idle.
`Background` runs one function in a forked child while the caller goes on. A child
inherits the loaded project (fork, copy-on-write) and sends its pickled result back
through a pipe.

The rules:

* **one threshold**: the work is measured in unit renders (one unit for one target) and
  a process pays for itself from RENDERS_PER_WORKER renders on (`workers_for`; measured
  with benchmarks/bench_fork.py). Below it, or where fork is missing, or with
  CDPC_NO_FORK=1, nothing forks. Work of unknown size never forks.
* **never nested**: a forked child runs everything it is given inline.
* **every wait has a deadline** (`deadline`: CHILD_TIMEOUT plus SECONDS_PER_RENDER for
  each render the child may still have to do). A child that misses it is killed and
  reaped, and the caller gets a CDP901 DiagnosticError (exit 2), never a hang.
* **children are reaped when the caller fails**: an exception in the caller while
  children run kills and reaps them before it propagates.
* a child that fails (an exception, a crash, a truncated result) is not an error: what
  it was given is done again in the caller, so a real error surfaces exactly as without
  children.
"""

from __future__ import annotations

import gc
import os
import pickle
import select
import signal
import struct
import time
from typing import Callable, Generic, Optional, TypeVar

from .diagnostics import Diagnostic, DiagnosticError, Location

T = TypeVar("T")
R = TypeVar("R")
ENABLED = hasattr(os, "fork") and os.environ.get("CDPC_NO_FORK") != "1"
# Renders per process: a second one from 2 x this on. benchmarks/bench_fork.py, two shared
# cores, time with a forked child / time alone: 1.27 at 310 renders, 1.11 at 610, 1.13 at
# 1,210; 0.87 at 1,610, 0.80 at 2,010, 0.77 and 1.11 at 2,410 (two runs: the machine was
# busy), 0.85 at 5,010. It stops losing between 1,210 and 1,610; 2,000 leaves a margin.
RENDERS_PER_WORKER = 1000
CHILD_TIMEOUT = 60.0  # seconds a child may take beyond its share of renders
SECONDS_PER_RENDER = 0.05  # about 50x a render's measured cost (1 ms): only a stuck child misses it
_PIPE_CAPACITY = 65536  # Linux's default: the queue is written whole before any reader starts
_in_child = False  # this process is a forked child: it never forks, and exits once its result is sent


def workers_for(renders: Optional[int]) -> int:
    """How many processes (the caller included) `renders` unit renders pay for."""
    if renders is None or not ENABLED or _in_child:
        return 1
    return max(1, min(os.cpu_count() or 1, renders // RENDERS_PER_WORKER))


def deadline(renders: int) -> float:
    """Seconds the caller waits for a child that may still have `renders` renders to do."""
    return CHILD_TIMEOUT + renders * SECONDS_PER_RENDER


class Background(Generic[T]):
    """function() in a forked child while the caller goes on, when `renders` (its size in
    unit renders) pays for a second process; else function() runs in `result()`."""

    def __init__(self, function: Callable[[], T], renders: Optional[int] = None):
        self.function = function
        self.child = _Child.start(function, deadline(renders or 0)) if workers_for(renders) > 1 else None

    def result(self) -> T:
        """The function's value: the child's, or computed here when there is no child or it failed."""
        child, self.child = self.child, None
        if child is not None:
            ok, value = child.result()
            if ok:
                return value
        return self.function()

    def cancel(self) -> None:
        """Kill and reap the child (the caller failed and will not read its result)."""
        if self.child is not None:
            self.child.cancel()
            self.child = None


class _Child:
    """One forked process computing function() and sending its pickled value back."""

    def __init__(self, pid: int, fd: int, timeout: float):
        self.pid, self.fd, self.timeout = pid, fd, timeout

    @classmethod
    def start(cls, function: Callable[[], object], timeout: float) -> Optional[_Child]:
        """The child, or None when the system refuses a fork (the caller then does the work)."""
        global _in_child
        read, write = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(read)
            os.close(write)
            return None
        if pid == 0:  # the child: compute, send, leave without running the parent's exit handlers
            _in_child = True
            gc.disable()  # it exits right after: collecting its garbage would be wasted work
            os.close(read)
            try:
                payload = pickle.dumps((True, function()), protocol=pickle.HIGHEST_PROTOCOL)
            except BaseException:  # noqa: BLE001 - the parent re-runs it and reports the real error
                payload = pickle.dumps((False, None))
            try:
                with os.fdopen(write, "wb") as out:
                    out.write(payload)
            finally:
                os._exit(0)
        os.close(write)
        return cls(pid, read, timeout)

    def result(self) -> tuple[bool, object]:
        """(True, value), or (False, None) when the child failed; CDP901 when it takes too long.
        The child is reaped either way."""
        try:
            payload = self._receive(time.monotonic() + self.timeout)
        except BaseException:
            self.cancel()
            raise
        try:
            return pickle.loads(payload)
        except Exception:  # noqa: BLE001 - a truncated pipe: the caller does the work instead
            return False, None

    def cancel(self) -> None:
        if not self.pid:
            return
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)  # a killed process ends at once: this wait cannot hang
        except OSError:
            pass
        os.close(self.fd)
        self.pid = 0

    def _receive(self, until: float) -> bytes:
        chunks = []
        while True:
            ready, _, _ = select.select([self.fd], [], [], max(0.0, until - time.monotonic()))
            if not ready:
                self._timed_out()
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        while os.waitpid(self.pid, os.WNOHANG) == (0, 0):  # it closed the pipe: it is exiting
            if time.monotonic() > until:
                self._timed_out()
            time.sleep(0.001)
        os.close(self.fd)
        self.pid = 0
        return b"".join(chunks)

    def _timed_out(self) -> None:
        pid = self.pid
        self.cancel()
        raise DiagnosticError([Diagnostic(
            "CDP901", f"a forked cdpc worker (pid {pid}) did not finish within {self.timeout:.0f} s and was stopped",
            Location(), "run the command again with CDPC_NO_FORK=1 (one process, the same output) and report it")])


def shared_map(function: Callable[[int, bool], R], count: int, renders: int) -> list[R]:
    """[function(i, in_child) for i in range(count)], `renders` unit renders in all, shared by
    the caller and the forked children they pay for (`workers_for`), each taking the next
    index as soon as it is free. `in_child` is true in a process that exits after its
    result (its garbage dies with it).

    The queue is a pipe holding every index as 4 bytes, written before the fork and then
    closed for writing: each read takes one index (pipe reads are atomic), and an empty
    pipe reads as end of file.
    """
    workers = min(workers_for(renders), count)
    if workers <= 1 or count * 4 > _PIPE_CAPACITY:
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

    timeout = deadline(-(-renders // count))  # once the queue is empty, a child has one call left
    children: list[_Child] = []
    try:
        for _ in range(workers - 1):
            child = _Child.start(lambda: drain(True), timeout)
            if child is not None:
                children.append(child)
        results = drain(_in_child)
        for child in children:  # a child that failed lost the calls it had taken: redone below
            ok, done = child.result()
            if ok:
                results.update(done)
    except BaseException:
        for child in children:
            child.cancel()
        raise
    finally:
        os.close(read)
    return [results[i] if i in results else function(i, _in_child) for i in range(count)]
