"""Destination rules: what is sent exists and fits one table; every sync's segment and
purpose exist and allow the channel; nothing PHI-derived leaves; ads are hashed."""

from __future__ import annotations

from validate_helpers import check, find, only


def destination(channel: str = "email", identifiers: str = "[email]", fields: str = "[spend]",
                syncs: str = "  - {segment: vip, purpose: email_marketing}\n", extra: str = "") -> dict:
    """destinations/esp.yaml: channel line 4, identifiers 5, fields 6, `extra` 7.., then syncs."""
    return {"definitions/destinations/esp.yaml":
            f"kind: destination\nname: esp\nversion: 1.0.0\nchannel: {channel}\nidentifiers: {identifiers}\n"
            f"fields: {fields}\n{extra}syncs:\n{syncs}"}


def attribute(name: str, body: str, type_: str = "boolean") -> dict:
    return {f"definitions/attributes/{name}.yaml":
            f"kind: attribute\nname: {name}\nversion: 1.0.0\ntype: {type_}\n" + body}


FLAG = attribute("flagged", "source: orders\naggregate: bool_or(notes is not null)\n")


def test_identifiers_are_identity_types(tmp_path):
    d = only(check(tmp_path, destination(identifiers="[emial]")), "CDP206", "destinations/esp.yaml:5:15",
             "unknown identifier type `emial`")
    assert d.hint == "did you mean `email`?"


def test_fields_are_attributes(tmp_path):
    d = only(check(tmp_path, destination(fields="[spend, spnd]")), "CDP203", "destinations/esp.yaml:6:17",
             "`fields` names unknown attribute `spnd`")
    assert d.hint == "did you mean `spend`?"


def test_column_collision_between_identifier_and_field(tmp_path):
    files = {**attribute("email", "pick: {field: email, from: [orders]}\n", "string"), **destination(fields="[email]")}
    only(check(tmp_path, files), "CDP214", "destinations/esp.yaml:6:10", "column `email` would appear twice")


def test_field_sent_twice(tmp_path):
    only(check(tmp_path, destination(fields="[spend, spend]")), "CDP214", "destinations/esp.yaml:6:17",
         "column `spend` would appear twice")


def test_sync_segment_exists(tmp_path):
    d = only(check(tmp_path, destination(syncs="  - {segment: vp, purpose: email_marketing}\n")),
             "CDP204", "destinations/esp.yaml:8:15", "unknown segment `vp`")
    assert d.hint == "did you mean `vip`?"


def test_sync_purpose_exists(tmp_path):
    only(check(tmp_path, destination(syncs="  - {segment: vip, purpose: email}\n")),
         "CDP205", "destinations/esp.yaml:8:29", "purpose `email` is not declared by any consent")


def test_purpose_lists_the_channel(tmp_path):
    only(check(tmp_path, destination(syncs="  - {segment: vip, purpose: ads_marketing}\n")),
         "CDP401", "destinations/esp.yaml:8:29", "purpose `ads_marketing` covers channels ads, not `email`")


def test_purpose_is_allowed_by_the_segment(tmp_path):
    files = {"definitions/segments/vip.yaml": "kind: segment\nname: vip\nversion: 1.0.0\nwhere: big_spender\n"
                                              "purposes: [ads_marketing]\n"}
    d = only(check(tmp_path, files), "CDP402", "destinations/esp.yaml:8:29",
             "segment `vip` may not be activated for `email_marketing` (its purposes: ads_marketing)")
    assert "purposes" in d.hint


def test_one_sync_per_segment(tmp_path):
    syncs = "  - {segment: vip, purpose: email_marketing}\n  - {segment: vip, purpose: email_marketing}\n"
    only(check(tmp_path, destination(syncs=syncs)), "CDP217", "destinations/esp.yaml:9:15",
         "segment `vip` is synced twice to `esp`")


def test_phi_derived_field_is_never_sent(tmp_path):
    d = only(check(tmp_path, {**FLAG, **destination(fields="[spend, flagged]")}), "CDP403", "destinations/esp.yaml:6:17",
             "field `flagged` derives from PHI and would be sent to `esp`: flagged <- orders.notes")
    assert "never leave" in d.hint


def test_phi_lineage_through_expressions_names_the_path(tmp_path):
    files = {**FLAG, **attribute("risky", "expression: flagged or big_spender\n"),
             **destination(fields="[risky]")}
    only(check(tmp_path, files), "CDP403", "destinations/esp.yaml:6:10", "risky <- flagged <- orders.notes")


