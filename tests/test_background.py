"""compiler.background: forks only above one threshold, never nested, every wait bounded,
children reaped when the caller fails, and the same output with or without children."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from compiler import background, render
from compiler.compile import compile_outputs
from compiler.diagnostics import DiagnosticError
from compiler.generated import write_generated
from compiler.project import require_valid

from helpers import ROOT, cdpc, copy_reference

needs_fork = pytest.mark.skipif(not background.ENABLED, reason="no fork on this platform")
MANY = 10**6  # renders: enough for a child on any machine


@pytest.fixture
def cores(monkeypatch):
    monkeypatch.setattr(background.os, "cpu_count", lambda: 3)


@pytest.fixture
def quick_timeout(monkeypatch):
    monkeypatch.setattr(background, "CHILD_TIMEOUT", 1.0)
    monkeypatch.setattr(background, "SECONDS_PER_RENDER", 0.0)


def gone(pid: int) -> bool:
    """The process has ended and was reaped (no zombie left behind)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_one_threshold_decides_how_many_processes(monkeypatch):
    monkeypatch.setattr(background.os, "cpu_count", lambda: 2)
    per = background.RENDERS_PER_WORKER
    assert [background.workers_for(n) for n in (None, 0, 2 * per - 1, 2 * per, 100 * per)] == [1, 1, 1, 2, 2]
    monkeypatch.setattr(background, "ENABLED", False)
    assert background.workers_for(100 * per) == 1


def test_a_small_project_forks_nothing(monkeypatch):
    def no_fork():
        raise AssertionError("forked below the threshold")
    monkeypatch.setattr(background.os, "fork", no_fork)
    assert compile_outputs(require_valid(ROOT))  # 39 units x 5 targets: far below it
    assert background.Background(lambda: 1).result() == 1  # a size nobody gave: inline


@needs_fork
def test_shared_map_returns_every_result_in_order(cores):
    assert background.shared_map(lambda i, _: i * i, 500, MANY) == [i * i for i in range(500)]


@needs_fork
def test_shared_map_redoes_the_calls_of_a_child_that_died(cores):
    def square_or_die(index: int, in_child: bool) -> int:
        if in_child:
            os._exit(3)  # the child vanishes with whatever it had taken from the queue
        return index * index
    assert background.shared_map(square_or_die, 200, MANY) == [i * i for i in range(200)]


def test_shared_map_without_fork_runs_in_the_caller(monkeypatch):
    monkeypatch.setattr(background, "ENABLED", False)
    calls = []
    assert background.shared_map(lambda i, in_child: calls.append(in_child) or i, 5, MANY) == [0, 1, 2, 3, 4]
    assert calls == [False] * 5


@needs_fork
def test_a_child_never_forks(cores):
    def nested(index: int, in_child: bool) -> tuple[int, set[int], int]:
        time.sleep(0.01)  # leave some calls to the child
        inner = background.shared_map(lambda j, _: os.getpid(), 20, MANY)
        return os.getpid(), set(inner), background.Background(os.getpid, MANY).result()

    in_children = [r for r in background.shared_map(nested, 30, MANY) if r[0] != os.getpid()]
    assert in_children, "some calls ran in a child"
    for pid, inner, background_pid in in_children:
        assert inner == {pid} and background_pid == pid  # all of it in the child itself


@needs_fork
def test_a_background_child_that_fails_is_redone_in_the_caller(cores):
    calls = []

    def boom():
        calls.append(os.getpid())
        raise ValueError("the real error")
    job = background.Background(boom, MANY)
    assert job.child is not None
    with pytest.raises(ValueError, match="the real error"):
        job.result()
    assert calls == [os.getpid()]  # the child's attempt happened elsewhere; the caller re-ran it and raised


@needs_fork
def test_a_stuck_background_child_is_a_cdp901_not_a_hang(cores, quick_timeout):
    job = background.Background(lambda: time.sleep(3600), MANY)
    pid = job.child.pid
    started = time.monotonic()
    with pytest.raises(DiagnosticError) as raised:
        job.result()
    assert time.monotonic() - started < 30
    assert [d.code for d in raised.value.diagnostics] == ["CDP901"]
    assert "CDPC_NO_FORK=1" in raised.value.diagnostics[0].hint
    assert gone(pid)


@needs_fork
def test_a_stuck_render_child_stops_the_compile_with_exit_2(tmp_path, monkeypatch, cores, quick_timeout):
    monkeypatch.setattr(background, "RENDERS_PER_WORKER", 1)
    real = render.render_unit

    def stuck_in_child(*args, **kwargs):
        if background._in_child:
            time.sleep(3600)
        return real(*args, **kwargs)

    monkeypatch.setattr(render, "render_unit", stuck_in_child)
    project = copy_reference(tmp_path, with_generated=False)
    result = cdpc("compile", "--project", str(project))
    assert result.exit_code == 2
    assert "CDP901" in result.output and "did not finish within 1 s" in result.output
    assert not (project / "generated").exists()


@needs_fork
def test_children_are_killed_and_reaped_when_the_caller_fails(cores, tmp_path):
    pids = tmp_path / "pids"

    def work(index: int, in_child: bool) -> int:
        if in_child:
            with open(pids, "a") as out:
                out.write(f"{os.getpid()}\n")
            time.sleep(3600)  # a child that would never finish on its own
        if index >= 10:
            raise RuntimeError("the caller failed")
        time.sleep(0.05)
        return index

    with pytest.raises(RuntimeError, match="the caller failed"):
        background.shared_map(work, 1000, MANY)
    children = {int(line) for line in pids.read_text().split()}
    assert children and all(gone(pid) for pid in children)


@needs_fork
def test_compile_split_over_many_workers_is_byte_identical(tmp_path, monkeypatch, cores):
    monkeypatch.setattr(background, "ENABLED", False)
    alone = write_tree(tmp_path / "alone", compile_outputs(require_valid(ROOT)))
    monkeypatch.setattr(background, "ENABLED", True)
    monkeypatch.setattr(background, "RENDERS_PER_WORKER", 1)  # fork even for the small reference
    monkeypatch.setattr(render, "CHUNK", 3)
    forked = write_tree(tmp_path / "forked", compile_outputs(require_valid(ROOT)))
    assert forked == alone


def test_cdpc_no_fork_gives_the_committed_bytes(tmp_path):
    project = copy_reference(tmp_path, with_generated=False)
    done = subprocess.run([sys.executable, "-m", "compiler.cli", "compile", "--project", str(project)],
                          env={**os.environ, "CDPC_NO_FORK": "1"}, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert tree_bytes(project / "generated") == tree_bytes(ROOT / "generated")
    probe = subprocess.run([sys.executable, "-c", "from compiler import background; print(background.ENABLED)"],
                           env={**os.environ, "CDPC_NO_FORK": "1"}, capture_output=True, text=True)
    assert probe.stdout.strip() == "False"


def write_tree(root, outputs: dict[str, str]) -> dict[str, bytes]:
    root.mkdir(parents=True)
    write_generated(root, outputs)
    return tree_bytes(root / "generated")


def tree_bytes(folder) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
