"""Snippet types (CDP310-CDP312) and templates (CDP313): every snippet is typed against the
declared types of the fields or attributes it reads, before any SQL runs, and the error
points at the offending part of the snippet."""

from __future__ import annotations

import pytest

from validate_helpers import check, only
from test_validate_expressions import aggregate, attribute, segment


def test_the_issue_a_string_attribute_compared_with_a_number(tmp_path):
    """The run used to fail with `Cannot compare values of type VARCHAR and type INTEGER_LITERAL` at <project>."""
    files = {**attribute("source: orders\naggregate: sum(amount)\n", "string", name="lifetime"),
             **segment("lifetime > 100")}
    d = only(check(tmp_path, files), "CDP310", "segments/s.yaml:4:8",
             "`where`: `lifetime > 100` compares `lifetime` (string) with `100` (a number)")
    assert "declare the field or attribute with the type of its values" in d.hint


def test_sum_of_text(tmp_path):
    d = only(check(tmp_path, aggregate("sum(status)")), "CDP310", "attributes/x.yaml:6:12",
             "`sum(status)`: sum takes a number, not `status` (string)")
    assert "max/min/count take any type" in d.hint


def test_the_offending_part_is_pointed_at(tmp_path):
    only(check(tmp_path, aggregate("count(*) + sum(status)")), "CDP310", "attributes/x.yaml:6:23", "sum takes a number")
    only(check(tmp_path, aggregate("sum(amount)", "status = 'paid' and ordered_at > 3")), "CDP310",
         "attributes/x.yaml:7:28", "`ordered_at > 3` compares `ordered_at` (timestamp) with `3` (a number)")


def test_text_compared_with_a_number_in_a_where(tmp_path):
    only(check(tmp_path, aggregate("sum(amount)", "status > 3")), "CDP310", "attributes/x.yaml:7:8",
         "`status > 3` compares `status` (string) with `3` (a number)")


@pytest.mark.parametrize("snippet", ["coalesce(status, 0)", "case when status = 'a' then status else 1 end",
                                     "greatest(amount, ordered_at)"])
def test_branches_of_different_types(tmp_path, snippet):
    only(check(tmp_path, aggregate(f"max({snippet})"), ), "CDP310", "attributes/x.yaml:6:16", "mixes")


@pytest.mark.parametrize("snippet,type_", [("max(status)", "boolean"), ("max(status)", "integer"),
                                           ("sum(amount)", "boolean"), ("max(ordered_at)", "double"),
                                           ("bool_or(status = 'paid')", "integer")])
def test_value_that_cannot_become_the_attribute_type(tmp_path, snippet, type_):
    d = only(check(tmp_path, {**aggregate(snippet), **attribute(f"source: orders\naggregate: {snippet}\n", type_)}),
             "CDP311", "attributes/x.yaml:6:12", f"cannot become the attribute's type `{type_}`")
    assert d.hint.startswith("declare `type:")


@pytest.mark.parametrize("snippet,type_", [
    ("sum(amount)", "string"),  # anything becomes text
    ("sum(amount)", "integer"), ("avg(amount)", "bigint"), ("count(*)", "double"),  # numbers widen and narrow
    ("max(ordered_at)", "date"), ("max(cast(status as integer))", "integer"),  # a cast is taken at its word
    ("count(*) filter (where status = 'paid')", "integer"), ("bool_or(status = 'paid')", "boolean"),
    ("max(ordered_at) > current_date - interval 30 day", "boolean"),
    ("date_diff('day', max(ordered_at), current_date)", "integer"),
    ("count_if(ordered_at > '2026-01-01')", "integer"),  # a quoted literal is read as the type it meets
    ("sum(case when status = 'paid' then amount else 0 end)", '"decimal(12,2)"'),
    ("max(null)", "integer"),
    ("max(current_date - cast(ordered_at as date)) > 30", "boolean"),  # date - date: days on DuckDB and PostgreSQL
    ("(current_date - max(cast(ordered_at as date))) + 1", "integer"),
])
def test_what_an_engine_accepts_passes(tmp_path, snippet, type_):
    assert check(tmp_path, attribute(f"source: orders\naggregate: {snippet}\n", type_)) == []


def test_a_where_that_is_not_a_condition(tmp_path):
    d = only(check(tmp_path, aggregate("sum(amount)", "amount")), "CDP312", "attributes/x.yaml:7:8",
             "`where` is a condition, and `amount` (decimal(10,2)) is not true/false")
    assert d.hint == "compare it, e.g. `amount > 0`"


def test_a_segment_where_that_is_not_a_condition(tmp_path):
    only(check(tmp_path, segment("spend")), "CDP312", "segments/s.yaml:4:8", "`spend` (decimal(12,2)) is not true/false")
    only(check(tmp_path, segment("big_spender and spend")), "CDP312", "segments/s.yaml:4:24",
         "`spend` (decimal(12,2)) is not true/false, but `big_spender and spend` needs a condition there")


def test_conditions_inside_a_snippet(tmp_path):
    only(check(tmp_path, aggregate("count(*) filter (where amount)")), "CDP312", "attributes/x.yaml:6:35")
    only(check(tmp_path, aggregate("count_if(status)")), "CDP312", "attributes/x.yaml:6:21")


def test_an_expression_attribute_is_typed_by_the_attributes_it_reads(tmp_path):
    only(check(tmp_path, attribute("expression: best_email\n", "boolean")), "CDP311", "attributes/x.yaml:5:13",
         "`best_email` (string) cannot become the attribute's type `boolean`")
    assert check(tmp_path, attribute("expression: spend * 2 + 1\n", "integer")) == []


def test_shapes_share_a_result_only_when_their_types_do(tmp_path):
    files = {**attribute("source: orders\naggregate: sum(amount)\n", "double", name="a"),
             **attribute("source: orders\naggregate: sum(status)\n", "double", name="b")}
    only(check(tmp_path, files), "CDP310", "attributes/b.yaml:6:12", "sum takes a number")


def test_a_name_of_unknown_type_passes(tmp_path):
    """An attribute whose type is itself an error is reported once, not again where it is read."""
    files = {**attribute("source: orders\naggregate: sum(amount)\n", "money", name="spend")}
    only(check(tmp_path, files), "CDP108", "attributes/spend.yaml:4:7")


# --------------------------------------------------------------------------- templates


@pytest.mark.parametrize("snippet,col,hint", [
    ("sum({{ ref('orders') }}.amount)", 17, "name the field itself"),  # col 12, a quote, then the offset
    ("max(ordered_at) > {{ var('as_of') }}", 31, "`current_date` or `current_timestamp`"),
    ("{% if x %}count(*){% endif %}", 13, "case when"),
])
def test_jinja_is_refused_with_what_to_write_instead(tmp_path, snippet, col, hint):
    d = only(check(tmp_path, aggregate(f'"{snippet}"')), "CDP313", f"attributes/x.yaml:6:{col}",
             "is a Jinja template: snippets are plain SQL")
    assert hint in d.hint


def test_braces_inside_a_text_literal_are_text(tmp_path):
    assert check(tmp_path, aggregate("sum(amount)", "\"status = '{{x}}'\"")) == []