def test_phi_in_a_where_counts_too(tmp_path):
    files = {**attribute("paid_total", "source: orders\naggregate: sum(amount)\nwhere: notes is null\n", "double"),
             **destination(fields="[paid_total]")}
    only(check(tmp_path, files), "CDP403", "destinations/esp.yaml:6:10", "paid_total <- orders.notes")


def test_count_star_names_no_field_and_belonging_is_not_lineage(tmp_path):
    # an aggregate over a contract with a PHI field does not derive from it unless it names it
    files = {**attribute("orders_n", "source: orders\naggregate: count(*)\n", "integer"), **destination(fields="[orders_n]")}
    assert check(tmp_path, files) == []


def test_phi_defined_segment_cannot_be_synced(tmp_path):
    files = {**FLAG, "definitions/segments/vip.yaml": "kind: segment\nname: vip\nversion: 1.0.0\nwhere: flagged\n"
                                                      "purposes: [email_marketing]\n"}
    d = only(check(tmp_path, files), "CDP403", "destinations/esp.yaml:8:15", "segment `vip` is defined from PHI")
    assert d.is_error


def test_phi_reached_through_an_excluded_segment_cannot_be_synced(tmp_path):
    # membership of vip now says "not flagged": it discloses the PHI just the same
    files = {**FLAG,
             "definitions/segments/flagged_people.yaml": "kind: segment\nname: flagged_people\nversion: 1.0.0\n"
                                                         "where: flagged\npurposes: [email_marketing]\n",
             "definitions/segments/vip.yaml": "kind: segment\nname: vip\nversion: 1.0.0\nwhere: big_spender\n"
                                              "exclude: [flagged_people]\npurposes: [email_marketing]\n"}
    only(check(tmp_path, files), "CDP403", "destinations/esp.yaml:8:15", "vip <- flagged_people <- flagged <- orders.notes")


def test_phi_field_cannot_be_an_identifier(tmp_path):
    identity = ("kind: identity\nname: customer\nversion: 1.0.0\nidentifiers:\n  - {type: email, normalize: email}\n"
                "  - {type: care_note}\nsources:\n  orders: {email: email, care_note: notes}\n  consents: {email: email}\n")
    diagnostics = check(tmp_path, {"definitions/identity/customer.yaml": identity})
    d = find(diagnostics, "CDP405", "identity/customer.yaml:8:37")
    assert "PHI field `orders.notes` cannot be the identifier `care_note`" in d.message and d.is_error


def test_phi_identifier_sent_is_refused_even_so(tmp_path):
    identity = ("kind: identity\nname: customer\nversion: 1.0.0\nidentifiers:\n  - {type: email, normalize: email}\n"
                "  - {type: care_note}\nsources:\n  orders: {email: email, care_note: notes}\n  consents: {email: email}\n")
    files = {"definitions/identity/customer.yaml": identity, **destination(identifiers="[email, care_note]")}
    d = find(check(tmp_path, files), "CDP403", "destinations/esp.yaml:5:22")
    assert "identifier `care_note` carries PHI field `orders.notes`" in d.message


def test_phi_primary_key_of_an_identity_source_is_refused(tmp_path):
    contract = ("kind: contract\nname: consents\nversion: 1.0.0\nrelation: raw.consents\nprimary_key: [consent_id]\n"
                "event_time: recorded_at\nfields:\n  consent_id: {type: string, phi: true}\n  email: {type: string, pii: true}\n"
                "  purpose: {type: string}\n  granted: {type: boolean}\n  recorded_at: {type: timestamp}\n")
    d = only(check(tmp_path, {"definitions/contracts/consents.yaml": contract}), "CDP405",
             "contracts/consents.yaml:5:15", "PHI field `consent_id` is in the primary key of identity source `consents`")
    assert d.hint


def test_phi_suppression_in_consent_is_fine(tmp_path):
    consent = ("kind: consent\nname: marketing\nversion: 1.0.0\nsource: consents\npurpose_field: purpose\n"
               "granted_field: granted\ntime_field: recorded_at\npurposes:\n  email_marketing: {channels: [email]}\n"
               "  ads_marketing: {channels: [ads]}\nsuppress_when: [flagged]\n")
    assert check(tmp_path, {**FLAG, "definitions/consent/marketing.yaml": consent}) == []


ADS_SYNC = "  - {segment: vip, purpose: ads_marketing}\n"


def test_ads_identifiers_must_be_hashed(tmp_path):
    d = only(check(tmp_path, destination(channel="ads", fields="[]", syncs=ADS_SYNC)), "CDP404",
             "destinations/esp.yaml:4:10", "ads destination `esp` would send in clear text: identifier `email`")
    assert d.hint == "set `hash: sha256`"


