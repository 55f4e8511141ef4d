"""Hypothesis strategies: small, messy raw data for the reference project's five contracts.

Every cell is text as it would stand in a CSV (None = an empty unquoted cell, i.e. NULL;
"" = a quoted empty string). Values are mostly valid, sometimes not castable, out of
accepted_values or missing; identifiers come from small pools with the case, space and
format variants real exports have, so that records merge, values get blocklisted and
max_per_profile conflicts happen. Timestamps sit around the as-of time (2026-11-20) so
the 30/90/365-day windows of the attributes see rows on both sides.

Free text uses letters whose upper/lower case mappings are one-to-one: characters with
Unicode special casing (ß, İ, final sigma, ligatures) map differently on the engines,
see docs/engines.md.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Optional

from hypothesis import strategies as st

AS_OF = dt.datetime(2026, 11, 20, 0, 0, 0)
CONTRACTS = ("app_events", "bookings", "consent_events", "crm_contacts", "pos_transactions")
CLUBS = ["sf_mission", "sf_marina", "oakland_uptown", "berkeley", "palo_alto", "san_jose"]
TEXT_ALPHABET = "abcXYZ09 ,\"'\n|:-_.@éÄöñЖжΩω日本😀"


def _text() -> st.SearchStrategy[Optional[str]]:
    return st.one_of(st.none(), st.just(""), st.text(alphabet=TEXT_ALPHABET, max_size=8))


def _often(valid: st.SearchStrategy, *odd: Optional[str], null: bool = True, odd_pct: int = 3,
           null_pct: int = 8) -> st.SearchStrategy:
    """Mostly `valid`; sometimes (odd_pct %) one of the odd texts, sometimes (null_pct %) NULL."""
    odd_pct = odd_pct if odd else 0
    null_pct = null_pct if null else 0

    @st.composite
    def build(draw):
        roll = draw(st.integers(0, 99))
        if roll < odd_pct:
            return draw(st.sampled_from(list(odd)))
        if roll < odd_pct + null_pct:
            return None
        return draw(valid)
    return build()


def _timestamp(days_before: int = 400, days_after: int = 3) -> st.SearchStrategy[str]:
    @st.composite
    def build(draw):
        seconds = draw(st.integers(-days_before * 86400, days_after * 86400))
        moment = AS_OF + dt.timedelta(seconds=seconds)
        sep = draw(st.sampled_from([" ", " ", "T"]))
        text = moment.strftime(f"%Y-%m-%d{sep}%H:%M:%S")
        digits = draw(st.sampled_from([0, 0, 0, 1, 3, 6]))
        if digits:
            text += "." + str(draw(st.integers(0, 10 ** digits - 1))).zfill(digits)
        return text
    return build()


BAD_TIMESTAMPS = ("2026-02-30 10:00:00", "2026-13-01 00:00:00", "2026-01-01 24:00:00", "yesterday", "2026-11-19",
                  " 2026-11-19 08:00:00", "2026-1-1 00:00:00", "0000-01-01 00:00:00", "1900-02-29 00:00:00",
                  "2024-02-29 23:59:59", "2026-11-19 08:00:00.1234567", "2026-11-19 08:00:00+00", "epoch")


def _date(days_before: int = 3000, days_after: int = 60) -> st.SearchStrategy[str]:
    return st.integers(-days_before, days_after).map(lambda d: (AS_OF.date() + dt.timedelta(days=d)).isoformat())


BAD_DATES = ("2026-02-29", "2024-02-29", "20260101", "infinity", "2026-11-20T00:00:00", "2026-11-20 00:00:00", "0001-01-01")


def _decimal() -> st.SearchStrategy[str]:
    plain = st.decimals(min_value=-50, max_value=3000, places=2, allow_nan=False).map(str)
    return st.one_of(plain, st.sampled_from(["0", "0.00", "1.005", "2.675", "-0.005", "19.995", "00012.5", "+3.10",
                                             "4999.994", "4999.995", "5000", "5000.004", "5000.005"]))


BAD_DECIMALS = ("1e3", "abc", " 5", "5 ", ".5", "5.", "12,50", "$10", "99999999.995", "100000000", "-0", "NaN")
BOOLEANS = ("true", "false", "TRUE", "False", "tRuE")
BAD_BOOLEANS = ("yes", "1", "t", " true", "")
MOSTLY_FALSE = ("false",) * 6 + BOOLEANS

MEMBERSHIP = ("FC000001", "FC000002", "FC000003", "FC000004", "FC00000é")
EMAILS = ("ana@x.com", "bob@example.org", "cara@x.com", "shared@family.com", "zoé@exämple.de", "test@example.com",
          "TEST@fitclub.example")
BAD_EMAILS = ("no-at.com", "a@@b.com", "@x.com", "x@", "a@b@c", "", "   ")
PHONES = ("(415) 555-0134", "415.555.0134", "+1 415 555 0134", "4155550199", "415-555-0199 ", "555-0100",
          "+15555550100", "415-555-CALL", "+44 20 7946 0958", "12345", "tel: 650 555 0195", "1-650-555-0195")
DEVICES = ("dev-a", "dev-b", "dev-c", "kiosk-1", "DEV-A", " dev-a")


def _variant(pool: tuple[str, ...]) -> st.SearchStrategy[str]:
    @st.composite
    def build(draw):
        value = draw(st.sampled_from(pool))
        shape = draw(st.sampled_from(["same", "same", "lower", "upper", "lead", "trail", "both"]))
        return {"same": value, "lower": value.lower(), "upper": value.upper(), "lead": " " + value,
                "trail": value + " ", "both": "  " + value + " "}[shape]
    return build()


def _ids(prefix: str, count: int) -> st.SearchStrategy[str]:
    return st.integers(1, count).map(lambda i: f"{prefix}{i}")


def _accepted(values: list[str], *odd: str) -> st.SearchStrategy:
    return _often(st.sampled_from(values), *odd)


def _required(values: list[str], *odd: str) -> st.SearchStrategy:
    return _often(st.sampled_from(values), *odd, null_pct=2)


def _rows(fields: dict[str, st.SearchStrategy], max_rows: int) -> st.SearchStrategy[list[dict]]:
    return st.lists(st.fixed_dictionaries(fields), min_size=1, max_size=max_rows)


@st.composite
def raw_data(draw, max_rows: int = 10) -> dict[str, list[dict]]:
    """{contract: [row, ...]} for the reference project's contracts.

    A few people are drawn first; most rows carry one person's identifiers (in some
    spelling), the others any value of the pools, so that profiles grow over several
    sources and reach segments and syncs.
    """
    people = draw(st.lists(st.fixed_dictionaries({
        "membership": st.sampled_from(MEMBERSHIP), "email": st.sampled_from(EMAILS),
        "phone": st.sampled_from(PHONES), "device": st.sampled_from(DEVICES)}), min_size=1, max_size=4))

    def known(kind: str, pool: tuple[str, ...]) -> st.SearchStrategy[str]:
        spelled = st.sampled_from([person[kind] for person in people]).flatmap(lambda v: _variant((v,)))
        return st.one_of(spelled, spelled, spelled, _variant(pool))

    membership = _often(known("membership", MEMBERSHIP), "", " ")
    email = _often(known("email", EMAILS), *BAD_EMAILS)
    phone = _often(known("phone", PHONES), "", "call me")
    return draw(st.fixed_dictionaries({
        "crm_contacts": _rows({
            "contact_id": _often(st.integers(1, 9).map(lambda i: f"C{i:07d}"), "X1", "C123", null=False),
            "membership_id": membership, "first_name": _text(), "last_name": _text(), "email": email, "phone": phone,
            "birth_date": _often(_date(), *BAD_DATES),
            "home_club": _accepted(CLUBS, "SF_MISSION", "moon"),
            "plan": _accepted(["basic", "plus", "premium", "student", "corporate"], "gold"),
            "membership_status": _often(st.sampled_from(["active"] * 4 + ["frozen", "cancelled", "pending"]), "Active", null_pct=2),
            "joined_on": _often(_date(days_before=400, days_after=5), *BAD_DATES),
            "vacation_hold_until": _often(_date(days_before=30, days_after=30), "never", null_pct=70),
            "marketing_hold": _often(st.sampled_from(MOSTLY_FALSE), *BAD_BOOLEANS),
            "email_opt_in": _often(st.sampled_from(["true", "false", "TRUE", "False"]), *BAD_BOOLEANS, null_pct=20),
            "has_injury_flag": _often(st.sampled_from(MOSTLY_FALSE), *BAD_BOOLEANS),
            "medical_notes": _often(_text(), null_pct=85),
            "created_at": _often(_timestamp(), *BAD_TIMESTAMPS, null_pct=2),
            "updated_at": _often(_timestamp(), *BAD_TIMESTAMPS, null_pct=2),
        }, max_rows),
        "bookings": _rows({
            "booking_id": _often(_ids("B", 12), null=True, null_pct=2),
            "membership_id": membership, "email": email,
            "club_id": _required(CLUBS, "hq"),
            "class_name": _text(), "instructor": _text(),
            "status": _often(st.sampled_from(["booked", "attended", "attended", "cancelled", "late_cancel", "no_show"]),
                             "ATTENDED", null_pct=2),
            "price": _often(_decimal(), *BAD_DECIMALS),
            "booked_at": _often(_timestamp(), *BAD_TIMESTAMPS, null_pct=2),
            "class_starts_at": _often(_timestamp(days_before=90, days_after=5), *BAD_TIMESTAMPS, null_pct=2),
            "notes": st.one_of(st.none(), _text()),
        }, max_rows),
        "pos_transactions": _rows({
            "transaction_id": _often(_ids("T", 12), null_pct=2),
            "location_code": _required(CLUBS),
            "phone": phone, "email": email,
            "item_category": _required(["membership_dues", "personal_training", "retail", "smoothie_bar", "day_pass",
                                        "guest_pass"], "food"),
            "amount": _often(_decimal(), *BAD_DECIMALS),
            "currency": _often(st.sampled_from(["USD", "USD", "EUR"]), "usd", "US"),
            "card_brand": _accepted(["VISA", "MASTERCARD", "AMERICAN_EXPRESS", "DISCOVER", "CASH", "APPLE_PAY",
                                     "GOOGLE_PAY"], "visa"),
            "card_last4": _often(st.integers(0, 9999).map(lambda i: f"{i:04d}"), "12a4", "123"),
            "status": _required(["paid", "paid", "refunded", "voided", "failed"], "PAID"),
            "occurred_at": _often(_timestamp(days_before=400), *BAD_TIMESTAMPS, null_pct=2),
        }, max_rows),
        "app_events": _rows({
            "event_id": _often(_ids("E", 12), null_pct=2),
            "device_id": _often(known("device", DEVICES), "", null_pct=2),
            "member_ref": membership,
            "event_type": _required(["app_open", "app_open", "class_view", "booking_started", "booking_completed",
                                     "check_in", "workout_logged", "push_opened"], "open"),
            "platform": _accepted(["ios", "android", "web"], "iOS"),
            "app_version": _often(st.sampled_from(["1.2.3", "10.0.11"]), "v1", "1.2"),
            "occurred_at": _often(_timestamp(days_before=60), *BAD_TIMESTAMPS, null_pct=2),
        }, max_rows),
        "consent_events": _rows({
            "consent_id": _often(_ids("K", 12), null_pct=2),
            "membership_id": membership, "email": email, "phone": phone,
            "purpose": _required(["email_marketing", "email_marketing", "sms_marketing", "sms_marketing",
                                  "ads_personalization", "partner_offers"], "spam"),
            "granted": _often(st.sampled_from(("true",) * 3 + BOOLEANS), *BAD_BOOLEANS, null_pct=2),
            "collected_via": _accepted(["app", "web", "front_desk", "sms_keyword", "email_link"], "fax"),
            # a few fixed moments, so that ties (a denial wins) happen
            "recorded_at": _often(st.one_of(_timestamp(days_before=100),
                                            st.sampled_from(["2026-11-01 09:00:00", "2026-11-01T09:00:00"])),
                                  *BAD_TIMESTAMPS),
        }, max_rows),
        # a few erasure requests, mostly for one of the people (in some spelling), some after the as-of
        "erasure_requests": st.lists(st.one_of(
            st.tuples(st.just("email"), email), st.tuples(st.just("phone"), phone),
            st.tuples(st.just("membership_id"), membership), st.tuples(st.just("device_id"), known("device", DEVICES)),
            st.tuples(st.just("fax"), phone)).flatmap(lambda pair: st.fixed_dictionaries({
                "id_type": st.just(pair[0]), "id_value": st.just(pair[1]),
                "requested_at": _timestamp(days_before=30, days_after=3)})), max_size=2).map(
            lambda rows: [{"request_id": f"R{i}", **row} for i, row in enumerate(rows)]),
    }))


def write_raw(data_dir: Path, relation_of: dict[str, str], columns_of: dict[str, list[str]],
              data: dict[str, list[dict]]) -> None:
    """Write `DIR/<relation>.csv` per contract in the raw CSV form of docs/reference.md §2.2 (columns in contract order)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for contract, rows in data.items():
        columns = columns_of[contract]
        lines = [",".join(_cell(c) for c in columns)]
        lines += [",".join(_cell(row.get(c)) for c in columns) for row in rows]
        (data_dir / f"{relation_of[contract]}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8", newline="")


def _cell(value: Optional[str]) -> str:
    if value is None:
        return ""
    if value == "" or any(ch in value for ch in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value
