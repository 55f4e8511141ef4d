"""Reference implementation of docs/reference.md's erasure rule, written from that text alone.

Literal and naive, on top of tests/reference/identity.py:

1. resolve identity with every record;
2. a profile any of whose records *carries* a requested (type, value) is erased
   (carries: the record's field for that type, normalized like the type, equals the value;
   a blocklisted value is no identifier, so nothing carries it; a conflict value is still
   carried by the records that have it);
3. the erased pairs are the requested pairs plus every pair an erased profile's records carry
   ("a value that an erased profile held", read as its records' values: a value identity
   rejected as a conflict is still the erased person's, and goes too);
4. every record of an erased profile, and every row carrying an erased pair, is removed
   (rejected rows included: they take no part in identity but carry identifier fields);
5. identity is resolved again on the records that are left.

Matching is typed: a value erased as an email does not remove a device id spelled the same.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable, Mapping, Optional

from .identity import IdentifierSpec, IdentityResult, normalize, resolve

Record = tuple[str, str, Mapping[str, Optional[str]]]  # (source, record_key, {id_type: raw value})
Request = tuple[Optional[str], Optional[str], dt.datetime]  # (id_type, raw value, requested_at)


@dataclass
class ErasureResult:
    before: IdentityResult          # identity resolved with every record
    erased_profiles: set[str]       # profile ids (of `before`) that are erased
    removed: set[tuple[str, str]]   # (source, record_key) of staged records left out of every table
    removed_rejected: set[tuple[str, str]]  # (source, record_key) of rejected rows left out
    after: IdentityResult           # identity resolved again without them
    requests: list[tuple[str, str, dt.datetime, int]]  # (id_type, normalized value, requested_at, records_erased)


def _carried(specs, blocked, record: Record) -> set[tuple[str, str]]:
    """The (type, normalized value) pairs a record carries in its identifier fields."""
    _, _, raw_values = record
    pairs = set()
    for id_type, raw in raw_values.items():
        if id_type not in specs:
            continue
        value = normalize(specs[id_type].normalize, raw)
        if value is not None and value not in blocked.get(id_type, set()):
            pairs.add((id_type, value))
    return pairs


def eligible_requests(identifiers: list[IdentifierSpec], requests: Iterable[Request],
                      blocklist: Mapping[str, Iterable[str]] | None,
                      as_of: dt.datetime) -> list[tuple[str, str, dt.datetime]]:
    """Requests at or before the as-of, of a known type, whose value is an identifier."""
    specs = {s.type: s for s in identifiers}
    blocked = _blocked(specs, blocklist)
    out = []
    for id_type, raw, requested_at in requests:
        if requested_at > as_of or id_type not in specs:
            continue
        value = normalize(specs[id_type].normalize, raw)
        if value is None or value in blocked.get(id_type, set()):
            continue
        out.append((id_type, value, requested_at))
    return out


def _blocked(specs, blocklist) -> dict[str, set[str]]:
    return {t: {n for raw in vals if (n := normalize(specs[t].normalize, raw)) is not None}
            for t, vals in (blocklist or {}).items() if t in specs}


def erase(identifiers: list[IdentifierSpec], records: list[Record], requests: Iterable[Request],
          as_of: dt.datetime, blocklist: Mapping[str, Iterable[str]] | None = None,
          rejected: list[Record] = ()) -> ErasureResult:
    """records: rows that pass their contract (identity's input); rejected: rows that do not."""
    specs = {s.type: s for s in identifiers}
    blocked = _blocked(specs, blocklist)
    before = resolve(identifiers, records, blocklist)
    carried = {(r[0], r[1]): _carried(specs, blocked, r) for r in records}
    carried_rejected = {(r[0], r[1]): _carried(specs, blocked, r) for r in rejected}
    members: dict[str, set] = {}
    for rid, pid in before.profile_of.items():
        members.setdefault(pid, set()).add(rid)

    def removed_by(pairs: set[tuple[str, str]]) -> tuple[set[str], set, set]:
        profiles = {before.profile_of[rid] for rid, c in carried.items() if c & pairs}
        erased_pairs = set(pairs)
        for pid in profiles:
            for rid in members[pid]:
                erased_pairs |= carried[rid]
        rows = {rid for pid in profiles for rid in members[pid]}
        rows |= {rid for rid, c in carried.items() if c & erased_pairs}
        return profiles, rows, {rid for rid, c in carried_rejected.items() if c & erased_pairs}

    accepted = eligible_requests(identifiers, requests, blocklist, as_of)
    profiles, removed, removed_rejected = removed_by({(t, v) for t, v, _ in accepted})
    per_request = []
    for t, v, at in accepted:
        _, rows, rejected_rows = removed_by({(t, v)})
        per_request.append((t, v, at, len(rows) + len(rejected_rows)))
    left = [r for r in records if (r[0], r[1]) not in removed]
    after = resolve(identifiers, left, blocklist)
    return ErasureResult(before, profiles, removed, removed_rejected, after, per_request)
