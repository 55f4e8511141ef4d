"""schemas/ is what `cdpc schema` writes today, and the YAML a team writes validates against it."""

from __future__ import annotations

import json

import jsonschema
import pytest
from click.testing import CliRunner

from compiler import schema
from compiler.cli import cli
from compiler.load import load_definitions
from compiler.model import KINDS
from helpers import ROOT
from validate_helpers import BASE, make_project


def test_committed_schemas_are_up_to_date():
    assert schema.stale(ROOT) == [], "schemas/ is stale: run `cdpc schema` and commit schemas/"


def test_every_kind_has_a_schema_with_id_title_and_closed_objects():
    for kind in KINDS:
        data = json.loads((ROOT / "schemas" / f"{kind}.schema.json").read_text(encoding="utf-8"))
        assert data["$id"] == f"urn:cdpc:schema:v1:{kind}" and data["title"] == f"cdpc {kind}"
        assert data["additionalProperties"] is False
        jsonschema.Draft202012Validator.check_schema(data)


def test_output_is_deterministic():
    assert schema.rendered() == schema.rendered()
    for text in schema.rendered().values():
        assert text.endswith("}\n") and json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n" == text


def test_dispatch_schema_is_self_contained():
    text = (ROOT / "schemas" / "cdpc.schema.json").read_text(encoding="utf-8")
    refs = [line.split('"$ref": ')[1].strip().strip('",') for line in text.splitlines() if '"$ref"' in line]
    assert refs and all(ref.startswith("#/$defs/") for ref in refs)


def as_json(value):
    """YAML dates become ISO text, as editors and check-jsonschema see them."""
    return json.loads(json.dumps(value, default=lambda v: v.isoformat()))


def validator():
    return jsonschema.Draft202012Validator(json.loads((ROOT / "schemas" / "cdpc.schema.json").read_text(encoding="utf-8")))


@pytest.mark.skipif(not (ROOT / "definitions").is_dir(), reason="no reference project")
def test_reference_project_validates_against_the_schemas():
    documents, _ = load_definitions(ROOT)
    check = validator()
    errors = [f"{d.file}: {e.message}" for d in documents for e in check.iter_errors(as_json(d.data))]
    assert errors == []


def test_base_test_project_validates_and_typos_do_not(tmp_path):
    documents, _ = load_definitions(make_project(tmp_path))
    check = validator()
    assert len(documents) == len(BASE)
    assert all(not list(check.iter_errors(as_json(d.data))) for d in documents)
    bad = {"kind": "contract", "name": "x", "version": "1.0.0", "relation": "raw.x",
           "fields": {"a": {"type": "string", "requird": True}}}
    assert any("requird" in e.message for e in check.iter_errors(bad))
    assert list(check.iter_errors({"kind": "segmnt"}))
    assert list(check.iter_errors({"kind": "segment", "name": "Bad Name", "version": "1.0.0"}))


def test_schema_command_writes_then_reports_up_to_date(tmp_path):
    runner = CliRunner()
    first = runner.invoke(cli, ["schema", "--project", str(tmp_path)])
    assert first.exit_code == 0 and first.stdout.endswith(f"{len(KINDS) + 1} schema files written\n")
    assert sorted(p.name for p in (tmp_path / "schemas").iterdir()) == sorted(schema.rendered())
    again = runner.invoke(cli, ["schema", "--project", str(tmp_path)])
    assert (again.exit_code, again.stdout) == (0, "schemas/ is up to date\n")
    assert runner.invoke(cli, ["schema", "--check", "--project", str(tmp_path)]).exit_code == 0


def test_schema_check_fails_when_stale(tmp_path):
    runner = CliRunner()
    runner.invoke(cli, ["schema", "--project", str(tmp_path)])
    (tmp_path / "schemas" / "segment.schema.json").write_text("{}\n")
    result = runner.invoke(cli, ["schema", "--check", "--project", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stdout == "schemas/segment.schema.json: out of date\n1 schema files out of date; run `cdpc schema`\n"


def test_schema_needs_an_existing_project_dir(tmp_path):
    result = CliRunner().invoke(cli, ["schema", "--project", str(tmp_path / "nope")])
    assert result.exit_code == 2
