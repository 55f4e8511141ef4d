"""compiler.background: work shared with forked children gives what the caller alone gives."""

from __future__ import annotations

import os

import pytest

from compiler import background, compile as compile_module
from compiler.compile import compile_outputs
from compiler.project import require_valid

from helpers import ROOT

needs_fork = pytest.mark.skipif(not background.ENABLED, reason="no fork on this platform")


@needs_fork
def test_shared_map_returns_every_result_in_order():
    assert background.shared_map(lambda i, _: i * i, 500, workers=3) == [i * i for i in range(500)]


@needs_fork
def test_shared_map_redoes_the_calls_of_a_child_that_died():
    def square_or_die(index: int, in_child: bool) -> int:
        if in_child:
            os._exit(3)  # the child vanishes with whatever it had taken from the queue
        return index * index
    assert background.shared_map(square_or_die, 200, workers=2) == [i * i for i in range(200)]


def test_shared_map_without_fork_runs_in_the_caller(monkeypatch):
    monkeypatch.setattr(background, "ENABLED", False)
    calls = []
    assert background.shared_map(lambda i, in_child: calls.append(in_child) or i, 5, workers=4) == [0, 1, 2, 3, 4]
    assert calls == [False] * 5


@needs_fork
def test_compile_split_over_many_workers_is_byte_identical(monkeypatch):
    alone = compile_outputs(require_valid(ROOT))
    monkeypatch.setattr(compile_module, "UNITS_PER_WORKER", 1)  # fork even for the small reference
    monkeypatch.setattr(compile_module, "CHUNK", 3)
    monkeypatch.setattr(compile_module.os, "cpu_count", lambda: 3)
    assert compile_outputs(require_valid(ROOT)) == alone
