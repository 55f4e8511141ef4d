"""Identity resolution: cdpc on DuckDB vs the pure-Python reference of docs/reference.md §2.3 (tests/reference/identity.py)."""

from __future__ import annotations

import math
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlglot import exp

from reference.harness import project_doc, run, write_csv, write_yaml
from reference.identity import IdentifierSpec, md5_hex, normalize, partition, resolve

NORMALIZERS = ["email", "phone", "upper_trim", "lower_trim", "trim", "none"]

POOLS = {
    "email": ["a@x.com", "A@x.com ", " a@X.COM", "b@x.com", "B@X.com", "c@y.org", "fam@x.com",
              "FAM@x.com  ", "noat.com", "a@@x.com", "@x.com", "a@", "   ", "", "\ta@x.com",
              "test@example.com", "Test@Example.com", "é@x.com", "É@X.com", "a b@x.com", "\u00a0a@x.com"],
    "phone": ["4155550134", "(415) 555-0134", "+1 415 555 0134", "14155550134", "415-555-0199",
              "555-0100", "12345", "+44 20 7946 0958", "1234567", "12345678", "123456789012345",
              "1234567890123456", "abc", "415.555.0134 x", "   ", "+15555550100", "5555550100"],
    "text": ["m1", "M1", " m1", "m1 ", "M2", "m2", " ", "", "x y", "é", "É", "ab", "AB", "  ab  ", "\tab", "\u00a0m1"],
}
TYPE_NAMES = ["member_no", "email", "phone", "device"]
KEY_POOL = ["a", "B", "é", "10", "2", "k k", "z"]


def pool_for(normalizer: str) -> list[str]:
    return POOLS.get(normalizer, POOLS["text"])


@st.composite
def identity_case(draw):
    n_types = draw(st.integers(2, 4))
    types = TYPE_NAMES[:n_types]
    draw(st.randoms(use_true_random=False)).shuffle(types)  # priority order varies
    identifiers = []
    for t in types:
        norm = draw(st.sampled_from(NORMALIZERS))
        limit = draw(st.sampled_from([1, 2, 1, 3, 2, None]))
        identifiers.append(IdentifierSpec(t, norm, limit))
    n_sources = draw(st.integers(1, 3))
    sources = {}
    for i in range(n_sources):
        mapped = draw(st.lists(st.sampled_from(types), min_size=1, max_size=len(types), unique=True))
        sources[f"src{i}"] = {t: f"f_{t}_{i}" for t in mapped}
    blocklist = {}
    for spec in identifiers:
        chosen = draw(st.lists(st.sampled_from(pool_for(spec.normalize)), max_size=2, unique=True))
        chosen = [c for c in chosen if normalize(spec.normalize, c) is not None]
        if chosen:
            blocklist[spec.type] = chosen
    # small per-example sub-pools so that values collide a lot
    subpool = {spec.type: draw(st.lists(st.sampled_from(pool_for(spec.normalize)), min_size=2, max_size=4, unique=True))
               for spec in identifiers}
    n_records = draw(st.sampled_from([25, 40, 15, 30, 8, 3, 1, 0]))
    records = []
    used = set()
    for j in range(n_records):
        src = draw(st.sampled_from(sorted(sources)))
        key = draw(st.sampled_from(KEY_POOL)) + str(j)
        values = {}
        for t in sources[src]:
            values[t] = draw(st.sampled_from(subpool[t] + [None]))
        records.append((src, key, values))
    seed = draw(st.integers(0, 2**32 - 1))
    return identifiers, sources, blocklist, records, seed


