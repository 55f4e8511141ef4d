"""The kind and target registries: a kind or a target added as one entry flows through
validate, compile and the schemas; every list of kinds and targets is derived from them."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Literal

import pytest
from click.testing import CliRunner
from sqlglot import exp

from compiler import schema
from compiler.cli import ENGINES, TARGETS, cli
from compiler.compile import compile_outputs
from compiler.dialects import DIALECTS, Dialect, Names
from compiler.emit.plan import Unit
from compiler.emit.sql import col, create_table_as, table
from compiler.graph import LINEAGE, node_id
from compiler.model import KINDS, REGISTRY, Definitions, Kind, approvable_kinds, definition_kinds
from compiler.model.approvals import APPROVABLE
from compiler.model.base import Versioned
from compiler.project import load_project
from compiler.run.engines import EngineError, open_engine
from compiler.validate.context import error
from helpers import ROOT
from validate_helpers import check, find, make_project


# ---- a toy kind: a watchlist is a table of some attributes of every profile -----------------

class Watchlist(Versioned):
    kind: Literal["watchlist"]
    attributes: list[str] = []


def watchlist_edges(builder, watchlist) -> None:
    me = node_id("watchlist", watchlist.name)
    builder.profile(me)
    for attribute in watchlist.attributes:
        builder.link(node_id("attribute", attribute), me, LINEAGE)


def watchlist_unit(defs, lineage, watchlist) -> Unit:
    schemas = defs.project.schemas
    query = exp.select(col("profile_id"), *(col(a) for a in watchlist.attributes)).from_(
        table(schemas.profiles, f"{defs.project.entity}_profiles"))
    return Unit("watchlists", "watchlist", watchlist.name,
                create_table_as(schemas.audiences, f"watch__{watchlist.name}", query))


def unknown_attributes(ctx):
    for watchlist in ctx.defs.by_kind("watchlist").values():
        for index, name in enumerate(watchlist.attributes):
            if name not in ctx.defs.attributes:
                yield error("CDP203", f"unknown attribute `{name}`", watchlist.loc("attributes", index))


RULES = (unknown_attributes,)

WATCHLIST = Kind("watchlist", Watchlist, "watchlists", lineage=f"{__name__}:watchlist_edges",
                 emit=f"{__name__}:watchlist_unit", needs_identity=True, after_profiles=True, validate=__name__)
# ---- a toy emit-only target: Trino (a sqlglot dialect cdpc does not target), names of at most 24 bytes (a sync's `__changes` table fits)
TRINO = Dialect("trino", overrides={"SHA256_HEX": "LOWER(TO_HEX(SHA256(TO_UTF8({0}))))",
                                    "REGEX_SEARCH": "REGEXP_LIKE({0}, {1})",
                                    "REGEX_REPLACE_ALL": "REGEXP_REPLACE({0}, {1}, {2})",
                                    "TEXT_ARRAY_COMPACT": "FILTER(ARRAY[{*}], x -> x IS NOT NULL)",
                                    "ARRAY_IS_EMPTY": "CARDINALITY({0}) = 0",
                                    "TO_TEXT": "CAST({0} AS VARCHAR)"},
                names=Names(max_bytes=24))

PROJECT = """
    kind: project
    name: shop
    targets: [duckdb, trino]
    """
WATCH = """
    kind: watchlist
    name: whales
    version: 1.0.0
    attributes: [spend, big_spender]
    """


@pytest.fixture
def toys(monkeypatch):
    monkeypatch.setitem(REGISTRY, "watchlist", WATCHLIST)
    monkeypatch.setitem(DIALECTS, "trino", TRINO)


def test_a_toy_kind_and_target_flow_through_validate(toys, tmp_path):
    project = load_project(make_project(tmp_path, {"definitions/project.yaml": PROJECT,
                                                   "definitions/watch.yaml": WATCH}))
    assert project.ok, [d.render() for d in project.diagnostics]
    assert list(project.definitions.watchlists) == ["whales"]
    assert [d.name for d in project.definitions.all()][-1] == "whales"  # registry order: after destinations
    assert sorted(project.lineage.graph.in_edges("watchlist:whales", data="kind")) == [
        ("attribute:big_spender", "watchlist:whales", "lineage"), ("attribute:spend", "watchlist:whales", "lineage"),
        ("identity:customer", "watchlist:whales", "profile")]
    # the model's unknown key with its hint, the toy's own rule, the toy target's name limit
    broken = check(tmp_path, {"definitions/project.yaml": PROJECT, "definitions/watch.yaml": WATCH.replace(
        "big_spender]", "big_spendr]\n    atributes: []")})
    assert "did you mean `attributes`?" == find(broken, "CDP101", "watch.yaml:5:1").hint
    unknown = check(tmp_path, {"definitions/project.yaml": PROJECT, "definitions/watch.yaml": WATCH.replace(
        "big_spender]", "big_spendr]")})
    assert find(unknown, "CDP203", "watch.yaml:4:21").message == "unknown attribute `big_spendr`"
    long_name = check(tmp_path, {"definitions/project.yaml": PROJECT, "definitions/segments/vip.yaml": """
        kind: segment
        name: very_important_people_here
        version: 1.0.0
        where: big_spender
        """, "definitions/destinations/esp.yaml": None})
    assert "trino refuses names longer than 24 bytes" in find(long_name, "CDP218", "segments/vip.yaml:2:7").message


def test_a_toy_kind_and_target_flow_through_compile(toys, tmp_path):
    project = load_project(make_project(tmp_path, {"definitions/project.yaml": PROJECT,
                                                   "definitions/watch.yaml": WATCH}))
    outputs = compile_outputs(project)
    trino = sorted(path for path in outputs if path.startswith("trino/"))
    assert [p.split("_", 1)[1] for p in trino] == [p.split("_", 1)[1] for p in sorted(outputs) if p.startswith("duckdb/")]
    layers = [p.split("_", 1)[1].split("__")[0] for p in trino]
    assert layers.index("profiles") < layers.index("watchlists") < layers.index("cleanup")
    watch_sql = outputs[next(p for p in trino if "watchlists__whales" in p)]
    assert "CREATE TABLE cdp_audiences.watch__whales AS" in watch_sql and "big_spender" in watch_sql
    assert "CARDINALITY(" in "".join(outputs[p] for p in trino)  # the target's own spelling of ARRAY_IS_EMPTY
    manifest = json.loads(outputs["manifest.json"])
    entry = next(e for e in manifest["definitions"] if e["kind"] == "watchlist")
    assert {"identity:customer", "attribute:spend", "attribute:big_spender"} <= set(entry["upstream"])
    assert entry["files"] == [p for p in sorted(outputs) if "watchlists__whales" in p]
    assert manifest["targets"] == ["duckdb", "trino"]


def test_a_toy_kind_and_target_flow_through_the_schemas(toys):
    files = schema.rendered()
    watchlist = json.loads(files["watchlist.schema.json"])
    assert watchlist["$id"] == "urn:cdpc:schema:v1:watchlist" and watchlist["additionalProperties"] is False
    assert "attributes" in watchlist["properties"]
    project = json.loads(files["project.schema.json"])
    assert project["properties"]["targets"]["items"]["enum"][-1] == "trino"
    dispatch = json.loads(files["cdpc.schema.json"])
    assert "watchlist" in dispatch["properties"]["kind"]["enum"] and "watchlist" in dispatch["$defs"]


def test_without_the_toys_nothing_knows_them(tmp_path):
    assert "watchlist" not in KINDS and "trino" not in DIALECTS
    assert schema.stale(ROOT) == []
    diagnostics = check(tmp_path, {"definitions/project.yaml": PROJECT})
    assert find(diagnostics, "CDP103", "project.yaml:3:19").message == "`targets.1`: 'trino' is not allowed"
    assert find(check(tmp_path, {"definitions/watch.yaml": WATCH}), "CDP006", "watch.yaml:1:7").message \
        == "unknown kind `watchlist`"


def test_an_emit_only_target_has_no_engine(toys):
    with pytest.raises(EngineError, match="unknown engine 'trino'"):
        open_engine("trino")


# ---- every list is the registry's -----------------------------------------------------------

def test_the_lists_of_kinds_derive_from_the_registry():
    assert tuple(KINDS) == tuple(REGISTRY)
    assert definition_kinds() == ("project", "contract", "identity", "erasure", "attribute", "consent", "segment", "destination", "access")
    assert set(approvable_kinds()) == set(APPROVABLE)
    # by kind, never one field per kind: `failed` is the names, by kind, of documents that failed to model
    assert {f.name for f in Definitions.__dataclass_fields__.values()} == {"project", "approvals", "collections", "failed"}
    approve = next(p for p in cli.commands["approve"].params if p.name == "kind")
    assert tuple(approve.type.choices) == APPROVABLE


def test_the_lists_of_targets_derive_from_the_registry():
    assert TARGETS == tuple(DIALECTS)
    assert ENGINES == tuple(name for name, d in DIALECTS.items() if d.executes) == ("duckdb", "postgres", "spark")
    compile_option = next(p for p in cli.commands["compile"].params if p.name == "targets")
    run_option = next(p for p in cli.commands["run"].params if p.name == "engine")
    assert tuple(compile_option.type.choices) == TARGETS and tuple(run_option.type.choices) == ENGINES


def test_engines_load_only_when_a_run_needs_them():
    code = ("import sys; from compiler.cli import cli; from compiler.run.engines import open_engine; "
            "loaded = lambda: sorted(m for m in sys.modules if m.startswith('compiler.run.engines.')); "
            "print(loaded()); open_engine('duckdb').close(); print(loaded())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.splitlines() == ["[]", "['compiler.run.engines.duckdb']"]


def test_schema_command_writes_every_registered_kind(toys, tmp_path):
    result = CliRunner().invoke(cli, ["schema", "--project", str(tmp_path)])
    assert result.exit_code == 0 and (tmp_path / "schemas" / "watchlist.schema.json").is_file()
