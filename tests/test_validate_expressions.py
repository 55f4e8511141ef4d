"""SQL snippet rules: parse, one expression, allowed names only, aggregates where they
belong, no window functions, and every target can emit the snippet."""

from __future__ import annotations

from validate_helpers import check, find, only


def attribute(body: str, type_: str = "double", name: str = "x") -> dict:
    """attributes/<name>.yaml: body from line 5."""
    return {f"definitions/attributes/{name}.yaml":
            f"kind: attribute\nname: {name}\nversion: 1.0.0\ntype: {type_}\n" + body}


def aggregate(agg: str, where: str = "") -> dict:
    """source on line 5, aggregate on line 6 (value at col 12), where on line 7 (value at col 8)."""
    return attribute("source: orders\naggregate: " + agg + "\n" + (f"where: {where}\n" if where else ""))


def segment(where: str) -> dict:
    """segments/s.yaml: where on line 4 (value at col 8)."""
    return {"definitions/segments/s.yaml":
            f"kind: segment\nname: s\nversion: 1.0.0\nwhere: {where}\npurposes: [email_marketing]\n"}


def test_snippet_must_parse(tmp_path):
    d = only(check(tmp_path, aggregate("sum(amount")), "CDP301", "attributes/x.yaml:6:16", "`aggregate`: SQL snippet does not parse")
    assert d.hint


def test_snippet_is_one_expression(tmp_path):
    only(check(tmp_path, aggregate("sum(amount); drop table x")), "CDP302", "attributes/x.yaml:6:23",
         "`;` is not allowed")


def test_subqueries_are_not_allowed(tmp_path):
    only(check(tmp_path, segment("spend > (select 1)")), "CDP302", "segments/s.yaml:4:8", "subqueries are not allowed")


def test_unknown_function(tmp_path):
    only(check(tmp_path, aggregate("my_udf(amount)")), "CDP304", "attributes/x.yaml:6:12", "unknown function `my_udf`")


def test_aggregate_names_fields_of_its_source(tmp_path):
    d = only(check(tmp_path, aggregate("sum(amout)")), "CDP303", "attributes/x.yaml:6:16",
             "`aggregate`: `amout` is not a field of contract `orders`")
    assert d.hint == "did you mean `amount`?"


def test_where_names_fields_of_its_source(tmp_path):
    d = only(check(tmp_path, aggregate("sum(amount)", "state = 'paid'")), "CDP303", "attributes/x.yaml:7:8",
             "`where`: `state` is not a field of contract `orders`")
    assert d.hint == "did you mean `status`?"


def test_qualified_names_are_errors(tmp_path):
    only(check(tmp_path, aggregate("sum(o.amount)")), "CDP303", "attributes/x.yaml:6:16",
         "`aggregate`: `o.amount` is a qualified name")


def test_parameters_are_errors(tmp_path):
    only(check(tmp_path, segment("spend > ?")), "CDP303", "segments/s.yaml:4:16", "`?` is a parameter")


def test_aggregate_must_aggregate(tmp_path):
    only(check(tmp_path, aggregate("amount * 2")), "CDP305", "attributes/x.yaml:6:12", "`aggregate` must aggregate")


def test_aggregate_reads_fields_only_inside_aggregates(tmp_path):
    only(check(tmp_path, aggregate("max(amount) + amount")), "CDP305", "attributes/x.yaml:6:12",
         "`amount` is read outside an aggregate function")


def test_nested_aggregates(tmp_path):
    only(check(tmp_path, aggregate("sum(max(amount))")), "CDP306", "attributes/x.yaml:6:12", "inside another aggregate")


def test_count_star_and_as_of_functions_are_fine(tmp_path):
    assert check(tmp_path, aggregate("count(*) filter (where amount > 0)",
                                     "ordered_at >= current_date - interval 30 day and ordered_at <= now()")) == []


def test_no_aggregate_in_where(tmp_path):
    d = only(check(tmp_path, aggregate("sum(amount)", "count(*) > 1")), "CDP306", "attributes/x.yaml:7:8",
             "`where`: aggregate `COUNT(*)` is not allowed here")
    assert "single rows" in d.hint


def test_window_functions_are_errors(tmp_path):
    only(check(tmp_path, aggregate("sum(amount) over (partition by status)")), "CDP307", "attributes/x.yaml:6:12",
         "window function")


