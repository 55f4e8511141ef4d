"""Canary data: the reference sample with a traceable value planted in every PHI and PII field.

`plant(src, dest)` rewrites the reference project's data/ so that every PHI and PII
string (and date) value is a *canary*: a realistic value that passes the contract's
rules, survives staging unchanged, and can be recognized wherever it ends up, also
lowercased, trimmed, as digits only, or hashed (md5/sha256, the forms identity and
syncs use). Identifier values are mapped one to one *after* normalization (the same
email in the CRM and in a booking becomes the same canary email, with the original's
case and spaces), so identity resolution, conflicts, blocklist, consent and segments
keep the shape they have on the real sample and the sync tables are not empty.

    canaries = plant(ROOT_DATA, tmp / "data")
    hits = canaries.scan_rows(columns, rows)          # -> [Hit], every form of every canary
    leaks, sizes = sync_leaks(engine, defs, canaries) # what docs/guarantees.md forbids in sync tables

Kinds of canary:
  phi   every bookings.notes row (all of them: nothing reads notes), every non-empty
        crm_contacts.medical_notes (only those: `has_medical_flag` reads whether it is
        NULL, and filling it would suppress every profile's marketing).
        crm_contacts.has_injury_flag is a boolean: no text can be planted in it; the
        differential run of `plant_variant` covers it (see below).
  pii   every non-blocklisted email, phone, membership id, device id, first and last
        name and valid birth date.

`plant_variant(planted, dest, keep_suppression=...)` writes a second data set that differs
from the first only in PHI (other texts, other NULLs, other injury flags) and in row
order: a project that sends nothing derived from PHI and depends on no row order leaves
the same sync tables on both. Consent may suppress on a PHI-derived attribute (the
reference's `has_medical_flag`); with keep_suppression the variant keeps that flag.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

ROOT_DATA = Path(__file__).resolve().parent.parent / "data"
PHI_MARK = "canary-phi"
PHONE_MARK = "879"  # every canary phone's last ten digits: 879 + 7 digits
BIRTH_YEAR = 1903   # canary birth dates: 1903-01-01 + n days (nobody in the sample is that old)

# the reference identity's blocklist, normalized (identity/customer.yaml): these stay as
# they are, so that the blocklist keeps removing them
BLOCKED_EMAILS = {"test@example.com", "test@fitclub.example", "noemail@fitclub.example", "none@none.com"}
BLOCKED_PHONES = {"+15555550100", "+10000000000", "+11111111111"}

# contract -> field -> how its values are replaced
PLAN: dict[str, dict[str, str]] = {
    "raw.crm_contacts": {"membership_id": "membership_id", "first_name": "first_name", "last_name": "last_name",
                         "email": "email", "phone": "phone", "birth_date": "birth_date",
                         "medical_notes": "medical_notes"},
    "raw.bookings": {"membership_id": "membership_id", "email": "email", "notes": "notes"},
    "raw.pos_transactions": {"phone": "phone", "email": "email"},
    "raw.app_events": {"device_id": "device_id", "member_ref": "membership_id"},
    "raw.consent_events": {"membership_id": "membership_id", "email": "email", "phone": "phone"},
}
PHI_FIELDS = {("crm_contacts", "medical_notes"), ("bookings", "notes"), ("crm_contacts", "has_injury_flag")}


# --------------------------------------------------------------------------- normalizers (docs/reference.md §2.3)


def norm_email(value: str) -> str | None:
    v = value.strip(" ").lower()
    local, at, domain = v.partition("@")
    return v if at and local and domain and "@" not in domain else None


def norm_phone(value: str) -> str | None:
    digits = re.sub(r"[^0-9]", "", value)
    if len(digits) == 10:
        digits = "1" + digits
    return "+" + digits if 8 <= len(digits) <= 15 else None


def digits_only(text: str) -> str:
    return re.sub(r"[^0-9]", "", text)


def _styled(canary: str, original: str) -> str:
    """The canary in the original's case and with its surrounding spaces."""
    core = original.strip(" ")
    letters = [c for c in core if c.isalpha()]
    if letters and all(c.isupper() for c in letters):
        canary = canary.upper()
    elif letters and letters[0].isupper():
        canary = canary[0].upper() + canary[1:]
    lead = len(original) - len(original.lstrip(" "))
    trail = len(original) - len(original.rstrip(" "))
    return " " * lead + canary + " " * trail


