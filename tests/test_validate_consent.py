"""Consent rules: the source is an identity source with the fields it names, of the right
types; purposes are unique across consents; suppression reads boolean attributes."""

from __future__ import annotations

import textwrap

from validate_helpers import BASE, check, find, make_project, only

BASE_ORDERS = textwrap.dedent(BASE["definitions/contracts/orders.yaml"])
BASE_CONSENTS = textwrap.dedent(BASE["definitions/contracts/consents.yaml"])

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


# --------------------------------------------------------------------------- evidence per purpose (reference.md §2.6)

def evidence(*sources: str, log: bool = True, extra: str = "") -> dict:
    """A consent whose email_marketing lists `sources` (one flow mapping each, from line 12 when
    `log`, else from line 8); ads_marketing comes from the log, or from orders without it."""
    head = "kind: consent\nname: marketing\nversion: 1.0.0\n"
    if log:
        head += "source: consents\npurpose_field: purpose\ngranted_field: granted\ntime_field: recorded_at\n"
    ads = "  ads_marketing: {channels: [ads]}\n" if log else \
        "  ads_marketing:\n    channels: [ads]\n    sources: [{source: orders, where: \"status = 'paid'\", granted: true}]\n"
    lines = "".join(f"      - {s}\n" for s in sources)
    return {CONSENT: head + "purposes:\n  email_marketing:\n    channels: [email]\n    sources:\n" + lines + ads + extra}


def test_evidence_from_a_snapshot_and_a_constant_grant_validates(tmp_path):
    assert check(tmp_path, evidence("{source: orders, granted: false, where: \"status = 'refunded'\"}",
                                    "{source: consents, granted_field: granted}", log=False)) == []


def test_evidence_source_must_be_a_contract(tmp_path):
    only(check(tmp_path, evidence("{source: order, granted: true}")), "CDP201", "consent/marketing.yaml:12:18",
         "unknown contract `order`")


def test_evidence_source_must_be_an_identity_source(tmp_path):
    log = ("kind: contract\nname: optins\nversion: 1.0.0\nrelation: raw.optins\nprimary_key: [id]\nevent_time: at\n"
           "fields:\n  id: {type: string}\n  ok: {type: boolean}\n  at: {type: timestamp}\n")
    only(check(tmp_path, {"definitions/contracts/optins.yaml": log, **evidence("{source: optins, granted_field: ok}")}),
         "CDP208", "consent/marketing.yaml:12:18", "contract `optins` is not an identity source")


def test_granted_field_must_exist(tmp_path):
    d = only(check(tmp_path, evidence("{source: consents, granted_field: grantd}")), "CDP202",
             "consent/marketing.yaml:12:43", "granted_field `grantd` is not a field of contract `consents`")
    assert d.hint == "did you mean `granted`?"


def test_evidence_granted_field_must_be_boolean(tmp_path):
    only(check(tmp_path, evidence("{source: orders, granted_field: status}")), "CDP215",
         "consent/marketing.yaml:12:41", "granted_field `status` is a string field; it must be boolean")


def test_evidence_time_field_must_exist_and_be_a_time(tmp_path):
    only(check(tmp_path, evidence("{source: orders, granted: true, time_field: amount}")), "CDP215",
         "consent/marketing.yaml:12:53", "time_field `amount` is a decimal(10,2) field; it must be a date or timestamp")
    only(check(tmp_path, evidence("{source: orders, granted: true, time_field: paid_at}")), "CDP202",
         "consent/marketing.yaml:12:53", "time_field `paid_at` is not a field of contract `orders`")


def test_evidence_time_defaults_to_event_time_or_is_an_error(tmp_path):
    no_time = BASE_ORDERS.replace("event_time: ordered_at\n", "")
    diagnostics = check(tmp_path, {"definitions/contracts/orders.yaml": no_time,
                                   **evidence("{source: orders, granted: true}")})
    d = find(diagnostics, "CDP210", "consent/marketing.yaml:12:18")  # best_email's most_recent has its own
    assert "no `time_field`, and contract `orders` sets no `event_time`" in d.message and "time_field" in d.hint


def test_both_granted_field_and_granted_is_an_error(tmp_path):
    only(check(tmp_path, evidence("{source: consents, granted_field: granted, granted: true}")), "CDP103",
         "consent/marketing.yaml:12:52", "give `granted_field` or `granted`, not both")


def test_neither_granted_field_nor_granted_is_an_error(tmp_path):
    only(check(tmp_path, evidence("{source: consents}")), "CDP102", "consent/marketing.yaml:12:9",
         "evidence from `consents` gives no grant")