@st.composite
def dense_case(draw):
    """Few valid values, tight limits, many records: conflicts at every step (2a and 2b)."""
    types = ["member_no", "email", "phone"]
    draw(st.randoms(use_true_random=False)).shuffle(types)
    norms = {"member_no": "upper_trim", "email": "email", "phone": "phone"}
    vals = {"member_no": ["m1", "M2", " m3", None], "email": ["a@x.com", "B@x.com", "c@x.com", None],
            "phone": ["4155550001", "(415) 555-0002", "+1 415 555 0003", None]}
    identifiers = [IdentifierSpec(t, norms[t], draw(st.sampled_from([1, 2, 1, None]))) for t in types]
    sources = {"src0": {t: f"f_{t}" for t in types}}
    n = draw(st.integers(2, 25))
    records = [("src0", f"r{j}", {t: draw(st.sampled_from(vals[t])) for t in types}) for j in range(n)]
    return identifiers, sources, {}, records, draw(st.integers(0, 2**32 - 1))


def write_identity_project(root: Path, identifiers, sources, blocklist, records) -> None:
    docs = [project_doc()]
    for src, mapping in sources.items():
        fields = {"k": {"type": "string", "required": True}}
        for field in mapping.values():
            fields[field] = {"type": "string"}
        docs.append({"kind": "contract", "name": src, "version": "1.0.0", "relation": f"raw.{src}",
                     "primary_key": ["k"], "fields": fields})
    ident = {"kind": "identity", "name": "customer", "version": "1.0.0", "identifiers": [], "sources": sources}
    for spec in identifiers:
        d = {"type": spec.type, "normalize": spec.normalize}
        if spec.max_per_profile is not None:
            d["max_per_profile"] = spec.max_per_profile
        ident["identifiers"].append(d)
    if blocklist:
        ident["blocklist"] = blocklist
    docs.append(ident)
    write_yaml(root / "definitions" / "project.yaml", docs)
    for src, mapping in sources.items():
        header = ["k"] + list(mapping.values())
        rows = [[key] + [values[t] for t in mapping] for (s, key, values) in records if s == src]
        write_csv(root / "data" / f"raw.{src}.csv", header, rows)


def run_identity(identifiers, sources, blocklist, records):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_identity_project(root, identifiers, sources, blocklist, records)
        engine, _ = run(root)
        mapping = {(s, k): p for s, k, p in engine.rows("SELECT source, record_key, profile_id FROM cdp_identity.customer_map")}
        rows = engine.rows("SELECT id_type, id_value FROM cdp_identity.customer_conflicts")
        conflicts = {tuple(r) for r in rows}
        assert len(rows) == len(conflicts), f"duplicate conflict rows: {rows}"
        engine.close()
    return mapping, conflicts


def check_against_reference(identifiers, sources, blocklist, records):
    expected = resolve(identifiers, records, blocklist)
    mapping, conflicts = run_identity(identifiers, sources, blocklist, records)
    assert partition(mapping) == partition(expected.profile_of), "partition differs"
    assert mapping == expected.profile_of, "profile ids differ"
    assert conflicts == expected.conflicts


import os
SCALE = float(os.environ.get("CDPC_PROPERTY_SCALE", "1"))
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@settings(max_examples=int(60 * SCALE), **SETTINGS)
@given(identity_case())
def test_identity_matches_reference(case):
    identifiers, sources, blocklist, records, seed = case
    records = list(records)
    random.Random(seed).shuffle(records)
    check_against_reference(identifiers, sources, blocklist, records)


@settings(max_examples=int(40 * SCALE), **SETTINGS)
@given(dense_case())
def test_identity_dense_conflicts_match_reference(case):
    identifiers, sources, blocklist, records, seed = case
    records = list(records)
    random.Random(seed).shuffle(records)
    check_against_reference(identifiers, sources, blocklist, records)


@settings(max_examples=int(15 * SCALE), **SETTINGS)
@given(identity_case())
def test_identity_independent_of_row_order(case):
    identifiers, sources, blocklist, records, seed = case
    a = list(records)
    b = list(records)
    random.Random(seed).shuffle(a)
    random.Random(seed + 1).shuffle(b)
    b.reverse()
    assert run_identity(identifiers, sources, blocklist, a) == run_identity(identifiers, sources, blocklist, b)


# --------------------------------------------------------------------------- hand-written cases of docs/reference.md §2.3

def ids(*specs):
    return [IdentifierSpec(*s) for s in specs]


def h(t, v):
    return md5_hex(f"{t}:{v}")


