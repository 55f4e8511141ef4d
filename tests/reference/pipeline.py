"""Reference implementation of the rest of docs/reference.md §2 (contracts, attributes, consent with its evidence,
segments, syncs) on small data, for a fixed menu of SQL snippets.  Written from that text alone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Callable, Optional

from .identity import IdentifierSpec, normalize, resolve

# --------------------------------------------------------------------------- casts

INT_RANGE = {"integer": (-2**31, 2**31 - 1), "bigint": (-2**63, 2**63 - 1)}
TS_RE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})[ T]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6}))?$")
DATE_RE = re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$")
INT_RE = re.compile(r"^[+-]?[0-9]+$")
DEC_RE = re.compile(r"^([+-]?)([0-9]+)(?:\.([0-9]+))?$")
DOUBLE_RE = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
DECIMAL_TYPE_RE = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")

NOT_CASTABLE = object()


def cast(type_: str, text: str) -> Any:
    """The castable forms of docs/reference.md §2.2; NOT_CASTABLE otherwise."""
    if type_ == "string":
        return text
    if type_ == "timestamp":
        m = TS_RE.match(text)
        if not m:
            return NOT_CASTABLE
        y, mo, d, hh, mm, ss, frac = m.groups()
        try:
            return dt.datetime(int(y), int(mo), int(d), int(hh), int(mm), int(ss),
                               int((frac or "0").ljust(6, "0")))
        except ValueError:
            return NOT_CASTABLE
    if type_ == "date":
        m = DATE_RE.match(text)
        if not m:
            return NOT_CASTABLE
        try:
            return dt.date(*map(int, m.groups()))
        except ValueError:
            return NOT_CASTABLE
    if type_ == "boolean":
        low = text.lower()
        return True if low == "true" else False if low == "false" else NOT_CASTABLE
    if type_ in INT_RANGE:
        if not INT_RE.match(text):
            return NOT_CASTABLE
        v = int(text)
        lo, hi = INT_RANGE[type_]
        return v if lo <= v <= hi else NOT_CASTABLE
    if type_ == "double":
        return float(text) if DOUBLE_RE.match(text) else NOT_CASTABLE
    m = DECIMAL_TYPE_RE.match(type_)
    if m:
        p, s = int(m.group(1)), int(m.group(2))
        dm = DEC_RE.match(text)
        if not dm:
            return NOT_CASTABLE
        value = Decimal(text).quantize(Decimal(1).scaleb(-s), rounding=ROUND_HALF_UP)
        # reading chosen: the integer part (as a number) must fit p - s digits
        int_part = abs(int(Decimal(dm.group(2))))
        if len(str(int_part)) > p - s and int_part != 0:
            return NOT_CASTABLE
        if abs(value) >= Decimal(10) ** (p - s):
            return NOT_CASTABLE
        return value
    raise ValueError(type_)


@dataclass
class Field:
    name: str
    type: str = "string"
    required: bool = False
    accepted_values: Optional[list] = None
    min: Any = None
    max: Any = None
    pattern: Optional[str] = None


@dataclass
class Contract:
    name: str
    fields: list[Field]
    primary_key: list[str]
    event_time: Optional[str] = None
    retention: Optional[dt.timedelta] = None


def expired(contract: Contract, typed: dict, as_of: Optional[dt.datetime]) -> bool:
    """A row whose event_time is older than as-of minus retention; a NULL or uncastable
    event_time has no age (docs/reference.md §2.2)."""
    if contract.retention is None or as_of is None:
        return False
    value = typed.get(contract.event_time)
    if value is None:
        return False
    if not isinstance(value, dt.datetime):  # a date is its midnight
        value = dt.datetime(value.year, value.month, value.day)
    return value < as_of - contract.retention


def stage(contract: Contract, rows: list[dict], as_of: Optional[dt.datetime] = None):
    """-> (staged rows as dicts of typed values, rejected rows as (dict of text, [reasons])).
    An expired row is in neither, whatever rule it breaks."""
    staged, rejected = [], []
    for row in rows:
        typed, reasons = {}, []
        for f in contract.fields:
            text = row.get(f.name)
            if text is None:
                if f.required:
                    reasons.append(f"{f.name}: required")
                typed[f.name] = None
                continue
            value = cast(f.type, text)
            if value is NOT_CASTABLE:
                reasons.append(f"{f.name}: not a {f.type}")
                continue
            typed[f.name] = value
            if f.accepted_values is not None and text not in [str(a) for a in f.accepted_values]:
                reasons.append(f"{f.name}: accepted_values")
            if f.min is not None and value < _bound(f.type, f.min):
                reasons.append(f"{f.name}: min")
            if f.max is not None and value > _bound(f.type, f.max):
                reasons.append(f"{f.name}: max")
            if f.pattern is not None and re.search(f.pattern, text) is None:
                reasons.append(f"{f.name}: pattern")
        if expired(contract, typed, as_of):
            continue
        if reasons:
            rejected.append(({f.name: row.get(f.name) for f in contract.fields}, reasons))
        else:
            staged.append(typed)
    return staged, rejected


def _bound(type_: str, bound: Any) -> Any:
    if type_.startswith("decimal"):
        return Decimal(str(bound))
    if type_ in ("integer", "bigint"):
        return int(bound)
    if type_ == "double":
        return float(bound)
    return bound


def record_key(contract: Contract, row: dict) -> str:
    def text(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        return str(v)
    return "|".join(text(row[k]) for k in contract.primary_key)


# --------------------------------------------------------------------------- attributes

@dataclass
class Aggregate:
    name: str
    source: str
    fn: Callable[[list[dict]], Any]     # over the matching rows (non-empty)
    where: Optional[Callable[[dict], Optional[bool]]] = None
    default: Any = None


@dataclass
class Expression:
    name: str
    fn: Callable[[dict], Any]           # over the profile's attribute values


@dataclass
class Pick:
    name: str
    fields: dict[str, str]              # source -> field
    sources: list[str]
    strategy: str


def _smallest(values):
    return min(values)


def eval_pick(pick: Pick, rows_by_source: dict[str, list[dict]], contracts: dict[str, Contract],
              blocked: Callable[[str, str, Any], bool] = lambda src, f, v: False) -> Any:
    """blocked(source, field, value): the value is blocklisted for an identifier type that the
    identity maps source.field to (docs/reference.md §2.4: such values are skipped, like NULL)."""
    cands = []  # (source index, event time or None, value)
    for i, src in enumerate(pick.sources):
        et = contracts[src].event_time
        for r in rows_by_source.get(src, []):
            v = r.get(pick.fields[src])
            if v is not None and not blocked(src, pick.fields[src], v):
                cands.append((i, r.get(et) if et else None, v))
    if not cands:
        return None
    if pick.strategy == "source_priority":
        first = min(c[0] for c in cands)
        cands = [c for c in cands if c[0] == first]
        if contracts[pick.sources[first]].event_time:
            latest = max(c[1] for c in cands)
            cands = [c for c in cands if c[1] == latest]
        return _smallest(c[2] for c in cands)
    if pick.strategy == "most_recent":
        latest = max(c[1] for c in cands)
        return _smallest(c[2] for c in cands if c[1] == latest)
    if pick.strategy == "first_seen":
        earliest = min(c[1] for c in cands)
        return _smallest(c[2] for c in cands if c[1] == earliest)
    if pick.strategy == "most_frequent":
        counts = Counter(c[2] for c in cands)
        top = max(counts.values())
        return _smallest(v for v, n in counts.items() if n == top)
    raise ValueError(pick.strategy)


# --------------------------------------------------------------------------- whole pipeline

@dataclass
class EvidenceSource:
    """One of a purpose's `sources`: rows of `source` that pass `where`, each granting
    `row[granted_field]` (or the constant `granted`) at `row[time_field]`."""
    purpose: str
    source: str
    time_field: str                     # as resolved: the written time_field, else the contract's event_time
    granted_field: Optional[str] = None
    granted: Optional[bool] = None
    where: Optional[Callable[[dict], Optional[bool]]] = None


@dataclass
class Consent:
    source: Optional[str]               # the event log (None: only per-purpose sources)
    purpose_field: Optional[str]
    granted_field: Optional[str]
    time_field: Optional[str]
    purposes: list[str]
    suppress_when: list[str] = field(default_factory=list)
    sources: list[EvidenceSource] = field(default_factory=list)


def _as_time(value: Any) -> Any:
    """A date is its midnight, so dates and timestamps of different sources compare."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day)
    return value


