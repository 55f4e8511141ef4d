"""The rule tables themselves: contract compatibility, version rules per kind, bump arithmetic."""

from __future__ import annotations

import pytest

from compiler.check.compat import classify_contract
from compiler.check.rules import MAJOR, MINOR, compare, is_widening
from compiler.check.versions import bump_of, classify, next_version, required_bump


@pytest.mark.parametrize("old,new,widening", [
    ("integer", "bigint", True), ("integer", "double", True), ("bigint", "double", True),
    ("bigint", "integer", False), ("double", "bigint", False), ("integer", "string", False),
    ("decimal(10,2)", "decimal(12,2)", True), ("decimal(10,2)", "decimal(12,4)", True),
    ("decimal(10,2)", "decimal(11,3)", True),  # one more integer digit kept: 8 -> 8
    ("decimal(10,2)", "decimal(12,1)", False),  # loses a fraction digit
    ("decimal(10,2)", "decimal(11,4)", False),  # 8 integer digits -> 7
    ("decimal(10,2)", "decimal(10,2)", False), ("decimal(12,2)", "decimal(10,2)", False),
    ("integer", "decimal(20,0)", False), ("decimal(10,2)", "double", False), ("date", "timestamp", False),
])
def test_widening(old, new, widening):
    assert is_widening(old, new) is widening


def test_compare_numbers_dates_and_text():
    assert compare(1, 2) == -1 and compare("1.50", 1.5) == 0 and compare(10, "9") == 1
    assert compare("2026-01-02", "2026-01-01") == 1
    assert compare("2026-01-01T10:00:00", "2026-01-01 09:00:00") == 1
    assert compare(True, 1) is None and compare(1, "abc") is None


def contract(**fields) -> dict:
    return {"kind": "contract", "name": "c", "relation": "raw.c", "primary_key": ["id"], "event_time": None,
            "freshness": None, "retention": None,
            "fields": [["id", {"type": "string", "required": True}], *[[k, v] for k, v in fields.items()]]}


def field(**keys) -> dict:
    return {"type": "string", "required": False, "unique": False, "accepted_values": None, "min": None, "max": None,
            "pattern": None, "pii": False, "phi": False, "classification": None, **keys}


def rules(old: dict, new: dict) -> list[tuple[str, str]]:
    return [(f.rule.name, f.level) for f in classify_contract(old, new)]


@pytest.mark.parametrize("before,after,expected", [
    (field(), None, [("field-removed", MAJOR)]),
    (None, field(), [("field-added", MINOR)]),
    (None, field(required=True), [("field-added-required", MAJOR)]),
    (field(type="integer"), field(type="bigint"), [("type-widened", MINOR)]),
    (field(type="bigint"), field(type="integer"), [("type-narrowed", MAJOR)]),
    (field(required=False), field(required=True), [("became-required", MAJOR)]),
    (field(required=True), field(required=False), [("no-longer-required", MINOR)]),
    (field(unique=False), field(unique=True), [("became-unique", MAJOR)]),
    (field(accepted_values=["a", "b"]), field(accepted_values=["a"]), [("accepted-values-narrowed", MAJOR)]),
    (field(accepted_values=["a"]), field(accepted_values=["a", "b"]), [("accepted-values-widened", MINOR)]),
    (field(accepted_values=["a", "b"]), field(accepted_values=["a", "c"]),
     [("accepted-values-narrowed", MAJOR), ("accepted-values-widened", MINOR)]),
    (field(), field(accepted_values=["a"]), [("accepted-values-narrowed", MAJOR)]),
    (field(accepted_values=["a"]), field(), [("accepted-values-widened", MINOR)]),
    (field(type="integer", min=0), field(type="integer", min=1), [("min-tightened", MAJOR)]),
    (field(type="integer", min=1), field(type="integer", min=0), [("min-loosened", MINOR)]),
    (field(type="integer"), field(type="integer", min=0), [("min-tightened", MAJOR)]),
    (field(type="integer", max=10), field(type="integer", max=9), [("max-tightened", MAJOR)]),
    (field(type="integer", max=10), field(type="integer"), [("max-loosened", MINOR)]),
    (field(pattern="^a"), field(pattern="^ab"), [("pattern-tightened", MAJOR)]),
    (field(), field(pattern="^a"), [("pattern-tightened", MAJOR)]),
    (field(pattern="^a"), field(), [("pattern-removed", MINOR)]),
    (field(pii=False), field(pii=True), [("privacy-changed", MINOR)]),
])
def test_field_rules(before, after, expected):
    old = contract(**({"x": before} if before else {}))
    new = contract(**({"x": after} if after else {}))
    assert rules(old, new) == expected


def test_contract_level_rules():
    base = contract(x=field())
    assert rules(base, {**base, "relation": "raw.d"}) == [("relation-changed", MAJOR)]
    assert rules(base, {**base, "primary_key": ["id", "x"]}) == [("primary-key-changed", MAJOR)]
    assert rules(base, {**base, "freshness": {"warn_after": "1h", "error_after": None}}) == [("freshness-changed", MINOR)]
    reordered = {**base, "fields": [base["fields"][1], base["fields"][0]]}
    assert rules(base, reordered) == [("field-order", MINOR)]
    assert rules(base, base) == []