def test_reference_self_check_2a_rejection():
    """2a: shared family email would give U(v) two member numbers (max 1) -> email rejected."""
    identifiers = ids(("member_no", "upper_trim", 1), ("email", "email", 3))
    recs = [("src0", "1", {"member_no": "m1", "email": "fam@x.com"}),
            ("src0", "2", {"member_no": "m2", "email": "FAM@x.com "}),
            ("src0", "3", {"member_no": " m1", "email": None})]
    r = resolve(identifiers, recs)
    assert r.conflicts == {("email", "fam@x.com")}
    assert r.profile_of == {("src0", "1"): h("member_no", "M1"), ("src0", "3"): h("member_no", "M1"),
                            ("src0", "2"): h("member_no", "M2")}


EXAMPLES = {
    # 2a: a value whose union of profiles would break a limit is rejected
    "2a_rejection": (
        ids(("member_no", "upper_trim", 1), ("email", "email", 3)),
        {"src0": {"member_no": "f_member_no_0", "email": "f_email_0"}},
        {},
        [("src0", "1", {"member_no": "m1", "email": "fam@x.com"}),
         ("src0", "2", {"member_no": "m2", "email": "FAM@x.com "}),
         ("src0", "3", {"member_no": " m1", "email": None})],
    ),
    # 2b: member m2 first joins r2a+r2b (emails e1, e2). Then each email alone is fine
    # (U(e1) and U(e2) hold one phone each), but the group r1-e1-r2-e2-r3 would hold 2
    # phones (limit 1): not merged, and every email inside it (e1, e2, not e3) rejected
    "2b_group_rejection": (
        ids(("member_no", "upper_trim", 1), ("email", "email", 3), ("phone", "phone", 1)),
        {"src0": {"member_no": "f_member_no_0", "email": "f_email_0", "phone": "f_phone_0"}},
        {},
        [("src0", "1", {"member_no": None, "email": "e1@x.com", "phone": "4155550001"}),
         ("src0", "2a", {"member_no": "m2", "email": "e1@x.com", "phone": None}),
         ("src0", "2b", {"member_no": "m2", "email": "e2@x.com", "phone": None}),
         ("src0", "3", {"member_no": None, "email": "e2@x.com", "phone": "4155550002"}),
         ("src0", "4", {"member_no": None, "email": "e3@x.com", "phone": "4155550002"})],
    ),
    # a value rejected earlier does not count toward the limits later
    "rejected_value_not_counted": (
        ids(("member_no", "upper_trim", 1), ("email", "email", 1), ("phone", "phone", 1)),
        {"src0": {"member_no": "f_member_no_0", "email": "f_email_0", "phone": "f_phone_0"}},
        {},
        [  # step member_no: m1 joins r1,r2 -> emails e1,e2 (limit 1) -> m1 rejected in 2a
         ("src0", "1", {"member_no": "m1", "email": "e1@x.com", "phone": None}),
         ("src0", "2", {"member_no": "m1", "email": "e2@x.com", "phone": "4155550001"}),
         # r3 shares phone with r2, and member m1 (rejected) does not count against r3's m3
         ("src0", "3", {"member_no": "m3", "email": None, "phone": "4155550001"})],
    ),
    # blocklisted values never link, never name a profile, are not conflicts
    "blocklist": (
        ids(("email", "email", 1), ("device", "none", None)),
        {"src0": {"email": "f_email_0", "device": "f_device_0"}},
        {"email": [" TEST@example.com"]},
        [("src0", "1", {"email": "test@example.com", "device": "d1"}),
         ("src0", "2", {"email": "Test@Example.com ", "device": "d2"}),
         ("src0", "3", {"email": "test@example.com", "device": None})],
    ),
    # records without identifiers (NULL, '', not an email, short phone, spaces) stay alone
    "identifierless": (
        ids(("email", "email", 2), ("phone", "phone", 2), ("member_no", "trim", 1)),
        {"src0": {"email": "f_email_0", "phone": "f_phone_0"}, "src1": {"member_no": "f_member_no_1"}},
        {},
        [("src0", "1", {"email": "noat.com", "phone": "12345"}),
         ("src0", "2", {"email": "   ", "phone": None}),
         ("src0", "3", {"email": "", "phone": "abc"}),
         ("src1", "1", {"member_no": "   "}),
         ("src1", "2", {"member_no": None})],
    ),
    # ties: the smallest value by code point names the profile ('B' < 'a' < 'é')
    "tie_code_point": (
        ids(("device", "none", 3), ("member_no", "upper_trim", 1)),
        {"src0": {"device": "f_device_0", "member_no": "f_member_no_0"}},
        {},
        [("src0", "1", {"device": "a", "member_no": "m1"}),
         ("src0", "2", {"device": "é", "member_no": "m1"}),
         ("src0", "3", {"device": "B", "member_no": "m1"})],
    ),
    # the profile_id skips a rejected higher-priority value
    "id_skips_rejected": (
        ids(("email", "email", 1), ("device", "none", 1)),
        {"src0": {"email": "f_email_0", "device": "f_device_0"}},
        {},
        [("src0", "1", {"email": "fam@x.com", "device": "d1"}),
         ("src0", "2", {"email": "fam@x.com", "device": "d2"})],
    ),
    # none normalizer keeps spaces: '  ' is an identifier, ' m1' and 'm1' are different
    "none_keeps_spaces": (
        ids(("device", "none", 2),),
        {"src0": {"device": "f_device_0"}},
        {},
        [("src0", "1", {"device": "  "}), ("src0", "2", {"device": "  "}),
         ("src0", "3", {"device": " m1"}), ("src0", "4", {"device": "m1"})],
    ),
    # the same value in two sources links across sources
    "cross_source": (
        ids(("phone", "phone", 2),),
        {"src0": {"phone": "f_phone_0"}, "src1": {"phone": "f_phone_1"}},
        {"phone": ["(555) 555-0100"]},
        [("src0", "1", {"phone": "(415) 555-0134"}), ("src1", "1", {"phone": "+1 415 555 0134"}),
         ("src0", "2", {"phone": "5555550100"}), ("src1", "2", {"phone": "+15555550100"})],
    ),
}