def latest_wins(evidence: list[tuple[Any, Optional[bool]]]) -> bool:
    """docs/reference.md §2.6: (time, grant) pieces of evidence -> granted. The latest wins;
    at the latest time every piece must grant (a tie or a NULL grant is a denial); evidence
    without a time is older than any with one; no evidence means not granted."""
    if not evidence:
        return False
    times = [_as_time(t) for t, _ in evidence if t is not None]
    latest = max(times) if times else None
    at_latest = [g for t, g in evidence if _as_time(t) == latest]
    return all(g is True for g in at_latest)


def consent_evidence(cs: Consent, purpose: str, rows: list[tuple[str, dict]]) -> list[tuple[Any, Optional[bool]]]:
    """The evidence for `purpose` among a profile's (source, staged row) records."""
    found = []
    for src, row in rows:
        if src == cs.source and row.get(cs.purpose_field) == purpose:
            found.append((row[cs.time_field], row[cs.granted_field]))
        for ev in cs.sources:
            if ev.purpose == purpose and ev.source == src and (ev.where is None or ev.where(row) is True):
                found.append((row[ev.time_field], row[ev.granted_field] if ev.granted_field else ev.granted))
    return found


@dataclass
class Segment:
    name: str
    where: Callable[[dict], Optional[bool]]
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)


