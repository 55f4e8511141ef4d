"""The snippet allow-list (docs/guarantees.md §3): what a snippet may contain, per context, as data.

Every attack below (positional and star-like reads, whole rows, session, randomness, clock,
files, extensions, order-dependent aggregates) is refused at validate with its own code at the offending text;
everything on the list validates and emits on every target that the list does not exclude;
docs/language.md prints exactly the table that compiler/allowlist.py holds.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlglot
from sqlglot.errors import ErrorLevel

from compiler import allowlist
from compiler.dialects import DIALECTS
from validate_helpers import check

TARGETS = tuple(DIALECTS)

DOCS = Path(__file__).resolve().parent.parent / "docs" / "language.md"


def aggregate(agg: str, where: str = "") -> dict:
    """attributes/x.yaml: aggregate on line 6 (value at col 12), where on line 7 (value at col 8)."""
    return {"definitions/attributes/x.yaml": "kind: attribute\nname: x\nversion: 1.0.0\ntype: string\n"
            f"source: orders\naggregate: {agg}\n" + (f"where: {where}\n" if where else "")}


def segment(where: str) -> dict:
    """segments/s.yaml: where on line 4 (value at col 8)."""
    return {"definitions/segments/s.yaml":
            f"kind: segment\nname: s\nversion: 1.0.0\nwhere: {where}\npurposes: [email_marketing]\n"}


# (snippet as the aggregate, expected code, offset of the offending text in the snippet)
ATTACKS = [
    ("max(#6)", "CDP309", 4),                      # positional: would read `notes` without naming it
    ("max(#2)", "CDP309", 4),
    ("count(*) + sum(*)", "CDP309", 15),
    ("max(COLUMNS('no.*'))", "CDP309", 4),
    ("max(columns(*))", "CDP309", 4),
    ("max(orders.*)", "CDP309", 4),
    ("max(struct_pack(a := notes))", "CDP308", 4),
    ("max([email])", "CDP308", 4),
    ("max(current_user)", "CDP308", 4),
    ("max(current_database())", "CDP308", 4),
    ("max(version())", "CDP308", 4),
    ("max(current_schema())", "CDP308", 4),
    ("max(session_user)", "CDP308", 4),
    ("max(random())", "CDP308", 4),
    ("max(uuid())", "CDP308", 4),
    ("max(gen_random_uuid())", "CDP308", 4),
    ("max(localtimestamp)", "CDP308", 4),
    ("max(current_time)", "CDP308", 4),
    ("max(host(email))", "CDP308", 4),
    ("max(read_csv('/etc/passwd'))", "CDP308", 4),
    ("max(repeat('a', 1000000000))", "CDP308", 4),
    ("string_agg(email, ',')", "CDP308", 0),
    ("max(list(email))", "CDP308", 4),
    ("first(email)", "CDP308", 0),
    ("any_value(email)", "CDP308", 0),
    ("max(email::json)", "CDP308", 11),
    ("max(email->>'$.x')", "CDP308", 4),
    ("max(email[1])", "CDP308", 4),
    ("max(email collate nocase)", "CDP308", 4),
    ("max(unnest([email]))", "CDP308", 4),
    ("count(*) filter (where email in (select 1))", "CDP302", 0),
    ("max(o.email)", "CDP303", 4),
    ("sum(amount) over ()", "CDP307", 0),
    ("max(to_json(orders))", "CDP304", 4),     # unknown (anonymous) function: refused by the parser stage
    ("max(getenv('HOME'))", "CDP304", 4),
    ("max(current_setting('role'))", "CDP304", 4),
]


@pytest.mark.parametrize("snippet,code,offset", ATTACKS, ids=[a[0] for a in ATTACKS])
def test_attack_is_refused_at_the_offending_text(tmp_path, snippet, code, offset):
    diagnostics = [d for d in check(tmp_path, aggregate(snippet)) if d.is_error]
    assert diagnostics, f"{snippet} validated"
    first = diagnostics[0]
    assert first.code == code, first.render()
    if code not in ("CDP302", "CDP304"):  # those are raised before positions are known
        assert (first.location.line, first.location.col) == (6, 12 + offset), first.render()
    assert first.hint, first.render()
    assert first.location.file == "definitions/attributes/x.yaml"


@pytest.mark.parametrize("whole_row", ["orders", "src__orders", "p", "g"])
def test_a_table_name_or_alias_is_not_a_value(tmp_path, whole_row):
    # the contract, the scratch table the aggregate reads, and the aliases of the emitted SQL
    diagnostics = check(tmp_path, aggregate(f"max(to_json({whole_row}))")) + check(tmp_path, aggregate(f"max({whole_row})"))
    assert {d.code for d in diagnostics} == {"CDP304", "CDP303"}, [d.render() for d in diagnostics]


def test_quoted_snippet_points_inside_the_quotes(tmp_path):
    d = [d for d in check(tmp_path, segment('"spend > 1 and random() < 0.5"')) if d.is_error]
    assert [(x.code, str(x.location)) for x in d] == [("CDP308", "definitions/segments/s.yaml:4:23")]
    assert "`random(...)` is random" in d[0].message


def test_the_reference_forms_validate(tmp_path):
    ok = ("count(*) filter (where amount > 0) + count(distinct status) + sum(amount) + avg(amount) "
          "+ min(amount) + max(amount) + count_if(status = 'paid')")
    where = ("coalesce(status, 'x') in ('paid', 'refunded') and ordered_at >= current_date - interval 30 day "
             "and date_diff('day', ordered_at, current_timestamp) < 90 and lower(trim(email)) like '%@%' "
             "and extract(year from ordered_at) = year(now()) and cast(amount as integer) between 1 and 100")
    assert [d.render() for d in check(tmp_path, aggregate(ok, where))] == []


def test_aggregates_are_for_aggregate_only(tmp_path):
    # CDP306 explains it; the allow-list does not add a second error for the same mistake
    assert [d.code for d in check(tmp_path, segment("count_if(big_spender) > 1"))] == ["CDP306"]


@pytest.mark.parametrize("entry", [e for e in allowlist.ENTRIES if e.node not in (sqlglot.exp.Star,)],
                         ids=lambda e: e.name)
def test_refused_and_allowed_are_disjoint(entry):
    assert entry.node not in allowlist.REFUSED


EXAMPLES = {  # one spelling per function entry, parsed and emitted for every target
    "Coalesce": "coalesce(a, b)", "Nullif": "nullif(a, b)", "Greatest": "greatest(a, b)", "Least": "least(a, b)",
    "Abs": "abs(a)", "Round": "round(a, 2)", "Floor": "floor(a)", "Ceil": "ceil(a)", "Lower": "lower(a)",
    "Upper": "upper(a)", "Length": "length(a)", "Trim": "trim(a)", "Substring": "substring(a, 1, 2)",
    "Left": "left(a, 2)", "Right": "right(a, 2)", "Concat": "concat(a, b)", "DPipe": "a || b",
    "Replace": "replace(a, 'x', 'y')", "StrPosition": "position('x' in a)", "RegexpLike": "regexp_matches(a, 'x')",
    "DateDiff": "date_diff('day', a, b)", "DateAdd": "date_add(a, interval 1 day)",
    "TimestampTrunc": "date_trunc('month', a)", "Extract": "extract(year from a)", "Year": "year(a)",
    "Month": "month(a)", "Day": "day(a)", "Count": "count(distinct a)", "CountIf": "count_if(a)", "Sum": "sum(a)",
    "Avg": "avg(a)", "Min": "min(a)", "Max": "max(a)", "LogicalOr": "bool_or(a)", "LogicalAnd": "bool_and(a)",
    "Median": "median(a)", "Filter": "count(*) filter (where a)", "If": "if(a, 1, 2)",
}


@pytest.mark.parametrize("name,text", sorted(EXAMPLES.items()))
def test_every_function_emits_on_the_targets_the_list_allows(name, text):
    tree = sqlglot.parse_one(text, read="duckdb")
    entry = allowlist.ALLOWED[type(tree)]
    assert entry.name == name
    for target in TARGETS:
        if target in entry.not_on:
            continue
        tree.sql(dialect=target, unsupported_level=ErrorLevel.RAISE)


def test_every_function_entry_has_an_example():
    functions = {e.name for e in allowlist.ENTRIES if issubclass(e.node, sqlglot.exp.Func)
                 and not issubclass(e.node, (sqlglot.exp.Binary, sqlglot.exp.Unary, sqlglot.exp.Connector))
                 and e.node not in (sqlglot.exp.CurrentDate, sqlglot.exp.CurrentTimestamp, sqlglot.exp.Cast,
                                    sqlglot.exp.Case)}
    assert functions - set(EXAMPLES) == set()


def test_docs_print_the_allow_list():
    text = DOCS.read_text(encoding="utf-8")
    printed = re.search(r"<!-- allowlist:begin -->\n(.*?)<!-- allowlist:end -->", text, flags=re.S)
    assert printed, "docs/language.md has no allow-list section"
    assert printed.group(1) == allowlist.markdown(), "docs/language.md's allow-list differs from compiler/allowlist.py"


@pytest.mark.parametrize("dialect,snippet", [
    ("spark", "max(reflect('java.lang.System', 'getenv', 'HOME'))"),
    ("spark", "max(java_method('java.lang.System', 'getenv', 'HOME'))"),
    ("postgres", "max(pg_read_file('/etc/passwd'))"),
    ("postgres", "max(current_setting('data_directory'))"),
    ("postgres", "max(inet_server_addr())"),
    ("snowflake", "max(current_account())"),
    ("bigquery", "max(session_user())"),
])
def test_other_expression_dialects_are_held_to_the_same_list(tmp_path, dialect, snippet):
    project = f"kind: project\nname: shop\nexpression_dialect: {dialect}\ntargets: [duckdb, postgres]\n"
    diagnostics = check(tmp_path, {"definitions/project.yaml": project, **aggregate(snippet)})
    assert [d.code for d in diagnostics if d.is_error] in (["CDP304"], ["CDP308"]), [d.render() for d in diagnostics]
