"""Snowflake and BigQuery: cdpc emits their SQL but cannot run it here, so check it statically.

Every generated/snowflake and generated/bigquery file (and the same targets rendered for
the engine tests' small projects) must parse back with sqlglot in its dialect, hold only
the statements cdpc emits, and call only functions the warehouse documents
(compiler.dialects.DOCUMENTED_FUNCTIONS, a maintained allow-list).
"""

from __future__ import annotations

import re

import pytest
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel

from compiler.render import render_target
from compiler.dialects import DIALECTS, DOCUMENTED_FUNCTIONS
from compiler.project import require_valid

from engine_projects import COLLATION_PROJECT, EDGE_PROJECT, SMALL_PROJECT
from helpers import ROOT, write_files

WAREHOUSES = ("snowflake", "bigquery")
GENERATED = [(d, p) for d in WAREHOUSES for p in sorted((ROOT / "generated" / d).glob("*.sql"))]
STATEMENTS = (exp.Create, exp.Drop, exp.Insert, exp.Select, exp.Union, exp.Grant)  # grants: access definitions
_CALL = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(")


def function_names(tree: exp.Expression, dialect: str) -> set[str]:
    """Names of the functions a statement calls, as the dialect spells them.

    Each function node is rendered with its arguments replaced by a placeholder, and the
    call names at the start of that text are taken: `TO_HEX(MD5(x))`, which sqlglot holds
    as one node, gives TO_HEX and MD5; `CAST(x AS DECIMAL(10, 2))` gives CAST alone.
    """
    names: set[str] = set()
    for node in tree.find_all(exp.Func):
        bare = node.copy()
        for inner in list(bare.find_all(exp.Func, exp.Literal)):
            if inner is not bare:
                inner.replace(exp.column("__arg"))
        text, position = bare.sql(dialect=dialect), 0
        while match := _CALL.match(text, position):
            names.add(match.group(1).upper())
            position = match.end()
    return names


def check_sql(text: str, dialect: str) -> list[str]:
    problems = []
    try:
        trees = sqlglot.parse(text, read=dialect, error_level=ErrorLevel.RAISE)
    except sqlglot.errors.ParseError as err:
        return [f"does not parse as {dialect}: {str(err).splitlines()[0]}"]
    for tree in trees:
        if tree is None:
            continue
        if isinstance(tree, exp.Command) or not isinstance(tree, STATEMENTS):
            problems.append(f"unexpected statement {type(tree).__name__}: {tree.sql(dialect=dialect)[:80]}")
        for anonymous in tree.find_all(exp.Anonymous):
            if str(anonymous.this).upper().startswith("CDPC_"):
                problems.append(f"portable placeholder left in the SQL: {anonymous.this}")
        undocumented = function_names(tree, dialect) - DOCUMENTED_FUNCTIONS[dialect]
        if undocumented:
            problems.append(f"calls functions {dialect} does not document: {sorted(undocumented)}")
    return problems


def test_the_reference_project_has_generated_sql_for_both_warehouses():
    for dialect in WAREHOUSES:
        assert not DIALECTS[dialect].executes
        assert any(d == dialect for d, _ in GENERATED), f"no generated/{dialect}/*.sql"


@pytest.mark.parametrize("dialect,path", GENERATED, ids=[f"{d}/{p.name}" for d, p in GENERATED])
def test_generated_file_parses_and_calls_only_documented_functions(dialect, path):
    problems = check_sql(path.read_text(encoding="utf-8"), dialect)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("dialect", WAREHOUSES)
@pytest.mark.parametrize("name,files", [("reference", None), ("small", SMALL_PROJECT),
                                        ("collation", COLLATION_PROJECT), ("edge", EDGE_PROJECT)])
def test_projects_render_to_documented_sql(tmp_path, dialect, name, files):
    """The same, rendered now (independent of what generated/ holds)."""
    project = require_valid(ROOT if files is None else write_files(tmp_path, files))
    problems = [f"{unit.layer} {unit.name}: {p}" for unit in render_target(project, dialect)
                for p in check_sql(unit.text(), dialect)]
    assert not problems, "\n".join(problems)


def test_the_checker_catches_an_undocumented_function():
    assert check_sql("SELECT LIST_FILTER(x, y -> y IS NOT NULL) FROM t", "snowflake")
    assert check_sql("SELECT REGEXP_MATCHES(x, 'a') FROM t", "bigquery")
    assert check_sql("SELECT TO_HEX(MD5(x)), SHA256(y) FROM t", "bigquery") == []
    assert function_names(sqlglot.parse_one("SELECT CAST(a AS DECIMAL(10, 2)) FROM t", read="snowflake"),
                          "snowflake") == {"CAST"}


def test_the_identity_loop_is_marked_for_an_orchestrator():
    """A warehouse run is driven from outside: the loop's body and stop query are delimited."""
    identity = next((ROOT / "generated" / "snowflake").glob("*_identity__*.sql")).read_text(encoding="utf-8")
    loops = re.findall(r"-- cdpc:loop (\S+).*?-- cdpc:until\n(.*?);\n-- cdpc:end-loop \1", identity, re.S)
    assert loops, "no cdpc:loop ... cdpc:until ... cdpc:end-loop block"
    for _, until in loops:
        query = sqlglot.parse_one(until, read="snowflake")
        assert isinstance(query, exp.Select) and len(query.expressions) == 1, "the stop query returns one number"
