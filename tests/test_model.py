"""The model stage: unknown keys with a did-you-mean, wrong types, bad names and versions,
all located at the offending key or value, all reported at once."""

from __future__ import annotations

import pytest

from validate_helpers import check, find, only


def contract(body: str) -> dict:
    return {"definitions/contracts/extra.yaml": "kind: contract\nname: extra\nversion: 1.0.0\nrelation: raw.extra\n" + body}


FIELDS = "fields:\n  id: {type: string}\n"


def test_unknown_top_level_key_suggests_the_right_one(tmp_path):
    d = only(check(tmp_path, contract("primry_key: [id]\n" + FIELDS)), "CDP101", "contracts/extra.yaml:5:1",
             "unknown key `primry_key`")
    assert d.hint == "did you mean `primary_key`?"


def test_unknown_nested_key_names_its_parent(tmp_path):
    d = only(check(tmp_path, contract("fields:\n  id: {type: string, requird: true}\n")), "CDP101",
             "contracts/extra.yaml:6:22", "unknown key `requird` in `fields.id`")
    assert d.hint == "did you mean `required`?"


def test_unknown_key_in_a_list_item(tmp_path):
    files = {"definitions/destinations/esp.yaml": "kind: destination\nname: esp\nversion: 1.0.0\nchannel: email\n"
                                                  "syncs:\n  - {segment: vip, purpose: email_marketing, cadance: daily}\n"}
    d = only(check(tmp_path, files), "CDP101", "destinations/esp.yaml:6:46", "unknown key `cadance` in `syncs.0`")
    assert d.hint == "did you mean `cadence`?"


def test_missing_required_key(tmp_path):
    only(check(tmp_path, {"definitions/contracts/extra.yaml": "kind: contract\nname: extra\nversion: 1.0.0\n" + FIELDS}),
         "CDP102", "contracts/extra.yaml:1:1", "missing required key `relation`")


def test_wrong_type(tmp_path):
    d = only(check(tmp_path, contract("fields:\n  id: {type: string, pii: maybe}\n")), "CDP103",
             "contracts/extra.yaml:6:27", "`fields.id.pii`")
    assert d.hint == "use true or false"


def test_list_expected(tmp_path):
    d = only(check(tmp_path, {"definitions/segments/s.yaml": "kind: segment\nname: s\nversion: 1.0.0\n"
                                                             "purposes: email_marketing\n"}),
             "CDP103", "segments/s.yaml:4:11", "`purposes`")
    assert "list" in d.hint


def test_value_outside_its_set(tmp_path):
    files = {"definitions/destinations/esp.yaml": "kind: destination\nname: esp\nversion: 1.0.0\nchannel: emial\n"}
    d = only(check(tmp_path, files), "CDP103", "destinations/esp.yaml:4:10", "`channel`: 'emial' is not allowed")
    assert d.hint == "did you mean `email`?"


def test_bad_name(tmp_path):
    only(check(tmp_path, {"definitions/contracts/extra.yaml": "kind: contract\nname: Extra-Table\nversion: 1.0.0\n"
                                                              "relation: raw.extra\n" + FIELDS}),
         "CDP104", "contracts/extra.yaml:2:7", "invalid name 'Extra-Table'")


def test_name_too_long(tmp_path):
    name = "a" * 64
    only(check(tmp_path, {"definitions/contracts/extra.yaml": f"kind: contract\nname: {name}\nversion: 1.0.0\n"
                                                              "relation: raw.extra\n" + FIELDS}),
         "CDP104", "contracts/extra.yaml:2:7", "at most 63")


def test_version_read_as_a_number(tmp_path):
    d = only(check(tmp_path, {"definitions/contracts/extra.yaml": "kind: contract\nname: extra\nversion: 1.0\n"
                                                                  "relation: raw.extra\n" + FIELDS}),
             "CDP105", "contracts/extra.yaml:3:10", "invalid version 1.0")
    assert "quoted" in d.hint


def test_version_not_semver(tmp_path):
    only(check(tmp_path, {"definitions/contracts/extra.yaml": "kind: contract\nname: extra\nversion: v1.0.0\n"
                                                              "relation: raw.extra\n" + FIELDS}),
         "CDP105", "contracts/extra.yaml:3:10", "invalid version 'v1.0.0'")