KNOWN_BUGS: dict[str, str] = {}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_identity_example(name, request):
    if name in KNOWN_BUGS:
        request.applymarker(pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[name]))
    identifiers, sources, blocklist, records = EXAMPLES[name]
    check_against_reference(identifiers, sources, blocklist, records)


def test_reference_examples_have_expected_shape():
    """Sanity checks on the reference itself for the hand-written cases."""
    r = resolve(*[EXAMPLES["2b_group_rejection"][i] for i in (0, 3)])
    assert r.conflicts == {("email", "e1@x.com"), ("email", "e2@x.com")}
    assert partition(r.profile_of) == {frozenset({("src0", "1")}), frozenset({("src0", "2a"), ("src0", "2b")}),
                                       frozenset({("src0", "3"), ("src0", "4")})}
    assert r.profile_of[("src0", "2a")] == h("member_no", "M2")
    assert r.profile_of[("src0", "3")] == h("email", "e3@x.com")
    r = resolve(*[EXAMPLES["rejected_value_not_counted"][i] for i in (0, 3)])
    assert r.conflicts == {("member_no", "M1")}
    assert partition(r.profile_of) == {frozenset({("src0", "1")}), frozenset({("src0", "2"), ("src0", "3")})}
    assert r.profile_of[("src0", "2")] == h("member_no", "M3")
    r = resolve(*[EXAMPLES["blocklist"][i] for i in (0, 3)], EXAMPLES["blocklist"][2])
    assert r.conflicts == set() and len(partition(r.profile_of)) == 3
    assert r.profile_of[("src0", "3")] == md5_hex("record:src0:3")
    r = resolve(*[EXAMPLES["tie_code_point"][i] for i in (0, 3)])
    assert set(r.profile_of.values()) == {h("device", "B")}
    r = resolve(*[EXAMPLES["id_skips_rejected"][i] for i in (0, 3)])
    assert r.conflicts == {("email", "fam@x.com")}
    assert r.profile_of[("src0", "1")] == h("device", "d1")


