"""Consent rules: the source is an identity source with the fields it names, of the right
types; purposes are unique across consents; suppression reads boolean attributes."""

from __future__ import annotations

from validate_helpers import check, only

CONSENT = "definitions/consent/marketing.yaml"


def consent(source: str = "consents", purpose: str = "purpose", granted: str = "granted", time: str = "recorded_at",
            extra: str = "", name: str = "marketing", purposes: str = "  email_marketing: {channels: [email]}\n"
                                                              "  ads_marketing: {channels: [ads]}\n") -> dict:
    """source line 4, purpose_field 5, granted_field 6, time_field 7, purposes 8.., `extra` after them."""
    return {f"definitions/consent/{name}.yaml":
            f"kind: consent\nname: {name}\nversion: 1.0.0\nsource: {source}\npurpose_field: {purpose}\n"
            f"granted_field: {granted}\ntime_field: {time}\npurposes:\n{purposes}{extra}"}


def test_source_must_be_a_contract(tmp_path):
    only(check(tmp_path, consent(source="consent")), "CDP201", "consent/marketing.yaml:4:9", "unknown contract `consent`")


def test_source_must_be_an_identity_source(tmp_path):
    log = ("kind: contract\nname: optins\nversion: 1.0.0\nrelation: raw.optins\nprimary_key: [id]\nfields:\n"
           "  id: {type: string}\n  purpose: {type: string}\n  granted: {type: boolean}\n  recorded_at: {type: timestamp}\n")
    only(check(tmp_path, {"definitions/contracts/optins.yaml": log, **consent(source="optins")}),
         "CDP208", "consent/marketing.yaml:4:9", "contract `optins` is not an identity source")


def test_purpose_field_must_exist(tmp_path):
    only(check(tmp_path, consent(purpose="purpos")), "CDP202", "consent/marketing.yaml:5:16",
         "purpose_field `purpos` is not a field of contract `consents`")


def test_granted_field_must_be_boolean(tmp_path):
    d = only(check(tmp_path, consent(granted="purpose")), "CDP215", "consent/marketing.yaml:6:16",
             "granted_field `purpose` is a string field; it must be boolean")
    assert d.hint == "did you mean `granted`?" or "granted" in d.hint


def test_time_field_must_be_a_date_or_timestamp(tmp_path):
    only(check(tmp_path, consent(time="email")), "CDP215", "consent/marketing.yaml:7:13",
         "time_field `email` is a string field; it must be a date or timestamp")


def test_purposes_are_unique_across_consents(tmp_path):
    other = consent(name="zz_more", purposes="  email_marketing: {channels: [email]}\n  push_marketing: {channels: [push]}\n")
    only(check(tmp_path, other), "CDP213", "consent/zz_more.yaml:9:3",
         "purpose `email_marketing` is already declared by consent `marketing`")


def test_suppress_when_names_attributes(tmp_path):
    d = only(check(tmp_path, consent(extra="suppress_when: [big_spendr]\n")), "CDP203", "consent/marketing.yaml:11:17",
             "`suppress_when` names unknown attribute `big_spendr`")
    assert d.hint == "did you mean `big_spender`?"


def test_suppress_when_attributes_are_boolean(tmp_path):
    only(check(tmp_path, consent(extra="suppress_when: [big_spender, spend]\n")), "CDP215", "consent/marketing.yaml:11:30",
         "`suppress_when` attribute `spend` is decimal(12,2), not boolean")
