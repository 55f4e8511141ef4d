#!/usr/bin/env python3
"""A week in the life of the fitclub reference project: five daily snapshots of its raw data.

    python data/week/generate.py OUT_DIR

writes OUT_DIR/day1 ... OUT_DIR/day5, each a full set of `raw.<table>.csv` as the sources
export them that day (the erasure request log empty: no member asks to be forgotten this week), for `cdpc run --data OUT_DIR/dayN --as-of <day N>` (docs/week.md).
Day N's as-of time is midnight UTC at the end of the day, 2026-11-(19+N) 00:00:00: day 1 is
the sample of data/ as it is, and every later day is the day before plus the 24 hours that
led to its as-of time:

- every day: members attend classes, pay at the POS and open the app (which keeps every
  source fresh), and the CRM's nightly export carries the day's edits;
- day 2: three members join; two members change email (in the CRM and the booking system),
  one of them a VIP whose audience is on Meta;
- day 3: three members cancel their membership (one a VIP); one unsubscribes from email;
  two more join;
- day 4: the POS export arrives with every amount 0.00 (a vendor bug: the rows are valid, so
  no contract rejects them); every member's revenue drops to 0 and the high-value segments
  empty, which is what a held sync is for;
- day 5: the POS export is right again; a high-value member comes back after four months.

Members are picked by rules over the data (active, lapsed for a week or more, one email on
record, ...) with a fixed seed, so the same sample always gives byte-identical files. Time
passing moves members too: a member without a class for 7 days enters winback_7d_inactive,
one who books a class leaves it, a member's first 30 days end.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import re
import sys
from pathlib import Path

SAMPLE = Path(__file__).resolve().parent.parent  # data/
TABLES = ("crm_contacts", "bookings", "pos_transactions", "app_events", "consent_events")
# The erasure request log is empty all week: the week is about activation; the sample's
# requests are the erasure scenario of docs/privacy.md §4, run on data/ itself.
EMPTY = ("erasure_requests",)
DAY1 = dt.datetime(2026, 11, 20)  # the sample's anchor: day 1's as-of time
DAYS = 5
SEED = 16
CLUBS = ("sf_mission", "sf_marina", "oakland_uptown", "berkeley", "palo_alto", "san_jose")
CLASSES = ("Spin 45", "Vinyasa Flow", "HIIT Express", "Barre", "Strength Foundations", "Open Gym")
# Three members picked from day 1's audiences, for the changes on Meta (its audiences are
# small); tests/test_week.py checks that each still does what is said here.
VIP_NEW_EMAIL = "FC000249"  # in vip_retention, sent to Meta: a new email is an update there
VIP_CANCELS = "FC000114"  # in vip_retention on Meta and on email: cancelling removes them from both
LAPSED_RETURNS = "FC000208"  # in high_value_lapsed on Meta: a class after four months removes them
NEW_MEMBERS = (("Rosa", "Alvarez"), ("Kenji", "Mori"), ("Amara", "Obi"), ("Felix", "Brandt"), ("Lina", "Haddad"))


def as_of(day: int) -> dt.datetime:
    return DAY1 + dt.timedelta(days=day - 1)


class Week:
    """The raw tables (rows as dicts, in file order), changed one day at a time."""

    def __init__(self, sample: Path, seed: int = SEED):
        self.rng = random.Random(seed)
        self.sample = sample
        self.columns: dict[str, list[str]] = {}
        self.rows: dict[str, list[dict[str, str]]] = {}
        for table in TABLES:
            with open(sample / f"raw.{table}.csv", encoding="utf-8", newline="") as handle:
                reader = csv.DictReader(handle)
                self.columns[table] = list(reader.fieldnames or [])
                self.rows[table] = list(reader)
        self.day = 1
        self.joined = 0
        # members of a scripted event: the routine leaves them alone
        self.scripted: set[str] = {VIP_NEW_EMAIL, VIP_CANCELS, LAPSED_RETURNS}

    # --------------------------------------------------------------- what the data says

    def members(self) -> dict[str, dict[str, str]]:
        """Membership id -> its most recently updated CRM contact."""
        newest: dict[str, dict[str, str]] = {}
        for row in self.rows["crm_contacts"]:
            member = _member(row["membership_id"])
            if member and (member not in newest or row["updated_at"] > newest[member]["updated_at"]):
                newest[member] = row
        return newest

    def last_class(self) -> dict[str, dt.datetime]:
        """Membership id -> start of the last class attended before the as-of time."""
        last: dict[str, dt.datetime] = {}
        for row in self.rows["bookings"]:
            member, start = _member(row["membership_id"]), _time(row["class_starts_at"])
            if member and start and row["status"] == "attended" and start <= self.now:
                last[member] = max(start, last.get(member, start))
        return last

    def lapsed(self, low: int = 8, high: int = 25) -> list[str]:
        """Active members whose last class was `low` to `high` days ago: win-back material."""
        last, members = self.last_class(), self.members()
        return sorted(m for m, row in members.items() if row["membership_status"] == "active" and m in last
                      and low <= (self.now - last[m]).days <= high)

    def email_movers(self) -> list[str]:
        """Lapsed members (so they are in the win-back audiences) whose email, changed in the
        CRM and the booking system, becomes their most frequent one: the email a profile is
        sent under is its most frequent (docs/reference.md §2.7). The consent log and POS
        receipts are records of the past and keep the old email."""
        members, contacts = self.members(), {}
        for row in self.rows["crm_contacts"]:
            contacts[_member(row["membership_id"])] = contacts.get(_member(row["membership_id"]), 0) + 1
        found = []
        for member in self.lapsed():
            row = members[member]
            email = row["email"].strip().lower()
            moved = 1 + sum(1 for r in self.rows["bookings"] if _member(r["membership_id"]) == member and r["email"].strip())
            stays = sum(1 for t in ("consent_events", "pos_transactions") for r in self.rows[t]
                        if r["email"].strip().lower() == email)
            if (contacts[member] == 1 and member not in self.scripted and re.fullmatch(r"[a-z0-9._]+@[a-z0-9.-]+", email)
                    and moved > stays and self.emails_allowed(row)):
                found.append(member)
        return found

    def emails_allowed(self, contact: dict[str, str]) -> bool:
        """The member may get marketing email: no contact of theirs has a marketing hold or a
        health flag, and their latest email_marketing answer is yes: the CRM box (dated by the
        contact's updated_at) or the consent log (by membership id, email or phone); a no
        at the same moment wins (docs/reference.md §2.6)."""
        member, email, phone = _member(contact["membership_id"]), contact["email"].strip().lower(), _digits(contact["phone"])
        if any(_member(r["membership_id"]) == member and (r["marketing_hold"].lower() == "true" or r["medical_notes"]
                                                          or r["has_injury_flag"].lower() == "true")
               for r in self.rows["crm_contacts"]):
            return False
        answers = [(contact["updated_at"], contact["email_opt_in"].lower() == "true")]  # an empty box is a no
        answers += [(r["recorded_at"], r["granted"].lower() == "true") for r in self.rows["consent_events"]
                    if r["purpose"] == "email_marketing" and r["granted"].lower() in ("true", "false")
                    and (_member(r["membership_id"]) == member or (email and r["email"].strip().lower() == email)
                         or (phone and _digits(r["phone"]) == phone))]
        return bool(answers) and max(answers, key=lambda a: (a[0], not a[1]))[1]  # a no wins a tie

    @property
    def now(self) -> dt.datetime:
        return as_of(self.day)

    # --------------------------------------------------------------- what happens

    def next_day(self) -> list[str]:
        """Move to the next day; returns what happened, one line per scripted event."""
        self.day += 1
        events = getattr(self, f"_day{self.day}")()
        self._routine()
        return events

    def _day2(self) -> list[str]:
        changing = self._pick(self.email_movers(), 1)
        return ([self._join() for _ in range(3)] + [self._new_email(m) for m in changing]
                + [self._new_email(VIP_NEW_EMAIL)])

    def _day3(self) -> list[str]:
        cancelling = self._pick([m for m in self.lapsed() if m not in self.scripted], 2)
        members = self.members()
        mailed = [m for m in self.lapsed() if m not in self.scripted and self.emails_allowed(members[m])]
        return ([self._cancel(m) for m in (*cancelling, VIP_CANCELS)]
                + [self._unsubscribe(m) for m in self._pick(mailed, 1)] + [self._join() for _ in range(2)])

    def _day4(self) -> list[str]:
        return ["the POS export arrives with every amount 0.00 (day 4's files only)"]

    def _day5(self) -> list[str]:
        return ["the POS export is right again", self._attend(LAPSED_RETURNS)]

    def _pick(self, candidates: list[str], count: int) -> list[str]:
        if len(candidates) < count:
            raise SystemExit(f"day {self.day}: only {len(candidates)} members fit, {count} needed")
        chosen = self.rng.sample(candidates, count)
        self.scripted.update(chosen)
        return chosen

    def _join(self) -> str:
        first, last = NEW_MEMBERS[self.joined]
        self.joined += 1
        member = _next_id(self.members(), "FC", 6)
        self.scripted.add(member)
        email = f"{first}.{last}{self.joined}@gmail.com".lower()
        phone = f"(415) 555-{3100 + self.joined:04d}"
        at = self._moment(9, 20)
        club = self.rng.choice(CLUBS)
        self._crm({"contact_id": _next_id([r["contact_id"] for r in self.rows["crm_contacts"]], "C", 7),
                   "membership_id": member, "first_name": first, "last_name": last, "email": email, "phone": phone,
                   "birth_date": f"19{self.rng.randint(70, 99)}-0{self.rng.randint(1, 9)}-1{self.rng.randint(0, 9)}",
                   "home_club": club, "plan": self.rng.choice(("basic", "plus", "premium")),
                   "membership_status": "active", "joined_on": (self.now - dt.timedelta(days=1)).date().isoformat(),
                   "vacation_hold_until": "", "marketing_hold": "false", "email_opt_in": "true",
                   "has_injury_flag": "false", "medical_notes": "", "created_at": _text(at), "updated_at": _text(at)})
        for purpose in ("sms_marketing", "ads_personalization"):
            self._consent(member, purpose, "true", "front_desk", at)
        return f"{member} {first} {last} joins at {club}"

    def _new_email(self, member: str) -> str:
        """The CRM contact and the member's bookings (the booking system exports each booking
        with the client's current email) carry the new email from now on."""
        row = self.members()[member]
        old = row["email"].strip()
        name, domain = old.lower().split("@", 1)
        new = f"{name.split('.')[0]}.{row['last_name'].split(',')[0].lower()}@{'proton.me' if domain != 'proton.me' else 'gmail.com'}"
        row["email"], row["updated_at"] = new, _text(self._moment(8, 22))
        for booking in self.rows["bookings"]:
            if _member(booking["membership_id"]) == member and booking["email"].strip():
                booking["email"] = new
        return f"{member} changes email: {old} -> {new}"

    def _attend(self, member: str) -> str:
        self._class(member, self.members()[member]["home_club"] or CLUBS[0])
        return f"{member} comes back for a class"

    def _cancel(self, member: str) -> str:
        row = self.members()[member]
        row["membership_status"] = "cancelled"
        row["updated_at"] = _text(self._moment(8, 22))
        return f"{member} cancels the membership"

    def _unsubscribe(self, member: str) -> str:
        self._consent(member, "email_marketing", "false", "email_link", self._moment(8, 22))
        return f"{member} unsubscribes from email"

    def _routine(self) -> None:
        """A day of ordinary activity, with each source's newest row close to the as-of time."""
        members = self.members()
        active = sorted(m for m, row in members.items() if row["membership_status"] == "active" and m not in self.scripted)
        devices = sorted({(_member(r["member_ref"]), r["device_id"], r["platform"], r["app_version"])
                          for r in self.rows["app_events"] if _member(r["member_ref"]) in active and r["device_id"]})
        for member in self.rng.sample(active, 12):
            self._class(member, members[member]["home_club"] or CLUBS[0])
        for member in self.rng.sample(active, 8):
            self._add("pos_transactions", {
                "transaction_id": f"sq_{int(_next_number(self.rows['pos_transactions'], 'transaction_id')):010d}",
                "location_code": members[member]["home_club"] or CLUBS[0], "phone": members[member]["phone"], "email": "",
                "item_category": "smoothie_bar", "amount": self.rng.choice(("6.50", "8.00", "9.50")), "currency": "USD",
                "card_brand": "VISA", "card_last4": f"{self.rng.randint(0, 9999):04d}", "status": "paid",
                "occurred_at": _text(self.now - dt.timedelta(minutes=self.rng.randint(20, 300)))})
        for member, device, platform, version in self.rng.sample(devices, 20):
            self._add("app_events", {
                "event_id": f"ev_{int(_next_number(self.rows['app_events'], 'event_id')):011d}", "device_id": device,
                "member_ref": member, "event_type": "app_open", "platform": platform, "app_version": version,
                "occurred_at": _text(self.now - dt.timedelta(minutes=self.rng.randint(5, 110)))})
        edited = members[self.rng.choice(active)]  # the nightly export: at least one contact edited
        edited["updated_at"] = max(edited["updated_at"], _text(self._moment(18, 23)))

    def _class(self, member: str, club: str) -> None:
        """An attended class yesterday, booked in the hours before the as-of time."""
        start = self._moment(6, 21).replace(minute=0, second=0)
        self._add("bookings", {"booking_id": _next_number(self.rows["bookings"], "booking_id"), "membership_id": member,
                               "club_id": club, "class_name": self.rng.choice(CLASSES), "status": "attended",
                               "price": "0.00", "class_starts_at": _text(start),
                               "booked_at": _text(self.now - dt.timedelta(minutes=self.rng.randint(30, 600)))})

    def _crm(self, row: dict[str, str]) -> None:
        self._add("crm_contacts", row)

    def _consent(self, member: str, purpose: str, granted: str, via: str, at: dt.datetime) -> None:
        self._add("consent_events", {"consent_id": f"CS{int(_next_number(self.rows['consent_events'], 'consent_id')):09d}",
                                     "membership_id": member, "email": "", "phone": "", "purpose": purpose,
                                     "granted": granted, "collected_via": via, "recorded_at": _text(at)})

    def _add(self, table: str, row: dict[str, str]) -> None:
        self.rows[table].append({c: row.get(c, "") for c in self.columns[table]})

    def _moment(self, first_hour: int, last_hour: int) -> dt.datetime:
        """A time on the day before the as-of time, between the two hours."""
        day = self.now - dt.timedelta(days=1)
        return day + dt.timedelta(seconds=self.rng.randint(first_hour * 3600, last_hour * 3600))

    # --------------------------------------------------------------- writing

    def write(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for table in EMPTY:  # its header only
            header = (self.sample / f"raw.{table}.csv").read_text(encoding="utf-8").splitlines()[0]
            (folder / f"raw.{table}.csv").write_text(header + "\n", encoding="utf-8")
        for table in TABLES:
            rows = self.rows[table]
            if table == "pos_transactions" and self.day == 4:  # the broken export: every amount 0.00
                rows = [{**row, "amount": "0.00" if re.fullmatch(r"\d+(\.\d+)?", row["amount"]) else row["amount"]}
                        for row in rows]  # (the sample's malformed amounts stay malformed)
            with open(folder / f"raw.{table}.csv", "w", encoding="utf-8", newline="") as handle:
                writer = csv.DictWriter(handle, self.columns[table], lineterminator="\n")
                writer.writeheader()
                writer.writerows(rows)


def _member(text: str) -> str:
    return (text or "").strip().upper()


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text or "")[-10:]


def _time(text: str):
    try:
        return dt.datetime.fromisoformat(text.strip().replace("T", " "))
    except ValueError:
        return None


def _text(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _next_id(existing, prefix: str, digits: int) -> str:
    pattern = re.compile(rf"{prefix}(\d{{{digits}}})")
    numbers = [int(match.group(1)) for text in existing if (match := pattern.fullmatch(_member(text)))]
    return f"{prefix}{max(numbers, default=0) + 1:0{digits}d}"


def _next_number(rows: list[dict[str, str]], column: str) -> str:
    numbers = [int(d) for row in rows if (d := re.sub(r"\D", "", row[column]))]
    return str(max(numbers, default=0) + 1)


def generate(out: Path, sample: Path = SAMPLE) -> list[tuple[int, dt.datetime, list[str]]]:
    """Write out/day1 .. out/day5; returns per day its as-of time and what happened."""
    week = Week(sample)
    week.write(out / "day1")
    story = [(1, as_of(1), ["the sample of data/, as it is"])]
    for day in range(2, DAYS + 1):
        events = week.next_day()
        week.write(out / f"day{day}")
        story.append((day, as_of(day), events))
    return story


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder to write day1 .. day5 into")
    args = parser.parse_args(argv)
    for day, moment, events in generate(args.out):
        print(f"day{day}  --as-of '{moment:%Y-%m-%d %H:%M:%S}'")
        for event in events:
            print(f"  {event}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
