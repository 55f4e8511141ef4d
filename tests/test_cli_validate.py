"""`cdpc validate` end to end: exit codes 0/1/2, the exact output format, every error at
once and sorted, and never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import cli
from validate_helpers import make_project

BROKEN = {
    # three files, written so that sorting by file, line and column interleaves them
    "definitions/segments/vip.yaml": "kind: segment\nname: vip\nversion: 1.0.0\nwhere: big_spendr\n"
                                     "purposes: [email_marketing, ads_marketing]\n",
    "definitions/attributes/spend.yaml": "kind: attribute\nname: spend\nversion: 1.0.0\ntype: \"decimal(12,2)\"\n"
                                         "source: orders\naggregate: sum(amout)\nwhere: stauts = 'paid'\n",
    "definitions/contracts/extra.yaml": "kind: contract\nname: extra\nversion: 1.0.0\nrelation: raw.extra\n"
                                        "primry_key: [id]\nfields:\n  id: {type: string}\n",
}


def invoke(*args: str):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert "Traceback" not in result.output
    return result


def test_valid_project_exits_0(tmp_path):
    result = invoke("validate", "--project", str(make_project(tmp_path)))
    assert result.exit_code == 0
    assert result.stdout == "ok: 10 definitions, no errors\n"


def test_errors_exit_1_all_at_once_sorted_with_hints(tmp_path):
    result = invoke("validate", "--project", str(make_project(tmp_path, BROKEN)))
    assert result.exit_code == 1
    assert result.stdout == (
        "definitions/attributes/spend.yaml:6:16: CDP303 `aggregate`: `amout` is not a field of contract `orders`\n"
        "    hint: did you mean `amount`?\n"
        "definitions/attributes/spend.yaml:7:8: CDP303 `where`: `stauts` is not a field of contract `orders`\n"
        "    hint: did you mean `status`?\n"
        "definitions/contracts/extra.yaml:5:1: CDP101 unknown key `primry_key`\n"
        "    hint: did you mean `primary_key`?\n"
        "definitions/segments/vip.yaml:4:8: CDP303 `where`: `big_spendr` is not an attribute\n"
        "    hint: did you mean `big_spender`?\n"
        "4 errors, 0 warnings\n")


def test_warnings_alone_exit_0(tmp_path):
    files = {"definitions/governance/approvals.yaml":
             "kind: approvals\napprovals:\n  - {segment: gone, version: 1.0.0, hash: x, approved_by: [a@b.c]}\n"}
    result = invoke("validate", "--project", str(make_project(tmp_path, files)))
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "definitions/governance/approvals.yaml:3:15: CDP607 warning: approval for unknown segment `gone`"
    assert result.stdout.splitlines()[-1] == "ok: 10 definitions, 1 warning"


def test_yaml_and_model_and_rule_errors_together(tmp_path):
    files = {**BROKEN, "definitions/consent/marketing.yaml": "kind: consent\n\tname: x\n"}
    result = invoke("validate", "--project", str(make_project(tmp_path, files)))
    assert result.exit_code == 1
    codes = [line.split(" ")[1] for line in result.stdout.splitlines() if line.startswith("definitions/")]
    assert "CDP001" in codes and "CDP101" in codes and "CDP303" in codes
    locations = [line.split(": ")[0] for line in result.stdout.splitlines() if line.startswith("definitions/")]
    key = [(p.split(":")[0], int(p.split(":")[1]), int(p.split(":")[2])) for p in locations]
    assert key == sorted(key)


def test_missing_definitions_folder_exits_2(tmp_path):
    result = invoke("validate", "--project", str(tmp_path))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert f"<project>: CDP901 no definitions/ folder in {tmp_path}" in result.stderr


def test_project_option_must_be_a_directory(tmp_path):
    (tmp_path / "file").write_text("x")
    result = invoke("validate", "--project", str(tmp_path / "file"))
    assert result.exit_code == 2 and "is a file" in result.stderr


@pytest.mark.parametrize("args", [["validate", "--nope"], ["valdate"], ["validate", "extra"]])
def test_usage_errors_exit_2(args):
    result = invoke(*args)
    assert result.exit_code == 2 and "Usage: " in result.stderr


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout.startswith("cdpc ")


def test_an_unexpected_exception_is_an_internal_error_not_a_traceback(tmp_path, monkeypatch):
    import compiler.cli

    def broken(_root):
        raise KeyError("boom")

    monkeypatch.setattr(compiler.cli, "load_project", broken)
    result = invoke("validate", "--project", str(make_project(tmp_path)))
    assert result.exit_code == 2
    assert "cdpc: internal error: KeyError: 'boom'" in result.stderr
    assert "bug in cdpc" in result.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_is_a_bad_environment(tmp_path):
    root = make_project(tmp_path)
    (root / "definitions/segments/vip.yaml").chmod(0)
    result = invoke("validate", "--project", str(root))
    assert result.exit_code == 2 and "Permission denied" in result.stderr


def test_bad_input_never_reaches_the_internal_error_path(tmp_path):
    nasty = {
        "definitions/a.yaml": "kind: attribute\nname: a\nversion: 1.0.0\ntype: [1]\nexpression: {x: 1}\n",
        "definitions/b.yaml": "kind: segment\nname: b\nversion: 1.0.0\nwhere: 'a > (select 1)'\ninclude: {x: 1}\n",
        "definitions/c.yaml": "kind: destination\nname: c\nversion: 1.0.0\nchannel: ads\nsyncs: [1, 2]\n",
        "definitions/d.yaml": "kind: contract\nname: d\nversion: 1.0.0\nrelation: a.b\nfields: {x: {type: date, min: 7}}\n",
        "definitions/e.yaml": "kind: identity\nname: e\nversion: 1.0.0\nidentifiers: []\nsources: {}\n",
        "definitions/f.yaml": "kind: approvals\napprovals: [{segment: x}]\n",
        "definitions/g.yaml": b"\xff\xfe",
        "definitions/h.yaml": "kind: attribute\nname: h\nversion: 1.0.0\ntype: double\npick: {field: {a: 1}, from: []}\n",
    }
    root = make_project(tmp_path)
    for rel, text in nasty.items():
        path = root / rel
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
    result = invoke("validate", "--project", str(root))
    assert result.exit_code == 1
    assert "internal error" not in result.output


def cdpc_script() -> str:
    return str(Path(sys.executable).with_name("cdpc"))


def test_console_script_subprocess(tmp_path):
    root = make_project(tmp_path, BROKEN)
    done = subprocess.run([cdpc_script(), "validate", "--project", str(root)], capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stdout.endswith("4 errors, 0 warnings\n")
    assert "\x1b[" not in done.stdout  # no colour when stdout is not a terminal
    assert "Traceback" not in done.stderr
    done = subprocess.run([cdpc_script(), "validate"], cwd=make_project(tmp_path / "ok"), capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (0, "ok: 10 definitions, no errors\n")


def test_colour_on_a_terminal_is_the_same_text(tmp_path, monkeypatch):
    import re

    import compiler.output

    root = make_project(tmp_path, BROKEN)
    plain = invoke("validate", "--project", str(root)).stdout
    monkeypatch.setattr(compiler.output, "_colour", lambda err: True)
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich writes ANSI into the runner's captured stream
    coloured = invoke("validate", "--project", str(root)).stdout
    assert "\x1b[" in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain
