"""What an ad platform receives is what it can match, on every engine (reference.md §2.4 and reference.md §2.7).

A small project sends identifiers and picks of identifier values (`primary_email`,
`primary_phone`) to a Meta and a Google destination with `hash: sha256`. The expected
hashes are not computed with cdpc's normalizers: they are written here from what the
platforms document, and hashed with Python's hashlib:

- Meta Custom Audiences: email trimmed and lowercased; phone as digits only, with the
  country code, without `+`.
- Google Customer Match: email trimmed and lowercased (no other change: dots of a
  gmail.com local part stay, see reference.md §2.7); phone in E.164, `+` and digits.

The picks also show that a blocklisted value is never returned: the most recent email of
one profile is a blocklisted test address, so its older real address is picked.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from compiler.project import require_valid
from compiler.run.engines.duckdb import DuckDBEngine
from compiler.run.runner import run_project

from helpers import write_files

AS_OF = dt.datetime(2026, 11, 20)

PROJECT = {
    "definitions/project.yaml": """
        kind: project
        name: adsmatch
        entity: customer
        targets: [duckdb, postgres, spark]
    """,
    "definitions/contracts.yaml": """
        kind: contract
        name: people
        version: 1.0.0
        relation: raw.people
        primary_key: [person_id]
        event_time: updated_at
        fields:
          person_id: {type: string, required: true}
          email: {type: string, pii: true}
          phone: {type: string, pii: true}
          updated_at: {type: timestamp, required: true}
        ---
        kind: contract
        name: consents
        version: 1.0.0
        relation: raw.consents
        primary_key: [event_id]
        event_time: recorded_at
        fields:
          event_id: {type: string, required: true}
          phone: {type: string, pii: true}
          purpose: {type: string}
          granted: {type: boolean}
          recorded_at: {type: timestamp}
    """,
    "definitions/identity.yaml": """
        kind: identity
        name: customer
        version: 1.0.0
        identifiers:
          - {type: email, normalize: email, max_per_profile: 3}
          - {type: phone, normalize: phone, max_per_profile: 3}
        sources:
          people: {email: email, phone: phone}
          consents: {phone: phone}
        blocklist:
          email: [test@example.com]
          phone: ["+15555550100"]
    """,
    "definitions/attributes.yaml": """
        kind: attribute
        name: primary_email
        version: 1.0.0
        type: string
        pick: {field: email, from: [people], strategy: most_recent}
        ---
        kind: attribute
        name: primary_phone
        version: 1.0.0
        type: string
        pick: {field: phone, from: [people], strategy: most_recent}
    """,
    "definitions/segments.yaml": """
        kind: segment
        name: everyone
        version: 1.0.0
        purposes: [ads]
    """,
    "definitions/consent.yaml": """
        kind: consent
        name: marketing
        version: 1.0.0
        source: consents
        purpose_field: purpose
        granted_field: granted
        time_field: recorded_at
        purposes:
          ads: {channels: [ads]}
    """,
    "definitions/destinations.yaml": """
        kind: destination
        name: meta
        version: 1.0.0
        channel: ads
        platform: meta_custom_audiences
        identifiers: [email, phone]
        fields: [primary_email, primary_phone]
        hash: sha256
        syncs:
          - {segment: everyone, purpose: ads}
        ---
        kind: destination
        name: google
        version: 1.0.0
        channel: ads
        platform: google_customer_match
        identifiers: [email, phone]
        fields: [primary_email, primary_phone]
        hash: sha256
        syncs:
          - {segment: everyone, purpose: ads}
    """,
    # Each person has a phone (the consent links through it). p3a and p3b share a phone, so
    # they are one profile whose most recent email is a blocklisted test address.
    "data/raw.people.csv": (
        "person_id,email,phone,updated_at\n"
        'p1," PRIYA.K@OUTLOOK.COM ",(415) 555-0134,2026-11-01 10:00:00\n'
        "p2,Jo.Doe@Gmail.com,+44 20 7946 0958,2026-11-01 10:00:00\n"
        "p3a,TEST@Example.com ,415.555.0199,2026-11-10 10:00:00\n"
        "p3b,Kim@Example.org,4155550199,2026-11-02 10:00:00\n"
        "p4,lee@example.net,(555) 555-0100,2026-11-01 10:00:00\n"
        "p4b,,+1 212 555 0147,2026-10-01 10:00:00\n"
    ),
    "data/raw.consents.csv": (
        "event_id,phone,purpose,granted,recorded_at\n"
        "c1,14155550134,ads,true,2026-11-01 10:00:00\n"
        "c2,+442079460958,ads,true,2026-11-01 10:00:00\n"
        "c3,4155550199,ads,true,2026-11-01 10:00:00\n"
        "c4,2125550147,ads,true,2026-11-01 10:00:00\n"
    ),
}


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def email_rule(raw: str) -> str:
    """Meta and Google alike: trim whitespace, lowercase."""
    return raw.strip().lower()


# The phone numbers with their country code, as a person would read them out: Meta wants the
# digits only, Google E.164 (`+` and the digits).
PEOPLE = {  # what each audience member's row must carry, before hashing
    "p1": {"email": email_rule(" PRIYA.K@OUTLOOK.COM "), "phone": "1 415 555 0134"},
    "p2": {"email": email_rule("Jo.Doe@Gmail.com"), "phone": "44 20 7946 0958"},
    # the blocklisted test address is skipped: the older real one is picked
    "p3": {"email": email_rule("Kim@Example.org"), "phone": "1 415 555 0199"},
    # p4's phone is blocklisted (`+15555550100`); p4b has no email: they are two profiles, and
    # only p4b's consent event (through its phone) grants the purpose
    "p4b": {"email": None, "phone": "1 212 555 0147"},
}


def meta(kind: str, value):
    if value is None:
        return None
    return sha256(value if kind == "email" else value.replace(" ", ""))


def google(kind: str, value):
    if value is None:
        return None
    return sha256(value if kind == "email" else "+" + value.replace(" ", ""))


def ordered(rows) -> list[tuple]:
    return sorted((tuple(r) for r in rows), key=lambda r: [(v is None, v or "") for v in r])


EXPECTED = {
    "meta": ordered((meta("email", p["email"]), meta("phone", p["phone"])) for p in PEOPLE.values()),
    "google": ordered((google("email", p["email"]), google("phone", p["phone"])) for p in PEOPLE.values()),
}


def test_the_expected_values_are_the_documented_ones():
    """A spot check of the hand-written expectations against the platforms' own examples' form."""
    assert meta("phone", "1 415 555 0134") == sha256("14155550134")
    assert google("phone", "1 415 555 0134") == sha256("+14155550134")
    assert meta("email", PEOPLE["p1"]["email"]) == sha256("priya.k@outlook.com")
    assert google("email", PEOPLE["p2"]["email"]) == sha256("jo.doe@gmail.com")  # the dot stays


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return require_valid(write_files(tmp_path_factory.mktemp("adsmatch"), PROJECT))


def _engine(request, name):
    if name == "duckdb":
        return DuckDBEngine()
    return request.getfixturevalue({"postgres": "pg_engine", "spark": "spark_engine"}[name])


@pytest.mark.parametrize("engine_name", ["duckdb", "postgres", "spark"])
def test_hashed_values_match_what_meta_and_google_compute(request, project, engine_name):
    engine = _engine(request, engine_name)
    try:
        run_project(project, engine, project.root / "data", AS_OF)
        for destination in ("meta", "google"):
            table = f"cdp_audiences.sync__{destination}__everyone"
            identifiers = ordered(engine.rows(f"SELECT email, phone FROM {table}"))
            fields = ordered(engine.rows(f"SELECT primary_email, primary_phone FROM {table}"))
            assert identifiers == EXPECTED[destination], (engine_name, destination, "identifiers")
            assert fields == EXPECTED[destination], (engine_name, destination, "fields")
        picked = {tuple(r) for r in engine.rows("SELECT primary_email, primary_phone FROM cdp.customer_profiles")}
        assert not any(e and e.strip().lower() == "test@example.com" for e, _ in picked), picked
        assert ("lee@example.net", None) in picked  # the blocklisted phone is not picked: nothing is left
        assert (" PRIYA.K@OUTLOOK.COM ", "(415) 555-0134") in picked  # a pick itself stays as staged
    finally:
        if engine_name == "duckdb":
            engine.close()
