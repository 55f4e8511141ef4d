"""cdpc compile: reproducible, atomic, up to date, and every file parses back in its dialect.

The fast path (compile_cache.py) is tested in test_compile_cache.py; forks in test_background.py."""

from __future__ import annotations

import os
import re

import pytest
import sqlglot

from compiler import generated
from compiler.compile import compile_outputs
from compiler.generated import read_generated, write_generated
from compiler.project import require_valid

from helpers import ROOT, cdpc, copy_reference


@pytest.fixture(scope="module")
def reference_outputs() -> dict[str, str]:
    return compile_outputs(require_valid(ROOT))


def test_committed_generated_is_up_to_date(reference_outputs):
    committed = read_generated(ROOT)
    stale = sorted(set(committed) ^ set(reference_outputs)) + sorted(
        p for p in committed if p in reference_outputs and committed[p] != reference_outputs[p])
    assert not stale, f"generated/ is stale ({len(stale)} files, e.g. {stale[:3]}): run `cdpc compile`"


def test_same_definitions_give_byte_identical_output_in_any_directory(tmp_path, reference_outputs):
    copy = copy_reference(tmp_path / "elsewhere" / "deeper", with_generated=False)
    outputs = compile_outputs(require_valid(copy))
    assert outputs == reference_outputs
    for text in outputs.values():
        assert str(tmp_path) not in text and str(ROOT) not in text


def test_output_holds_no_timestamp_or_absolute_path(reference_outputs):
    for path, text in reference_outputs.items():
        assert not re.search(r"\b20\d\d-\d\d-\d\d[ T]\d\d:\d\d", text), path
        assert "/work/" not in text and "/home/" not in text and "/tmp/" not in text, path


def test_every_sql_file_parses_back_in_its_own_dialect(reference_outputs):
    for path, text in reference_outputs.items():
        if path.endswith(".sql"):
            dialect = path.split("/")[0]
            assert sqlglot.parse(text, read=dialect), path


def test_one_file_per_definition_and_layer_in_run_order(reference_outputs):
    duckdb_files = [p.split("/", 1)[1] for p in reference_outputs if p.startswith("duckdb/")]
    layers = [name.split("_", 1)[1].split("__")[0] for name in duckdb_files]
    order = ["setup", "staging", "identity", "erasure", "attributes", "consent", "profiles", "segments", "syncs", "access", "cleanup"]
    assert layers == sorted(layers, key=order.index), "files are numbered in run order, layer by layer"
    assert any(name.endswith("_identity__customer.sql") for name in duckdb_files)


def test_manifest_lists_every_definition_with_hashes_and_files(reference_outputs):
    import json
    manifest = json.loads(reference_outputs["manifest.json"])
    kinds = {(d["kind"], d["name"]) for d in manifest["definitions"]}
    assert ("segment", "winback_7d_inactive") in kinds and ("identity", "customer") in kinds
    winback = next(d for d in manifest["definitions"] if d["name"] == "winback_7d_inactive")
    assert winback["data_hash"].startswith("sha256:") and winback["metadata_hash"].startswith("sha256:")
    assert "attribute:days_since_last_visit" in winback["upstream"]
    assert any(f.startswith("duckdb/") and f.endswith("segments__winback_7d_inactive.sql") for f in winback["files"])


def test_sync_manifest_describes_platform_identifiers_and_syncs(reference_outputs):
    import json
    meta = json.loads(reference_outputs["syncs/meta_ads.json"])
    assert meta["platform"] == "meta_custom_audiences" and meta["channel"] == "ads"
    assert {i["type"]: i["hash"] for i in meta["identifiers"]} == {"email": "sha256", "phone": "sha256"}
    sync = meta["syncs"][0]
    assert set(sync) >= {"segment", "purpose", "cadence", "mode", "audience_table"}


def test_cli_compile_writes_then_reports_unchanged(tmp_path):
    project = copy_reference(tmp_path, with_generated=False)
    first = cdpc("compile", "--project", str(project))
    assert first.exit_code == 0 and "written" in first.output
    second = cdpc("compile", "--project", str(project))
    assert second.exit_code == 0 and "unchanged" in second.output


def test_failed_compile_leaves_generated_untouched(tmp_path):
    project = copy_reference(tmp_path)
    before = read_generated(project)
    segment = project / "definitions" / "segments" / "winback_7d_inactive.yaml"
    segment.write_text(segment.read_text().replace("days_since_last_visit", "days_since_last_vist"))
    result = cdpc("compile", "--project", str(project))
    assert result.exit_code == 1
    assert "CDP303" in result.output and "days_since_last_visit" in result.output
    assert read_generated(project) == before


