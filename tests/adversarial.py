"""The adversarial corpus: small variants of the reference project written to get PHI, or
PII in clear, out to a destination (docs/reference.md §2.7,
docs/guarantees.md §1, docs/guarantees.md §2).

Each case is the reference project's definitions plus a few edited or added YAML files.
tests/test_adversarial.py judges every case the same way, whatever layer is expected to
stop it: `cdpc validate` refuses it with errors located in the case's files, or the
project runs on the canary data (tests/canary.py) and no sync table holds a PHI canary,
no ads sync table holds a PII canary in clear, and the syncs do not change when only
the PHI (and the row order) of the input changes.

The attacker's own definitions go to `definitions/attack.yaml`; destinations, segments,
identity, consent and contracts that an attack edits are rewritten in place.
`{SECRET_FILE}` in a case's text is replaced by the path of a file holding a PHI canary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

ATTACK = "definitions/attack.yaml"

# the reference destinations, as data (definitions/destinations/*.yaml)
DESTINATIONS = {
    "email_service": dict(channel="email", platform="generic", identifiers=["email"],
                          fields=["membership_status", "home_club", "engagement_tier"], hash="none",
                          syncs=[("winback_7d_inactive", "email_marketing"), ("new_members_onboarding", "email_marketing"),
                                 ("at_risk_churn", "email_marketing"), ("vip_retention", "email_marketing"),
                                 ("vacation_hold_members", "email_marketing")]),
    "meta_ads": dict(channel="ads", platform="meta_custom_audiences", identifiers=["email", "phone"],
                     fields=["lifetime_value"], hash="sha256",
                     syncs=[("high_value_lapsed", "ads_personalization"), ("vip_retention", "ads_personalization")]),
    "sms_provider": dict(channel="sms", platform="generic", identifiers=["phone"], fields=["home_club"], hash="none",
                         syncs=[("winback_7d_inactive", "sms_marketing"), ("reactivation_sms", "sms_marketing"),
                                ("new_members_onboarding", "sms_marketing")]),
}

# an ads audience big enough to show a leak: every active member who granted ads (the
# reference's ads syncs have 3 and 5 members)
EVERYONE = """
kind: segment
name: everyone_active
version: 1.0.0
where: membership_status = 'active'
purposes: [email_marketing, ads_personalization]
"""


@dataclass
class Case:
    name: str
    attack: str  # what it tries, in a few words
    files: dict[str, str | None] = field(default_factory=dict)  # path -> YAML text (None: delete)

    def write(self, root: Path, secret_file: Path) -> None:
        for rel, text in self.files.items():
            path = root / rel
            if text is None:
                path.unlink()
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text.replace("{SECRET_FILE}", str(secret_file)).lstrip("\n"), encoding="utf-8")


def _yaml_list(items) -> str:
    return "[" + ", ".join(items) + "]"


def destination(name: str, *, add_fields=(), fields=None, identifiers=None, hash=None, add_syncs=(),
                platform=None) -> dict[str, str]:
    d = {**DESTINATIONS[name], **({"platform": platform} if platform else {})}
    fields = list(d["fields"] if fields is None else fields) + list(add_fields)
    identifiers = d["identifiers"] if identifiers is None else identifiers
    syncs = list(d["syncs"]) + list(add_syncs)
    text = (f"kind: destination\nname: {name}\nversion: 1.0.0\nchannel: {d['channel']}\nplatform: {d['platform']}\n"
            f"identifiers: {_yaml_list(identifiers)}\nfields: {_yaml_list(fields)}\nhash: {hash or d['hash']}\nsyncs:\n"
            + "".join(f"  - {{segment: {s}, purpose: {p}, cadence: daily, mode: mirror}}\n" for s, p in syncs))
    return {f"definitions/destinations/{name}.yaml": text}


def attribute(name: str = "leak", *, type: str = "string", source: str | None = None, aggregate: str | None = None,
              where: str | None = None, expression: str | None = None, pick: str | None = None,
              default: str | None = None) -> str:
    lines = [f"kind: attribute", f"name: {name}", "version: 1.0.0", f"type: {_q(type)}"]
    if source:
        lines.append(f"source: {source}")
    for key, value in (("aggregate", aggregate), ("where", where), ("expression", expression), ("default", default)):
        if value is not None:
            lines.append(f"{key}: {_q(value)}")
    if pick:
        lines.append(f"pick: {pick}")
    return "\n".join(lines) + "\n"


def _q(text: str) -> str:
    """A YAML scalar: double-quoted, so that `#`, `:` and quotes in SQL survive."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def docs(*texts: str) -> str:
    return "\n---\n".join(t.strip("\n") for t in texts) + "\n"


