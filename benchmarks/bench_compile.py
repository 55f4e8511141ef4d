"""Benchmark `cdpc compile`: 1,000 synthetic definitions to all five targets.

cold       no generated/ and no compile state: load, validate, emit, render 5 targets, write
unchanged  the same definitions again: the no-op path (`generated/ unchanged`)
one edit   one attribute's logic changed: a full compile again

Each figure is a fresh `cdpc compile` process (wall, CPU, peak RSS), the median of --runs.

    python benchmarks/bench_compile.py [--definitions 1000] [--runs 3]

The project's budget on a 2-core machine: <= 10 s cold, <= 1.5 s unchanged.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import synth_project  # noqa: E402

TARGETS = ("duckdb", "postgres", "spark", "snowflake", "bigquery")


def timed(project: Path) -> tuple[float, float, int]:
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "compiler.cli", "compile", "--project", str(project)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        raise SystemExit(f"compile failed: {child.stderr.read().decode()[:2000]}")
    return time.perf_counter() - started, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024


def median(samples: list[tuple[float, float, int]]) -> tuple[float, float, int]:
    return tuple(statistics.median(s[i] for s in samples) for i in range(3))  # type: ignore[return-value]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--definitions", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(scratch) / "project"
        synth_project.write_project(project, options.definitions, targets=TARGETS)
        cold, unchanged, edited = [], [], []
        attribute = sorted((project / "definitions" / "attributes").glob("*.yaml"))[0]
        original = attribute.read_text()
        for run in range(options.runs):
            attribute.write_text(original)
            shutil.rmtree(project / "generated", ignore_errors=True)
            shutil.rmtree(project / ".cdpc", ignore_errors=True)
            cold.append(timed(project))
            unchanged.append(timed(project))
            # a logic edit: the aggregate's where-clause changes, so every downstream unit changes
            attribute.write_text(original.replace("\nwhere: ", "\nwhere: 1 = 1 and ", 1) if "\nwhere: " in original
                                 else original + f"\n# edit {run}\n")
            edited.append(timed(project))
        files = sum(1 for _ in (project / "generated").rglob("*.sql"))
    print(f"cdpc compile benchmark: {options.definitions} definitions, {len(TARGETS)} targets, {files} SQL files, "
          f"{os.cpu_count()} cores, median of {options.runs}")
    print(f"{'case':<12}{'wall s':>8}{'cpu s':>8}{'peak RSS MiB':>14}")
    for name, samples in (("cold", cold), ("unchanged", unchanged), ("one edit", edited)):
        wall, cpu, rss = median(samples)
        print(f"{name:<12}{wall:>8.2f}{cpu:>8.2f}{rss / 2**20:>14.0f}")


if __name__ == "__main__":
    main()
