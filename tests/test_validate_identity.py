"""Identity rules: one identity; unique identifier types; sources that are keyed contracts
whose mapped fields exist; blocklists of declared identifier types."""

from __future__ import annotations

from validate_helpers import check, find, only

IDENTITY = "definitions/identity/customer.yaml"


def identity(body: str) -> dict:
    """identity/customer.yaml: the header is lines 1-3, `body` starts on line 4."""
    return {IDENTITY: "kind: identity\nname: customer\nversion: 1.0.0\n" + body}


SOURCES = "sources:\n  orders: {email: email}\n  consents: {email: email}\n"


def test_at_most_one_identity(tmp_path):
    second = "kind: identity\nname: zz_second\nversion: 1.0.0\nidentifiers: [{type: email}]\nsources: {orders: {email: email}}\n"
    only(check(tmp_path, {"definitions/identity/second.yaml": second}),
         "CDP209", "identity/second.yaml:2:7", "second identity `zz_second` (the project already has `customer`)")


def test_identifier_types_are_unique(tmp_path):
    only(check(tmp_path, identity("identifiers:\n  - {type: email}\n  - {type: email}\n" + SOURCES)),
         "CDP217", "identity/customer.yaml:6:12", "identifier type `email` is listed twice")


def test_source_must_be_a_contract(tmp_path):
    d = only(check(tmp_path, identity("identifiers: [{type: email}]\n" + SOURCES + "  orderz: {email: email}\n")),
             "CDP201", "identity/customer.yaml:8:3", "unknown contract `orderz`")
    assert d.hint == "did you mean `orders`?"


def test_source_needs_a_primary_key(tmp_path):
    keyless = "kind: contract\nname: visits\nversion: 1.0.0\nrelation: raw.visits\nfields:\n  email: {type: string}\n"
    only(check(tmp_path, {"definitions/contracts/visits.yaml": keyless,
                          **identity("identifiers: [{type: email}]\n" + SOURCES + "  visits: {email: email}\n")}),
         "CDP207", "identity/customer.yaml:8:3", "identity source `visits` has no primary_key")


def test_mapped_identifier_type_must_be_declared(tmp_path):
    d = only(check(tmp_path, identity("identifiers: [{type: email}]\nsources:\n  orders: {emial: email}\n"
                                      "  consents: {email: email}\n")),
             "CDP206", "identity/customer.yaml:6:12", "unknown identifier type `emial`")
    assert d.hint == "did you mean `email`?"


def test_mapped_field_must_exist(tmp_path):
    d = only(check(tmp_path, identity("identifiers: [{type: email}]\nsources:\n  orders: {email: mail}\n"
                                      "  consents: {email: email}\n")),
             "CDP202", "identity/customer.yaml:6:19", "field `mail` is not a field of contract `orders`")
    assert d.hint == "did you mean `email`?"


def test_blocklist_keys_are_identifier_types(tmp_path):
    only(check(tmp_path, identity("identifiers: [{type: email}]\n" + SOURCES + "blocklist: {phone: ['1']}\n")),
         "CDP206", "identity/customer.yaml:8:13", "blocklist names unknown identifier type `phone`")


def test_every_identity_problem_at_once(tmp_path):
    diagnostics = check(tmp_path, identity("identifiers: [{type: email}, {type: email}]\nsources:\n"
                                           "  orders: {phone: phone}\n  nope: {email: email}\n"))
    assert sorted(d.code for d in diagnostics) == ["CDP201", "CDP202", "CDP206", "CDP208", "CDP208", "CDP217"]
    # consents left the identity, so the consent that reads it is told why its rows belong to no profile
    find(diagnostics, "CDP208", "consent/marketing.yaml:4:9")


def test_blocklist_value_that_normalizes_to_nothing_is_a_warning(tmp_path):
    body = "identifiers: [{type: email, normalize: email}]\n" + SOURCES + "blocklist: {email: [test@example.com, nobody]}\n"
    d = only(check(tmp_path, identity(body)), "CDP103", "identity/customer.yaml:8:39",
             "blocklist value 'nobody' is not a valid `email` once normalized (email), so it blocks nothing")
    assert not d.is_error
