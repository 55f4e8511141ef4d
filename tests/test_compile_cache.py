"""The no-change fast path of `cdpc compile` (compiler/compile_cache.py): every input of the
key, changed, is a miss; generated/ changed by hand is a miss; a hit prints the warnings."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from compiler import cli, compile_cache
from compiler.generated import read_generated

from helpers import cdpc, copy_reference

SEGMENT = "definitions/segments/winback_7d_inactive.yaml"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A compiled copy of the reference project: the next compile is a hit."""
    root = copy_reference(tmp_path / "project", with_generated=False)
    assert "written" in cdpc("compile", "--project", str(root)).output
    return root


@pytest.fixture
def full_compiles(monkeypatch) -> list[object]:
    """Counts the compiles that did not take the fast path (the CLI's call of compile_outputs)."""
    calls: list[object] = []
    original = cli.compile_outputs
    monkeypatch.setattr(cli, "compile_outputs", lambda *args: calls.append(args) or original(*args))
    return calls


@pytest.fixture
def own_source(tmp_path: Path, monkeypatch) -> Path:
    """cdpc's source as the key sees it: a copy that a test may edit."""
    copy = tmp_path / "compiler-source"
    shutil.copytree(compile_cache.SOURCE_ROOT, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(compile_cache, "SOURCE_ROOT", copy)
    return copy


def hit(root: Path, targets: list[str] | None = None) -> bool:
    return compile_cache.lookup(root, compile_cache.inputs_key(root, targets)) is not None


def test_an_unchanged_project_is_a_hit(project, full_compiles):
    assert hit(project)
    result = cdpc("compile", "--project", str(project))
    assert result.exit_code == 0 and "generated/ unchanged" in result.output
    assert full_compiles == []


def test_editing_a_definition_is_a_miss_and_rewrites(project, full_compiles):
    path = project / SEGMENT
    path.write_text(path.read_text().replace("days_since_last_visit >= 7", "days_since_last_visit >= 8"))
    assert not hit(project)
    assert "written" in cdpc("compile", "--project", str(project)).output
    assert len(full_compiles) == 1
    assert any(">= 8" in text for rel, text in read_generated(project).items() if "winback_7d_inactive" in rel)


def test_adding_or_renaming_a_definition_file_is_a_miss(project):
    (project / "definitions" / "notes.yaml").write_text("# nothing yet\n")
    assert not hit(project)
    cdpc("compile", "--project", str(project))
    assert hit(project)
    (project / "definitions" / "notes.yaml").rename(project / "definitions" / "notes2.yaml")
    assert not hit(project)


def test_the_order_of_targets_is_part_of_the_key_and_of_the_output(project, full_compiles):
    first = cdpc("compile", "--project", str(project), "--target", "duckdb", "--target", "postgres")
    assert "written" in first.output
    assert json.loads(read_generated(project)["manifest.json"])["targets"] == ["duckdb", "postgres"]
    assert hit(project, ["duckdb", "postgres"]) and not hit(project, ["postgres", "duckdb"])
    second = cdpc("compile", "--project", str(project), "--target", "postgres", "--target", "duckdb")
    assert "written" in second.output  # the same SQL files, but manifest.json lists the new order
    assert json.loads(read_generated(project)["manifest.json"])["targets"] == ["postgres", "duckdb"]
    assert len(full_compiles) == 2


def test_a_change_to_cdpcs_own_source_is_a_miss(project, own_source, full_compiles):
    assert hit(project)  # the copy's content is the installed source's: the same key
    path = own_source / "emit" / "segments.py"
    path.write_text(path.read_text() + "\n# an edit of an editable install, no version bump\n")
    assert not hit(project)
    cdpc("compile", "--project", str(project))
    assert len(full_compiles) == 1 and hit(project)
    (own_source / "emit" / "new_module.py").write_text("")  # a new file counts too
    assert not hit(project)


def test_bytecode_caches_are_not_part_of_the_source(project, own_source):
    cdpc("compile", "--project", str(project))
    (own_source / "__pycache__").mkdir()
    (own_source / "__pycache__" / "cli.cpython-311.pyc").write_bytes(b"\0")
    assert hit(project)


def test_installing_or_upgrading_a_distribution_is_a_miss(project, tmp_path, monkeypatch):
    site = tmp_path / "site-packages"
    (site / "sqlglot-30.30.0.dist-info").mkdir(parents=True)
    monkeypatch.syspath_prepend(str(site))
    cdpc("compile", "--project", str(project))
    assert hit(project)
    (site / "sqlglot-30.30.0.dist-info").rename(site / "sqlglot-30.31.0.dist-info")
    assert not hit(project)


def test_a_tampered_generated_tree_is_a_miss_and_is_restored(project, full_compiles):
    before = read_generated(project)
    sql = next(p for p in sorted((project / "generated" / "duckdb").iterdir()) if p.suffix == ".sql")
    sql.write_text(sql.read_text() + "-- edited by hand\n")
    assert not hit(project)
    assert "written" in cdpc("compile", "--project", str(project)).output
    assert read_generated(project) == before and len(full_compiles) == 1
    (project / "generated" / "extra.sql").write_text("SELECT 1;\n")
    assert not hit(project)
    (project / "generated" / "extra.sql").unlink()
    sql.unlink()
    assert not hit(project)


def test_a_missing_or_unreadable_state_is_a_miss(project):
    state = project / compile_cache.STATE_FILE
    state.write_text("{not json")
    assert not hit(project)
    state.unlink()
    assert not hit(project)


def test_the_fast_path_prints_the_warnings_again(project):
    (project / "definitions" / "empty.yaml").write_text("# nothing here\n")
    first = cdpc("compile", "--project", str(project))
    second = cdpc("compile", "--project", str(project))
    assert hit(project)
    warning = "definitions/empty.yaml:1:1: CDP003 warning: file holds no YAML documents"
    assert warning in first.stderr and warning in second.stderr
    assert "generated/ unchanged" in second.stdout


def test_a_failed_write_leaves_no_state_that_could_hit(project, monkeypatch):
    from compiler import generated

    path = project / SEGMENT
    path.write_text(path.read_text().replace("days_since_last_visit >= 7", "days_since_last_visit >= 8"))

    def full_disk(path: str, content: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(generated, "_write_file", full_disk)
    assert cdpc("compile", "--project", str(project)).exit_code == 2
    assert not (project / compile_cache.STATE_FILE).exists()
