#!/usr/bin/env python3
"""How fast does `cdpc test` run twenty tests?

Two projects, twenty tests each:
  starter    the project `cdpc init` writes (8 definitions: one contract, two attributes,
             one segment, one sync), its one test copied twenty times;
  reference  the reference project in definitions/ (39 definitions, 5 contracts, 19
             attributes, 7 segments, 10 syncs), its fifteen tests plus five of them again.

For each, in-process: the compile that every test shares (the DuckDB plan, rendered once),
then the twenty tests in one process (each on an in-memory DuckDB database of its own),
then the same with forked workers when the work pays for them, as `cdpc test` does. Then `cdpc test` as a subprocess, as a user runs it (Python start, imports and
validation included). Wall time is the best of --repeat runs (the machine may be shared);
CPU is user + system of this process and its reaped children for that best run.

    python benchmarks/bench_test.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TESTS = 20


def starter(root: Path) -> Path:
    from compiler.init import init_project

    init_project(root)
    _copies(root / "definitions" / "tests" / "lapsed_customers.yaml", TESTS - 1)
    return root


def reference(root: Path) -> Path:
    for name in ("definitions", "data"):
        shutil.copytree(ROOT / name, root / name)
    tests = sorted((root / "definitions" / "tests").glob("*.yaml"))
    for path in tests[: TESTS - len(tests)]:
        _copies(path, 1)
    return root


def _copies(path: Path, count: int) -> None:
    text = path.read_text(encoding="utf-8")
    name = re.search(r"^name: (\w+)$", text, flags=re.M).group(1)
    for index in range(count):
        copy = path.with_name(f"{path.stem}_copy{index}.yaml")
        copy.write_text(text.replace(f"name: {name}\n", f"name: {name}_copy{index}\n"), encoding="utf-8")


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(function, repeat: int):
    """(best wall seconds, CPU seconds of that run, its value)."""
    best = None
    for _ in range(repeat):
        cpu, wall = _cpu(), time.perf_counter()
        value = function()
        wall, cpu = time.perf_counter() - wall, _cpu() - cpu
        if best is None or wall < best[0]:
            best = (wall, cpu, value)
    return best


def measure(label: str, root: Path, repeat: int) -> list[str]:
    from compiler import background
    from compiler.project import require_valid
    from compiler.run.deftest import run_tests, test_plan

    project = require_valid(root)
    tests = [project.definitions.tests[n] for n in sorted(project.definitions.tests)]
    assert len(tests) == TESTS, len(tests)
    compile_wall, compile_cpu, plan = timed(lambda: test_plan(require_valid(root)), repeat)
    background.ENABLED = False  # as CDPC_NO_FORK=1: one process
    serial_wall, serial_cpu, results = timed(lambda: run_tests(project, tests), repeat)
    assert all(r.passed for r in results), [r.name for r in results if not r.passed]
    background.ENABLED = True
    shared_wall, shared_cpu, results = timed(lambda: run_tests(project, tests), repeat)
    assert all(r.passed for r in results)
    command = [sys.executable, "-m", "compiler.cli", "test", "--project", str(root)]
    cli_wall, cli_cpu, done = timed(lambda: subprocess.run(command, capture_output=True, text=True), repeat)
    assert done.returncode == 0, done.stdout + done.stderr
    statements = sum(len(u.steps) for u in plan.units)
    return [
        f"| {label} | compile once (DuckDB plan, {len(plan.units)} units, {statements} steps) | {compile_wall:.2f} | {compile_cpu:.2f} |",
        f"| {label} | {TESTS} tests in one process (compile included) | {serial_wall:.2f} | {serial_cpu:.2f} |",
        f"| {label} | per test | {serial_wall / TESTS * 1000:.0f} ms | {serial_cpu / TESTS * 1000:.0f} ms |",
        f"| {label} | {TESTS} tests, forked workers as `cdpc test` (compile included) | {shared_wall:.2f} | {shared_cpu:.2f} |",
        f"| {label} | `cdpc test` as a subprocess | {cli_wall:.2f} | {cli_cpu:.2f} |",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement; the best wall time is shown")
    args = parser.parse_args()
    lines = ["| project | what | wall s | CPU s |", "|---|---|---|---|"]
    with tempfile.TemporaryDirectory(prefix="cdpc-bench-test-") as scratch:
        lines += measure("starter", starter(Path(scratch) / "starter"), args.repeat)
        lines += measure("reference", reference(Path(scratch) / "reference"), args.repeat)
    print("\n".join(lines))
    print(f"\n{os.cpu_count()} cores; load average before the last run: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