def phi_to_email(name: str, attack: str, aggregate: str | None = None, *, source: str = "bookings",
                 where: str | None = None, type: str = "string", extra: tuple[str, ...] = (), **kw) -> Case:
    """Send an attribute computed from a PHI field on the email channel (clear text is allowed
    there for PII, never for PHI)."""
    return Case(name, attack, {ATTACK: docs(attribute(aggregate=aggregate, source=source if aggregate else None,
                                                      where=where, type=type, **kw), *extra),
                               **destination("email_service", add_fields=["leak"])})


def pii_to_ads(name: str, attack: str, aggregate: str | None = None, *, source: str = "bookings",
               type: str = "string", hash: str | None = None, **kw) -> Case:
    """Send an attribute computed from a PII field to the ads destination, where it must be hashed."""
    return Case(name, attack, {ATTACK: docs(attribute(aggregate=aggregate, source=source if aggregate else None,
                                                      type=type, **kw), EVERYONE),
                               **destination("meta_ads", add_fields=["leak"], hash=hash,
                                             add_syncs=[("everyone_active", "ads_personalization")])})


NO_MEDICAL_SUPPRESSION = {"definitions/consent/marketing.yaml": """
kind: consent
name: marketing
version: 1.0.0
source: consent_events
purpose_field: purpose
granted_field: granted
time_field: recorded_at
purposes:
  email_marketing: {channels: [email]}
  sms_marketing: {channels: [sms]}
  ads_personalization: {channels: [ads]}
suppress_when: [marketing_hold]
"""}


def _phi_segment_case(name: str, attack: str, segment_extra: str, extra_docs: tuple[str, ...] = (),
                      extra_files: dict | None = None) -> Case:
    flag = attribute("knee_flag", type="boolean", source="bookings", aggregate="bool_or(notes like '%knee%')",
                     default="false")
    seg = f"kind: segment\nname: knee_club\nversion: 1.0.0\n{segment_extra}purposes: [email_marketing, ads_personalization]\n"
    return Case(name, attack, {ATTACK: docs(flag, seg, *extra_docs),
                               **destination("meta_ads", add_syncs=[("knee_club", "ads_personalization")]),
                               **(extra_files or {})})