def _put_digits(original: str, digits: str) -> str:
    """Replace the original's digits, left to right, by `digits` (as many as it has)."""
    it = iter(digits)
    return "".join(next(it) if c.isdigit() else c for c in original)


# --------------------------------------------------------------------------- the canaries


@dataclass
class Canary:
    value: str  # the core value, lowercase: a `canary-...` token, a normalized phone, a date
    kind: str  # "phi" | "pii"
    fields: set = field(default_factory=set)  # {(contract, field)}
    planted: set = field(default_factory=set)  # the whole values written to the raw files


@dataclass
class Hit:
    kind: str  # "phi" | "pii"
    how: str  # "clear", "digits", "sha256", "md5", "date"
    canary: str
    fields: tuple
    column: str
    cell: str

    def __str__(self) -> str:
        where = ", ".join(f"{c}.{f}" for c, f in sorted(self.fields)) or "?"
        return f"{self.kind.upper()} canary {self.canary!r} ({where}) found {self.how} in column `{self.column}`: {self.cell[:120]!r}"


_TEXT = re.compile(r"canary-(?:phi|pii)-[a-z_]+-\d+", re.I)
_HEX = re.compile(r"[0-9a-f]{32,64}", re.I)
_DATE = re.compile(rf"{BIRTH_YEAR}-\d\d-\d\d")


class Canaries:
    def __init__(self) -> None:
        self.by_value: dict[str, Canary] = {}
        self.phones: dict[str, Canary] = {}  # last 10 digits -> canary
        self.dates: dict[str, Canary] = {}
        self.hashes: dict[str, tuple[Canary, str]] = {}  # hex digest -> (canary, how)
        self._hashed_prefixes: set[str] = set()
        self.planted: dict[tuple[str, str], set[str]] = {}  # (contract, field) -> every planted value

    def add(self, value: str, kind: str, contract: str, name: str, planted: str) -> Canary:
        canary = self.by_value.setdefault(value.lower(), Canary(value.lower(), kind))
        canary.fields.add((contract, name))
        canary.planted.add(planted)
        self.planted.setdefault((contract, name), set()).add(planted)
        return canary

    def of_kind(self, kind: str) -> list[Canary]:
        return [c for c in self.by_value.values() if c.kind == kind]

    def fields(self, kind: str) -> set[tuple[str, str]]:
        return {f for c in self.of_kind(kind) for f in c.fields}

    def index_hashes(self, prefixes: Iterable[str]) -> None:
        """md5 and sha256 of every PHI canary as it may be hashed on the way out: as planted,
        lower- or uppercased, and behind a prefix (`record:<source>:`, `<identifier type>:`:
        the texts whose md5 is a profile_id)."""
        prefixes = sorted({"", *prefixes} - self._hashed_prefixes)
        self._hashed_prefixes.update(prefixes)
        for canary in self.of_kind("phi"):
            forms = {f(v) for v in canary.planted for f in (str, str.lower, str.upper, lambda x: x.strip(" ").lower())}
            for form in forms:
                for prefix in prefixes:
                    text = (prefix + form).encode()
                    self.hashes[hashlib.md5(text).hexdigest()] = (canary, "md5")
                    self.hashes[hashlib.sha256(text).hexdigest()] = (canary, "sha256")

    # ----------------------------------------------------------------------- scanning

    def scan_cell(self, text: str, column: str) -> list[Hit]:
        hits = []
        lower = text.lower()
        if "canary" in lower:
            for match in _TEXT.finditer(lower):
                token = match.group(0)
                canary = self.by_value.get(token)
                kind = canary.kind if canary else ("phi" if token.startswith(PHI_MARK) else "pii")
                hits.append(Hit(kind, "clear", token, tuple(canary.fields) if canary else (), column, text))
            if not hits:  # a fragment of a canary: still marked
                hits.append(Hit("phi" if "phi" in lower else "pii", "clear", "canary", (), column, text))
        digits = digits_only(text)
        if PHONE_MARK in digits:
            for i in range(len(digits) - 9):
                canary = self.phones.get(digits[i:i + 10])
                if canary is not None:
                    hits.append(Hit("pii", "digits", canary.value, tuple(canary.fields), column, text))
                    break
        for match in _DATE.finditer(text):
            canary = self.dates.get(match.group(0))
            if canary is not None:
                hits.append(Hit("pii", "date", canary.value, tuple(canary.fields), column, text))
        if self.hashes and len(text) >= 32:
            for match in _HEX.finditer(lower):
                found = self.hashes.get(match.group(0))
                if found is not None:
                    hits.append(Hit(found[0].kind, found[1], found[0].value, tuple(found[0].fields), column, text))
        return hits

    def scan_rows(self, columns: list[str], rows: Iterable[tuple[Any, ...]]) -> list[Hit]:
        hits = []
        for row in rows:
            for column, value in zip(columns, row):
                if value is not None:
                    hits += self.scan_cell(cell_text(value), column)
        return hits


