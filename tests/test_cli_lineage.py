"""`cdpc lineage`: the whole graph or the part around a name, in four formats."""

from __future__ import annotations

import json

from click.testing import CliRunner

from compiler.cli import cli
from validate_helpers import make_project


def lineage(root, *args):
    result = CliRunner().invoke(cli, ["lineage", "--project", str(root), *args], catch_exceptions=False)
    assert "Traceback" not in result.output
    return result


def test_whole_graph_as_text(tmp_path):
    result = lineage(make_project(tmp_path))
    assert result.exit_code == 0
    assert result.stdout.startswith("contract:consents\ncontract:orders\nfield:consents.consent_id\n")
    assert "attribute:spend\n  <- contract:orders (source)\n  <- field:orders.amount\n" in result.stdout


def test_upstream_of_an_attribute(tmp_path):
    result = lineage(make_project(tmp_path), "big_spender", "--upstream")
    assert result.exit_code == 0
    nodes = [line for line in result.stdout.splitlines() if not line.startswith(" ")]
    assert "attribute:spend" in nodes and "field:orders.amount" in nodes
    assert "segment:vip" not in nodes and "field:orders.notes [phi]" not in nodes


def test_downstream_of_a_field(tmp_path):
    result = lineage(make_project(tmp_path), "orders.amount", "--downstream", "--format", "json")
    data = json.loads(result.stdout)
    assert [n["id"] for n in data["nodes"]] == ["field:orders.amount", "attribute:big_spender", "attribute:spend",
                                                "segment:vip", "destination:esp"]


def test_mermaid_and_dot(tmp_path):
    root = make_project(tmp_path)
    assert lineage(root, "vip", "--format", "mermaid").stdout.startswith("flowchart LR\n")
    assert lineage(root, "segment:vip", "--format", "dot").stdout.startswith("digraph lineage {\n")


def test_unknown_name_is_a_usage_error(tmp_path):
    result = lineage(make_project(tmp_path), "spned")
    assert result.exit_code == 2 and "no definition or field named `spned`; did you mean `spend`?" in result.stderr


def test_ambiguous_name_asks_for_the_kind(tmp_path):
    files = {"definitions/segments/spend.yaml": "kind: segment\nname: spend\nversion: 1.0.0\nwhere: spend > 1\n"}
    result = lineage(make_project(tmp_path, files), "spend")
    assert result.exit_code == 2 and "attribute:spend, segment:spend" in result.stderr


def test_direction_needs_a_name(tmp_path):
    result = lineage(make_project(tmp_path), "--upstream")
    assert result.exit_code == 2 and "--upstream needs a NAME" in result.stderr


def test_invalid_project_prints_its_errors_and_exits_1(tmp_path):
    files = {"definitions/segments/vip.yaml": "kind: segment\nname: vip\nversion: 1.0.0\nwhere: nope\n"}
    result = lineage(make_project(tmp_path, files))
    assert result.exit_code == 1 and result.stdout == ""
    assert "definitions/segments/vip.yaml:4:8: CDP303" in result.stderr


def test_output_is_deterministic(tmp_path):
    root = make_project(tmp_path)
    for fmt in ("text", "json", "mermaid", "dot"):
        assert lineage(root, "--format", fmt).stdout == lineage(root, "--format", fmt).stdout
