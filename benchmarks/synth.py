#!/usr/bin/env python3
"""Deterministic synthetic raw data for the fitclub reference project.

Writes one CSV per contract of ``definitions/contracts/`` into ``OUT_DIR``,
named after the contract's relation (``raw.bookings.csv``, ...), with the
contract's fields as columns, in the raw-file format of docs/reference.md §2.2: UTF-8, a header row, comma
separated, ``"`` quoting with ``""`` as the escape, and an empty unquoted cell
for NULL.

Two shapes. ``export`` (the default, what the run benchmarks use) is shaped like
real exports; ``gentle`` is the milder shape the sample data in ``data/`` was
made with (``data/README.md`` has the command), kept byte for byte.

The data is deliberately messy, the way real CDP inputs are (both shapes):

* identifiers typed by people: membership ids in lower case or with stray
  spaces, emails with capitals and surrounding spaces (and a few invalid ones),
  phones in many formats ("(415) 555-0134", "415.555.0134", "+1 415 555 0134",
  "4155550134", vanity numbers with letters such as "415-555-CALL");
* identifiers shared by several people: family emails, a family tablet in the
  app, club kiosks in the app, and the front-desk phone typed on POS receipts
  for members who did not give theirs;
* placeholder values that the identity blocklist removes (test@example.com,
  555-555-0100, ...);
* duplicate CRM contacts for the same member with an older status, and CRM
  leads without a membership id;
* rows that break their contract and must be quarantined: impossible or
  non-timestamp times ("yesterday", "2026-02-30 10:00:00"), negative prices,
  statuses outside accepted_values, missing required values, bad patterns;
* valid but unusual spellings that must *not* be rejected: ISO "T"
  timestamps, fractional seconds, "TRUE"/"False" booleans, "25" or "12.345"
  as decimals.

The ``export`` shape adds what real exports have and the gentle one does not:

* heavy-tailed activity: a member's activity is log-normal (sigma 1.25), so a
  few members have hundreds to thousands of rows and many have one or two;
* families of 2-6 members (about 10% of members) sharing one email, a family
  tablet and, for 40% of families, a home phone;
* front-desk tablets (two per club) on which staff sign members in: one
  ``device_id`` seen with thousands of ``member_ref`` values at 100k members;
  personal trainers' tablets (one per ~700 members) seen with dozens each; the
  club kiosks of both shapes;
* re-install chains: each member's app events run over a sequence of device
  ids in time order (half have one install, 2.5% more than ten), linked to the
  member only through the signed-in events of each install;
* changed email addresses (12% of members): older bookings, receipts and
  consent carry the old address, newer ones and the CRM the new one, so some
  records reach the member only through a chain of other records;
* phones typed in nineteen formats, among them some that normalize to another
  value (an extension, an ``001`` prefix) or to nothing (no area code);
* staff placeholders the blocklist does not know (``x@x.com``,
  ``frontdesk@fitclub.example``, ``999-999-9999``): thousands of members share
  them, identity must refuse them as conflicts;
* about 2% of rows break their contract and 0.1% of lines are malformed CSV
  (a row cut short, a value with an unquoted line break or comma, a stray
  quote, a Latin-1 byte that is not UTF-8): cdpc quarantines them.

At 100k members the export shape comes to about 3.1M rows over the five files
and 4.4M identifier links (record, normalized identifier value).

Every value is derived from ``random.Random(seed)`` and from a fixed anchor,
2026-11-20 00:00:00 (use it as ``cdpc run --as-of``), so the same arguments
always give byte-identical files. No event time is later than the anchor; only
``bookings.class_starts_at`` of upcoming classes (status ``booked``) is.

``records_per_member`` is the approximate total number of source rows per
member across the five files (CRM and consent take about 3.9 of them; the
rest is split between bookings, POS transactions and app events, in
proportion to each member's activity level).

Usage::

    python benchmarks/synth.py OUT_DIR --members 100000 [--shape export|gentle] [--seed 7]
        [--records-per-member 31.2] [--bad-row-rate 0.02] [--malformed-rate 0.001]
"""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import hashlib
import io
import random
import sys
import time
from pathlib import Path

ANCHOR = _dt.datetime(2026, 11, 20, 0, 0, 0)

# The erasure request log (docs/privacy.md §4). The gentle shape (the sample in data/) has
# three requests about members of that sample: an email in other case and spaces, a phone
# in another format, and one dated after the anchor; the export shape has none.
REQUESTS: dict[str, list[str]] = {"raw.erasure_requests": ["request_id", "id_type", "id_value", "requested_at"]}
GENTLE_REQUESTS = [
    ["DSAR-0001", "email", " EWilliams.21@Outlook.com", "2026-11-02 10:15:00"],
    ["DSAR-0002", "phone", "(341) 934-1767", "2026-11-12 16:40:00"],
    ["DSAR-0003", "email", "bkim.3@proton.me", "2026-11-25 09:00:00"],
]

# Column order of every file = field order of the contract.
COLUMNS: dict[str, list[str]] = {
    "raw.crm_contacts": [
        "contact_id", "membership_id", "first_name", "last_name", "email", "phone",
        "birth_date", "home_club", "plan", "membership_status", "joined_on",
        "vacation_hold_until", "marketing_hold", "email_opt_in", "has_injury_flag", "medical_notes",
        "created_at", "updated_at",
    ],
    "raw.bookings": [
        "booking_id", "membership_id", "email", "club_id", "class_name", "instructor",
        "status", "price", "booked_at", "class_starts_at", "notes",
    ],
    "raw.pos_transactions": [
        "transaction_id", "location_code", "phone", "email", "item_category", "amount",
        "currency", "card_brand", "card_last4", "status", "occurred_at",
    ],
    "raw.app_events": [
        "event_id", "device_id", "member_ref", "event_type", "platform", "app_version",
        "occurred_at",
    ],
    "raw.consent_events": [
        "consent_id", "membership_id", "email", "phone", "purpose", "granted",
        "collected_via", "recorded_at",
    ],
}

