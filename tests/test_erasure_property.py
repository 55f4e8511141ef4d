"""Erasure: cdpc on DuckDB vs the pure-Python reference of the erasure rule (tests/reference/erasure.py).

Random identity projects (the generator of tests/test_identity_properties.py) get an
`erasure_requests` contract and a `kind: erasure`; requests name values from the same small
pools (in other spellings, of other types, after the as-of). cdpc's map, conflicts, staged rows
and `<identity>_erasures` must equal the reference's: which profiles are erased, which records
are left, and how identity resolves again without them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hypothesis import given, settings, strategies as st

from reference.erasure import erase
from reference.harness import AS_OF, project_doc, run, write_csv, write_yaml
from reference.identity import IdentifierSpec, md5_hex
from test_identity_properties import SCALE, SETTINGS, identity_case, pool_for

REQUEST_TIMES = [AS_OF - dt.timedelta(days=30), AS_OF, AS_OF + dt.timedelta(seconds=1)]


@st.composite
def erasure_case(draw):
    identifiers, sources, blocklist, records, seed = draw(identity_case())
    carried = [(t, v) for _, _, values in records for t, v in values.items() if v is not None]
    requests = []
    for _ in range(draw(st.integers(0, 3))):
        spec = draw(st.sampled_from(identifiers))
        if carried and draw(st.booleans()):
            id_type, value = draw(st.sampled_from(carried))  # a value some record carries, as it spells it
            if draw(st.booleans()):
                id_type = spec.type  # the same text under another type: typed matching must not erase it
        else:
            id_type, value = spec.type, draw(st.sampled_from(pool_for(spec.normalize)))
        if draw(st.integers(0, 9)) == 0:
            id_type = "fax"  # not an identifier type of the identity: ignored
        requests.append((id_type, value, draw(st.sampled_from(REQUEST_TIMES))))
    rejected = set(draw(st.lists(st.sampled_from([(s, k) for s, k, _ in records]), max_size=4))) if records else set()
    return identifiers, sources, blocklist, records, requests, rejected, seed


def write_erasure_project(root: Path, identifiers, sources, blocklist, records, requests, rejected) -> None:
    """Each source's rows have a field `ok` that must be `y`: the rows in `rejected` say `n`."""
    ident = {"kind": "identity", "name": "customer", "version": "1.0.0", "sources": sources,
             "identifiers": [{"type": s.type, "normalize": s.normalize}
                             | ({"max_per_profile": s.max_per_profile} if s.max_per_profile else {})
                             for s in identifiers]}
    if blocklist:
        ident["blocklist"] = blocklist
    docs = [project_doc(), ident,
            {"kind": "contract", "name": "erasure_requests", "version": "1.0.0", "relation": "raw.erasure_requests",
             "primary_key": ["request_id"],
             "fields": {"request_id": {"type": "string", "required": True},
                        "id_type": {"type": "string", "required": True},
                        "id_value": {"type": "string", "pii": True},
                        "requested_at": {"type": "timestamp", "required": True}}},
            {"kind": "erasure", "name": "dsar", "version": "1.0.0", "source": "erasure_requests",
             "type_field": "id_type", "value_field": "id_value", "time_field": "requested_at"}]
    for src, mapping in sources.items():
        fields = {"k": {"type": "string", "required": True}, "ok": {"type": "string", "accepted_values": ["y"]}}
        fields |= {field: {"type": "string", "pii": True} for field in mapping.values()}
        docs.append({"kind": "contract", "name": src, "version": "1.0.0", "relation": f"raw.{src}",
                     "primary_key": ["k"], "fields": fields})
        rows = [[key, "n" if (s, key) in rejected else "y"] + [values[t] for t in mapping]
                for (s, key, values) in records if s == src]
        write_csv(root / "data" / f"raw.{src}.csv", ["k", "ok"] + list(mapping.values()), rows)
    write_yaml(root / "definitions" / "project.yaml", docs)
    rows = [[f"r{i}", t, v, at.strftime("%Y-%m-%d %H:%M:%S")] for i, (t, v, at) in enumerate(requests)]
    write_csv(root / "data" / "raw.erasure_requests.csv", ["request_id", "id_type", "id_value", "requested_at"], rows)


def run_erasure(identifiers, sources, blocklist, records, requests, rejected):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_erasure_project(root, identifiers, sources, blocklist, records, requests, rejected)
        engine, _ = run(root)
        try:
            mapping = {(s, k): p for s, k, p in engine.rows("SELECT source, record_key, profile_id FROM cdp_identity.customer_map")}
            conflicts = {tuple(r) for r in engine.rows("SELECT id_type, id_value FROM cdp_identity.customer_conflicts")}
            staged = {(src, k) for src in sources for (k,) in engine.rows(f"SELECT k FROM cdp_staging.{src}")}
            rejected_rows = {(src, k) for src in sources
                             for (k,) in engine.rows(f"SELECT k FROM cdp_staging.{src}_rejected")}
            erasures = sorted(tuple(r) for r in engine.rows(
                "SELECT id_type, value_sha256, requested_at, records_erased FROM cdp_identity.customer_erasures"))
            tables = {(s, t) for s, t in engine.rows(
                "SELECT table_schema, table_name FROM information_schema.tables")}
        finally:
            engine.close()
    return mapping, conflicts, staged, rejected_rows, erasures, tables


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_against_reference(identifiers, sources, blocklist, records, requests, rejected=frozenset()):
    good = [r for r in records if (r[0], r[1]) not in rejected]
    bad = [r for r in records if (r[0], r[1]) in rejected]
    expected = erase(identifiers, good, requests, AS_OF, blocklist, bad)
    mapping, conflicts, staged, rejected_rows, erasures, tables = run_erasure(
        identifiers, sources, blocklist, records, requests, rejected)
    assert staged == {(s, k) for s, k, _ in good} - expected.removed, "staged records differ from the rule's"
    assert rejected_rows == {(s, k) for s, k, _ in bad} - expected.removed_rejected, "rejected rows differ"
    assert mapping == expected.after.profile_of, "identity without the erased records differs"
    assert conflicts == expected.after.conflicts
    assert erasures == sorted((t, sha256_hex(v), at, n) for t, v, at, n in expected.requests)
    assert not any(name.startswith("erasure_requests") for _, name in tables), "the erasure source was copied"


