"""The lineage DAG: column-level edges, transitive upstream/downstream, orders, renderings."""

from __future__ import annotations

import json

import pytest

from compiler.graph import LINEAGE, PROFILE
from compiler.project import load_project
from validate_helpers import make_project


@pytest.fixture
def lineage(tmp_path):
    project = load_project(make_project(tmp_path, {
        "definitions/attributes/tier.yaml": "kind: attribute\nname: tier\nversion: 1.0.0\ntype: string\n"
                                            "expression: case when big_spender then 'a' else 'b' end\n",
        "definitions/segments/not_vip.yaml": "kind: segment\nname: not_vip\nversion: 1.0.0\nwhere: tier = 'b'\n"
                                             "exclude: [vip]\n",
    }))
    assert project.ok, [d.render() for d in project.diagnostics]
    return project.lineage


def test_node_ids(lineage):
    for node in ("contract:orders", "field:orders.amount", "identity:customer", "attribute:spend", "consent:marketing",
                 "segment:vip", "destination:esp"):
        assert node in lineage.graph


def test_snippet_fields_are_lineage_and_membership_is_not(lineage):
    g = lineage.graph
    assert g.edges["field:orders.amount", "attribute:spend"]["kind"] == LINEAGE
    assert g.edges["field:orders.status", "attribute:spend"]["kind"] == LINEAGE  # the `where` reads it too
    assert g.edges["contract:orders", "field:orders.amount"]["kind"] == "member"
    assert g.edges["contract:orders", "attribute:spend"]["kind"] == "source"
    assert g.edges["identity:customer", "attribute:spend"]["kind"] == PROFILE
    assert not g.has_edge("field:orders.notes", "attribute:spend")


def test_fields_reaching_is_column_level(lineage):
    assert lineage.fields_reaching("attribute:spend") == {("orders", "amount"), ("orders", "status")}
    assert lineage.fields_reaching("attribute:tier") == {("orders", "amount"), ("orders", "status")}
    # a most_recent pick also reads each source's event_time: it decides which value wins
    assert lineage.fields_reaching("attribute:best_email") == {
        ("orders", "email"), ("consents", "email"), ("orders", "ordered_at"), ("consents", "recorded_at")}
    # identity -> attribute is a profile edge: the identity's fields do not reach every attribute
    assert ("orders", "order_id") not in lineage.fields_reaching("attribute:spend")


def test_only_a_pick_by_time_reads_event_time(tmp_path):
    pick = "kind: attribute\nname: best_email\nversion: 1.0.0\ntype: string\npick: {field: email, from: [orders], strategy: %s}\n"
    for strategy, reads_time in (("most_frequent", False), ("first_seen", True), ("source_priority", True)):
        project = load_project(make_project(tmp_path / strategy, {"definitions/attributes/best_email.yaml": pick % strategy}))
        assert project.ok, [d.render() for d in project.diagnostics]
        reached = project.lineage.fields_reaching("attribute:best_email")
        assert (("orders", "ordered_at") in reached) is reads_time, strategy


def test_upstream_and_downstream_are_transitive_and_sorted(lineage):
    up = lineage.upstream("segment:not_vip")
    assert up[:2] == ["contract:consents", "contract:orders"]
    assert {"attribute:tier", "attribute:big_spender", "attribute:spend", "segment:vip", "identity:customer"} <= set(up)
    assert lineage.downstream("attribute:spend") == [
        "attribute:big_spender", "attribute:tier", "segment:not_vip", "segment:vip", "destination:esp"]


def test_orders(lineage):
    order = lineage.attribute_order()
    assert order.index("spend") < order.index("big_spender") < order.index("tier")
    assert order == ["best_email", "spend", "big_spender", "tier"]  # ties broken by name
    assert lineage.segment_order() == ["vip", "not_vip"]


def test_lineage_path(lineage):
    assert lineage.lineage_path("field:orders.amount", "attribute:tier") == [
        "field:orders.amount", "attribute:spend", "attribute:big_spender", "attribute:tier"]


def test_around_stops_at_profile_edges(lineage):
    up = lineage.around("attribute:spend", downstream=False).nodes()
    assert up == ["contract:orders", "field:orders.amount", "field:orders.status", "identity:customer", "attribute:spend"]
    # ...while upstream() follows every edge: the identity's fields change every profile
    assert "field:orders.email" in lineage.upstream("attribute:spend")


def test_around_and_find(lineage):
    assert lineage.find("spend") == ["attribute:spend"]
    assert lineage.find("orders.email") == ["field:orders.email"]
    assert lineage.find("segment:vip") == ["segment:vip"]
    assert lineage.find("nothing") == []
    sub = lineage.around("attribute:big_spender", upstream=False)
    assert sub.nodes() == ["attribute:big_spender", "attribute:tier", "segment:not_vip", "segment:vip", "destination:esp"]