def test_expression_names_attributes_only(tmp_path):
    d = only(check(tmp_path, attribute("expression: spend + amount\n")), "CDP303", "attributes/x.yaml:5:21",
             "`expression`: `amount` is not an attribute")
    assert "attributes only" in d.hint or "expected one of" in d.hint


def test_expression_may_not_aggregate(tmp_path):
    only(check(tmp_path, attribute("expression: max(spend)\n")), "CDP306", "attributes/x.yaml:5:13",
         "`expression`: aggregate `MAX(spend)` is not allowed here")


def test_segment_where_names_attributes(tmp_path):
    d = only(check(tmp_path, segment("big_spendr and spend > 10")), "CDP303", "segments/s.yaml:4:8",
             "`where`: `big_spendr` is not an attribute")
    assert d.hint == "did you mean `big_spender`?"


def test_segment_where_may_not_aggregate(tmp_path):
    d = only(check(tmp_path, segment("sum(spend) > 10")), "CDP306", "segments/s.yaml:4:8", "aggregate `SUM(spend)`")
    assert "attribute" in d.hint


def test_snippet_every_target_must_emit(tmp_path):
    # BigQuery has no aggregate median (its PERCENTILE_CONT is a window function only)
    with_bigquery = "kind: project\nname: shop\ntargets: [duckdb, bigquery]\n"
    d = only(check(tmp_path, {"definitions/project.yaml": with_bigquery, **aggregate("median(amount)")}), "CDP304",
             "attributes/x.yaml:6:12",
             "`median(...)` cannot be emitted for bigquery")
    assert "target" in d.hint


def test_target_check_is_per_project_targets(tmp_path):
    duckdb_only = "kind: project\nname: shop\ntargets: [duckdb]\n"
    assert check(tmp_path, {"definitions/project.yaml": duckdb_only, **aggregate("median(amount)")}) == []


def test_quoted_snippet_location_is_the_value(tmp_path):
    files = attribute("source: orders\naggregate: >\n  sum(amout)\n")
    find(check(tmp_path, files), "CDP303", "attributes/x.yaml:6:12")


def test_all_snippet_errors_of_a_project_at_once(tmp_path):
    files = {**aggregate("sum(amout)", "t.status = 1"), **segment("nope > 1")}
    assert [d.code for d in check(tmp_path, files)] == ["CDP303", "CDP303", "CDP303"]


def test_a_target_failure_is_reported_with_its_own_snippet_not_one_of_the_same_shape(tmp_path, monkeypatch):
    """Successes are cached by shape (names left out); a failure's message is the snippet's own."""
    from compiler.validate import expressions

    monkeypatch.setattr(expressions, "_EMITS_EVERYWHERE", set())
    monkeypatch.setattr(expressions, "check_targets",
                        lambda snippet, targets: f"postgres: cannot emit {snippet.expr.sql()}")
    files = {**aggregate("max(amount)"), **attribute("source: orders\naggregate: max(status)\n", "string", name="y")}
    messages = sorted(d.message for d in check(tmp_path, files)
                      if d.code == "CDP304" and d.location.file.endswith(("/x.yaml", "/y.yaml")))
    assert messages == ["`aggregate` cannot be emitted for postgres: cannot emit MAX(amount)",
                        "`aggregate` cannot be emitted for postgres: cannot emit MAX(status)"]


def test_a_snippet_shape_every_target_emits_is_checked_once(tmp_path, monkeypatch):
    from compiler.validate import expressions

    calls = []
    real = expressions.check_targets
    monkeypatch.setattr(expressions, "check_targets", lambda snippet, targets: calls.append(1) or real(snippet, targets))

    def checks(files: dict, folder: str) -> int:
        monkeypatch.setattr(expressions, "_EMITS_EVERYWHERE", set())
        calls.clear()
        assert not [d for d in check(tmp_path / folder, files) if d.code == "CDP304"]
        return len(calls)

    one = checks(aggregate("max(amount)"), "one")
    two = checks({**aggregate("max(amount)"),
                  **attribute("source: orders\naggregate: max(status)\n", "string", name="y")}, "two")
    assert two == one  # max(status) has max(amount)'s shape: no second check