def test_version_is_required(tmp_path):
    only(check(tmp_path, {"definitions/contracts/extra.yaml": "kind: contract\nname: extra\nrelation: raw.extra\n" + FIELDS}),
         "CDP102", "contracts/extra.yaml:1:1", "missing required key `version`")


def test_bad_duration(tmp_path):
    only(check(tmp_path, contract("retention: 2 years\n" + FIELDS)), "CDP107", "contracts/extra.yaml:5:12",
         "invalid duration '2 years'")


def test_bad_field_type(tmp_path):
    only(check(tmp_path, contract("fields:\n  id: {type: varchar}\n")), "CDP108", "contracts/extra.yaml:6:14",
         "unknown field type 'varchar'")


def test_unknown_kind(tmp_path):
    d = only(check(tmp_path, {"definitions/x.yaml": "kind: segmnt\nname: x\n"}), "CDP006", "x.yaml:1:7", "unknown kind `segmnt`")
    assert d.hint == "did you mean `segment`?"


def test_document_that_is_not_a_mapping(tmp_path):
    only(check(tmp_path, {"definitions/x.yaml": "- kind: segment\n"}), "CDP005", "x.yaml:1:1", "mapping with a `kind:`")


def test_duplicate_definition_name(tmp_path):
    files = {"definitions/segments/vip2.yaml": "kind: segment\nname: vip\nversion: 1.0.0\n"}
    d = only(check(tmp_path, files), "CDP106", "segments/vip2.yaml:2:7", "segment `vip` is defined twice")
    assert "segments/vip.yaml:2:7" in d.message


def test_no_project(tmp_path):
    only(check(tmp_path, {"definitions/project.yaml": None}), "CDP007", "project.yaml", "no `kind: project`")


def test_every_model_error_at_once_and_the_rest_is_still_validated(tmp_path):
    files = {**contract("primry_key: [id]\nfields:\n  id: {type: strng}\n"),
             "definitions/segments/s.yaml": "kind: segment\nname: s\nversion: 1\nwhere: nope\n",
             "definitions/segments/t.yaml": "kind: segment\nname: t\nversion: 1.0.0\nwhere: nope\n"}
    diagnostics = check(tmp_path, files)
    assert [d.code for d in diagnostics] == ["CDP101", "CDP108", "CDP105", "CDP303"]
    find(diagnostics, "CDP303", "segments/t.yaml:4:8")


# --------------------------------------------------------------------------- one mistake, one error
# A definition that fails to model is still known by name: the definitions that refer to it
# report nothing more, and the rules that need its details skip it. Every kind of the base
# project is referred to by another (the destination by an approval), so each case below
# would cascade if it were forgotten.

def _base(rel: str) -> str:
    import textwrap

    from validate_helpers import BASE
    return textwrap.dedent(BASE[rel]).lstrip("\n")


ORDERS, CUSTOMER = "definitions/contracts/orders.yaml", "definitions/identity/customer.yaml"
SPEND, BIG = "definitions/attributes/spend.yaml", "definitions/attributes/big_spender.yaml"
VIP, MARKETING, ESP = "definitions/segments/vip.yaml", "definitions/consent/marketing.yaml", "definitions/destinations/esp.yaml"
APPROVAL = {"definitions/governance/approvals.yaml":
            "kind: approvals\napprovals:\n  - {destination: esp, version: 1.0.0, hash: x, approved_by: [a@b.c]}\n"}

BROKEN_ONE_WAY = {
    # kind: (a bad value, a missing required key, an unknown key), each one mistake
    "contract": [(ORDERS, "{type: timestamp}", "{type: money}", "CDP108"),
                 (ORDERS, "relation: raw.orders\n", "", "CDP102"),
                 (ORDERS, "event_time:", "colour: red\nevent_time:", "CDP101")],
    "contract name": [(ORDERS, "name: orders", "name: Orders", "CDP104")],
    "identity": [(CUSTOMER, "normalize: email", "normalize: emial", "CDP103"),
                 (CUSTOMER, "version: 1.0.0\n", "", "CDP102"),
                 (CUSTOMER, "sources:", "colour: red\nsources:", "CDP101")],
    "aggregate attribute": [(SPEND, "version: 1.0.0", "version: 1.0", "CDP105"),
                            (SPEND, "source: orders\n", "", "CDP102"),
                            (SPEND, "where:", "colour: red\nwhere:", "CDP101")],
    "expression attribute": [(BIG, "version: 1.0.0", "version: '1'", "CDP105"),
                             (BIG, "type: boolean\n", "", "CDP102"),
                             (BIG, "expression:", "expresion:", "CDP101")],
    "segment": [(VIP, "purposes:", "expected_size: {min: -1}\npurposes:", "CDP103"),
                (VIP, "version: 1.0.0\n", "", "CDP102"),
                (VIP, "where:", "colour: red\nwhere:", "CDP101")],
    "consent": [(MARKETING, "channels: [email]", "channels: [emial]", "CDP103"),
                (MARKETING, "granted_field: granted\n", "", "CDP102"),
                (MARKETING, "purposes:", "colour: red\npurposes:", "CDP101")],
    "destination": [(ESP, "channel: email", "channel: emial", "CDP103"),
                    (ESP, "channel: email\n", "", "CDP102"),
                    (ESP, "syncs:", "colour: red\nsyncs:", "CDP101")],
}
CASES = [(f"{kind}-{code}", rel, old, new, code) for kind, cases in BROKEN_ONE_WAY.items()
         for rel, old, new, code in cases]