CLUBS = ["sf_mission", "sf_marina", "oakland_uptown", "berkeley", "palo_alto", "san_jose"]
# Front-desk phone of each club, typed on POS receipts when a member gives none.
# Not blocklisted on purpose: identity must reject it as a conflict.
FRONT_DESK = {
    "sf_mission": "(415) 555-0199",
    "sf_marina": "415-555-0198",
    "oakland_uptown": "(510) 555-0197",
    "berkeley": "510.555.0196",
    "palo_alto": "650-555-0195",
    "san_jose": "(408) 555-0194",
}
AREA_CODES = ["415", "628", "510", "341", "650", "408", "669", "925", "707"]
# Placeholders matching identity/customer.yaml's blocklist after normalization.
TEST_EMAILS = ["test@example.com", " TEST@Example.com", "test@fitclub.example",
               "noemail@fitclub.example", "NONE@none.com"]
TEST_PHONES = ["555-555-0100", "(555) 555-0100", "000-000-0000", "0000000000", "1111111111"]
# Export shape: what front-desk staff type when a member gives nothing, unknown to the
# blocklist, so identity sees one value shared by thousands of members.
STAFF_EMAILS = ["x@x.com", "frontdesk@fitclub.example", "no@email.com", "NA@NA.COM", "member@fitclub.example"]
STAFF_PHONES = ["999-999-9999", "(415) 555-1234", "510-000-0001"]
FAMILY_SIZES = [2] * 45 + [3] * 30 + [4] * 15 + [5] * 7 + [6] * 3
# Installs of the app per member (re-install chains): half have one, 2.5% more than ten.
INSTALLS = [1] * 500 + [2] * 220 + [3] * 120 + [4] * 50 + [5] * 25 + [6] * 15 + [7] * 15 + [8] * 12 \
    + [9] * 10 + [10] * 8 + [12] * 8 + [15] * 7 + [20] * 5 + [30] * 3 + [45] * 2

FIRST = [
    ("Ana", "ana"), ("Raj", "raj"), ("Maria", "maria"), ("James", "james"), ("Wei", "wei"),
    ("Priya", "priya"), ("John", "john"), ("Sofia", "sofia"), ("Liam", "liam"),
    ("Olivia", "olivia"), ("Noah", "noah"), ("Emma", "emma"), ("Mateo", "mateo"),
    ("Aiko", "aiko"), ("Chloé", "chloe"), ("José", "jose"), ("Zoë", "zoe"),
    ("Fatima", "fatima"), ("Kwame", "kwame"), ("Ingrid", "ingrid"), ("Diego", "diego"),
    ("Mei", "mei"), ("Ethan", "ethan"), ("Ava", "ava"), ("Lucas", "lucas"),
    ("Isabella", "isabella"), ("Omar", "omar"), ("Hana", "hana"), ("Björn", "bjorn"),
    ("Grace", "grace"), ("Daniel", "daniel"), ("Nia", "nia"), ("Samuel", "samuel"),
    ("Leila", "leila"), ("Tomás", "tomas"), ("Yuki", "yuki"), ("Ben", "ben"),
    ("Chen", "chen"), ("Elena", "elena"), ("Marcus", "marcus"),
]
LAST = [
    ("Garcia", "garcia"), ("Nguyen", "nguyen"), ("Smith", "smith"), ("Patel", "patel"),
    ("Kim", "kim"), ("O'Brien", "obrien"), ("Müller", "mueller"), ("Johnson", "johnson"),
    ("Chen", "chen"), ("Rodriguez", "rodriguez"), ("Williams", "williams"),
    ("Okafor", "okafor"), ("Tanaka", "tanaka"), ("Singh", "singh"), ("Brown", "brown"),
    ("Lopez", "lopez"), ("Martin", "martin"), ("Haddad", "haddad"), ("Johansson", "johansson"),
    ("Davis", "davis"), ("Wong", "wong"), ("Hernández", "hernandez"), ("Cohen", "cohen"),
    ("Ivanova", "ivanova"), ("Smith, Jr.", "smithjr"), ("Rossi", "rossi"), ("Ali", "ali"),
    ("Taylor", "taylor"), ("Dubois", "dubois"), ("Park", "park"),
]
DOMAINS = ["gmail.com"] * 6 + ["yahoo.com", "outlook.com", "icloud.com", "hotmail.com",
                                "proton.me", "berkeley.edu", "acme-corp.example"]
CLASSES = [("Spin 45", "0.00"), ("Vinyasa Flow", "0.00"), ("HIIT Express", "0.00"),
           ("Barre", "0.00"), ("Strength Foundations", "0.00"), ("Aqua Fit", "0.00"),
           ("Boxing Bootcamp", "0.00"), ("Pilates Reformer", "25.00"),
           ("Hot Yoga", "18.00"), ("PT session", "85.00"), ("PT session 60", "120.00"),
           ("Open Gym", "0.00")]
INSTRUCTORS = ["Alex R.", "Bea T.", "Carlos M.", "Dana K.", "Eli S.", "Fern O.",
               "Gus P.", "Hiro N.", "Imani W.", "Jules D.", None]
BOOKING_NOTES = ["post-op knee, no jumping", "pregnant (2nd trimester), low impact only",
                 'asthma; keep inhaler nearby, "no hot room"', "lower back pain, avoid deadlifts"]
MEDICAL_NOTES = ["Lower back pain — cleared by physio, avoid heavy deadlifts",
                 'Type 1 diabetes; carries glucose tabs, "check in" before HIIT',
                 "ACL reconstruction 2025, no pivoting sports",
                 "High blood pressure, on medication",
                 "Asthma, exercise-induced"]
PLANS = [("basic", "39.00"), ("plus", "59.00"), ("premium", "89.00"),
         ("student", "29.00"), ("corporate", "49.00")]
PLAN_POOL = [0] * 30 + [1] * 30 + [2] * 20 + [3] * 10 + [4] * 10
# (category, amount pool) — amounts as the POS prints them.
POS_ITEMS = {
    "personal_training": ["85.00", "95.00", "120.00", "150.00", "399.00", "750.00", "1350.00"],
    "retail": ["12.00", "18.50", "24.99", "34.00", "45.00", "59.95", "79.00"],
    "smoothie_bar": ["6.50", "7.25", "8.00", "9.50", "11.00", "13.75"],
    "day_pass": ["25.00"],
    "guest_pass": ["15.00"],
}
CARD_BRANDS = ["VISA"] * 5 + ["MASTERCARD"] * 3 + ["AMERICAN_EXPRESS", "DISCOVER", "CASH",
                                                     "APPLE_PAY", "APPLE_PAY", "GOOGLE_PAY"]
