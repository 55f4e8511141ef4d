#!/usr/bin/env python3
"""Where does a forked child pay for itself? The render of a compile (render.sql_outputs),
in one process and split with one forked child, at growing project sizes.

For each size: a synthetic project (benchmarks/synth_project.py) for five targets is
loaded once; then the render runs --runs times each way, in turn (one process, two
processes, ...), and the medians are printed with the work in unit renders (units x
targets). background.RENDERS_PER_WORKER is set from this table: a second process pays
from about 2 x RENDERS_PER_WORKER renders on.

    python benchmarks/bench_fork.py [--sizes 60,120,240,480,1000] [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import synth_project  # noqa: E402

from compiler import background  # noqa: E402
from compiler.compile import compile_targets  # noqa: E402
from compiler.emit import plan_builders  # noqa: E402
from compiler.project import require_valid  # noqa: E402
from compiler.render import sql_outputs  # noqa: E402

TARGETS = ("duckdb", "postgres", "spark", "snowflake", "bigquery")


def timed(project, targets: list[str], per_worker: int) -> float:
    background.RENDERS_PER_WORKER = per_worker
    started = time.perf_counter()
    sql_outputs(project, targets)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="60,120,240,480,1000")
    parser.add_argument("--runs", type=int, default=7)
    options = parser.parse_args()
    if not background.ENABLED or (os.cpu_count() or 1) < 2:
        raise SystemExit("needs fork and two cores")
    real = background.RENDERS_PER_WORKER
    print(f"render, one process vs two (one forked child); {os.cpu_count()} cores, median of {options.runs}")
    print(f"{'definitions':>11}{'renders':>9}{'1 proc s':>10}{'2 procs s':>11}{'2/1':>7}")
    with tempfile.TemporaryDirectory() as scratch:
        for size in (int(s) for s in options.sizes.split(",")):
            root = Path(scratch) / str(size)
            synth_project.write_project(root, size, targets=TARGETS)
            project = require_valid(root)
            targets = compile_targets(project)
            renders = len(plan_builders(project.definitions, project.lineage)) * len(targets)
            one, two = [], []
            for _ in range(options.runs):
                one.append(timed(project, targets, 10**12))  # never forks
                two.append(timed(project, targets, 1))  # forks one child (on two cores)
            a, b = statistics.median(one), statistics.median(two)
            print(f"{size:>11}{renders:>9}{a:>10.3f}{b:>11.3f}{b / a:>7.2f}")
    background.RENDERS_PER_WORKER = real


if __name__ == "__main__":
    main()