def cell_text(value: Any) -> str:
    """Every value as text, nested values (lists, structs, maps) included."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


# --------------------------------------------------------------------------- planting


def _read(path: Path) -> tuple[list[str], list[list[str | None]]]:
    """Rows of a raw CSV file (docs/reference.md §2.2), an empty unquoted cell as None (NULL), `""` as the empty text."""
    text = path.read_text(encoding="utf-8")
    records: list[list[str | None]] = []
    row: list[str | None] = []
    cell: list[str] = []
    quoted = was_quoted = False
    i = 0
    while i < len(text):
        ch = text[i]
        if quoted:
            if ch == '"' and text[i + 1:i + 2] == '"':
                cell.append('"')
                i += 1
            elif ch == '"':
                quoted = False
            else:
                cell.append(ch)
        elif ch == '"':
            quoted = was_quoted = True
        elif ch in ",\n":
            row.append("".join(cell) if cell or was_quoted else None)
            cell, was_quoted = [], False
            if ch == "\n":
                records.append(row)
                row = []
        elif ch != "\r":
            cell.append(ch)
        i += 1
    if cell or row or was_quoted:
        row.append("".join(cell) if cell or was_quoted else None)
        records.append(row)
    header = [c or "" for c in records[0]]
    return header, records[1:]


def _write(path: Path, header: list[str], rows: list[list[str | None]]) -> None:
    def cell(v: str | None) -> str:
        if v is None:
            return ""
        if v == "" or any(c in v for c in ',"\n\r'):
            return '"' + v.replace('"', '""') + '"'
        return v
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(",".join(header) + "\n")
        for row in rows:
            f.write(",".join(cell(v) for v in row) + "\n")


def _load_all(src: Path) -> dict[str, tuple[list[str], list[list[str | None]]]]:
    return {relation: _read(src / f"{relation}.csv") for relation in PLAN}


class _Mapper:
    """One canary per distinct (normalized) value, numbered in sorted order: deterministic."""

    def __init__(self, tables) -> None:
        self.values: dict[str, set[str]] = {}
        for relation, plan in PLAN.items():
            header, rows = tables[relation]
            for column, kind in plan.items():
                i = header.index(column)
                self.values.setdefault(kind, set()).update(r[i] for r in rows if r[i] is not None)

    def numbering(self, kind: str, key) -> dict[str, int]:
        keys = sorted({k for k in (key(v) for v in self.values.get(kind, ())) if k is not None})
        return {k: n for n, k in enumerate(keys, 1)}


def plant(src: Path, dest: Path) -> Canaries:
    tables = _load_all(src)
    mapper = _Mapper(tables)
    canaries = Canaries()
    emails = mapper.numbering("email", lambda v: (n if (n := norm_email(v)) and n not in BLOCKED_EMAILS else None))
    bad_emails = mapper.numbering("email", lambda v: v if norm_email(v) is None else None)
    phones = mapper.numbering("phone", lambda v: (n if (n := norm_phone(v)) and n not in BLOCKED_PHONES else None))
    members = mapper.numbering("membership_id", lambda v: v.strip(" ").upper() or None)
    devices = mapper.numbering("device_id", lambda v: v)

    def replace(contract: str, column: str, kind: str, value: str | None, row_no: int) -> str | None:
        def planted(core: str, new: str, what: str = "pii") -> str:
            canaries.add(core, what, contract, column, new)
            return new

        if kind == "notes":  # every row, NULL ones too: nothing reads bookings.notes
            core = f"canary-phi-notes-{row_no:06d}"
            return planted(core, f"{core}: post-op knee, no jumping", "phi")
        if value is None:
            return None
        if kind == "medical_notes":
            core = f"canary-phi-medicalnotes-{row_no:05d}"
            return planted(core, f"{core} asthma; uses inhaler", "phi")
        if kind == "email":
            normalized = norm_email(value)
            if normalized is None:  # not an email: stays one that normalizes to NULL
                core = f"canary-pii-bademail-{bad_emails[value]:04d}"
                return planted(core, f"{core}(at)example.org")
            if normalized in BLOCKED_EMAILS:
                return value
            core = f"canary-pii-email-{emails[normalized]:04d}"
            return planted(core, _styled(f"{core}@example.org", value))
        if kind == "phone":
            normalized = norm_phone(value)
            if normalized is None or normalized in BLOCKED_PHONES:
                return value  # a vanity or placeholder number: no phone to plant
            count = len(normalized) - 1  # digits in the normalized number
            full = f"1{PHONE_MARK}{phones[normalized]:07d}" if count == 11 else f"{PHONE_MARK}{phones[normalized]:0{count - 3}d}"
            new = _put_digits(value, full[-len(digits_only(value)):])
            canary = canaries.add("+" + full, "pii", contract, column, new)
            canaries.phones[full[-10:]] = canary
            return new
        if kind == "membership_id":
            if not value.strip(" "):
                return value
            core = f"canary-pii-member-{members[value.strip(' ').upper()]:04d}"
            return planted(core, _styled(core, value))
        if kind == "device_id":
            core = f"canary-pii-device-{devices[value]:05d}"
            return planted(core, core)
        if kind in ("first_name", "last_name"):
            core = f"canary-pii-{kind.split('_')[0]}name-{row_no:05d}"
            return planted(core, core[0].upper() + core[1:])
        if kind == "birth_date":
            try:
                dt.date.fromisoformat(value)
            except ValueError:
                return value  # an invalid date stays invalid (rejected, as in the sample)
            day = (dt.date(BIRTH_YEAR, 1, 1) + dt.timedelta(days=row_no % 365)).isoformat()
            canaries.dates[day] = canaries.add(day, "pii", contract, column, day)
            return day
        raise AssertionError(kind)

    for relation, plan in PLAN.items():
        header, rows = tables[relation]
        contract = relation.split(".", 1)[1]
        for column, kind in plan.items():
            i = header.index(column)
            for row_no, row in enumerate(rows, 1):
                row[i] = replace(contract, column, kind, row[i], row_no)
        _write(dest / f"{relation}.csv", header, rows)
    copy_unplanted(src, dest)
    return canaries


def copy_unplanted(src: Path, dest: Path) -> None:
    """The raw files nothing is planted in (the erasure requests: read, never copied by a
    run), as they are: a run needs every contract's file."""
    for path in sorted(src.glob("*.csv")):
        if path.stem not in PLAN:
            shutil.copyfile(path, dest / path.name)