# --------------------------------------------------------------------------- a long chain, numbered at random

CHAIN = 20_000  # links of one type in a row


def _chain_records(seed: int):
    """Member i's two records hold devices d_i and d_(i+1): after the membership pass every
    profile shares a device with the next one, a chain of CHAIN links. Keys and values are
    random, so no numbering of records or values follows the chain."""
    rng = random.Random(seed)
    members = [f"m{rng.getrandbits(48):012x}" for _ in range(CHAIN + 1)]
    devices = [f"d{rng.getrandbits(48):012x}" for _ in range(CHAIN + 2)]
    keys = rng.sample(range(10 * CHAIN), 2 * (CHAIN + 1))
    records = []
    for i, member in enumerate(members):
        records.append(("src0", f"k{keys[2 * i]}", {"member_no": member, "device": devices[i]}))
        records.append(("src0", f"k{keys[2 * i + 1]}", {"member_no": member, "device": devices[i + 1]}))
    rng.shuffle(records)
    return members, devices, records


def _run_chain(device_limit):
    members, devices, records = _chain_records(15)
    identifiers = ids(("member_no", "lower_trim", None), ("device", "none", device_limit))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_identity_project(root, identifiers, {"src0": {"member_no": "f_m", "device": "f_d"}}, {}, records)
        engine, result = run(root)
        profiles = engine.rows("SELECT profile_id, COUNT(*) FROM cdp_identity.customer_map GROUP BY profile_id")
        conflicts = engine.rows("SELECT id_type, COUNT(*) FROM cdp_identity.customer_conflicts GROUP BY id_type")
        engine.close()
    return members, devices, result.iterations, profiles, conflicts


def test_long_chain_resolves_in_logarithmic_rounds():
    """A chain of 20k links becomes one profile in O(log n) rounds of the component loop
    (label propagation alone would take as many rounds as the chain is long)."""
    members, _, iterations, profiles, conflicts = _run_chain(device_limit=None)
    assert profiles == [(h("member_no", min(members)), 2 * len(members))]
    assert conflicts == []
    assert iterations["components_member_no"] == 1  # pairs: one round joins them, and nothing is left to do
    assert iterations["components_device"] <= 2 * math.ceil(math.log2(CHAIN)) + 2, iterations


def test_long_chain_over_a_limit_is_not_merged():
    """The same chain with at most 5 devices per profile: the component would break the
    limit, so it is not merged and every device in it is rejected (2b)."""
    members, devices, iterations, profiles, conflicts = _run_chain(device_limit=5)
    assert sorted(profiles) == sorted((h("member_no", m), 2) for m in members)
    assert conflicts == [("device", len(devices))]
    assert iterations["components_device"] <= 2 * math.ceil(math.log2(CHAIN)) + 2, iterations


# --------------------------------------------------------------------------- a record key on several rows