@pytest.mark.parametrize("label,rel,old,new,code", CASES, ids=[c[0] for c in CASES])
def test_one_broken_definition_gives_one_error(tmp_path, label, rel, old, new, code):
    text = _base(rel)
    assert old in text
    diagnostics = check(tmp_path, {**APPROVAL, rel: text.replace(old, new, 1)})
    assert [d.code for d in diagnostics] == [code], "\n".join(d.render() for d in diagnostics)
    assert str(diagnostics[0].location).startswith(rel)
    assert diagnostics[0].hint


def test_a_broken_definition_still_hides_nothing_else(tmp_path):
    """References to names that no definition, broken or not, could be are still reported."""
    text = _base(ORDERS).replace("{type: timestamp}", "{type: money}")
    files = {ORDERS: text, SPEND: _base(SPEND).replace("source: orders", "source: orderz")}
    assert sorted(d.code for d in check(tmp_path, files)) == ["CDP108", "CDP201"]


def test_missing_key_lists_the_allowed_values(tmp_path):
    files = {"definitions/destinations/esp.yaml": "kind: destination\nname: esp\nversion: 1.0.0\n"}
    d = only(check(tmp_path, files), "CDP102", "destinations/esp.yaml:1:1", "missing required key `channel`")
    assert d.hint == "add `channel:` (one of `email`, `sms`, `ads`, `push`, `webhook`, `warehouse`)"


def test_missing_key_points_at_the_nested_mapping_that_lacks_it(tmp_path):
    files = {"definitions/destinations/esp.yaml": "kind: destination\nname: esp\nversion: 1.0.0\nchannel: email\n"
                                                  "syncs:\n  - segment: vip\n    cadence: daily\n"}
    d = only(check(tmp_path, files), "CDP102", "destinations/esp.yaml:6:5", "missing required key `purpose` in `syncs.0`")
    assert "a purpose that a consent declares" in d.hint
    d = only(check(tmp_path, contract("fields:\n  id:\n    required: true\n")), "CDP102", "contracts/extra.yaml:6:3",
             "missing required key `type` in `fields.id`")
    assert "integer" in d.hint and "timestamp" in d.hint


def test_missing_key_of_a_model_with_a_form(tmp_path):
    d = only(check(tmp_path, {"definitions/contracts/extra.yaml": "kind: contract\nname: extra\nversion: 1.0.0\n" + FIELDS}),
             "CDP102", "contracts/extra.yaml:1:1", "missing required key `relation`")
    assert d.hint == "add `relation:` (`schema.table`, e.g. `raw.orders`)"


def test_unknown_key_without_a_close_one_lists_the_keys(tmp_path):
    d = only(check(tmp_path, contract("colour: red\n" + FIELDS)), "CDP101", "contracts/extra.yaml:5:1", "unknown key `colour`")
    assert d.hint.startswith("remove it; the keys here: `kind`, `name`") and "`primary_key`" in d.hint


def test_did_you_mean_prefers_the_shared_beginning(tmp_path):
    d = only(check(tmp_path, contract("fields:\n  id: {type: int}\n")), "CDP108", "contracts/extra.yaml:6:14")
    assert d.hint == "did you mean `integer`?"
    d = only(check(tmp_path, contract("fields:\n  id: {type: varchar}\n")), "CDP108", "contracts/extra.yaml:6:14")
    assert d.hint == "did you mean `string`?"
