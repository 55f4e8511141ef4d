"""Keep CPython's cyclic garbage collector out of allocation-heavy batches.

The collector runs after every ~700 new container objects and, now and then, rescans
every live one. Loading YAML and building the plan allocate millions of objects that all
stay alive, and rendering makes millions of tree nodes that `dialects.render` frees by
itself: with the collector running, it spent more time rescanning them than the work
took (a 1,000-definition compile: 10.9 s in-process with it, 5.5 s without).

A batch's survivors would still be scanned once the collector resumes (about 0.3 s per
million objects, again at each older generation). A short-lived process (the CLI) asks
for them to be frozen instead (`gc.freeze`: out of the collector's sight) for the length
of its command, and hands them back before exit. A library caller (the tests) keeps the
default, so nothing is held forever.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator

_freeze_survivors = False


@contextmanager
def survivors_frozen() -> Iterator[None]:
    """For a process that ends soon after its work: survivors of a batch are never scanned.
    On the way out they are handed back, so that interpreter shutdown finalizes them
    (DuckDB's bindings report every object of theirs still alive then as a leak)."""
    global _freeze_survivors
    _freeze_survivors = True
    try:
        yield
    finally:
        _freeze_survivors = False
        gc.unfreeze()


@contextmanager
def gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if _freeze_survivors:
                gc.freeze()
            gc.enable()
