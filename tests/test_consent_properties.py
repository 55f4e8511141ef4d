"""Consent from many sources of evidence: cdpc on DuckDB vs the pure-Python rule of
docs/reference.md §2.6 (`latest_wins` in tests/reference/pipeline.py), and properties of the rule.

The project mixes every form: the event log (or not), a boolean snapshot whose time is the
contract's `event_time`, a snapshot dated by a `date` field, constant grants and denials
kept by a `where`, NULL grants, NULL times, ties within a source and across sources (a date
and the same day's midnight), records merged through a normalized email, and suppression.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from reference.harness import project_doc, run, write_csv, write_yaml  # noqa: E402
from reference.identity import IdentifierSpec  # noqa: E402
from reference.pipeline import (Aggregate, Consent, Contract, EvidenceSource, Field, Project,  # noqa: E402
                                latest_wins, run_reference)

SCALE = float(os.environ.get("CDPC_PROPERTY_SCALE", "1"))
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

PEOPLE = {"kind": "contract", "name": "people", "version": "1.0.0", "relation": "raw.people",
          "primary_key": ["person_id"], "event_time": "updated_at",
          "fields": {"person_id": {"type": "string", "required": True}, "email": {"type": "string", "pii": True},
                     "opt_in": {"type": "boolean"}, "ads_ok": {"type": "boolean"}, "vip": {"type": "boolean"},
                     "signup": {"type": "date"}, "updated_at": {"type": "timestamp"}}}
EVENTS = {"kind": "contract", "name": "events", "version": "1.0.0", "relation": "raw.events",
          "primary_key": ["event_id"], "event_time": "recorded_at",
          "fields": {"event_id": {"type": "string", "required": True}, "email": {"type": "string", "pii": True},
                     "name": {"type": "string"}, "purpose": {"type": "string"}, "granted": {"type": "boolean"},
                     "recorded_at": {"type": "timestamp"}}}
IDENTITY = {"kind": "identity", "name": "customer", "version": "1.0.0",
            "identifiers": [{"type": "email", "normalize": "email"}],
            "sources": {"people": {"email": "email"}, "events": {"email": "email"}}}
HOLD = {"kind": "attribute", "name": "hold", "version": "1.0.0", "type": "boolean", "source": "people",
        "aggregate": "bool_or(vip)", "default": False}
PURPOSES = ["email_mkt", "ads", "hooks"]


def consent_yaml(log: bool) -> dict:
    doc = {"kind": "consent", "name": "marketing", "version": "1.0.0"}
    if log:
        doc.update(source="events", purpose_field="purpose", granted_field="granted")  # time: event_time
    hooks = {"channels": ["webhook"]}
    if not log:
        hooks["sources"] = [{"source": "events", "where": "name = 'sub'", "granted": True, "time_field": "recorded_at"}]
    doc["purposes"] = {
        "email_mkt": {"channels": ["email"], "sources": [
            {"source": "people", "granted_field": "opt_in"},
            {"source": "events", "where": "name = 'unsub'", "granted": False}]},
        "ads": {"channels": ["ads"], "sources": [{"source": "people", "granted_field": "ads_ok", "time_field": "signup"}]},
        "hooks": hooks,
    }
    doc["suppress_when"] = ["hold"]
    return doc


def _eq(field, value):
    return lambda row: None if row[field] is None else row[field] == value


def reference_project(log: bool) -> Project:
    def contract(d):
        return Contract(d["name"], [Field(n, f["type"], f.get("required", False)) for n, f in d["fields"].items()],
                        d["primary_key"], d["event_time"])
    sources = [EvidenceSource("email_mkt", "people", "updated_at", granted_field="opt_in"),
               EvidenceSource("email_mkt", "events", "recorded_at", granted=False, where=_eq("name", "unsub")),
               EvidenceSource("ads", "people", "signup", granted_field="ads_ok")]
    if not log:
        sources.append(EvidenceSource("hooks", "events", "recorded_at", granted=True, where=_eq("name", "sub")))
    consent = Consent("events" if log else None, "purpose" if log else None, "granted" if log else None,
                      "recorded_at" if log else None, PURPOSES, ["hold"], sources)
    bool_or = Aggregate("hold", "people", lambda rows: (lambda v: any(v) if v else None)(
        [r["vip"] for r in rows if r["vip"] is not None]), default=False)
    return Project(contracts={"people": contract(PEOPLE), "events": contract(EVENTS)},
                   identifiers=[IdentifierSpec("email", "email", None)], sources=IDENTITY["sources"], blocklist={},
                   attributes=[bool_or], consent=consent, segments=[], syncs=[])


EMAILS = ["a@x.com", " A@x.com", "b@x.com", "c@x.com", None]
TIMES = ["2026-01-01 10:00:00", "2026-01-02 00:00:00", "2026-01-02T00:00:00", "2026-01-03 09:00:00", None]
DATES = ["2026-01-02", "2026-01-01", "2026-01-03", None]
BOOLS = ["true", "false", "FALSE", None]
NAMES = ["unsub", "sub", "open", None]
EVENT_PURPOSES = PURPOSES + ["other", None]


@st.composite
def consent_case(draw):
    log = draw(st.booleans())
    people = [{"person_id": f"p{i}", "email": draw(st.sampled_from(EMAILS)), "opt_in": draw(st.sampled_from(BOOLS)),
               "ads_ok": draw(st.sampled_from(BOOLS)), "vip": draw(st.sampled_from(["false", "false", "true", None])),
               "signup": draw(st.sampled_from(DATES)), "updated_at": draw(st.sampled_from(TIMES))}
              for i in range(draw(st.integers(0, 6)))]
    events = [{"event_id": f"e{i}", "email": draw(st.sampled_from(EMAILS)), "name": draw(st.sampled_from(NAMES)),
               "purpose": draw(st.sampled_from(EVENT_PURPOSES)), "granted": draw(st.sampled_from(BOOLS)),
               "recorded_at": draw(st.sampled_from(TIMES))}
              for i in range(draw(st.integers(0, 8)))]
    return log, {"people": people, "events": events}, draw(st.integers(0, 2**32 - 1))


def cdpc_consent(log: bool, raw: dict, seed: int) -> Counter:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_yaml(root / "definitions" / "project.yaml",
                   [project_doc(), PEOPLE, EVENTS, IDENTITY, HOLD, consent_yaml(log)])
        rng = random.Random(seed)
        for d in (PEOPLE, EVENTS):
            header = list(d["fields"])
            rng.shuffle(header)
            rows = [[r[h] for h in header] for r in raw[d["name"]]]
            rng.shuffle(rows)
            write_csv(root / "data" / f"raw.{d['name']}.csv", header, rows)
        engine, _ = run(root)
        rows = engine.rows("SELECT profile_id, purpose, granted FROM cdp.customer_consent")
        engine.close()
    return Counter(tuple(r) for r in rows)


def expected_consent(log: bool, raw: dict) -> Counter:
    return Counter(run_reference(reference_project(log), raw)["consent"])


@settings(max_examples=int(40 * SCALE), **SETTINGS)
@given(consent_case())
def test_consent_matches_reference(case):
    log, raw, seed = case
    assert cdpc_consent(log, raw, seed) == expected_consent(log, raw)


# --------------------------------------------------------------------------- hand-written cases

def person(pid, email, opt_in=None, ads_ok=None, signup=None, updated_at=None, vip="false"):
    return {"person_id": pid, "email": email, "opt_in": opt_in, "ads_ok": ads_ok, "vip": vip, "signup": signup,
            "updated_at": updated_at}


def event(eid, email, name=None, purpose=None, granted=None, recorded_at=None):
    return {"event_id": eid, "email": email, "name": name, "purpose": purpose, "granted": granted,
            "recorded_at": recorded_at}


def test_an_unsubscribe_after_the_snapshot_wins_and_a_later_snapshot_wins_over_it():
    from reference.identity import md5_hex
    a, b = md5_hex("email:a@x.com"), md5_hex("email:b@x.com")
    raw = {"people": [person("p1", "a@x.com", opt_in="true", updated_at="2026-01-01 10:00:00"),
                      person("p2", "b@x.com", opt_in="true", updated_at="2026-01-03 09:00:00")],
           "events": [event("e1", "a@x.com", name="unsub", recorded_at="2026-01-02 00:00:00"),
                      event("e2", "b@x.com", name="unsub", recorded_at="2026-01-02 00:00:00")]}
    for log in (True, False):
        got = cdpc_consent(log, raw, 0)
        assert got == expected_consent(log, raw)
        assert (a, "email_mkt", False) in got and (b, "email_mkt", True) in got


def test_a_date_ties_with_the_same_days_midnight_and_the_denial_wins():
    from reference.identity import md5_hex
    a = md5_hex("email:a@x.com")
    raw = {"people": [person("p1", "a@x.com", ads_ok="true", signup="2026-01-02"),
                      person("p2", "a@x.com", ads_ok="false", signup="2026-01-01")],
           "events": [event("e1", "a@x.com", purpose="ads", granted="false", recorded_at="2026-01-02 00:00:00")]}
    got = cdpc_consent(True, raw, 0)
    assert got == expected_consent(True, raw) and (a, "ads", False) in got
    raw["events"] = []
    got = cdpc_consent(True, raw, 0)
    assert got == expected_consent(True, raw) and (a, "ads", True) in got


# --------------------------------------------------------------------------- the rule itself

T = [dt.datetime(2026, 1, d) for d in (1, 2, 3)] + [dt.date(2026, 1, 2), None]
EVIDENCE = st.lists(st.tuples(st.sampled_from(T), st.sampled_from([True, False, None])), max_size=6)


@settings(max_examples=int(300 * SCALE), deadline=None)
@given(EVIDENCE, st.randoms(use_true_random=False))
def test_the_rule_ignores_order(evidence, rnd):
    shuffled = list(evidence)
    rnd.shuffle(shuffled)
    assert latest_wins(evidence) == latest_wins(shuffled)


@settings(max_examples=int(300 * SCALE), deadline=None)
@given(EVIDENCE, st.sampled_from([True, False, None]))
def test_newer_evidence_decides(evidence, grant):
    newest = dt.datetime(2027, 1, 1)
    assert latest_wins(evidence + [(newest, grant)]) is (grant is True)


@settings(max_examples=int(300 * SCALE), deadline=None)
@given(EVIDENCE, st.sampled_from(T))
def test_a_denial_never_grants_and_a_tie_is_a_denial(evidence, at):
    if latest_wins(evidence + [(at, False)]):
        assert latest_wins(evidence)  # adding a denial can only take a grant away
    assert not latest_wins([(at, True), (at, False)]) and not latest_wins([(at, None)]) and not latest_wins([])
