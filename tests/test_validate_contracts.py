"""Contract rules: keys and event_time name real fields; field rules fit the field's type."""

from __future__ import annotations

from validate_helpers import check, find, only

HEAD = "primary_key: [id]\nevent_time: at\n"


def extra(fields: str = "", head: str = HEAD) -> dict:
    """contracts/extra.yaml: lines 1-4 header, then `head` (2 lines), `fields:` on 7, id 8, at 9, `fields` from 10."""
    return {"definitions/contracts/extra.yaml":
            "kind: contract\nname: extra\nversion: 1.0.0\nrelation: raw.extra\n" + head
            + "fields:\n  id: {type: string}\n  at: {type: timestamp}\n" + fields}


def test_primary_key_field_must_exist(tmp_path):
    d = only(check(tmp_path, extra(head="primary_key: [id, idd]\nevent_time: at\n")),
             "CDP202", "contracts/extra.yaml:5:19", "primary_key `idd` is not a field of contract `extra`")
    assert d.hint == "did you mean `id`?"


def test_primary_key_field_listed_twice(tmp_path):
    only(check(tmp_path, extra(head="primary_key: [id, id]\nevent_time: at\n")),
         "CDP217", "contracts/extra.yaml:5:19", "`id` is listed twice in `primary_key`")


def test_event_time_must_exist(tmp_path):
    d = only(check(tmp_path, extra(head="primary_key: [id]\nevent_time: att\n")),
             "CDP202", "contracts/extra.yaml:6:13", "event_time `att` is not a field of contract `extra`")
    assert "`at`" in d.hint


def test_event_time_must_be_a_date_or_timestamp(tmp_path):
    only(check(tmp_path, extra(head="primary_key: [id]\nevent_time: id\n")),
         "CDP215", "contracts/extra.yaml:6:13", "event_time `id` is string, not a date or timestamp")


def test_freshness_needs_event_time(tmp_path):
    only(check(tmp_path, extra(head="primary_key: [id]\nfreshness: {warn_after: 1h}\n")),
         "CDP210", "contracts/extra.yaml:6:1", "`freshness` is measured from `event_time`")


def test_retention_needs_event_time(tmp_path):
    d = only(check(tmp_path, extra(head="primary_key: [id]\nretention: 730d\n")),
             "CDP210", "contracts/extra.yaml:6:1", "`retention` expires rows by their `event_time`")
    assert "event_time:" in d.hint


def test_retention_on_an_event_time_that_may_be_null_is_a_warning(tmp_path):
    """A row whose event_time is NULL has no age: it never expires (docs/reference.md §2.2)."""
    d = only(check(tmp_path, extra(head="event_time: at\nretention: 730d\n")),
             "CDP223", "contracts/extra.yaml:6:1", "which is not required: a row whose `at` is NULL never expires")
    assert not d.is_error and "required: true" in d.hint
    required = extra(head="event_time: at\nretention: 730d\n")
    required["definitions/contracts/extra.yaml"] = required["definitions/contracts/extra.yaml"].replace(
        "at: {type: timestamp}", "at: {type: timestamp, required: true}")
    assert check(tmp_path / "required", required) == []


def test_warn_after_longer_than_error_after_is_a_warning(tmp_path):
    d = only(check(tmp_path, extra(head="event_time: at\nfreshness: {warn_after: 2d, error_after: 1d}\n")),
             "CDP103", "contracts/extra.yaml:6:25", "warn_after 2d is longer than error_after 1d")
    assert not d.is_error


def test_min_does_not_apply_to_text(tmp_path):
    only(check(tmp_path, extra("  code: {type: string, min: 3}\n")),
         "CDP215", "contracts/extra.yaml:10:24", "`min` does not apply to string field `code`")


def test_max_must_fit_the_type(tmp_path):
    only(check(tmp_path, extra("  n: {type: integer, max: abc}\n")),
         "CDP103", "contracts/extra.yaml:10:27", "`max` of field `n` is 'abc', which does not fit integer")


def test_min_above_max(tmp_path):
    only(check(tmp_path, extra("  n: {type: double, min: 5, max: 1.5}\n")),
         "CDP103", "contracts/extra.yaml:10:26", "min 5 above max 1.5")


def test_date_bounds_accept_yaml_dates_and_castable_text(tmp_path):
    assert check(tmp_path, extra("  d: {type: date, min: 2020-01-01, max: '2030-12-31'}\n")) == []


def test_timestamp_bound_that_is_not_castable(tmp_path):
    only(check(tmp_path, extra("  t: {type: timestamp, min: yesterday}\n")),
         "CDP103", "contracts/extra.yaml:10:29", "'yesterday', which does not fit timestamp")


def test_pattern_must_compile(tmp_path):
    d = only(check(tmp_path, extra("  code: {type: string, pattern: '[a-'}\n")),
             "CDP216", "contracts/extra.yaml:10:33", "pattern of field `code` is not a valid regular expression")
    assert "single-quote" in d.hint


def test_pattern_only_on_text(tmp_path):
    only(check(tmp_path, extra("  n: {type: integer, pattern: '^1'}\n")),
         "CDP215", "contracts/extra.yaml:10:22", "`pattern` does not apply to integer field `n`")


def test_accepted_values_not_empty(tmp_path):
    only(check(tmp_path, extra("  s: {type: string, accepted_values: []}\n")),
         "CDP103", "contracts/extra.yaml:10:38", "`accepted_values` of field `s` is empty")


def test_accepted_value_read_as_a_boolean_must_be_quoted(tmp_path):
    d = only(check(tmp_path, extra("  s: {type: string, accepted_values: ['maybe', yes]}\n")),
             "CDP103", "contracts/extra.yaml:10:48", "true (a YAML boolean)", "does not fit string")
    assert "quote it" in d.hint


def test_repeated_accepted_value_is_a_warning(tmp_path):
    d = only(check(tmp_path, extra("  s: {type: string, accepted_values: [a, a]}\n")),
             "CDP217", "contracts/extra.yaml:10:42", "accepted value 'a' of field `s` is listed twice")
    assert not d.is_error


def test_phi_is_always_restricted(tmp_path):
    only(check(tmp_path, extra("  s: {type: string, phi: true, classification: public}\n")),
         "CDP103", "contracts/extra.yaml:10:48", "`phi: true` but classified `public`")


def test_every_problem_of_a_contract_at_once(tmp_path):
    diagnostics = check(tmp_path, extra("  a: {type: string, min: 1}\n  b: {type: string, pattern: '('}\n",
                                        head="primary_key: [nope]\nevent_time: id\n"))
    assert [d.code for d in diagnostics] == ["CDP202", "CDP215", "CDP215", "CDP216"]
    find(diagnostics, "CDP216", "contracts/extra.yaml:11:30")