def plant_variant(planted: Path, dest: Path, *, keep_suppression: bool, seed: int = 11) -> None:
    """The planted data with other PHI values and the rows shuffled.

    keep_suppression=True: the CRM's PHI changes only where the reference's `has_medical_flag`
    (true when a contact has an injury flag or medical notes) stays what it was, contact by
    contact: consent may suppress on it (docs/guarantees.md), so a sync may depend on it. False: every
    PHI value may change (for projects whose consent suppresses on nothing PHI-derived).
    """
    rng = random.Random(seed)
    for relation in PLAN:
        header, rows = _read(planted / f"{relation}.csv")
        if relation == "raw.bookings":
            i = header.index("notes")
            for n, row in enumerate(rows):
                row[i] = None if n % 3 == 0 else f"canary-phi-notes-{900000 + n:06d}: asthma, avoid heat"
        if relation == "raw.crm_contacts":
            notes, injury = header.index("medical_notes"), header.index("has_injury_flag")
            for n, row in enumerate(rows):
                flag = (row[injury] or "").lower() or None
                if keep_suppression and row[notes] is None:
                    # false and NULL count alike in has_medical_flag: swap them, leave true alone
                    row[injury] = {"false": None, None: "false"}.get(flag, row[injury])
                    continue
                row[injury] = {None: "true", "true": "false", "false": None}.get(flag, row[injury])
                if row[notes] is not None:
                    row[notes] = None if not keep_suppression and n % 2 else f"canary-phi-medicalnotes-{90000 + n:05d} torn ligament"
                elif n % 4 == 0:
                    row[notes] = f"canary-phi-medicalnotes-{80000 + n:05d} heart condition"
        rng.shuffle(rows)
        _write(dest / f"{relation}.csv", header, rows)
    copy_unplanted(planted, dest)