def test_ads_pii_derived_field_must_be_hashed(tmp_path):
    files = destination(channel="ads", identifiers="[]", fields="[best_email]", syncs=ADS_SYNC, extra="hash: none\n")
    only(check(tmp_path, files), "CDP404", "destinations/esp.yaml:7:7",
         "PII-derived field `best_email` (best_email <- consents.email")


def test_ads_with_nothing_identifying_needs_no_hash(tmp_path):
    assert check(tmp_path, destination(channel="ads", identifiers="[]", fields="[spend]", syncs=ADS_SYNC)) == []


def test_ads_hashed_is_fine(tmp_path):
    files = destination(channel="ads", fields="[best_email]", syncs=ADS_SYNC, extra="hash: sha256\n")
    assert check(tmp_path, files) == []


def test_ads_hashed_pii_field_that_is_no_identifier_pick_warns(tmp_path):
    """reference.md §2.7: it is hashed as it is, which the platform may not match (CDP406, a warning)."""
    files = {**attribute("email_upper", "expression: upper(best_email)\n", "string"),
             **destination(channel="ads", identifiers="[]", fields="[email_upper, best_email]", syncs=ADS_SYNC,
                           extra="hash: sha256\n")}
    d = only(check(tmp_path, files), "CDP406", "destinations/esp.yaml:6:10",
             "PII-derived field `email_upper` is sent to `esp` hashed as it is (email_upper <- best_email <- ",
             "the platform may not match it")
    assert not d.is_error and "identifier" in d.hint


def test_ads_pick_mixing_identifier_and_other_fields_warns(tmp_path):
    """Normalized only when every source's picked field is mapped to the same identifier type."""
    files = {**attribute("contact", "pick: {field: {orders: email, consents: purpose}, from: [orders, consents]}\n",
                         "string"),
             **destination(channel="ads", identifiers="[]", fields="[contact]", syncs=ADS_SYNC, extra="hash: sha256\n")}
    only(check(tmp_path, files), "CDP406", "destinations/esp.yaml:6:10", "PII-derived field `contact`")


def test_ads_pick_of_identifier_values_must_be_hashed_even_without_pii(tmp_path):
    identity = ("kind: identity\nname: customer\nversion: 1.0.0\nidentifiers:\n  - {type: email, normalize: email}\n"
                "  - {type: order_ref, normalize: upper_trim}\nsources:\n  orders: {email: email, order_ref: order_id}\n"
                "  consents: {email: email}\n")
    files = {"definitions/identity/customer.yaml": identity,
             **attribute("last_order", "pick: {field: order_id, from: [orders]}\n", "string"),
             **destination(channel="ads", identifiers="[]", fields="[last_order]", syncs=ADS_SYNC)}
    only(check(tmp_path, files), "CDP404", "destinations/esp.yaml:4:10",
         "would send in clear text: field `last_order` (a pick of identifier `order_ref` values)")


def test_all_destination_problems_at_once(tmp_path):
    files = {**FLAG, **destination(channel="ads", identifiers="[email, fax]", fields="[flagged, nope]",
                                   syncs="  - {segment: vip, purpose: email_marketing}\n  - {segment: gone, purpose: x}\n")}
    diagnostics = check(tmp_path, files)
    assert [d.code for d in diagnostics] == ["CDP404", "CDP206", "CDP403", "CDP203", "CDP401", "CDP204", "CDP205"]
    find(diagnostics, "CDP205", "destinations/esp.yaml:9:30")


def test_a_purpose_granted_from_phi_cannot_be_synced(tmp_path):
    # a grant decides who is in the audience: read from PHI, membership discloses it
    contract = ("kind: contract\nname: consents\nversion: 1.0.0\nrelation: raw.consents\nprimary_key: [consent_id]\n"
                "event_time: recorded_at\nfields:\n  consent_id: {type: string}\n  email: {type: string, pii: true}\n"
                "  purpose: {type: string}\n  granted: {type: boolean, phi: true}\n  recorded_at: {type: timestamp}\n")
    d = only(check(tmp_path, {"definitions/contracts/consents.yaml": contract}), "CDP403", "destinations/esp.yaml:8:29",
             "purpose `email_marketing` is granted from PHI field `consents.granted`")
    assert "suppress_when" in d.hint


# --------------------------------------------------------------------------- upload files (CDP409)

META = "hash: sha256\nplatform: meta_custom_audiences\n"
GOOGLE = "hash: sha256\nplatform: google_customer_match\n"