def test_evidence_keys_are_checked_for_typos(tmp_path):
    d = find(check(tmp_path, evidence("{source: consents, granted_field: granted, time_feld: recorded_at}")),
             "CDP101", "consent/marketing.yaml:12:52")
    assert "unknown key `time_feld`" in d.message and d.hint == "did you mean `time_field`?"


def test_where_names_fields_of_its_source(tmp_path):
    d = only(check(tmp_path, evidence("{source: orders, granted: false, where: \"stats = 'refunded'\"}")), "CDP303",
             "consent/marketing.yaml:12:50", "`where`: `stats` is not a field of contract `orders`")
    assert d.hint == "did you mean `status`?"


def test_where_is_checked_against_the_allow_list(tmp_path):
    only(check(tmp_path, evidence("{source: orders, granted: false, where: \"count(*) > 1\"}")), "CDP306",
         "consent/marketing.yaml:12:49", "aggregate `COUNT(*)` is not allowed here")
    only(check(tmp_path, evidence("{source: orders, granted: false, where: \"random() > 0.5\"}")), "CDP308",
         "consent/marketing.yaml:12:50", "`random(...)` is random")


def test_where_must_be_a_condition(tmp_path):
    only(check(tmp_path, evidence("{source: orders, granted: false, where: status}")), "CDP222",
         "consent/marketing.yaml:12:49", "`where` `status` is not a condition: it gives a string")
    only(check(tmp_path, evidence("{source: orders, granted: false, where: \"amount * 2\"}")), "CDP222",
         "consent/marketing.yaml:12:49", "it gives a number")
    for fine in ("granted", "\"not granted and recorded_at < current_date\"", "\"coalesce(granted, false)\"",
                 "\"case when purpose = 'x' then granted end\""):
        assert check(tmp_path, evidence(f"{{source: consents, granted: false, where: {fine}}}")) == [], fine


def test_where_reads_into_lineage(tmp_path):
    from compiler.project import load_project
    make_project(tmp_path, evidence("{source: orders, granted: false, where: \"status = 'refunded'\"}",
                                    "{source: consents, granted_field: granted}", log=False))
    graph = load_project(tmp_path).lineage.graph
    ups = {u for u in graph.predecessors("consent:marketing") if graph.edges[u, "consent:marketing"]["kind"] == "lineage"}
    # the grant field, each source's time (event_time by default) and what `where` names
    assert ups == {"field:orders.status", "field:orders.ordered_at", "field:consents.granted",
                   "field:consents.recorded_at"}
    sources = {u for u in graph.predecessors("consent:marketing") if graph.edges[u, "consent:marketing"]["kind"] == "source"}
    assert sources == {"contract:orders", "contract:consents"}


def test_a_purpose_without_evidence_is_an_error(tmp_path):
    text = evidence("{source: consents, granted_field: granted}", log=False)[CONSENT]
    text = text.replace("  ads_marketing:\n    channels: [ads]\n    sources: [{source: orders, where: \"status = 'paid'\", "
                        "granted: true}]\n", "  ads_marketing: {channels: [ads]}\n")
    only(check(tmp_path, {CONSENT: text}), "CDP102", "consent/marketing.yaml:9:3",
         "purpose `ads_marketing` has no evidence")


def test_the_event_log_keys_go_together(tmp_path):
    text = evidence("{source: consents, granted_field: granted}")[CONSENT].replace("purpose_field: purpose\n", "")
    only(check(tmp_path, {CONSENT: text}), "CDP102", "consent/marketing.yaml:4:1",
         "the consent's event log needs `source`, `purpose_field`, `granted_field` together",
         "`purpose_field` not")
    text = evidence("{source: consents, granted_field: granted}", log=False)[CONSENT] + "time_field: recorded_at\n"
    only(check(tmp_path, {CONSENT: text}), "CDP102", "consent/marketing.yaml:12:1", "`time_field` is given")


def test_the_event_log_time_defaults_to_event_time(tmp_path):
    text = evidence("{source: consents, granted_field: granted}")[CONSENT].replace("time_field: recorded_at\n", "")
    assert check(tmp_path, {CONSENT: text}) == []
    no_time = BASE_CONSENTS.replace("event_time: recorded_at\n", "")
    diagnostics = check(tmp_path, {CONSENT: text, "definitions/contracts/consents.yaml": no_time})
    assert "evidence from `consents` needs a time" in find(diagnostics, "CDP210", "consent/marketing.yaml:4:9").message
    assert find(diagnostics, "CDP210", "consent/marketing.yaml:11:18")  # and the purpose's own source