# --------------------------------------------------------------------------- reading a run's tables


@dataclass
class Leak:
    table: str
    hit: Hit

    def __str__(self) -> str:
        return f"{self.table}: {self.hit}"


def sync_tables(defs) -> list[tuple[str, str, str]]:
    """(schema, table, destination channel) of every sync table the definitions declare."""
    from compiler.emit.syncs import sync_table

    schema = defs.project.schemas.audiences
    return [(schema, sync_table(d.name, s.segment), d.channel)
            for d in sorted(defs.destinations.values(), key=lambda d: d.name) for s in d.syncs]


def read_rows(engine, schema: str, table: str) -> tuple[list[str], list[tuple]] | None:
    """Column names and rows of a table, or None when the run did not leave it."""
    from tables import column_types

    try:
        columns = [c for c, _ in column_types(engine, schema, table)]
    except AssertionError:
        return None
    q = (lambda n: f"`{n}`") if engine.dialect == "spark" else (lambda n: f'"{n}"')
    return columns, engine.rows(f"SELECT {', '.join(q(c) for c in columns)} FROM {q(schema)}.{q(table)}")


def read_syncs(engine, defs) -> dict[str, tuple[str, list[str], list[tuple]]]:
    """table -> (destination channel, columns, rows) of every sync table the run left."""
    out = {}
    for schema, table, channel in sync_tables(defs):
        found = read_rows(engine, schema, table)
        if found is not None:
            out[table] = (channel, *found)
    return out


def sync_leaks(engine, defs, canaries: Canaries, syncs: dict | None = None) -> tuple[list[Leak], dict[str, int]]:
    """PHI canaries anywhere in a sync table; PII canaries in clear in an ads sync table.
    Also returns the rows of each sync table that exists (to show the run was not empty)."""
    syncs = read_syncs(engine, defs) if syncs is None else syncs
    leaks, sizes = [], {}
    schema = defs.project.schemas.audiences
    for table, (channel, columns, rows) in syncs.items():
        sizes[table] = len(rows)
        for hit in canaries.scan_rows(columns, rows):
            if hit.kind == "phi" or channel == "ads":
                leaks.append(Leak(f"{schema}.{table}", hit))
    return leaks, sizes


def sync_contents(syncs: dict) -> dict[str, Any]:
    """Each sync table (from read_syncs) as its columns and a multiset of rows of texts:
    what the destinations would receive."""
    from collections import Counter

    return {table: (columns, Counter(tuple(None if v is None else cell_text(v) for v in row) for row in rows))
            for table, (_, columns, rows) in syncs.items()}


def staged_fields(engine, defs, canaries: Canaries) -> dict[tuple[str, str], int]:
    """(contract, field) -> how many distinct planted values its staging table holds, exactly as planted."""
    staging = defs.project.schemas.staging
    q = (lambda n: f"`{n}`") if engine.dialect == "spark" else (lambda n: f'"{n}"')
    text = "STRING" if engine.dialect == "spark" else "VARCHAR"
    reached = {}
    for contract in sorted({c for c, _ in canaries.planted}):
        names = sorted(f for c, f in canaries.planted if c == contract)
        rows = engine.rows(f"SELECT {', '.join(f'CAST({q(n)} AS {text})' for n in names)} FROM {q(staging)}.{q(contract)}")
        for i, name in enumerate(names):
            reached[(contract, name)] = len({r[i] for r in rows} & canaries.planted[(contract, name)])
    return reached


# --------------------------------------------------------------------------- the corpus's tally

TALLY: dict[str, tuple[str, str]] = {}  # case -> (outcome, detail); filled by tests/test_adversarial.py
OUTCOMES = {
    "validate": "refused by validate (located error)",
    "clean": "validated; canary run clean",
    "leak": "validated; LEAKED in the canary run",
    "run-failed": "validated; the run failed",
    "unlocated": "refused by validate WITHOUT a real location",
}


def tally_lines() -> list[str]:
    from collections import Counter

    counts = Counter(outcome for outcome, _ in TALLY.values())
    lines = [f"adversarial corpus: {len(TALLY)} cases: " + ", ".join(
        f"{counts[k]} {OUTCOMES[k]}" for k in OUTCOMES if counts[k])]
    for outcome in ("leak", "run-failed", "unlocated"):
        for name, (o, detail) in sorted(TALLY.items()):
            if o == outcome:
                lines.append(f"  {outcome}: {name}: {detail}")
    return lines
