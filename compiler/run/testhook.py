"""A test-only hook: `CDPC_TEST_KILL_AFTER=N` makes a run kill its own process with SIGKILL
right after its N-th statement, as `kill -9` would, at a point a test can choose
(`CDPC_TEST_KILL_SIGNAL=TERM`: with SIGTERM, as a scheduler stopping a job would).

tests/test_run_publish.py uses it to prove that a run killed at any point leaves the
previous outputs as they were, and that the next run removes what it left. It counts every
statement the engine executes, the ones inside `publish` included. Unset, it does nothing.
"""

from __future__ import annotations

import os
import signal

from .engines import Engine


def arm_kill_hook(engine: Engine) -> None:
    limit = os.environ.get("CDPC_TEST_KILL_AFTER", "")
    if not limit.isdigit():
        return
    execute, count = engine.execute, [0]
    signum = signal.SIGTERM if os.environ.get("CDPC_TEST_KILL_SIGNAL") == "TERM" else signal.SIGKILL

    def counted(sql: str) -> None:
        execute(sql)
        count[0] += 1
        if count[0] == int(limit):  # once: a SIGTERM run goes on to clean up
            os.kill(os.getpid(), signum)

    engine.execute = counted  # the instance's attribute: the engine's own calls go through it too