def test_meta_takes_email_phone_picks_of_them_and_one_number(tmp_path):
    files = destination(channel="ads", fields="[spend, best_email]", syncs=ADS_SYNC, extra=META)
    assert check(tmp_path, files) == []


def test_meta_has_no_column_for_a_boolean_or_a_second_number(tmp_path):
    files = {**attribute("spend_again", "expression: spend * 2\n", "decimal(12,2)"),
             **destination(channel="ads", fields="[spend, big_spender, spend_again]", syncs=ADS_SYNC, extra=META)}
    diagnostics = check(tmp_path, files)
    assert [d.code for d in diagnostics] == ["CDP409", "CDP409"]
    d = find(diagnostics, "CDP409", "destinations/esp.yaml:6:17")
    assert d.message == "field `big_spender` has no column in Meta's customer list"
    assert "one number (the `value` column" in d.hint
    find(diagnostics, "CDP409", "destinations/esp.yaml:6:30")


def test_google_takes_identifiers_and_picks_of_them_only(tmp_path):
    files = destination(channel="ads", fields="[best_email, spend]", syncs=ADS_SYNC, extra=GOOGLE)
    d = only(check(tmp_path, files), "CDP409", "destinations/esp.yaml:6:22",
             "field `spend` has no column in Google's Customer Match file")
    assert "generic" in d.hint


def test_an_identifier_that_is_no_email_or_phone_has_no_column(tmp_path):
    identity = ("kind: identity\nname: customer\nversion: 1.0.0\nidentifiers:\n  - {type: email, normalize: email}\n"
                "  - {type: order_ref, normalize: upper_trim}\nsources:\n  orders: {email: email, order_ref: order_id}\n"
                "  consents: {email: email}\n")
    files = {"definitions/identity/customer.yaml": identity,
             **destination(channel="ads", identifiers="[email, order_ref]", fields="[]", syncs=ADS_SYNC, extra=META)}
    only(check(tmp_path, files), "CDP409", "destinations/esp.yaml:5:22",
         "identifier `order_ref` has no column in Meta's customer list: it takes identifiers normalized as email or phone")


def test_meta_takes_three_email_columns_at_most(tmp_path):
    picks = {}
    for name in ("email_a", "email_b", "email_c"):
        picks.update(attribute(name, "pick: {field: email, from: [orders]}\n", "string"))
    files = {**picks, **destination(channel="ads", fields="[email_a, email_b, email_c]", syncs=ADS_SYNC, extra=META)}
    only(check(tmp_path, files), "CDP409", "destinations/esp.yaml:5:14",
         "Meta's customer list takes at most 3 `email` columns, `esp` sends 4")
    files = {**picks, **destination(channel="ads", fields="[email_a, email_b, email_c]", syncs=ADS_SYNC, extra=GOOGLE)}
    assert check(tmp_path, files) == [], "Google takes several"


def test_a_generic_destination_takes_every_column(tmp_path):
    files = destination(channel="ads", fields="[spend, big_spender]", syncs=ADS_SYNC, extra="hash: sha256\n")
    assert check(tmp_path, files) == []


def test_a_sent_column_may_not_be_named_like_a_column_of_the_changes_or_history(tmp_path):
    files = {**attribute("op", "source: orders\naggregate: count(*)\n", "integer"), **destination(fields="[spend, op]")}
    only(check(tmp_path, files), "CDP214", "destinations/esp.yaml:6:17",
         "column `op` of the sync tables of `esp` is one that their changes or history table adds")


def test_max_remove_is_a_fraction(tmp_path):
    only(check(tmp_path, destination(syncs="  - {segment: vip, purpose: email_marketing, max_remove: 1.5}\n")),
         "CDP103", "destinations/esp.yaml:8:58", "less than or equal to 1")
    assert check(tmp_path / "ok", destination(syncs="  - {segment: vip, purpose: email_marketing, max_remove: 0}\n")) == []


def test_the_changes_and_history_of_a_sync_must_fit_postgres_names(tmp_path):
    long = "s" * 50  # sync__esp__<50>: 61 bytes; with __history, 70 > 63
    files = {f"definitions/segments/{long}.yaml": f"kind: segment\nname: {long}\nversion: 1.0.0\nwhere: spend > 1\n"
                                                   "purposes: [email_marketing]\n",
             **destination(syncs=f"  - {{segment: {long}, purpose: email_marketing}}\n")}
    found = [d for d in check(tmp_path, files) if d.code == "CDP218"]
    assert len(found) == 1 and "the changes of sync `esp`" in found[0].message and "70 bytes long" in found[0].message
