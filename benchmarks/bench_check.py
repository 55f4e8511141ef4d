#!/usr/bin/env python3
"""Benchmark `cdpc check --base HEAD~1` on a 1,000-definition project.

Generates the synthetic project with benchmarks/bench_validate.py's generator (the
shared one; benchmarks/synth_project.py when it is absent), adds a governance council,
compiles it, commits it in a temporary git repository, changes one upstream attribute
(bumping its version and recompiling, as a pull request would), commits again and runs
`cdpc check --base HEAD~1` as a subprocess, several times, cold: no compile cache
(`.cdpc/`) exists, as in CI. Prints wall time, CPU time (user + sys of the child and its
own children) and peak RSS per run, and the median.

    python benchmarks/bench_check.py [--definitions 1000] [--runs 5] [--targets duckdb] [--report]

--targets rewrites the project's `targets:` (default: what the generator writes; its
five dialects). The project's budget on a 2-core machine: <= 5 s wall for 1,000 definitions.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

try:  # the shared generator, when present
    from bench_validate import write_project as _generate  # noqa: E402
    GENERATOR = "benchmarks/bench_validate.py"
except ImportError:  # pragma: no cover
    from synth_project import write_project as _generate  # noqa: E402
    GENERATOR = "benchmarks/synth_project.py"

GOVERNANCE = "governance:\n  require_approval: [segment]\n  approvers: [ana@example.com, raj@example.com]\n"

CDPC = [sys.executable, "-m", "compiler.cli"]
GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com",
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}


def sh(*args: str, cwd: Path) -> str:
    result = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, env=GIT_ENV)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def measure(args: list[str], cwd: Path) -> tuple[int, float, float, int, str]:
    """exit code, wall s, CPU s (user + sys), peak RSS bytes, output"""
    started = time.perf_counter()
    child = subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env={**GIT_ENV, "PYTHONPATH": str(ROOT)})
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    return os.waitstatus_to_exitcode(status), wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, output


def calibration() -> float:
    """Seconds for a fixed pure-Python loop: this shared machine's CPU speed drifts (up to
    2x between minutes), so each table carries the speed it was measured at."""
    started = time.perf_counter()
    total = 0
    for i in range(5_000_000):
        total += i
    return time.perf_counter() - started


def prepare(repo: Path, definitions: int, targets: str | None) -> dict:
    shape = _generate(repo, definitions)
    project = repo / "definitions" / "project.yaml"
    lines = [line for line in project.read_text().splitlines() if not line.startswith("governance:")]
    if targets:
        lines = [f"targets: [{targets.replace(',', ', ')}]" if line.startswith("targets:") else line for line in lines]
    project.write_text("\n".join(lines) + "\n" + GOVERNANCE)
    (repo / ".gitignore").write_text(".cdpc/\n")
    sh("git", "init", "-q", "-b", "main", cwd=repo)
    sh(*CDPC, "compile", cwd=repo)
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-q", "-m", "base", cwd=repo)
    # the pull request: one upstream aggregate attribute's `where`, its MAJOR bump, a fresh compile
    path = next(p for p in sorted((repo / "definitions" / "attributes").glob("*.yaml"))
                if "status in ('a', 'b')" in p.read_text())
    text = path.read_text()
    path.write_text(text.replace("version: 1.0.0", "version: 2.0.0").replace("status in ('a', 'b')", "status = 'a'"))
    sh(*CDPC, "compile", cwd=repo)
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-q", "-m", f"change {path.stem}", cwd=repo)
    shape["changed"] = path.stem
    shape["targets"] = next(line for line in project.read_text().splitlines() if line.startswith("targets:"))[9:]
    return shape


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--definitions", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--targets", help="comma-separated targets for the project (default: the generator's)")
    parser.add_argument("--report", action="store_true", help="also write the Markdown report (compiles the base too)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cdpc-bench-check-") as scratch:
        repo = Path(scratch) / "repo"
        repo.mkdir()
        shape = prepare(repo, options.definitions, options.targets)
        command = [*CDPC, "check", "--base", "HEAD~1"]
        if options.report:
            command += ["--report", str(Path(scratch) / "report.md")]
        print(f"cdpc check benchmark: {shape['definitions']} definitions ({shape['attributes']} attributes, "
              f"{shape['segments']} segments) from {GENERATOR}, targets {shape['targets']}, "
              f"{os.cpu_count()} cores; the pull request changes {shape['changed']}")
        print(f"command: cdpc check --base HEAD~1{' --report FILE' if options.report else ''}")
        rows = []
        speed_before = calibration()
        for run in range(1, options.runs + 1):
            shutil.rmtree(repo / ".cdpc", ignore_errors=True)  # cold, as in CI (check never reads it anyway)
            code, wall, cpu, rss, output = measure(command, repo)
            if code not in (0, 1):
                raise SystemExit(f"cdpc check failed (exit {code}):\n{output}")
            rows.append((wall, cpu, rss))
            if run == 1:
                last = output.strip().splitlines()[-1]
                findings = sum(1 for line in output.splitlines() if ": CDP" in line)
                print(f"exit {code}; {findings} findings; {last}")
        header = ("run", "wall s", "CPU s", "peak RSS MiB")
        table = [(str(i), f"{w:.2f}", f"{c:.2f}", f"{r / 2**20:.0f}") for i, (w, c, r) in enumerate(rows, start=1)]
        table.append(("median", f"{statistics.median(r[0] for r in rows):.2f}",
                      f"{statistics.median(r[1] for r in rows):.2f}",
                      f"{statistics.median(r[2] for r in rows) / 2**20:.0f}"))
        widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(header)]
        print()
        print("  ".join(h.rjust(w) for h, w in zip(header, widths)))
        for row in table:
            print("  ".join(c.rjust(w) for c, w in zip(row, widths)))
        print(f"\ncalibration loop (5M additions): {speed_before:.2f} s before, {calibration():.2f} s after "
              "(0.12 s when this machine's host is quiet, up to 0.22 s when it is busy)")


if __name__ == "__main__":
    main()
