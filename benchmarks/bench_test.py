#!/usr/bin/env python3
"""How fast does `cdpc test` run twenty tests?

Two projects, twenty tests each:
  starter    the project `cdpc init` writes (8 definitions: one contract, two attributes,
             one segment, one sync), its one test copied twenty times;
  reference  the reference project in definitions/ (39 definitions, 5 contracts, 19
             attributes, 7 segments, 10 syncs), its fifteen tests plus five of them again.

For each, in-process: the compile that every test shares (the DuckDB plan, rendered once,
and the statements each test runs), then the twenty tests on one thread (each on an
in-memory DuckDB database of its own), then the same on one thread per core, as `cdpc test`
does. Then `cdpc test` as a subprocess, as a user runs it (Python start, imports and
validation included). Beside them, two anchors measured in the same run, on the same
machine at the same load: DuckDB alone opening twenty in-memory connections, and DuckDB
alone executing as many trivial statements (`CREATE TABLE ... AS SELECT 1`) as the twenty
tests execute. Wall time is the best of --repeat runs (the machine may be shared); CPU is
user + system of this process and its reaped children for that best run.

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


def statements_of(units) -> int:
    """The statements of rendered units (a loop's once, a conditional group's as if it ran)."""
    from compiler.emit.plan import rendered_statements

    return sum(1 for unit in units for _ in rendered_statements(unit.steps))


def executed(project, tests) -> int:
    """The statements the tests execute, counted as they run (a pass of identity with nothing
    to link, or an erasure without requests, skips its statements): loading their rows, their
    share of the plan, the conditions and loops' untils, and reading tables back."""
    from compiler.run import deftest
    from compiler.run.engines.duckdb import DuckDBEngine

    count = 0
    execute, rows = DuckDBEngine.execute, DuckDBEngine.rows

    def counted(method):
        def call(self, sql):
            nonlocal count
            count += 1
            return method(self, sql)
        return call

    DuckDBEngine.execute, DuckDBEngine.rows = counted(execute), counted(rows)
    try:
        deftest.run_tests(project, tests, workers=1)
    finally:
        DuckDBEngine.execute, DuckDBEngine.rows = execute, rows
    return count


def anchors(statements: int, repeat: int) -> list[tuple[str, float, float]]:
    """DuckDB alone, in this process: opening twenty connections, and `statements` trivial ones."""
    import duckdb

    def connections() -> None:
        for _ in range(TESTS):
            duckdb.connect().close()

    def trivial() -> None:
        connection = duckdb.connect()
        for index in range(statements):
            connection.execute(f"CREATE TABLE t{index} AS SELECT 1 AS x")
        connection.close()

    wall, cpu, _ = timed(connections, repeat)
    trivial_wall, trivial_cpu, _ = timed(trivial, repeat)
    return [(f"anchor: `duckdb.connect()` x{TESTS}", wall, cpu),
            (f"anchor: {statements} trivial `CREATE TABLE … AS SELECT 1`", trivial_wall, trivial_cpu)]


def measure(label: str, root: Path, repeat: int) -> list[str]:
    from compiler.project import require_valid
    from compiler.run.deftest import run_tests, test_plan

    project = require_valid(root)
    tests = [project.definitions.tests[n] for n in sorted(project.definitions.tests)]
    assert len(tests) == TESTS, len(tests)

    def compiled():
        plan = test_plan(require_valid(root))
        for test in tests:
            plan.run_for(path for path, _ in test.expect.tables())
        return plan

    compile_wall, compile_cpu, plan = timed(compiled, repeat)
    serial_wall, serial_cpu, results = timed(lambda: run_tests(project, tests, workers=1), repeat)
    assert all(r.passed for r in results), [r.name for r in results if not r.passed]
    shared_wall, shared_cpu, results = timed(lambda: run_tests(project, tests), repeat)
    assert all(r.passed for r in results)
    command = [sys.executable, "-m", "compiler.cli", "test", "--project", str(root)]
    cli_wall, cli_cpu, done = timed(lambda: subprocess.run(command, capture_output=True, text=True), repeat)
    assert done.returncode == 0, done.stdout + done.stderr
    statements = executed(project, tests)
    lines = [
        f"| {label} | compile once (DuckDB plan, {len(plan.units)} units, {statements_of(plan.units)} statements; "
        f"what each test runs) | {compile_wall:.2f} | {compile_cpu:.2f} |",
        f"| {label} | {TESTS} tests on one thread (compile included; {statements} statements, "
        f"{statements / TESTS:.0f} a test) | {serial_wall:.2f} | {serial_cpu:.2f} |",
        f"| {label} | per test | {serial_wall / TESTS * 1000:.0f} ms | {serial_cpu / TESTS * 1000:.0f} ms |",
        f"| {label} | {TESTS} tests, one thread per core as `cdpc test` (compile included) | {shared_wall:.2f} | {shared_cpu:.2f} |",
        f"| {label} | `cdpc test` as a subprocess | {cli_wall:.2f} | {cli_cpu:.2f} |",
    ]
    return lines + [f"| {label} | {what} | {wall:.2f} | {cpu:.2f} |" for what, wall, cpu in anchors(statements, repeat)]


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
