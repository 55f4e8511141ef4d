"""Reference implementation of docs/reference.md §2.3, *identity*, written from that text alone.

Deliberately naive and literal: profiles are frozensets of record ids, held values are
recomputed from scratch, every step follows the numbered text of docs/reference.md §2.3.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Optional

SPACE = " "


def trim(value: str) -> str:
    """docs/reference.md §2.3: trim removes spaces (U+0020) at both ends and nothing else."""
    return value.strip(SPACE)


def normalize(normalizer: str, value: Optional[str]) -> Optional[str]:
    """One normalizer of docs/reference.md §2.3; returns None for 'no identifier' (NULL or empty)."""
    if value is None:
        return None
    if normalizer == "email":
        v = trim(value).lower()
        if v.count("@") != 1:
            return None
        local, domain = v.split("@")
        if not local or not domain:
            return None
        out = v
    elif normalizer == "phone":
        digits = "".join(ch for ch in value if ch in "0123456789")
        if len(digits) == 10:
            digits = "1" + digits
        if not 8 <= len(digits) <= 15:
            return None
        out = "+" + digits
    elif normalizer == "upper_trim":
        out = trim(value).upper()
    elif normalizer == "lower_trim":
        out = trim(value).lower()
    elif normalizer == "trim":
        out = trim(value)
    elif normalizer in ("none", None):
        out = value
    else:
        raise ValueError(normalizer)
    return out if out != "" else None


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def cp_key(s: str):
    """Code-point order (Python str comparison is already code-point order)."""
    return s


@dataclass
class IdentifierSpec:
    type: str
    normalize: str = "none"
    max_per_profile: Optional[int] = None


@dataclass
class IdentityResult:
    profile_of: dict  # (source, record_key) -> profile_id
    conflicts: set  # {(id_type, id_value)}
    groups: list  # list of frozensets of (source, record_key)
    held: dict = field(default_factory=dict)  # (source, record_key) -> frozenset of (type, value) held by its profile
    values: dict = field(default_factory=dict)  # (source, record_key) -> {type: normalized value or None} (blocklisted -> None)


def resolve(identifiers: list[IdentifierSpec],
            records: Iterable[tuple[str, str, Mapping[str, Optional[str]]]],
            blocklist: Mapping[str, Iterable[str]] | None = None) -> IdentityResult:
    """records: (source, record_key, {id_type: raw value}).  Returns the map and conflicts."""
    specs = {s.type: s for s in identifiers}
    order = [s.type for s in identifiers]
    blocked = {t: {n for raw in vals if (n := normalize(specs[t].normalize, raw)) is not None}
               for t, vals in (blocklist or {}).items() if t in specs}

    # record -> {type: normalized value}
    rec_values: dict[tuple[str, str], dict[str, str]] = {}
    for source, key, raw_values in records:
        rid = (source, key)
        assert rid not in rec_values, f"duplicate record {rid}"
        vals = {}
        for t, raw in raw_values.items():
            if t not in specs:
                continue
            n = normalize(specs[t].normalize, raw)
            if n is None or n in blocked.get(t, set()):
                continue
            vals[t] = n
        rec_values[rid] = vals

    rejected: set[tuple[str, str]] = set()

    def held_of(profile: frozenset) -> set[tuple[str, str]]:
        return {(t, v) for rid in profile for t, v in rec_values[rid].items() if (t, v) not in rejected}

    def breaks(pairs: set[tuple[str, str]]) -> bool:
        for t in order:
            limit = specs[t].max_per_profile
            if limit is not None and len({v for (tt, v) in pairs if tt == t}) > limit:
                return True
        return False

    # 1. every record its own profile
    profiles: list[frozenset] = [frozenset([rid]) for rid in rec_values]

    for T in order:
        # 2a: evaluated against the state at the start of this step (simultaneously)
        held = [held_of(p) for p in profiles]
        values_T = sorted({v for h in held for (t, v) in h if t == T})
        rejected_2a = set()
        for v in values_T:
            union: set = set()
            for h in held:
                if (T, v) in h:
                    union |= h
            if breaks(union):
                rejected_2a.add((T, v))
        rejected |= rejected_2a
        # 2b: connected components through non-rejected type-T values
        held = [held_of(p) for p in profiles]
        parent = list(range(len(profiles)))

        def find(i):
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        first_with: dict[str, int] = {}
        for i, h in enumerate(held):
            for (t, v) in h:
                if t != T:
                    continue
                if v in first_with:
                    a, b = find(i), find(first_with[v])
                    if a != b:
                        parent[a] = b
                else:
                    first_with[v] = i
        comps: dict[int, list[int]] = {}
        for i in range(len(profiles)):
            comps.setdefault(find(i), []).append(i)
        new_profiles = []
        for members in comps.values():
            if len(members) == 1:
                new_profiles.append(profiles[members[0]])
                continue
            union = set().union(*(held[i] for i in members))
            if breaks(union):
                rejected |= {(t, v) for (t, v) in union if t == T}
                new_profiles.extend(profiles[i] for i in members)
            else:
                new_profiles.append(frozenset().union(*(profiles[i] for i in members)))
        profiles = new_profiles

    profile_of = {}
    held_by_record = {}
    for p in profiles:
        h = held_of(p)
        assert not breaks(h)
        pid = None
        for t in order:
            vals = sorted(v for (tt, v) in h if tt == t)
            if vals:
                pid = md5_hex(f"{t}:{vals[0]}")
                break
        if pid is None:
            assert len(p) == 1
            (source, key), = p
            pid = md5_hex(f"record:{source}:{key}")
        for rid in p:
            profile_of[rid] = pid
            held_by_record[rid] = frozenset(h)
    return IdentityResult(profile_of, set(rejected), [frozenset(p) for p in profiles], held_by_record, rec_values)


def partition(mapping: Mapping) -> set[frozenset]:
    """The partition a map {record: profile_id} induces."""
    groups: dict = {}
    for rid, pid in mapping.items():
        groups.setdefault(pid, set()).add(rid)
    return {frozenset(g) for g in groups.values()}