APP_VERSIONS = {"ios": ["5.12.0", "5.12.1", "5.13.0", "5.14.2"],
                "android": ["5.12.0", "5.13.1", "5.14.0"],
                "web": ["2026.11.1", "2026.11.2"]}
EVENT_TYPES = (["app_open"] * 40 + ["class_view"] * 20 + ["booking_started"] * 10
               + ["booking_completed"] * 8 + ["check_in"] * 10 + ["workout_logged"] * 10
               + ["push_opened"] * 2)
# Activity levels: weight of rows, and how strongly events cluster near the end
# of the member's activity window (higher exponent = more recent activity).
ACTIVITY = [(0.15, 2.0)] * 20 + [(0.5, 3.0)] * 25 + [(1.0, 4.0)] * 30 + [(1.8, 5.0)] * 15 + [(3.0, 6.0)] * 10
ACTIVITY_MEAN = sum(w for w, _ in ACTIVITY) / len(ACTIVITY)

BASE_DAYS = 1600                     # day index of the anchor date in DAYS
DAY = 86400
ANCHOR_S = BASE_DAYS * DAY           # anchor, in seconds since the first day of DAYS


def _build_time_tables():
    first = (ANCHOR - _dt.timedelta(days=BASE_DAYS)).date()
    days = [(first + _dt.timedelta(days=d)).isoformat() for d in range(BASE_DAYS + 120)]
    tod = [f" {h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)]
    return days, tod


DAYS, TOD = _build_time_tables()
# Birth dates between 1950 and 2008, every third day.
BIRTH_DAYS = [(_dt.date(1950, 1, 1) + _dt.timedelta(days=d)).isoformat() for d in range(0, 21550, 3)]


def _ts(s: int) -> str:
    return DAYS[s // DAY] + TOD[s % DAY]


def _fmt_phone(p: str, k: int) -> str:
    a, b, c = p[:3], p[3:6], p[6:]
    if k < 30:
        return f"({a}) {b}-{c}"
    if k < 50:
        return f"{a}-{b}-{c}"
    if k < 62:
        return p
    if k < 72:
        return f"{a}.{b}.{c}"
    if k < 82:
        return f"+1 {a} {b} {c}"
    if k < 90:
        return "+1" + p
    if k < 96:
        return f"1-{a}-{b}-{c}"
    if k < 98:
        return f"tel: {a} {b} {c}"
    return f"  {a} {b} {c} "


def _fmt_phone_export(p: str, k: int) -> str:
    """Nineteen ways to type a phone; a few normalize to another value or to nothing."""
    a, b, c = p[:3], p[3:6], p[6:]
    if k < 18:
        return f"({a}) {b}-{c}"
    if k < 30:
        return f"{a}-{b}-{c}"
    if k < 38:
        return p
    if k < 44:
        return f"{a}.{b}.{c}"
    if k < 50:
        return f"+1 {a} {b} {c}"
    if k < 56:
        return "+1" + p
    if k < 61:
        return f"1-{a}-{b}-{c}"
    if k < 66:
        return f"{a} {b} {c}"
    if k < 71:
        return f"({a}){b}-{c}"
    if k < 75:
        return f"+1 ({a}) {b}-{c}"
    if k < 79:
        return f"+1-{a}-{b}-{c}"
    if k < 82:
        return f"1 ({a}) {b}-{c}"
    if k < 85:
        return f"{a}/{b}-{c}"
    if k < 88:
        return f"tel:+1{p}"
    if k < 91:
        return f"  {a} {b} {c} "
    if k < 93:
        return f"{a}-{b}-{c} x{k}"               # an extension: 12 digits, another value
    if k < 95:
        return f"{b}-{c}"                        # no area code: 7 digits, no phone
    if k < 97:
        return f"001 {a} {b} {c}"                # dialled from abroad: 13 digits, another value
    return f"{a} {b} {c[:2]} {c[2:]}"


def _fmt_email(e: str, k: int) -> str:
    if k < 78:
        return e
    if k < 88:
        local, _, dom = e.partition("@")
        return local[:1].upper() + local[1:] + "@" + dom[:1].upper() + dom[1:]
    if k < 93:
        return e.upper()
    if k < 98:
        return " " + e + " "
    if k < 99:
        return e.replace("@", "(at)")       # not an email: normalizes to NULL
    return e.replace("@", "@@")             # two @: normalizes to NULL


def _fmt_mid(m: str, k: int) -> str:
    if k < 86:
        return m
    if k < 93:
        return m.lower()
    if k < 97:
        return m + " "
    return " " + m.lower()


class _Member:
    __slots__ = ("mid", "first", "last", "email", "phone", "phone2", "club", "club2", "plan",
                 "status", "join_day", "end_day", "weight", "skew", "devices", "idx",
                 # export shape only
                 "email2", "switch_day", "home_phone", "family_device", "trainer")


def _device_id(rng: random.Random, platform: str) -> str:
    """An app install's id as the platform makes it: an iOS vendor id, an Android id, a web cookie."""
    if platform == "ios":
        h = f"{rng.getrandbits(128):032X}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    if platform == "android":
        return f"{rng.getrandbits(64):016x}"
    return f"web.{rng.getrandbits(80):020x}"


def _members(rng: random.Random, n: int, export: bool = False, trainers: int = 0):
    """Yield members one at a time (families share emails and a tablet)."""
    rnd = rng.random
    fam_left = 0
    fam_email = fam_device = fam_phone = None
    for i in range(n):
        m = _Member()
        m.idx = i
        m.mid = f"FC{i + 1:06d}"
        fd, fa = FIRST[int(rnd() * len(FIRST))]
        ld, la = LAST[int(rnd() * len(LAST))]
        m.first, m.last = fd, ld
        dom = DOMAINS[int(rnd() * len(DOMAINS))]
        m.email = f"{fa}.{la}{i}@{dom}" if rnd() < 0.7 else f"{fa[0]}{la}.{i}@{dom}"
        m.phone = AREA_CODES[int(rnd() * len(AREA_CODES))] + str(2000000 + int(rnd() * 7999999))
        m.phone2 = AREA_CODES[int(rnd() * len(AREA_CODES))] + str(2000000 + int(rnd() * 7999999)) \
            if rnd() < 0.08 else None      # changed phone number at some point
        m.club = CLUBS[int(rnd() * len(CLUBS))]
        m.club2 = CLUBS[int(rnd() * len(CLUBS))]
        m.plan = PLANS[PLAN_POOL[int(rnd() * len(PLAN_POOL))]]
        m.weight, m.skew = ACTIVITY[int(rnd() * len(ACTIVITY))]
        if export:
            # log-normal activity with the same mean: many members with a row or two, a few
            # with hundreds or thousands
            m.weight = min(ACTIVITY_MEAN * rng.lognormvariate(-0.78125, 1.25), 100 * ACTIVITY_MEAN)
        r = rnd()
        # Join date: 6% in the last 30 days (onboarding), the rest over 4 years.
        m.join_day = BASE_DAYS - 1 - (int(rnd() * 30) if r < 0.06 else int(rnd() * 1460))
        r = rnd()
        last = BASE_DAYS - 1
        if r < 0.72:
            m.status = "active"
            # A third of active members have drifted away 7-120 days ago.
            m.end_day = last - 7 - int(rnd() * 113) if rnd() < 0.33 else last - int(rnd() * 3)
        elif r < 0.80:
            m.status = "frozen"
            m.end_day = last - 5 - int(rnd() * 55)
        elif r < 0.95:
            m.status = "cancelled"
            m.end_day = m.join_day + int(rnd() * (last - m.join_day + 1))
        else:
            m.status = "pending"
            m.end_day = last
            m.weight = 0.05
        if m.end_day < m.join_day:
            m.end_day = m.join_day
        plat = "ios" if rnd() < 0.55 else ("android" if rnd() < 0.8 else "web")
        m.devices = [(f"{rng.getrandbits(64):016x}-{m.idx % 10000:04d}", plat)]
        if rnd() < 0.2:
            m.devices.append((f"{rng.getrandbits(64):016x}-{m.idx % 10000:04d}", "ios"))
        if not export:
            # Families: 2-3 members share one email and a tablet.
            if fam_left == 0 and rnd() < 0.03:
                fam_left = 2 + (rnd() < 0.35)
                fam_email = f"the.{la}s{i}@{dom}"
                fam_device = (f"{rng.getrandbits(64):016x}-fam", "android")
            if fam_left:
                fam_left -= 1
                m.email = fam_email
                m.devices.append(fam_device)
            yield m
            continue
        # Re-install chain: the installs in time order, now and then on a new platform.
        m.devices = []
        for _ in range(INSTALLS[int(rnd() * len(INSTALLS))]):
            if rnd() < 0.1:
                plat = "ios" if plat != "ios" else "android"
            m.devices.append((_device_id(rng, plat), plat))
        # A new email address from some day on.
        m.email2 = m.switch_day = None
        if rnd() < 0.12:
            m.email2 = f"{fa}{la[:1]}.{i}@{DOMAINS[int(rnd() * len(DOMAINS))]}"
            m.switch_day = m.join_day + int(rnd() * (m.end_day - m.join_day + 1))
        m.trainer = int(rnd() * trainers) if trainers and rnd() < 0.12 else None
        # Families of 2-6 share one email, a tablet and, 40% of them, a home phone.
        if fam_left == 0 and rnd() < 0.035:
            fam_left = FAMILY_SIZES[int(rnd() * len(FAMILY_SIZES))]
            fam_email = f"the.{la}s{i}@{dom}"
            fam_device = (_device_id(rng, "android"), "android")
            fam_phone = AREA_CODES[int(rnd() * len(AREA_CODES))] + str(2000000 + int(rnd() * 7999999)) \
                if rnd() < 0.4 else None
        m.home_phone = m.family_device = None
        if fam_left:
            fam_left -= 1
            m.email = fam_email
            m.family_device, m.home_phone = fam_device, fam_phone
        yield m


class _Writer:
    def __init__(self, path: Path, columns: list[str]):
        self.f = open(path, "w", encoding="utf-8", newline="", buffering=1 << 20)
        # QUOTE_MINIMAL with lineterminator "\n": a NULL (None) is written as an
        # empty unquoted cell; an empty string would be written as "" (not NULL).
        self.w = csv.writer(self.f, lineterminator="\n")
        self.w.writerow(columns)
        self.rows = []
        self.count = 0
        self.raw_at: list[int] = []   # positions in rows of malformed lines (bytes, written as they are)

    def raw(self, line: bytes):
        """A malformed line in place of a row: bytes written as they are, not as CSV."""
        self.raw_at.append(len(self.rows))
        self.rows.append(line)

    def flush(self):
        start = 0
        for at in self.raw_at:
            self.w.writerows(self.rows[start:at])
            self.f.flush()             # the text written so far, then the raw bytes after it
            self.f.buffer.write(self.rows[at])
            start = at + 1
        self.w.writerows(self.rows[start:] if start else self.rows)
        self.count += len(self.rows)
        self.rows.clear()          # in place: write_dataset holds references to these lists
        self.raw_at.clear()

    def close(self):
        self.flush()
        self.f.close()


def _csv_line(row: list) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(row)
    return out.getvalue()


def _malformed(row: list, k: int) -> bytes:
    """A row broken the ways real exports break; cdpc must quarantine it, not fail."""
    cells = ["" if v is None else str(v) for v in row]
    if k == 0:                                     # cut short: the export stopped mid-row
        return (",".join(cells[:max(1, len(cells) // 2)]) + "\n").encode()
    if k == 1:                                     # a line break inside a value, not quoted
        half = max(1, len(cells) // 2)
        return (",".join(cells[:half]) + ",note\n" + "line two," + ",".join(cells[half:]) + "\n").encode()
    if k == 2:                                     # a comma inside a value, not quoted
        return (",".join(cells[:1] + ["Smith, Jr."] + cells[2:]) + "\n").encode()
    if k == 3:                                     # an inch mark, a quote inside an unquoted value
        return (",".join(cells[:1] + ['5\'10" tall'] + cells[2:]) + "\n").encode()
    # a Latin-1 byte (a CP-1252 export): not UTF-8
    return _csv_line(cells[:1] + ["Jos\x00"] + cells[2:]).encode().replace(b"\x00", b"\xe9")


SHAPES = ("export", "gentle")


def write_dataset(out_dir: Path, members: int, seed: int = 7, records_per_member: float | None = None,
                  *, bad_row_rate: float | None = None, shape: str = "export",
                  malformed_rate: float | None = None) -> dict[str, int]:
    """Write the five raw CSV files into ``out_dir``; return lines written per relation.

    ``shape`` is ``export`` (shaped like real exports, the module docstring says how) or
    ``gentle`` (the sample data's). ``bad_row_rate`` is the share of rows that break
    their contract on purpose (they must land in the ``*_rejected`` tables): 0.02 for
    the export shape, 0.004 for the gentle one by default; the sample data in ``data/``
    uses 0.02 so that every kind of breakage shows up in a few hundred members.
    ``malformed_rate`` is the share of lines that are not well-formed CSV (export
    shape only, 0.001 by default). ``records_per_member`` is 31.2 for the export shape
    (about 31 staged records per member once the broken rows are out) and 30 for the
    gentle one by default. Deterministic: the same arguments always give byte-identical
    files.
    """
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}: expected one of {', '.join(SHAPES)}")
    export = shape == "export"
    if records_per_member is None:
        records_per_member = 31.2 if export else 30
    if bad_row_rate is None:
        bad_row_rate = 0.02 if export else 0.004
    if malformed_rate is None:
        malformed_rate = 0.001 if export else 0.0
    if malformed_rate and not export:
        raise ValueError("malformed_rate needs the export shape")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    rnd = rng.random
    # The CRM's email opt-in box has a stream of its own, so that adding it left every
    # other value of the sample data as it was.
    opt_in = random.Random(seed * 1000003 + 1).random
    W = {rel: _Writer(out_dir / f"{rel}.csv", cols) for rel, cols in COLUMNS.items()}
    crm, bk, pos, app, con = (W["raw.crm_contacts"].rows, W["raw.bookings"].rows,
                              W["raw.pos_transactions"].rows, W["raw.app_events"].rows,
                              W["raw.consent_events"].rows)
    # Rows per member besides CRM (~1.05) and consent (~2.85), split 42/20/38
    # between bookings, POS and app events. The divisors correct, measured over
    # many members, for pending members (little activity), the premium-plan
    # boost on POS and the 20% of members without the app.
    rest = max(records_per_member - 3.9, 1.0)
    mean_bk = rest * 0.42 / ACTIVITY_MEAN / 0.944
    mean_pos = rest * 0.20 / ACTIVITY_MEAN / 1.057
    mean_app = rest * 0.38 / ACTIVITY_MEAN / 0.755
    P_BAD = bad_row_rate               # share of rows broken on purpose
    P_ODD = 0.004                      # share of rows with valid but unusual spellings
    n_contact = 1000000
    n_booking = 40000000
    n_tx = 0
    n_event = 0
    n_consent = 0
    kiosks = [(f"kiosk-{c}-{k}", "web") for c in CLUBS for k in (1, 2)]
    nclubs = len(CLUBS)
    ts = _ts
    fmt_phone, fmt_email, fmt_mid = (_fmt_phone_export if export else _fmt_phone), _fmt_email, _fmt_mid
    P_MAL = malformed_rate             # share of lines that are not well-formed CSV
    w_crm, w_bk, w_pos, w_app, w_con = W.values()
    # Export shape: shared tablets, with ids of their own stream (they do not depend on the members).
    fixed = random.Random(seed * 1000003 + 2)
    desk_tablets = {c: [(_device_id(fixed, "ios"), "ios") for _ in range(2)] for c in CLUBS}
    trainer_tablets = [(_device_id(fixed, "android"), "android") for _ in range(max(6, members // 700))] \
        if export else []

    def when(m):
        """A day index in the member's activity window (at most the last 400
        days of the membership), skewed towards its end."""
        span = m.end_day - m.join_day
        if span > 400:
            span = 400
        return m.end_day - int(span * rnd() ** m.skew) if span > 0 else m.end_day

    def count(mean, w):
        x = mean * w * (0.5 + rnd())
        n = int(x)
        return n + (rnd() < x - n)

    def email_on(m, day):
        """The member's email address on a day (export shape: some changed it)."""
        return m.email2 if m.email2 is not None and day >= m.switch_day else m.email

    for m in _members(rng, members, export, len(trainer_tablets)):
        mid, email, phone = m.mid, m.email, m.phone
        crm_email = (m.email2 or email) if export else email    # the CRM has the current address

        # ---- CRM: one contact, sometimes a stale duplicate, sometimes a lead ----
        created = m.join_day * DAY + 28800 + int(rnd() * 36000)
        upd_day = m.join_day + int((BASE_DAYS - 1 - m.join_day) * rnd() ** 0.5)
        updated = max(created + 60, upd_day * DAY + int(rnd() * DAY))
        hold = None
        if m.status == "frozen":
            hold = DAYS[BASE_DAYS + 3 + int(rnd() * 60)]
            updated = min(max(updated, (m.end_day + 1) * DAY + 3600), ANCHOR_S - 1 - int(rnd() * 3600))
        elif m.status == "active" and rnd() < 0.05:
            hold = DAYS[max(m.join_day, BASE_DAYS - 1 - int(rnd() * 300))]   # an old, finished freeze
        injury = rnd()
        injury = "true" if injury < 0.04 else ("false" if injury < 0.7 else None)
        notes = MEDICAL_NOTES[int(rnd() * len(MEDICAL_NOTES))] if rnd() < 0.03 else None
        mh = rnd()
        oi = opt_in()                                   # the box at sign-up; NULL: never asked
        row = [
            f"C{n_contact:07d}",
            None if (m.status == "pending" and rnd() < 0.5) else fmt_mid(mid, int(rnd() * 100)),
            m.first, m.last,
            (TEST_EMAILS[int(rnd() * 5)] if rnd() < 0.02 else fmt_email(crm_email, int(rnd() * 100)))
            if rnd() < 0.95 else None,
            (TEST_PHONES[int(rnd() * 5)] if rnd() < 0.01 else
             FRONT_DESK[m.club] if rnd() < 0.02 else
             ("415-555-CALL" if m.idx % 101 == 50 else fmt_phone(phone, int(rnd() * 100))))
            if rnd() < 0.85 else None,
            BIRTH_DAYS[int(rnd() * len(BIRTH_DAYS))] if rnd() < 0.8 else None,
            m.club, m.plan[0], m.status, DAYS[m.join_day], hold,
            "true" if mh < 0.02 else ("false" if mh < 0.8 else None),
            "true" if oi < 0.6 else ("false" if oi < 0.85 else None),
            injury, notes, ts(created), ts(updated),
        ]
        n_contact += 1
        if export:
            if m.home_phone is not None and rnd() < 0.5:
                row[5] = fmt_phone(m.home_phone, int(rnd() * 100))    # the family's landline
            r = rnd()
            if r < 0.015:
                row[4] = STAFF_EMAILS[int(rnd() * len(STAFF_EMAILS))]
            elif r < 0.025:
                row[5] = STAFF_PHONES[int(rnd() * len(STAFF_PHONES))]
        if rnd() < P_BAD:
            k = int(rnd() * 6)
            if k == 0:
                row[9] = "Active "                     # not in accepted_values
            elif k == 1:
                row[10] = "02/30/2024"                 # not a date
            elif k == 2:
                row[17] = "N/A"                        # required timestamp, not castable
            elif k == 3:
                row[6] = "1985-02-29"                  # no such day
            elif k == 4:
                row[9] = None                          # required status missing
            else:
                row[0] = f"c{n_contact:07d}"           # breaks the contact_id pattern
        elif rnd() < P_ODD * 4:
            k = int(rnd() * 3)
            if k == 0:
                row[17] = row[17].replace(" ", "T")    # ISO T separator: castable
            elif k == 1:
                row[12] = "TRUE" if row[12] == "true" else "False"   # booleans in any case
            else:
                row[16] = row[16] + ".250000"          # fractional seconds: castable
        if P_MAL and rnd() < P_MAL:
            w_crm.raw(_malformed(row, int(rnd() * 5)))
        else:
            crm.append(row)
        if rnd() < 0.03:                                # duplicate contact made at the front desk
            dup_upd = max(created, updated - (1 + int(rnd() * 200)) * DAY)
            crm.append([
                f"C{n_contact:07d}",
                fmt_mid(mid, 90 + int(rnd() * 10)) if rnd() < 0.6 else None,
                m.first, m.last, fmt_email(email, 80 + int(rnd() * 18)),
                fmt_phone(phone, int(rnd() * 100)) if rnd() < 0.5 else None, None,
                m.club2, m.plan[0], "pending" if rnd() < 0.5 else "cancelled",
                DAYS[m.join_day], None, None, "false" if opt_in() < 0.5 else None, None, None,
                ts(min(created, dup_upd)), ts(dup_upd),
            ])
            n_contact += 1
        if rnd() < 0.02:                                # lead: trial-pass sign-up, never joined
            t = (BASE_DAYS - 1 - int(rnd() * 400)) * DAY + int(rnd() * DAY)
            crm.append([f"C{n_contact:07d}", None, m.first, None,
                        f"{m.first[:1].lower()}{n_contact}@{DOMAINS[int(rnd() * len(DOMAINS))]}",
                        None, None, CLUBS[int(rnd() * nclubs)], None, "pending", None, None,
                        None, "true" if opt_in() < 0.6 else "false", None, None, ts(t), ts(t)])
            n_contact += 1

        # ---- consent: answers at sign-up, later changes ----
        signup = created + int(rnd() * 600)
        via = "web" if rnd() < 0.5 else ("app" if rnd() < 0.6 else "front_desk")
        for purpose, p_ans, p_yes in (("email_marketing", 0.95, 0.78), ("sms_marketing", 0.85, 0.6),
                                      ("ads_personalization", 0.7, 0.5)):
            if rnd() < p_ans:
                n_consent += 1
                row = [f"CS{n_consent:09d}",
                       fmt_mid(mid, int(rnd() * 100)) if via != "web" or rnd() < 0.5 else None,
                       fmt_email(email, int(rnd() * 100)) if via != "front_desk" else None,
                       None, purpose, "true" if rnd() < p_yes else "false", via, ts(signup)]
                if P_MAL and rnd() < P_MAL:
                    w_con.raw(_malformed(row, int(rnd() * 5)))
                else:
                    con.append(row)
        if rnd() < 0.3:                                 # a later change of mind
            t = max(signup + 3600, when(m) * DAY + int(rnd() * DAY))
            k = int(rnd() * 4)
            n_consent += 1
            if k == 0:                                  # replied STOP to an SMS: phone only
                con.append([f"CS{n_consent:09d}", None, None, fmt_phone(phone, int(rnd() * 100)),
                            "sms_marketing", "false", "sms_keyword", ts(t)])
            elif k == 1:                                # unsubscribe link: email only
                con.append([f"CS{n_consent:09d}", None, fmt_email(email_on(m, t // DAY) if export else email,
                                                                  int(rnd() * 100)), None,
                            "email_marketing", "false", "email_link", ts(t)])
            elif k == 2:                                # app privacy toggle
                con.append([f"CS{n_consent:09d}", fmt_mid(mid, 0), None, None,
                            "ads_personalization", "true" if rnd() < 0.4 else "false", "app", ts(t)])
            else:                                       # website form: partner offers (undeclared purpose)
                con.append([f"CS{n_consent:09d}", None, fmt_email(email_on(m, t // DAY) if export else email, 0), None,
                            "partner_offers", "true", "web", ts(t)])
        if rnd() < 0.01:                                # same second, two answers: the denial must win
            t = max(signup + 7200, when(m) * DAY + int(rnd() * DAY))
            for g in ("true", "false"):
                n_consent += 1
                con.append([f"CS{n_consent:09d}", fmt_mid(mid, 0), None, None,
                            "email_marketing", g, "app", ts(t)])
        if rnd() < P_BAD * 2:
            k = int(rnd() * 4)
            n_consent += 1
            bad = [f"CS{n_consent:09d}", fmt_mid(mid, 0), None, None, "sms_marketing", "true", "app", ts(signup)]
            if k == 0:
                bad[5] = "yes"                          # not a boolean
            elif k == 1:
                bad[4] = None                           # required purpose missing
            elif k == 2:
                bad[7] = "2026-02-30 10:00:00"          # no such day
            else:
                bad[6] = "kiosk"                        # not an accepted collected_via
            con.append(bad)

        # ---- bookings ----
        nb = count(mean_bk, m.weight)
        upcoming = m.status == "active" and m.end_day >= BASE_DAYS - 3
        for _ in range(nb):
            r = rnd()
            if upcoming and r < 0.06:                  # an upcoming class, still booked
                start = (BASE_DAYS + int(rnd() * 7)) * DAY + 21600 + int(rnd() * 14) * 3600
                booked = ANCHOR_S - 60 - int(rnd() * 4 * DAY)
                status = "booked"
            else:
                start = when(m) * DAY + 21600 + int(rnd() * 15) * 3600 + (1800 if rnd() < 0.3 else 0)
                booked = start - 3600 - int(rnd() * 5 * DAY)
                r = rnd()
                status = ("attended" if r < 0.78 else "cancelled" if r < 0.88 else
                          "no_show" if r < 0.95 else "late_cancel")
            cls, price = CLASSES[int(rnd() * len(CLASSES))]
            n_booking += 1
            if export:
                email = email_on(m, booked // DAY)
            row = [str(n_booking),
                   fmt_mid(mid, int(rnd() * 100)) if rnd() < 0.95 else None,
                   fmt_email(email, int(rnd() * 100)) if rnd() < 0.3 else None,
                   m.club if rnd() < 0.8 else m.club2, cls,
                   INSTRUCTORS[int(rnd() * len(INSTRUCTORS))], status, price,
                   ts(booked), ts(start),
                   BOOKING_NOTES[int(rnd() * 4)] if rnd() < 0.004 else None]
            if rnd() < P_BAD:
                k = int(rnd() * 7)
                if k == 0:
                    row[8] = "yesterday"                 # not a timestamp
                elif k == 1:
                    row[9] = "2026-02-30 10:00:00"       # no such day
                elif k == 2:
                    row[6] = "Attended"                  # not in accepted_values (case matters)
                elif k == 3:
                    row[7] = "-25.00"                    # below min 0
                elif k == 4:
                    row[3] = None                        # required club_id missing
                elif k == 5:
                    row[6] = "checked_in"                # not in accepted_values
                else:
                    row[8] = " " + row[8]                # surrounding whitespace: not castable
            elif rnd() < P_ODD:
                k = int(rnd() * 3)
                if k == 0:
                    row[9] = row[9].replace(" ", "T")
                elif k == 1:
                    row[7] = "25"                        # decimal without fraction
                else:
                    row[7] = "12.345"                    # rounds half away from zero to 12.35
            if row[1] is None and row[2] is None and rnd() < 0.9:
                row[2] = fmt_email(email, int(rnd() * 100))   # guest booking: email only
                if export and rnd() < 0.05:
                    row[2] = STAFF_EMAILS[int(rnd() * len(STAFF_EMAILS))]
            if P_MAL and rnd() < P_MAL:
                w_bk.raw(_malformed(row, int(rnd() * 5)))
            else:
                bk.append(row)

        # ---- POS transactions ----
        npos = count(mean_pos, m.weight * (1.6 if m.plan[0] == "premium" else 1.0))
        for _ in range(npos):
            t = when(m) * DAY + 21600 + int(rnd() * 54000)
            r = rnd()
            if r < 0.22:
                cat, amount = "membership_dues", m.plan[1]
            elif r < 0.42:
                cat = "personal_training"
                amount = POS_ITEMS[cat][int(rnd() ** 1.5 * 7)]
            elif r < 0.57:
                cat = "retail"
                amount = POS_ITEMS[cat][int(rnd() * 7)]
            elif r < 0.9:
                cat = "smoothie_bar"
                amount = POS_ITEMS[cat][int(rnd() * 6)]
            elif r < 0.95:
                cat, amount = "day_pass", "25.00"
            else:
                cat, amount = "guest_pass", "15.00"
            r = rnd()
            club = m.club if rnd() < 0.85 else m.club2
            if export:
                email = email_on(m, t // DAY)
            if r < 0.006:
                ph, em = None, None                      # anonymous walk-in: no identifier
            elif r < 0.03:                               # staff typed the front-desk phone
                ph = FRONT_DESK[club]
                em = fmt_email(email, int(rnd() * 100)) if rnd() < 0.7 else None
            elif r < 0.055:                              # placeholders the blocklist removes
                ph = TEST_PHONES[int(rnd() * 5)]
                em = TEST_EMAILS[int(rnd() * 5)] if rnd() < 0.5 else None
            else:
                p = m.phone2 if (m.phone2 and rnd() < 0.5) else phone
                ph = fmt_phone(p, int(rnd() * 100)) if rnd() < 0.75 else None
                em = fmt_email(email, int(rnd() * 100)) if (ph is None or rnd() < 0.25) else None
            if export:
                r = rnd()
                if r < 0.01:
                    em = STAFF_EMAILS[int(rnd() * len(STAFF_EMAILS))]
                elif r < 0.02:
                    ph = STAFF_PHONES[int(rnd() * len(STAFF_PHONES))]
                elif r < 0.12 and m.home_phone is not None:
                    ph = fmt_phone(m.home_phone, int(rnd() * 100))
            r = rnd()
            status = "paid" if r < 0.92 else ("refunded" if r < 0.96 else ("voided" if r < 0.98 else "failed"))
            brand = CARD_BRANDS[int(rnd() * len(CARD_BRANDS))]
            n_tx += 1
            row = [f"sq_{n_tx:010d}", club, ph, em, cat, amount, "USD", brand,
                   None if brand == "CASH" else f"{int(rnd() * 10000):04d}", status, ts(t)]
            if rnd() < P_BAD:
                k = int(rnd() * 7)
                if k == 0:
                    row[5] = "-" + amount                # negative price
                elif k == 1:
                    row[10] = "2026-13-01 09:00:00"      # no such month
                elif k == 2:
                    row[9] = "COMPLETED"                 # not in accepted_values
                elif k == 3:
                    row[6] = "usd"                       # breaks ^[A-Z]{3}$
                elif k == 4:
                    row[8] = "12345"                     # breaks ^[0-9]{4}$
                elif k == 5:
                    row[4] = None                        # required item_category missing
                else:
                    row[5] = "$" + amount                # not a decimal
            elif rnd() < P_ODD:
                row[10] = row[10].replace(" ", "T") + ".5"
            if P_MAL and rnd() < P_MAL:
                w_pos.raw(_malformed(row, int(rnd() * 5)))
            else:
                pos.append(row)

        # ---- app events ----
        napp = count(mean_app, m.weight) if rnd() < 0.8 else 0   # 20% never installed the app
        devs = m.devices
        nd = len(devs)
        span = min(m.end_day - m.join_day, 400)          # the window when() draws from
        first_day = m.end_day - span
        for _ in range(napp):
            t = when(m) * DAY + int(rnd() * DAY)
            r = rnd()
            if r < 0.01:
                dev, plat = kiosks[int(rnd() * len(kiosks))]   # club kiosk check-in
                ev, ref = "check_in", fmt_mid(mid, 0)
            elif export:
                if r < 0.05:                             # staff sign the member in at the front desk
                    dev, plat = desk_tablets[m.club if rnd() < 0.85 else m.club2][int(rnd() * 2)]
                    ev, ref = ("check_in" if rnd() < 0.7 else "booking_completed"), fmt_mid(mid, int(rnd() * 100))
                elif r < 0.15 and m.trainer is not None:  # the personal trainer's tablet
                    dev, plat = trainer_tablets[m.trainer]
                    ev, ref = "workout_logged", fmt_mid(mid, int(rnd() * 100))
                elif r < 0.25 and m.family_device is not None:
                    dev, plat = m.family_device
                    ev = EVENT_TYPES[int(rnd() * 100)]
                    ref = fmt_mid(mid, int(rnd() * 100)) if rnd() < 0.3 else None
                else:                                    # the install in use at that time
                    dev, plat = devs[min(nd - 1, (t // DAY - first_day) * nd // (span + 1))]
                    ev = EVENT_TYPES[int(rnd() * 100)]
                    ref = fmt_mid(mid, int(rnd() * 100)) if rnd() < 0.6 else None
            else:
                dev, plat = devs[int(rnd() * nd)]
                ev = EVENT_TYPES[int(rnd() * 100)]
                ref = fmt_mid(mid, int(rnd() * 100)) if rnd() < 0.6 else None
            vers = APP_VERSIONS[plat]
            n_event += 1
            row = [f"ev_{n_event:011d}", dev, ref, ev, plat, vers[int(rnd() * len(vers))], ts(t)]
            if rnd() < P_BAD:
                k = int(rnd() * 4)
                if k == 0:
                    row[6] = "yesterday"
                elif k == 1:
                    row[3] = "screen_view"               # not in accepted_values
                elif k == 2:
                    row[5] = "5.12"                      # breaks the semver pattern
                else:
                    row[1] = None                        # required device_id missing
            if P_MAL and rnd() < P_MAL:
                w_app.raw(_malformed(row, int(rnd() * 5)))
            else:
                app.append(row)

        if len(app) + len(bk) + len(pos) > 20000:
            for w in W.values():
                w.flush()

    # An anonymous device that never signs in: a profile with only a device id.
    for k in range(3):
        n_event += 1
        app.append([f"ev_{n_event:011d}", "0000anon-tablet-0001", None, "class_view", "android",
                    "5.13.1", ts(ANCHOR_S - (k + 1) * 7200)])
    counts = {}
    for rel, w in W.items():
        w.close()
        counts[rel] = w.count
    for rel, columns in REQUESTS.items():
        requests = _Writer(out_dir / f"{rel}.csv", columns)
        requests.rows.extend([] if export else GENTLE_REQUESTS)
        requests.close()
    return counts


def dataset_dir(cache: Path, members: int, shape: str = "export", seed: int = 7) -> Path:
    """Where cached_dataset keeps the data set of these arguments: the folder's name holds a
    digest of this file, so a changed generator writes anew."""
    digest = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
    return Path(cache) / f"{shape}-{members}-seed{seed}-{digest}"


def cached_dataset(cache: Path, members: int, shape: str = "export", seed: int = 7) -> Path:
    """The data set of these arguments (default rates) under ``cache``, written once."""
    target = dataset_dir(cache, members, shape, seed)
    if not (target / ".complete").exists():
        target.mkdir(parents=True, exist_ok=True)
        write_dataset(target, members, seed, shape=shape)
        (target / ".complete").write_text("ok")
    return target


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Write deterministic synthetic fitclub raw data (CSV).")
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--members", type=int, required=True)
    ap.add_argument("--shape", choices=SHAPES, default="export",
                    help="export: shaped like real exports (default); gentle: the sample data's shape")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--records-per-member", type=float, default=None,
                    help="source rows per member (default 31.2 export, 30 gentle)")
    ap.add_argument("--bad-row-rate", type=float, default=None,
                    help="share of rows that break their contract on purpose (default 0.02 export, 0.004 gentle)")
    ap.add_argument("--malformed-rate", type=float, default=None,
                    help="share of lines that are not well-formed CSV (export shape only; default 0.001)")
    a = ap.parse_args(argv)
    if a.members < 1:
        ap.error("--members must be at least 1")
    if a.malformed_rate and a.shape != "export":
        ap.error("--malformed-rate needs --shape export")
    t0 = time.perf_counter()
    counts = write_dataset(a.out_dir, a.members, a.seed, a.records_per_member, bad_row_rate=a.bad_row_rate,
                           shape=a.shape, malformed_rate=a.malformed_rate)
    dt = time.perf_counter() - t0
    for rel, n in counts.items():
        print(f"{rel}.csv\t{n}")
    print(f"total\t{sum(counts.values())} rows in {dt:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