# docs/reference.md §2.3: a record is its source and key, so rows that share a key are one
# record holding the values of all its rows (the run also reports CDP504). The reference
# above takes one value per type and record, so these are written out by hand.
DUPLICATE_KEYS = {
    # record 1 holds a@x and b@x; a@x would join it to member m2 (limit 1): rejected in 2a
    "two_emails": (
        [("src0", "1", {"member_no": "m1", "email": "a@x.com"}), ("src0", "1", {"member_no": "m1", "email": "b@x.com"}),
         ("src0", "2", {"member_no": "m2", "email": "a@x.com"})],
        {("src0", "1"): h("member_no", "m1"), ("src0", "2"): h("member_no", "m2")},
        {("email", "a@x.com")}),
    # the same row twice, and a record with the same values: one profile, one map row per record
    "repeated_row": (
        [("src0", "1", {"member_no": "m1", "email": "a@x.com"}), ("src0", "1", {"member_no": "m1", "email": "a@x.com"}),
         ("src0", "2", {"member_no": "m1", "email": "a@x.com"})],
        {("src0", "1"): h("member_no", "m1"), ("src0", "2"): h("member_no", "m1")},
        set()),
    # record 1 holds m1 on one row and a@x on another; record 2 holds m1: they merge
    "values_on_two_rows": (
        [("src0", "1", {"member_no": "m1", "email": None}), ("src0", "1", {"member_no": None, "email": "a@x.com"}),
         ("src0", "2", {"member_no": "m1", "email": None})],
        {("src0", "1"): h("member_no", "m1"), ("src0", "2"): h("member_no", "m1")},
        set()),
    # record 1 holds m1 and m2 on its own; m1 links it to record 3, and that union would hold
    # two members: m1 is rejected, record 3 is left with nothing and named after itself
    "two_members": (
        [("src0", "1", {"member_no": "m1", "email": "e@x.com"}), ("src0", "1", {"member_no": "m2", "email": "e@x.com"}),
         ("src0", "3", {"member_no": "m1", "email": None})],
        {("src0", "1"): h("member_no", "m2"), ("src0", "3"): md5_hex("record:src0:3")},
        {("member_no", "m1")}),
}


@pytest.mark.parametrize("name", sorted(DUPLICATE_KEYS))
def test_rows_sharing_a_key_are_one_record(name):
    records, profile_of, conflicts = DUPLICATE_KEYS[name]
    identifiers = ids(("member_no", "lower_trim", 1), ("email", "email", 3))
    sources = {"src0": {"member_no": "f_m", "email": "f_e"}}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_identity_project(root, identifiers, sources, {}, records)
        engine, result = run(root)
        rows = engine.rows("SELECT source, record_key, profile_id FROM cdp_identity.customer_map")
        found = {tuple(r) for r in engine.rows("SELECT id_type, id_value FROM cdp_identity.customer_conflicts")}
        engine.close()
    assert sorted(rows) == sorted((s, k, p) for (s, k), p in profile_of.items())  # one row per record
    assert found == conflicts
    assert "CDP504" in {f.code for f in result.findings}


# --------------------------------------------------------------------------- a pass with nothing to link

def _run_with_iterations(identifiers, sources, records):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_identity_project(root, identifiers, sources, {}, records)
        engine, result = run(root)
        tables = {name: sorted(engine.rows(f"SELECT * FROM cdp_identity.customer_{name}"), key=repr)
                  for name in ("map", "conflicts")}
        engine.close()
    return tables, result.iterations


@settings(max_examples=int(25 * SCALE), **SETTINGS)
@given(case=identity_case())
def test_skipping_a_pass_without_links_changes_nothing(monkeypatch, case):
    """A pass whose type links no two profiles skips everything after id_link (a conditional
    group): the map and conflicts equal those of a run that forces every pass to run whole."""
    identifiers, sources, blocklist, records, _ = case
    from compiler.emit import identity as emitted

    skipping, _ = _run_with_iterations(identifiers, sources, records)
    with monkeypatch.context() as patched:
        patched.setattr(emitted, "_links_found", lambda: exp.select(exp.Literal.number(1)))
        forced, iterations = _run_with_iterations(identifiers, sources, records)
    assert {f"components_{spec.type}" for spec in identifiers} <= set(iterations)  # every loop ran
    assert skipping == forced


def test_a_type_no_two_profiles_share_is_not_resolved():
    """Devices that no two members share: the device pass finds no link and skips the rest."""
    identifiers = ids(("member_no", "lower_trim", None), ("device", "none", None))
    records = [("src0", "k1", {"member_no": "m1", "device": "d1"}), ("src0", "k2", {"member_no": "M1", "device": "d2"}),
               ("src0", "k3", {"member_no": "m2", "device": "d3"})]
    tables, iterations = _run_with_iterations(identifiers, {"src0": {"member_no": "f_m", "device": "f_d"}}, records)
    assert "components_member_no" in iterations and "components_device" not in iterations, iterations
    assert len({profile for _, _, profile in tables["map"]}) == 2