@dataclass
class Sync:
    destination: str
    channel: str
    platform: str
    identifiers: list[str]
    fields: list[str]
    hash: str
    segment: str
    purpose: str
    pii_fields: frozenset = frozenset()  # the fields whose lineage reaches a pii field (hashed as they are)


@dataclass
class Project:
    contracts: dict[str, Contract]
    identifiers: list[IdentifierSpec]
    sources: dict[str, dict[str, str]]          # identity sources: contract -> {type: field}
    blocklist: dict[str, list[str]]
    attributes: list                            # in dependency order
    consent: Optional[Consent]
    segments: list[Segment]                     # in dependency order
    syncs: list[Sync]


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def types_of(project: Project, src: str, f: str) -> list[str]:
    """The identifier types the identity maps source.field to."""
    return [t for t, mapped in project.sources.get(src, {}).items() if mapped == f]


def pick_type(project: Project, pick: Pick) -> Optional[str]:
    """docs/reference.md §2.7: the one identifier type every source of the pick maps its field to."""
    found = {tuple(types_of(project, src, pick.fields[src])) for src in pick.sources}
    if len(found) == 1:
        (only,) = found
        if len(only) == 1:
            return only[0]
    return None


def hashed_for(platform: str, id_type_normalizer: str, value: str) -> str:
    """The platform's hashing of a normalized identifier value (docs/reference.md §2.7)."""
    if platform == "meta_custom_audiences" and id_type_normalizer == "phone":
        value = value.lstrip("+")
    return sha256(value)


