"""Attribute rules outside the snippets: type, default, sources, picks, cycles, reserved names."""

from __future__ import annotations

from validate_helpers import check, find, only


def attribute(body: str, type_: str = "double", name: str = "x") -> dict:
    """attributes/<name>.yaml: kind, name, version, type on lines 1-4; `body` from line 5."""
    return {f"definitions/attributes/{name}.yaml":
            f"kind: attribute\nname: {name}\nversion: 1.0.0\ntype: {type_}\n" + body}


AGG = "source: orders\naggregate: sum(amount)\n"


def test_type_must_be_a_field_type(tmp_path):
    d = only(check(tmp_path, attribute(AGG, type_="strng")), "CDP108", "attributes/x.yaml:4:7", "unknown attribute type 'strng'")
    assert d.hint == "did you mean `string`?"


def test_decimal_type_bounds(tmp_path):
    only(check(tmp_path, attribute(AGG, type_='"decimal(40,2)"')), "CDP108", "attributes/x.yaml:4:7", "'decimal(40,2)'")


def test_default_must_fit_the_type(tmp_path):
    only(check(tmp_path, attribute(AGG + "default: none yet\n")),
         "CDP103", "attributes/x.yaml:7:10", "default 'none yet' does not fit double")


def test_aggregate_source_must_be_a_contract(tmp_path):
    d = only(check(tmp_path, attribute("source: order\naggregate: count(*)\n")),
             "CDP201", "attributes/x.yaml:5:9", "unknown contract `order`")
    assert d.hint == "did you mean `orders`?"


def test_aggregate_source_must_be_an_identity_source(tmp_path):
    other = "kind: contract\nname: stock\nversion: 1.0.0\nrelation: raw.stock\nfields:\n  sku: {type: string}\n"
    d = only(check(tmp_path, {"definitions/contracts/stock.yaml": other, **attribute("source: stock\naggregate: count(*)\n")}),
             "CDP208", "attributes/x.yaml:5:9", "contract `stock` is not an identity source")
    assert "sources" in d.hint


def test_pick_sources_must_be_identity_sources(tmp_path):
    only(check(tmp_path, attribute("pick: {field: email, from: [orders, nope]}\n", "string")),
         "CDP201", "attributes/x.yaml:5:37", "unknown contract `nope`")


def test_pick_field_must_exist_in_every_source(tmp_path):
    d = only(check(tmp_path, attribute("pick: {field: status, from: [orders, consents]}\n", "string")),
             "CDP202", "attributes/x.yaml:5:15", "pick.field `status` is not a field of contract `consents`")
    assert "`consent_id`" in d.hint or "did you mean" in d.hint or "expected one of" in d.hint


def test_pick_field_map_must_cover_every_source(tmp_path):
    only(check(tmp_path, attribute("pick:\n  field: {orders: email}\n  from: [orders, consents]\n", "string")),
         "CDP202", "attributes/x.yaml:6:10", "`pick.field` names no field for source `consents`")


def test_pick_field_map_names_only_sources_of_from(tmp_path):
    only(check(tmp_path, attribute("pick:\n  field: {orders: email, consents: email, crm: email}\n  from: [orders, consents]\n",
                                   "string")),
         "CDP103", "attributes/x.yaml:6:43", "`pick.field` maps `crm`, which is not in `pick.from`")


def test_pick_field_map_fields_exist(tmp_path):
    only(check(tmp_path, attribute("pick:\n  field: {orders: email, consents: mail}\n  from: [orders, consents]\n", "string")),
         "CDP202", "attributes/x.yaml:6:36", "pick.field `mail` is not a field of contract `consents`")


def test_pick_source_listed_twice(tmp_path):
    only(check(tmp_path, attribute("pick: {field: email, from: [orders, orders]}\n", "string")),
         "CDP217", "attributes/x.yaml:5:37", "`orders` is listed twice in `pick.from`")


def test_time_ordered_pick_needs_event_time(tmp_path):
    no_time = "kind: contract\nname: orders\nversion: 1.0.0\nrelation: raw.orders\nprimary_key: [order_id]\nfields:\n" \
              "  order_id: {type: string}\n  email: {type: string}\n  amount: {type: double}\n  status: {type: string}\n"
    diagnostics = check(tmp_path, {"definitions/contracts/orders.yaml": no_time,
                                   **attribute("pick: {field: email, from: [consents, orders], strategy: first_seen}\n",
                                               "string")})
    d = find(diagnostics, "CDP210", "attributes/x.yaml:5:39")
    assert "strategy `first_seen` orders by event_time, which contract `orders` does not set" in d.message
    # best_email (most_recent over orders) is told too; source_priority and most_frequent never are
    find(diagnostics, "CDP210", "attributes/best_email.yaml:5:29")
    assert len(diagnostics) == 2


def test_source_priority_needs_no_event_time(tmp_path):
    assert check(tmp_path, attribute("pick: {field: email, from: [orders], strategy: source_priority}\n", "string")) == []


def test_attribute_cycle_is_named(tmp_path):
    files = {**attribute("expression: b + 1\n", name="a"), **attribute("expression: c * 2\n", name="b"),
             **attribute("expression: a - 1\n", name="c")}
    d = only(check(tmp_path, files), "CDP212", "attributes/a.yaml:5:13", "attribute cycle: a -> b -> c -> a")
    assert d.hint


def test_attribute_reading_itself(tmp_path):
    only(check(tmp_path, attribute("expression: x + 1\n")), "CDP212", "attributes/x.yaml:5:13", "attribute cycle: x -> x")


def test_two_cycles_are_two_errors(tmp_path):
    files = {**attribute("expression: b\n", name="a"), **attribute("expression: a\n", name="b"),
             **attribute("expression: d\n", name="c"), **attribute("expression: c\n", name="d")}
    diagnostics = check(tmp_path, files)
    assert [d.message for d in diagnostics] == ["attribute cycle: a -> b -> a", "attribute cycle: c -> d -> c"]


def test_profile_id_is_reserved(tmp_path):
    only(check(tmp_path, attribute(AGG, name="profile_id")), "CDP214", "attributes/profile_id.yaml:2:7",
         "an attribute cannot be named `profile_id`")
