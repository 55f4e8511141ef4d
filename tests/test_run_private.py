"""The schemas private to a run: every table of the plan moves there, and only those names
count as a run's leftovers."""

from __future__ import annotations

import re

from compiler.render import plan_of
from compiler.dialects import DIALECTS
from compiler.emit.plan import render_unit
from compiler.model.project import Schemas
from compiler.project import require_valid
from compiler.run.private import is_private, relocated, run_schemas

from helpers import ROOT


def test_a_relocated_plan_names_no_output_schema_and_no_cdpc_work():
    project = require_valid(ROOT)
    schemas = run_schemas(project.definitions.project.schemas, 1796035394454)
    public = [*schemas.outputs, "cdpc_work"]
    for target in ("duckdb", "postgres", "spark"):
        for unit in relocated(plan_of(project), schemas):
            text = render_unit(unit, DIALECTS[target]).text()
            named = [s for s in public if re.search(rf"[\s(`\"]{s}[`\"]?\.", text)]
            assert named == [], f"{target} {unit.layer} {unit.name} still names {named}"


def test_the_plan_itself_is_left_as_compile_renders_it():
    project = require_valid(ROOT)
    before = [render_unit(u, DIALECTS["duckdb"]).text() for u in plan_of(project)]
    relocated(plan_of(project), run_schemas(project.definitions.project.schemas, 1))
    assert [render_unit(u, DIALECTS["duckdb"]).text() for u in plan_of(project)] == before


def test_only_the_names_a_run_gives_are_private():
    schemas = run_schemas(Schemas(), 1796035394454)
    assert all(is_private(s) for s in schemas.private)
    assert len(set(schemas.private)) == 5 and all(len(s) <= 63 for s in schemas.private)
    for foreign in ("cdpc_run_stats", "cdpc_run_1_work", "cdpc_work", "cdpc_meta", "cdp_staging", "my_cdpc_run_1796035394454_work"):
        assert not is_private(foreign), foreign


def test_long_output_schema_names_stay_apart_where_postgres_cuts_them():
    long = "s" * 60
    schemas = run_schemas(Schemas(staging=long + "a", identity=long + "b"), 1796035394454)
    assert len(set(schemas.private)) == len(schemas.private) and all(len(s) <= 63 for s in schemas.private)