def run_reference(project: Project, raw: dict[str, list[dict]], as_of: Optional[dt.datetime] = None) -> dict[str, list[tuple]]:
    """raw: contract -> rows (dicts of text or None).  Returns table name -> list of row tuples
    (staged tables as dicts-by-field tuples in field order; rejected as (texts..., n_reasons)).
    `as_of`: the run's as-of time, which a contract's retention counts back from."""
    out: dict[str, Any] = {}
    staged: dict[str, list[dict]] = {}
    for name, c in project.contracts.items():
        s, r = stage(c, raw.get(name, []), as_of)
        staged[name] = s
        out[f"staged:{name}"] = [tuple(row[f.name] for f in c.fields) for row in s]
        out[f"rejected:{name}"] = r
    # identity
    records = []
    rows_of: dict[tuple, tuple[str, dict]] = {}
    for src, mapping in project.sources.items():
        c = project.contracts[src]
        for row in staged[src]:
            key = record_key(c, row)
            records.append((src, key, {t: row.get(f) for t, f in mapping.items()}))
            rows_of[(src, key)] = (src, row)
    ident = resolve(project.identifiers, records, project.blocklist)
    out["map"] = [(s, k, p) for (s, k), p in ident.profile_of.items()]
    out["conflicts"] = sorted(ident.conflicts)
    members: dict[str, list[tuple]] = {}
    for rid, pid in ident.profile_of.items():
        members.setdefault(pid, []).append(rid)
    # attributes
    normalizer = {i.type: i.normalize for i in project.identifiers}
    blocklist = {t: {normalize(normalizer[t], v) for v in vs} - {None} for t, vs in project.blocklist.items()}

    def blocked(src: str, f: str, value: Any) -> bool:
        return any(normalize(normalizer[t], str(value)) in blocklist.get(t, set()) for t in types_of(project, src, f))

    attrs: dict[str, dict[str, Any]] = {}
    for pid, rids in members.items():
        by_source: dict[str, list[dict]] = {}
        for rid in rids:
            src, row = rows_of[rid]
            by_source.setdefault(src, []).append(row)
        values: dict[str, Any] = {}
        for a in project.attributes:
            if isinstance(a, Aggregate):
                rows = [r for r in by_source.get(a.source, []) if a.where is None or a.where(r) is True]
                values[a.name] = a.fn(rows) if rows else a.default
            elif isinstance(a, Expression):
                values[a.name] = a.fn(values)
            else:
                values[a.name] = eval_pick(a, by_source, project.contracts, blocked)
        attrs[pid] = values
    names = [a.name for a in project.attributes]
    out["profiles"] = [(pid, *(attrs[pid][n] for n in names)) for pid in members]
    # consent
    granted: dict[tuple[str, str], bool] = {}
    if project.consent:
        cs = project.consent
        for pid, rids in members.items():
            rows = [rows_of[rid] for rid in rids]
            suppressed = any(attrs[pid].get(a) is True for a in cs.suppress_when)
            for purpose in cs.purposes:
                g = latest_wins(consent_evidence(cs, purpose, rows))
                granted[(pid, purpose)] = g and not suppressed
        out["consent"] = [(pid, p, g) for (pid, p), g in granted.items()]
    # segments
    seg_members: dict[str, set[str]] = {}
    for seg in project.segments:
        m = set()
        for pid in members:
            if seg.where(attrs[pid]) is not True:
                continue
            if seg.include and not any(pid in seg_members[i] for i in seg.include):
                continue
            if any(pid in seg_members[x] for x in seg.exclude):
                continue
            m.add(pid)
        seg_members[seg.name] = m
        out[f"segment:{seg.name}"] = [(pid,) for pid in m]
    # syncs
    for sync in project.syncs:
        rows = []
        for pid in sorted(seg_members[sync.segment]):
            if not granted.get((pid, sync.purpose), False):
                continue
            row = [pid]
            for t in sync.identifiers:
                counts = Counter()
                for rid in members[pid]:
                    v = ident.values[rid].get(t)
                    if v is not None and (t, v) not in ident.conflicts:
                        counts[v] += 1
                value = None
                if counts:
                    top = max(counts.values())
                    value = min(v for v, n in counts.items() if n == top)
                if value is not None and sync.hash == "sha256":
                    value = hashed_for(sync.platform, normalizer[t], value)
                row.append(value)
            for f in sync.fields:
                value = attrs[pid][f]
                pick = next((a for a in project.attributes if a.name == f and isinstance(a, Pick)), None)
                id_type = pick_type(project, pick) if pick is not None and sync.channel == "ads" else None
                if sync.hash == "sha256" and (id_type is not None or f in sync.pii_fields) and value is not None:
                    if id_type is not None:
                        value = normalize(normalizer[id_type], str(value))
                        value = None if value is None else hashed_for(sync.platform, normalizer[id_type], value)
                    else:
                        value = sha256(str(value))
                row.append(value)
            rows.append(tuple(row))
        out[f"sync:{sync.destination}:{sync.segment}"] = rows
    return out