CASES: list[Case] = [
    # ------------------------------------------------------------------ PHI through snippet functions
    phi_to_email("cast_varchar", "cast to text", "max(cast(notes as varchar))"),
    phi_to_email("cast_double_colon", "`::` cast", "max(notes::text)"),
    phi_to_email("try_cast", "try_cast", "max(try_cast(notes as varchar))"),
    phi_to_email("concat_pipes", "`||` concatenation", "max('note: ' || notes)"),
    phi_to_email("concat_function", "concat()", "max(concat('n=', notes, ';'))"),
    phi_to_email("case_when", "case", "max(case when status = 'attended' then notes else 'none' end)"),
    phi_to_email("coalesce", "coalesce", "max(coalesce(notes, instructor))"),
    phi_to_email("upper_substr", "string functions", "max(upper(substr(notes, 1, 60)))"),
    phi_to_email("md5_of_phi", "hash it first", "max(md5(notes))"),
    phi_to_email("window_max", "window function", "max(notes) over (partition by club_id)"),
    phi_to_email("arg_max", "arg_max", "arg_max(notes, booked_at)"),
    phi_to_email("any_value", "any_value", "any_value(notes)"),
    phi_to_email("string_agg", "string_agg", "string_agg(notes, ' | ')"),
    phi_to_email("list_agg", "list()", "list(notes)"),
    phi_to_email("array_agg", "array_agg + array_to_string", "array_to_string(array_agg(notes), ';')"),
    phi_to_email("to_json", "to_json", "to_json(max(notes))"),
    phi_to_email("struct_pack", "struct_pack", "max(struct_pack(n := notes))"),
    phi_to_email("row_constructor", "row(...)", "max(row(notes, status))"),
    phi_to_email("regexp_replace", "regexp_replace echoes its input", "max(regexp_replace(notes, 'zzz', 'y'))"),
    phi_to_email("regexp_extract", "regexp_extract echoes its input", "max(regexp_extract(notes, '(.*)', 1))"),
    phi_to_email("quoted_upper_name", "the field named in another case", 'max("NOTES")'),
    phi_to_email("unquoted_mixed_case", "the field named in mixed case", "max(Notes)"),
    phi_to_email("lambda_param_named_like_field", "list_transform with a lambda", "max(list_transform([notes], x -> x))"),
    phi_to_email("filter_clause", "aggregate FILTER reading PHI", "count(*) filter (where notes like '%knee%')",
                 type="integer"),
    phi_to_email("where_only", "PHI only in `where`", "count(*)", where="notes like '%knee%'", type="integer"),
    # ------------------------------------------------------------------ reading columns without naming them
    phi_to_email("positional_ref", "positional reference", "max(#12)"),
    phi_to_email("positional_ref_string_agg", "positional reference in string_agg", "string_agg(cast(#12 as varchar), ',')"),
    phi_to_email("positional_ref_in_where", "positional reference in `where` (a count of knee notes)", "count(*)",
                 where="#12 like '%knee%'", type="integer"),
    phi_to_email("whole_row_table_name", "whole-row reference by the scratch table's name", "max(src__bookings)"),
    phi_to_email("whole_row_to_json", "whole row through to_json", "to_json(list(src__bookings))"),
    phi_to_email("whole_row_cast", "whole row cast to text", "max(cast(src__bookings as varchar))"),
    phi_to_email("whole_row_contract_name", "whole row by the contract's name", "max(cast(bookings as varchar))"),
    phi_to_email("whole_row_subscript", "a field of the whole row by subscript", "max(src__bookings['notes'])"),
    phi_to_email("columns_star", "COLUMNS(*)", "max(COLUMNS(*))"),
    phi_to_email("columns_regex", "COLUMNS('regex')", "max(COLUMNS('no.*'))"),
    phi_to_email("columns_lambda", "COLUMNS(lambda)", "max(COLUMNS(c -> c like 'note%'))"),
    phi_to_email("star_in_struct", "`*` outside count", "max(struct_pack(*))"),
    phi_to_email("star_in_max", "`*` in max", "max(*)"),
    phi_to_email("count_distinct_star", "count(distinct *) is not count(*)", "count(distinct *)", type="integer"),
    phi_to_email("medical_notes_positional", "medical notes by position (CRM suppression removed)",
                 "max(#16)", source="crm_contacts"),
    phi_to_email("medical_notes_columns", "medical notes through COLUMNS (CRM suppression removed)",
                 "max(COLUMNS('medical.*'))", source="crm_contacts"),
    # ------------------------------------------------------------------ the engine's surroundings
    phi_to_email("read_csv_passwd", "table function reading a host file", "max(read_csv('/etc/passwd'))"),
    phi_to_email("read_text_secret", "table function reading a file", "max(read_text('{SECRET_FILE}'))"),
    phi_to_email("current_user", "session function", "max(current_user)"),
    phi_to_email("version_function", "version()", expression="version()"),
    phi_to_email("current_database", "current_database()", expression="current_database()"),
    phi_to_email("random_function", "random()", expression="cast(random() as varchar)"),
    phi_to_email("uuid_function", "uuid()", expression="cast(uuid() as varchar)"),
    phi_to_email("current_setting", "current_setting()", expression="cast(current_setting('threads') as varchar)"),
    phi_to_email("huge_repeat", "repeat('a', 1000000000): a 1 GB text per profile", expression="repeat('a', 1000000000)"),
    pii_to_ads("host_of_email", "host(email): an extension, PII in clear", "max(host(email))"),
    # ------------------------------------------------------------------ lineage through definitions
    phi_to_email("attribute_chain", "PHI two attributes away",
                 expression="upper(step_two)", extra=(
                     attribute("step_one", source="bookings", aggregate="max(notes)"),
                     attribute("step_two", expression="step_one || ''"))),
    phi_to_email("pick_phi", "pick of a PHI field", pick="{field: notes, from: [bookings], strategy: most_recent}"),
    phi_to_email("pick_map_phi", "pick map with one PHI source",
                 pick="{field: {crm_contacts: medical_notes, bookings: notes}, from: [crm_contacts, bookings], "
                      "strategy: source_priority}"),
    phi_to_email("default_injection", "a default that tries to be SQL", "max(instructor)",
                 default="' || current_user || '"),
    Case("second_contract_same_relation", "a second contract on raw.bookings that drops `phi: true`", {
        ATTACK: docs("""
kind: contract
name: bookings_copy
version: 1.0.0
relation: raw.bookings
primary_key: [booking_id]
fields:
  booking_id: {type: string, required: true}
  membership_id: {type: string}
  notes: {type: string}
""", attribute(source="bookings_copy", aggregate="max(notes)")),
        "definitions/identity/customer.yaml": None,
        "definitions/identity/customer2.yaml": """
kind: identity
name: customer
version: 1.0.0
identifiers:
  - {type: membership_id, normalize: upper_trim, max_per_profile: 1}
  - {type: email, normalize: email, max_per_profile: 3}
  - {type: phone, normalize: phone, max_per_profile: 3}
  - {type: device_id, max_per_profile: 10}
sources:
  crm_contacts: {membership_id: membership_id, email: email, phone: phone}
  bookings: {membership_id: membership_id, email: email}
  bookings_copy: {membership_id: membership_id}
  pos_transactions: {phone: phone, email: email}
  app_events: {device_id: device_id, membership_id: member_ref}
  consent_events: {membership_id: membership_id, email: email, phone: phone}
""", **destination("email_service", add_fields=["leak"])}),
    # ------------------------------------------------------------------ membership derived from PHI
    _phi_segment_case("segment_where_phi", "segment `where` on a PHI-derived flag, synced to ads",
                      "where: knee_flag\n"),
    _phi_segment_case("segment_include_phi", "segment that includes a PHI-defined one",
                      "where: membership_status = 'active'\ninclude: [knee_only]\n", (
                          "kind: segment\nname: knee_only\nversion: 1.0.0\nwhere: knee_flag\npurposes: [email_marketing]\n",)),
    _phi_segment_case("segment_exclude_phi", "segment that excludes a PHI-defined one",
                      "where: membership_status = 'active'\nexclude: [knee_only]\n", (
                          "kind: segment\nname: knee_only\nversion: 1.0.0\nwhere: knee_flag\npurposes: [email_marketing]\n",)),
    _phi_segment_case("segment_where_injury_flag", "segment on the boolean PHI has_injury_flag",
                      "where: injured\n", (attribute("injured", type="boolean", source="crm_contacts",
                                                     aggregate="bool_or(has_injury_flag)", default="false"),),
                      NO_MEDICAL_SUPPRESSION),
    _phi_segment_case("segment_positional_phi", "segment reading a PHI-derived attribute by position",
                      "where: \"#2\"\n", (attribute("aaa_knee", type="boolean", source="bookings",
                                                      aggregate="bool_or(notes like '%knee%')", default="false"),)),
    _phi_segment_case("segment_columns_phi", "segment reading a PHI-derived attribute through COLUMNS",
                      "where: \"COLUMNS('knee_.*')\"\n"),
    # ------------------------------------------------------------------ identifiers and keys
    Case("phi_identifier", "a PHI field mapped as an identity identifier and sent", {
        "definitions/identity/customer.yaml": """
kind: identity
name: customer
version: 1.0.0
identifiers:
  - {type: membership_id, normalize: upper_trim, max_per_profile: 1}
  - {type: email, normalize: email, max_per_profile: 3}
  - {type: phone, normalize: phone, max_per_profile: 3}
  - {type: device_id, max_per_profile: 10}
  - {type: care_note, max_per_profile: 100}
sources:
  crm_contacts: {membership_id: membership_id, email: email, phone: phone}
  bookings: {membership_id: membership_id, email: email, care_note: notes}
  pos_transactions: {phone: phone, email: email}
  app_events: {device_id: device_id, membership_id: member_ref}
  consent_events: {membership_id: membership_id, email: email, phone: phone}
""", **destination("email_service", identifiers=["email", "care_note"])}),
    Case("phi_identifier_linking_only", "a PHI field as an identifier that only links (never sent)", {
        "definitions/identity/customer.yaml": """
kind: identity
name: customer
version: 1.0.0
identifiers:
  - {type: care_note, max_per_profile: 100}
  - {type: membership_id, normalize: upper_trim, max_per_profile: 1}
  - {type: email, normalize: email, max_per_profile: 3}
  - {type: phone, normalize: phone, max_per_profile: 3}
  - {type: device_id, max_per_profile: 10}
sources:
  crm_contacts: {membership_id: membership_id, email: email, phone: phone}
  bookings: {membership_id: membership_id, email: email, care_note: notes}
  pos_transactions: {phone: phone, email: email}
  app_events: {device_id: device_id, membership_id: member_ref}
  consent_events: {membership_id: membership_id, email: email, phone: phone}
"""}),
    Case("phi_primary_key", "a PHI field as an identity source's primary key (profile_id = md5 of it)", {
        "definitions/contracts/bookings.yaml": """
kind: contract
name: bookings
version: 1.2.0
relation: raw.bookings
primary_key: [notes]
event_time: booked_at
fields:
  booking_id: {type: string, required: true}
  membership_id: {type: string, pii: true}
  email: {type: string, pii: true}
  club_id: {type: string, required: true}
  class_name: {type: string}
  instructor: {type: string}
  status: {type: string, required: true, accepted_values: [booked, attended, cancelled, late_cancel, no_show]}
  price: {type: "decimal(10,2)", min: 0}
  booked_at: {type: timestamp, required: true}
  class_starts_at: {type: timestamp, required: true}
  notes: {type: string, phi: true}
"""}),
    # ------------------------------------------------------------------ PII in clear to ads
    Case("pii_pick_ads_unhashed", "a PII pick sent to ads with `hash: none`",
         {ATTACK: EVERYONE, **destination("meta_ads", add_fields=["primary_email"], hash="none",
                                          add_syncs=[("everyone_active", "ads_personalization")])}),
    pii_to_ads("pii_pick_ads_hashed", "a PII pick sent to ads (hashed: allowed)",
               pick="{field: email, from: [crm_contacts], strategy: most_recent}"),
    pii_to_ads("pii_positional_ads", "PII read by position, sent to ads", "max(#4)"),
    pii_to_ads("pii_whole_row_ads", "PII in a whole row, sent to ads", "max(cast(src__bookings as varchar))"),
    pii_to_ads("pii_phone_positional_ads", "a phone read by position, sent to ads", "max(#4)",
               source="pos_transactions"),
    pii_to_ads("pii_columns_ads", "PII through COLUMNS('regex'), sent to ads", "max(COLUMNS('^em.*'))"),
    pii_to_ads("pii_names_ads", "first and last name concatenated, sent to ads",
               "max(first_name || ' ' || last_name)", source="crm_contacts"),
    pii_to_ads("pii_birth_date_ads", "birth date as text, sent to ads", "max(cast(birth_date as varchar))",
               source="crm_contacts"),
    pii_to_ads("pii_expression_chain_ads", "PII two attributes away, sent to ads",
               expression="lower(primary_email)"),
    Case("pii_identifier_ads_unhashed", "identifiers to ads with `hash: none`",
         destination("meta_ads", fields=[], hash="none")),
    Case("phi_suppression_consent", "consent suppressed by a PHI-derived flag (absence from ads reveals it)", {
        ATTACK: docs(attribute("knee_flag", type="boolean", source="bookings", aggregate="bool_or(notes like '%knee%')",
                               default="false"), EVERYONE),
        "definitions/consent/marketing.yaml": NO_MEDICAL_SUPPRESSION["definitions/consent/marketing.yaml"].replace(
            "[marketing_hold]", "[marketing_hold, knee_flag]"),
        **destination("meta_ads", add_syncs=[("everyone_active", "ads_personalization")])}),
]

# the medical-notes case needs the CRM's medical-notes suppression removed, or nobody with
# notes is ever in an audience
for _case in CASES:
    if _case.name.startswith("medical_notes_"):
        _case.files.update(NO_MEDICAL_SUPPRESSION)