@pytest.mark.parametrize("old,new,expected", [
    (None, "730d", [("retention-shortened", MAJOR)]),  # added: rows older than it expire
    ("730d", "365d", [("retention-shortened", MAJOR)]),
    ("730d", "17519h", [("retention-shortened", MAJOR)]),  # one hour shorter, another unit
    ("365d", "730d", [("retention-lengthened", MINOR)]),
    ("730d", None, [("retention-lengthened", MINOR)]),  # removed: nothing expires
    ("1d", "24h", [("retention-lengthened", MINOR)]),  # the same age, written otherwise
])
def test_retention_rules(old, new, expected):
    """Shortening (or adding) a retention removes rows that were staged: MAJOR; the rest MINOR."""
    base = {**contract(x=field()), "event_time": "x", "retention": old}
    assert rules(base, {**base, "retention": new}) == expected


@pytest.mark.parametrize("kind,old,new,expected", [
    ("access", {"role": "a"}, {"role": "b"}, [("role-changed", MAJOR)]),
    ("access", {"see": {"public": "clear", "internal": "clear", "confidential": "hashed", "restricted": "hidden"}},
     {"see": {"public": "clear", "internal": "clear", "confidential": "hidden", "restricted": "hidden"}},
     [("access-narrowed", MAJOR)]),
    ("access", {"see": {"public": "clear", "internal": "clear", "confidential": "hashed", "restricted": "hidden"}},
     {"see": {"public": "clear", "internal": "clear", "confidential": "clear", "restricted": "hidden"}},
     [("access-widened", MINOR)]),
    ("access", {"see": {"public": "clear", "internal": "hashed", "confidential": "hashed", "restricted": "hidden"}},
     {"see": {"public": "hashed", "internal": "clear", "confidential": "hashed", "restricted": "hidden"}},
     [("access-narrowed", MAJOR), ("access-widened", MINOR)]),
    ("segment", {"where": "a = 1"}, {"where": "a = 2"}, [("where-changed", MAJOR)]),
    ("segment", {"where": "a = 1"}, {"where": None}, [("where-removed", MINOR)]),
    ("segment", {"exclude": []}, {"exclude": ["x"]}, [("exclude-added", MAJOR)]),
    ("segment", {"exclude": ["x"]}, {"exclude": []}, [("exclude-removed", MINOR)]),
    ("segment", {"include": []}, {"include": ["x"]}, [("include-narrowed", MAJOR)]),
    ("segment", {"include": ["x"]}, {"include": ["x", "y"]}, [("include-widened", MINOR)]),
    ("segment", {"include": ["x", "y"]}, {"include": ["x"]}, [("include-narrowed", MAJOR)]),
    ("segment", {"include": ["x"]}, {"include": []}, [("include-widened", MINOR)]),
    ("segment", {"purposes": ["p"]}, {"purposes": []}, [("purposes-removed", MAJOR)]),
    ("segment", {"purposes": []}, {"purposes": ["p"]}, [("purposes-added", MINOR)]),
    ("segment", {"expected_size": None}, {"expected_size": {"min": 1, "max": None}}, [("expected-size-changed", MINOR)]),
    ("attribute", {"type": "integer"}, {"type": "bigint"}, [("attribute-type-widened", MINOR)]),
    ("attribute", {"type": "integer"}, {"type": "string"}, [("attribute-type-changed", MAJOR)]),
    ("attribute", {"where": "a"}, {"where": "b"}, [("attribute-logic-changed", MAJOR)]),
    ("identity", {"blocklist": {}}, {"blocklist": {"email": ["x"]}}, [("identity-changed", MAJOR)]),
    ("consent", {"purposes": {"p": {"channels": ["email"]}}}, {"purposes": {"p": {"channels": ["email"]}, "q": {"channels": ["sms"]}}},
     [("purpose-added", MINOR)]),
    ("consent", {"purposes": {"p": {"channels": ["email", "sms"]}}}, {"purposes": {"p": {"channels": ["email"]}}},
     [("channels-removed", MAJOR)]),
    ("consent", {"suppress_when": []}, {"suppress_when": ["hold"]}, [("suppression-added", MAJOR)]),
    ("destination", {"fields": ["a"]}, {"fields": ["a", "b"]}, [("fields-added", MINOR)]),
    ("destination", {"fields": ["a", "b"]}, {"fields": ["b", "a"]}, [("fields-reordered", MINOR)]),
    ("destination", {"identifiers": ["email"]}, {"identifiers": []}, [("identifiers-removed", MAJOR)]),
    ("destination", {"syncs": [{"segment": "s", "purpose": "p", "mode": "mirror", "cadence": "daily"}]},
     {"syncs": [{"segment": "s", "purpose": "p", "mode": "append", "cadence": "hourly"}]},
     [("sync-mode-changed", MAJOR), ("sync-cadence-changed", MINOR)]),
    ("destination", {"syncs": []}, {"syncs": [{"segment": "s", "purpose": "p"}]}, [("sync-added", MINOR)]),
    ("destination", {"platform": "generic"}, {"platform": "meta_custom_audiences"}, [("delivery-changed", MAJOR)]),
    ("destination", {"unknown_future_key": 1}, {"unknown_future_key": 2}, [("other-change", MAJOR)]),
])
def test_version_rules(kind, old, new, expected):
    assert [(f.rule.name, f.level) for f in classify(kind, old, new)] == expected


def test_bump_arithmetic():
    assert bump_of("1.2.3", "2.0.0") == MAJOR and bump_of("1.2.3", "1.3.0") == MINOR
    assert bump_of("1.2.3", "1.2.4") == "patch" and bump_of("1.2.3", "1.2.3") == "none"
    assert bump_of("1.2.3", "1.2.2") == "backwards" and bump_of("2.0.0", "1.9.9") == "backwards"
    assert bump_of("1.9.0", "1.10.0") == MINOR  # numeric, not text, order
    assert next_version("1.2.3", MAJOR) == "2.0.0" and next_version("1.2.3", MINOR) == "1.3.0"
    assert required_bump([]) == "none"