def test_renderings_are_deterministic(lineage, tmp_path):
    again = load_project(tmp_path).lineage
    for fmt in ("to_json", "to_text", "to_mermaid", "to_dot"):
        assert getattr(lineage, fmt)() == getattr(again, fmt)()


def test_json_rendering(lineage):
    data = json.loads(lineage.to_json())
    assert {"from": "field:orders.amount", "to": "attribute:spend", "kind": "lineage"} in data["edges"]
    node = next(n for n in data["nodes"] if n["id"] == "field:orders.notes")
    assert node["phi"] is True and node["contract"] == "orders"


def test_text_mermaid_dot(lineage):
    sub = lineage.around("attribute:spend", downstream=False)
    text = sub.to_text()
    assert text.endswith("attribute:spend\n"
                         "  <- contract:orders (source)\n"
                         "  <- field:orders.amount\n"
                         "  <- field:orders.status\n"
                         "  <- identity:customer (profile)\n")
    assert "field:orders.email" not in text  # the identity's own upstream is not expanded
    assert "field:orders.email [pii]\n  <- contract:orders (member)\n" in lineage.to_text()
    mermaid = sub.to_mermaid()
    assert mermaid.startswith("flowchart LR\n") and 'field_orders_amount["field:orders.amount"]' in mermaid
    assert "field_orders_amount --> attribute_spend" in mermaid
    assert "contract_orders -. source .-> attribute_spend" in mermaid
    dot = sub.to_dot()
    assert dot.startswith("digraph lineage {") and '"field:orders.amount" -> "attribute:spend";' in dot
    assert 'label="field:orders.email [pii]"' in lineage.to_dot()


def test_reference_project_lineage():
    from helpers import ROOT

    project = load_project(ROOT)
    if project.lineage is None:
        pytest.skip("the reference project does not validate yet")
    assert project.lineage.fields_reaching("attribute:has_medical_flag") == {
        ("crm_contacts", "has_injury_flag"), ("crm_contacts", "medical_notes")}
    assert "segment:reactivation_sms" in project.lineage.downstream("attribute:days_since_last_visit")


def test_classification_is_the_highest_class_its_lineage_reaches(tmp_path):
    from compiler.graph import highest_classification, identifier_classification

    orders = """
        kind: contract
        name: orders
        version: 1.0.0
        relation: raw.orders
        primary_key: [order_id]
        event_time: ordered_at
        fields:
          order_id: {type: string, required: true}
          email: {type: string, pii: true, classification: confidential}
          amount: {type: "decimal(10,2)", min: 0, classification: public}
          status: {type: string, accepted_values: [paid, refunded], classification: public}
          ordered_at: {type: timestamp, classification: public}
          notes: {type: string, phi: true}
        """
    extra = {
        "definitions/contracts/orders.yaml": orders,
        "definitions/attributes/orders_count.yaml": "kind: attribute\nname: orders_count\nversion: 1.0.0\n"
                                                    "type: bigint\nsource: orders\naggregate: count(*)\ndefault: 0\n",
        "definitions/attributes/noted.yaml": "kind: attribute\nname: noted\nversion: 1.0.0\ntype: boolean\n"
                                             "source: orders\naggregate: bool_or(notes is not null)\ndefault: false\n",
        "definitions/attributes/mixed.yaml": "kind: attribute\nname: mixed\nversion: 1.0.0\ntype: boolean\n"
                                             "expression: spend > 100 and noted\n",
    }
    project = load_project(make_project(tmp_path, extra))
    assert project.ok, [d.render() for d in project.diagnostics]
    lineage = project.lineage
    assert lineage.classification("field:orders.email") == "confidential"
    assert lineage.classification("field:orders.notes") == "restricted"  # phi is always restricted
    assert lineage.classification("field:consents.purpose") == "internal"  # no class written: internal
    assert lineage.classification("attribute:spend") == "public"  # amount and status are public
    assert lineage.classification("attribute:big_spender") == "public"
    assert lineage.classification("attribute:orders_count") == "internal"  # count(*) reads no value: internal, as nobody called it public
    assert lineage.classified_by("attribute:orders_count") == []
    assert lineage.classification("attribute:best_email") == "confidential"
    assert lineage.classified_by("attribute:best_email") == ["field:orders.email"]  # highest wins over internal
    assert lineage.classification("attribute:mixed") == "restricted"  # through `noted`, from the PHI notes
    assert lineage.classified_by("attribute:mixed") == ["field:orders.notes"]
    assert lineage.classification("contract:orders") == "restricted"  # a contract: its fields
    assert identifier_classification(lineage, project.definitions.identity, "email") == "confidential"
    assert highest_classification([]) == "internal"
    assert highest_classification(["internal", "restricted", "public"]) == "restricted"
    node = json.loads(lineage.to_json())["nodes"]
    assert all("classification" not in n for n in node)  # shown only with --classification
    assert lineage.graph.nodes["field:orders.notes"]["classification"] == "restricted"
