"""Documentation stays true: every ```console block in README.md and docs/ is run and compared.

A block holds `$ cdpc ...` lines, each followed by the output it prints. Commands run in
order in a fresh copy of the reference project (without generated/). Timings and run ids
are the only text masked before comparing (a run's seconds per stage, a test's duration).

A block may be preceded by comment lines that change the copy first, so that an example
of an error is a real error too (the text around the block says the same in words):

    <!-- edit definitions/segments/x.yaml: old text -> new text -->
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from helpers import ROOT, cdpc, copy_reference

_SECONDS = re.compile(r"^(\s*\S+\s+)\d+\.\d\d$")  # a row of the summary's stage/seconds table
_RUN_ID = re.compile(r"\b\d{13,}\b")  # a run id: the run's start in milliseconds (reference.md §5.1)
_DURATION = re.compile(r"\((\d+ ms|\d+\.\d\d s)\)$")  # how long a test, or all of them, took (`cdpc test`)


_EDIT = re.compile(r"<!-- edit (\S+): (.+?) -> (.+?) -->\n")


def console_blocks() -> list[tuple[str, str, list[tuple[str, str, str]]]]:
    """(name, block, edits) per ```console block; edits are (path, old, new) of the comments just above it."""
    blocks = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        found = re.findall(r"((?:<!-- edit .*? -->\n)*)```console\n(.*?)```", text, flags=re.S)
        for index, (comments, block) in enumerate(found):
            blocks.append((f"{path.relative_to(ROOT)}#{index}", block, _EDIT.findall(comments)))
    return blocks


def _mask(text: str) -> str:
    return "\n".join(_RUN_ID.sub("<run id>", _DURATION.sub("(<duration>)", _SECONDS.sub(r"\1<seconds>", line.rstrip())))
                     for line in text.strip().splitlines())


@pytest.mark.parametrize("name,block,edits", console_blocks(), ids=[b[0] for b in console_blocks()])
def test_console_example_is_real(name, block, edits, tmp_path, monkeypatch):
    project = copy_reference(tmp_path, with_generated=False)
    for rel, old, new in edits:
        path = project / rel
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{name}: the edit of {rel} finds no `{old}`"
        path.write_text(text.replace(old, new), encoding="utf-8")
    monkeypatch.chdir(project)
    commands = re.split(r"^\$ ", block, flags=re.M)[1:]
    for chunk in commands:
        command, _, expected = chunk.partition("\n")
        args = shlex.split(command)
        assert args[0] == "cdpc", f"{name}: only cdpc commands are run"
        result = cdpc(*args[1:])
        assert _mask(result.output) == _mask(expected), f"{name}: `{command}` prints something else now"


def test_readme_opens_with_the_two_commands_and_ci_runs_the_second():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "```sh" and lines[3] == "```", "README opens with exactly two command lines"
    run_line, test_line = lines[1], lines[2]
    assert "cdpc validate" in run_line and "cdpc run" in run_line
    assert test_line.endswith("python3 -m pytest")
    assert test_line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