@settings(max_examples=int(60 * SCALE), **SETTINGS)
@given(erasure_case())
def test_erasure_matches_reference(case):
    identifiers, sources, blocklist, records, requests, rejected, seed = case
    records = list(records)
    random.Random(seed).shuffle(records)
    check_against_reference(identifiers, sources, blocklist, records, requests, rejected)


# --------------------------------------------------------------------------- hand-written cases

ONE_SOURCE = {"src0": {"member_no": "f_member_no_0", "email": "f_email_0", "phone": "f_phone_0"}}
IDS = [IdentifierSpec("member_no", "upper_trim", 1), IdentifierSpec("email", "email", 3),
       IdentifierSpec("phone", "phone", 3)]
EARLY = REQUEST_TIMES[0]


def test_identity_resolves_again_without_the_erased():
    """m1's phone is a conflict while m1 and m2 both carry it; erase m1 and it goes with every row
    that carries it (a conflict value is still m1's), so m2's other record stands alone."""
    records = [("src0", "1", {"member_no": "m1", "email": "a@x.com", "phone": "4155550134"}),
               ("src0", "2", {"member_no": "m2", "email": "b@x.com", "phone": "(415) 555-0134"}),
               ("src0", "3", {"member_no": "m2", "email": "b@x.com", "phone": None}),
               ("src0", "4", {"member_no": None, "email": "c@x.com", "phone": "+1 415 555 0134"})]
    requests = [("member_no", " m1", EARLY)]
    expected = erase(IDS, records, requests, AS_OF)
    assert ("phone", "+14155550134") in expected.before.conflicts
    assert expected.removed == {("src0", "1"), ("src0", "2"), ("src0", "4")}
    assert set(expected.after.profile_of.values()) == {md5_hex("member_no:M2")}
    assert expected.after.conflicts == set()
    check_against_reference(IDS, ONE_SOURCE, {}, records, requests)


def test_a_rejected_row_carrying_a_held_value_goes_too():
    """Row 3 breaks its contract, so takes no part in identity, but carries a phone m1 held."""
    records = [("src0", "1", {"member_no": "m1", "email": "a@x.com", "phone": "4155550134"}),
               ("src0", "2", {"member_no": "m2", "email": "b@x.com", "phone": None}),
               ("src0", "3", {"member_no": None, "email": None, "phone": "+1 415 555 0134"})]
    requests = [("email", "A@x.com", EARLY)]
    expected = erase(IDS, records[:2], requests, AS_OF, rejected=records[2:])
    assert expected.removed == {("src0", "1")} and expected.removed_rejected == {("src0", "3")}
    assert expected.requests[0][3] == 2
    check_against_reference(IDS, ONE_SOURCE, {}, records, requests, rejected={("src0", "3")})


def test_a_shared_email_erases_every_profile_carrying_it():
    """The family email is a conflict: a request for it erases m1 and m2, and only them."""
    records = [("src0", "1", {"member_no": "m1", "email": "fam@x.com", "phone": None}),
               ("src0", "2", {"member_no": "m2", "email": "FAM@x.com", "phone": None}),
               ("src0", "3", {"member_no": "m3", "email": "c@x.com", "phone": None})]
    requests = [("email", "fam@x.com", EARLY)]
    expected = erase(IDS, records, requests, AS_OF)
    assert expected.removed == {("src0", "1"), ("src0", "2")}
    check_against_reference(IDS, ONE_SOURCE, {}, records, requests)


def test_future_and_unknown_requests_are_ignored():
    records = [("src0", "1", {"member_no": "m1", "email": "a@x.com", "phone": None})]
    requests = [("email", "a@x.com", REQUEST_TIMES[2]), ("fax", "a@x.com", EARLY)]
    expected = erase(IDS, records, requests, AS_OF)
    assert expected.removed == set() and expected.requests == []
    check_against_reference(IDS, ONE_SOURCE, {}, records, requests)


def test_matching_is_typed():
    sources = {"src0": {"member_no": "f_member_no_0", "device": "f_device_0"}}
    ids = [IdentifierSpec("member_no", "trim", 1), IdentifierSpec("device", "trim", None)]
    records = [("src0", "1", {"member_no": "x1", "device": None}),
               ("src0", "2", {"member_no": None, "device": "x1"})]
    requests = [("device", "x1", EARLY)]
    expected = erase(ids, records, requests, AS_OF)
    assert expected.removed == {("src0", "2")}
    check_against_reference(ids, sources, {}, records, requests)
