"""`cdpc init DIR [--name NAME]`: a new project that works out of the box (docs/commands/init.md).

End to end in a real git repository, with cdpc as a subprocess as a user runs it: init,
validate, compile (nothing to do), run on the sample data, test, check, and check against
the first commit. A non-empty directory is refused (exit 2); the template is package data
of the wheel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from compiler.init import project_name, template_files

from helpers import ROOT, cdpc, cdpc_subprocess

EXPECTED_FILES = [
    ".github/workflows/cdpc.yml", ".gitignore", ".pre-commit-config.yaml", "README.md", "data/raw.orders.csv",
    "definitions/attributes/days_since_last_order.yaml", "definitions/attributes/lifetime_value.yaml",
    "definitions/consent/marketing.yaml", "definitions/contracts/orders.yaml", "definitions/destinations/email_list.yaml",
    "definitions/identity/customer.yaml", "definitions/project.yaml", "definitions/segments/lapsed_customers.yaml",
    "definitions/tests/lapsed_customers.yaml",
]


def _git(root: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "Ana", "GIT_AUTHOR_EMAIL": "ana@example.com",
           "GIT_COMMITTER_NAME": "Ana", "GIT_COMMITTER_EMAIL": "ana@example.com"}
    return subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True, text=True).stdout


def test_a_new_project_validates_runs_passes_its_tests_and_check(tmp_path):
    root = tmp_path / "Acme Shop"
    created = cdpc_subprocess("init", str(root))
    assert created.returncode == 0, created.stderr
    assert created.stdout.splitlines() == [
        f"created project `acme_shop` in {root}: 48 files", "next:", f"  cd {root}",
        "  cdpc run --as-of 2026-11-20", "  cdpc test", "  cdpc check"]
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert [f for f in files if not f.startswith(("generated/", "schemas/"))] == EXPECTED_FILES
    assert "schemas/cdpc.schema.json" in files and "generated/manifest.json" in files
    assert "name: acme_shop" in (root / "definitions" / "project.yaml").read_text()
    assert "__PROJECT__" not in "".join((root / f).read_text() for f in EXPECTED_FILES)
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "cdpc init")

    steps = {
        "validate": ["validate"],
        "compile": ["compile"],
        "run": ["run", "--as-of", "2026-11-20"],
        "test": ["test"],
        "check": ["check"],
        "check --base": ["check", "--base", "HEAD", "--report", str(tmp_path / "report.md")],
        "schema --check": ["schema", "--check"],
    }
    out = {}
    for step, args in steps.items():
        result = cdpc_subprocess(*args, cwd=root)
        assert result.returncode == 0, f"cdpc {step}:\n{result.stdout}\n{result.stderr}"
        assert result.stderr == "", f"cdpc {step} wrote to stderr:\n{result.stderr}"
        out[step] = result.stdout
    assert out["validate"] == "ok: 9 definitions, no errors\n"
    assert out["compile"].startswith("generated/ unchanged")
    assert "orders        40         1" in out["run"]  # the sample holds a row the contract rejects
    assert "1 test: 1 passed, 0 failed" in out["test"]
    assert "test coverage: 100% of segments, attributes and syncs (4 of 4)" in out["check"]
    assert "owners: 3 of 3 contracts, segments and destinations name an owner (100%)" in out["check"]
    assert out["check"].endswith("check passed: 0 errors, 0 warnings\n")
    assert "no definition changed" in out["check --base"]
    assert _git(root, "status", "--porcelain") == ""  # nothing a command wrote is left untracked or changed


def test_init_refuses_a_directory_that_is_not_empty(tmp_path):
    (tmp_path / "notes.txt").write_text("mine\n")
    result = cdpc("init", str(tmp_path))
    assert result.exit_code == 2
    assert "is not empty: cdpc init writes a new project into an empty or new directory" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_init_takes_a_name_and_refuses_an_invalid_one(tmp_path):
    assert cdpc("init", str(tmp_path / "a"), "--name", "fitclub_eu").exit_code == 0
    assert "name: fitclub_eu" in (tmp_path / "a" / "definitions" / "project.yaml").read_text()
    result = cdpc("init", str(tmp_path / "b"), "--name", "Fit-Club")
    assert result.exit_code == 2 and "'Fit-Club' is not a valid project name" in result.output
    assert not (tmp_path / "b").exists() or not any((tmp_path / "b").iterdir())


@pytest.mark.parametrize("directory, name", [("shop", "shop"), ("My Shop", "my_shop"), ("2shop", "p_2shop"),
                                             ("-x-", "x")])
def test_a_project_name_from_the_directory(tmp_path, directory, name):
    assert project_name(tmp_path / directory) == name


def test_the_template_is_in_the_wheel(tmp_path):
    """pyproject's package data carries every template file into the wheel (dot files included)."""
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
                           capture_output=True, text=True, timeout=600)
    if built.returncode != 0:
        pytest.skip(f"pip cannot build a wheel here: {built.stderr.strip().splitlines()[-1:]}")
    [wheel] = tmp_path.glob("cdpc-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    template = "compiler/init/template/"
    shipped = {n[len(template):] for n in names if n.startswith(template)}
    written = {path for path, _ in template_files()}
    assert {p.replace("dot-", ".", 1) if p.startswith("dot-") else p.replace("/dot-", "/.")
            for p in shipped} == written


def test_the_template_works_without_git_or_network(tmp_path, monkeypatch):
    """init needs nothing but the package: no git, no network (PATH emptied)."""
    monkeypatch.setenv("PATH", "")
    assert cdpc("init", str(tmp_path / "p")).exit_code == 0
    assert shutil.which("git") is None