def test_a_write_that_fails_midway_keeps_the_old_tree(tmp_path, monkeypatch):
    project = copy_reference(tmp_path, with_generated=False)
    assert cdpc("compile", "--project", str(project)).exit_code == 0
    before = read_generated(project)
    outputs = {**{rel: text + "-- changed\n" for rel, text in before.items()}, "duckdb/zzz_extra.sql": "SELECT 1;\n"}
    written = []
    original = generated._write_file

    def failing_write(path: str, content: str) -> None:
        written.append(path)
        if len(written) == 5:
            raise OSError(28, "No space left on device")
        original(path, content)

    monkeypatch.setattr(generated, "_write_file", failing_write)
    with pytest.raises(OSError):
        write_generated(project, outputs)
    monkeypatch.undo()
    assert read_generated(project) == before
    assert not [p for p in project.iterdir() if p.name.startswith(".generated")], "no temp dir left behind"


def test_compile_a_single_target(tmp_path):
    project = copy_reference(tmp_path, with_generated=False)
    result = cdpc("compile", "--project", str(project), "--target", "postgres")
    assert result.exit_code == 0
    targets = {p.relative_to(project / "generated").parts[0] for p in (project / "generated").rglob("*.sql")}
    assert targets == {"postgres"}


def test_a_write_replaces_changed_files_and_never_leaves_generated_missing(tmp_path, monkeypatch):
    project = copy_reference(tmp_path)
    before = read_generated(project)
    changed = next(p for p in before if p.startswith("duckdb/"))
    stale = next(p for p in before if p.startswith("postgres/"))
    outputs = {**before, changed: before[changed] + "-- new\n", "newtarget/000_setup__x.sql": "SELECT 1;\n"}
    del outputs[stale]
    untouched = project / "generated" / "manifest.json"
    inode = untouched.stat().st_ino
    seen = []
    real_replace = generated.os.replace

    def watched_replace(src, dst):
        seen.append((project / "generated").is_dir())
        real_replace(src, dst)

    monkeypatch.setattr(generated.os, "replace", watched_replace)
    assert write_generated(project, outputs)
    monkeypatch.undo()
    assert seen and all(seen), "generated/ exists at every step"
    assert read_generated(project) == outputs
    assert untouched.stat().st_ino == inode, "a file whose text did not change is not rewritten"
    assert not [p for p in project.iterdir() if p.name.startswith(".generated")]
    outputs.pop("newtarget/000_setup__x.sql")
    assert write_generated(project, outputs)
    assert not (project / "generated" / "newtarget").exists(), "a folder left empty is removed"
    assert not write_generated(project, outputs), "unchanged: nothing written"


def test_a_move_that_fails_midway_puts_back_the_files_already_moved(tmp_path, monkeypatch):
    project = copy_reference(tmp_path)
    before = read_generated(project)
    outputs = {rel: text + "-- new\n" for rel, text in before.items()}
    outputs["duckdb/zzz_extra.sql"] = "SELECT 1;\n"
    moves = []
    real_replace = generated.os.replace

    def failing_replace(src, dst):
        moves.append(dst)
        if len(moves) == 7:
            raise OSError(13, "Permission denied")
        real_replace(src, dst)

    monkeypatch.setattr(generated.os, "replace", failing_replace)
    with pytest.raises(OSError):
        write_generated(project, outputs)
    monkeypatch.undo()
    assert read_generated(project) == before
    assert not [p for p in project.iterdir() if p.name.startswith(".generated")]


def test_the_next_compile_removes_the_leftovers_of_a_killed_one(tmp_path):
    project = copy_reference(tmp_path)
    dead = project / ".generated-999999999-abc"  # no such process
    (dead / "duckdb").mkdir(parents=True)
    (dead / "duckdb" / "000_setup__x.sql").write_text("SELECT 1;\n")
    older = project / ".generated-old-12"  # the two-rename writer of earlier versions
    older.mkdir()
    alive = project / f".generated-{os.getpid()}-xyz"  # a compile still running
    alive.mkdir()
    assert cdpc("compile", "--project", str(project)).exit_code == 0
    assert not dead.exists() and not older.exists() and alive.exists()


def test_the_compile_page_names_files_a_compile_writes(reference_outputs):
    page = (ROOT / "docs" / "commands" / "compile.md").read_text(encoding="utf-8")
    written = page.split("## What it writes", 1)[1].split("```", 2)[1]
    named = re.findall(r"\b([a-z]+/\d{3}_\w+\.sql|syncs/\w+\.json|manifest\.json)", written)
    assert len(named) >= 5
    assert [path for path in named if path not in reference_outputs] == []
