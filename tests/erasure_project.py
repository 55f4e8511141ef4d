"""A small project for the erasure tests (docs/privacy.md §4), with data shaped for each rule.

Members (crm) and orders, resolved by member number, email and phone; a segment of every
member with a name, synced in mirror mode to a plain destination (`esp`: email, phone, name,
spend) and to a hashed ads one. The data:

  M1 Ann  Ann@X.example, (415) 555-0001, health notes; order o1 by email, o2 by her phone
          alone, o4 REJECTED (a bad amount) carrying her email in upper case
  M2 Bob  bob@x.example; his order o3 carries his email *and* Ann's phone: that phone would
          give one profile two member numbers, so it is a conflict on the first resolution
  M3 Cy   cy@x.example, +1 415 555 0003; order o6
  M4 Dee  dee@x.example; order o5

Requests (REQUESTS): r1 erases the email " ANN@x.example "; r2 asks for the member number
"bob@x.example" (typed: Bob's email is no member number, nothing is erased); r3 Dee's email,
after the as-of time (ignored); r4 a type the identity does not have (ignored); r5 Cy's
phone in another format. So Ann and Cy are erased: Ann's records (M1, o1), every row with her
email or phone (o2, Bob's o3, the rejected o4), Cy's (M3, o6). Bob and Dee stay.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

SCHEMAS = {"staging": "er_staging", "identity": "er_identity", "profiles": "er_profiles",
           "audiences": "er_audiences", "meta": "er_meta"}
AS_OF = dt.datetime(2026, 11, 20)

PROJECT = {
    "definitions/project.yaml": f"""
        kind: project
        name: erase
        entity: customer
        targets: [duckdb, postgres, spark]
        schemas: {{staging: {SCHEMAS['staging']}, identity: {SCHEMAS['identity']}, profiles: {SCHEMAS['profiles']},
                   audiences: {SCHEMAS['audiences']}, meta: {SCHEMAS['meta']}}}
    """,
    "definitions/contracts.yaml": """
        kind: contract
        name: crm
        version: 1.0.0
        relation: raw.crm
        primary_key: [member_no]
        event_time: updated_at
        fields:
          member_no: {type: string, required: true, pii: true}
          email: {type: string, pii: true}
          phone: {type: string, pii: true}
          name: {type: string, pii: true}
          notes: {type: string, phi: true, classification: restricted}
          updated_at: {type: timestamp, required: true}
        ---
        kind: contract
        name: orders
        version: 1.0.0
        relation: raw.orders
        primary_key: [order_id]
        fields:
          order_id: {type: string, required: true}
          email: {type: string, pii: true}
          phone: {type: string, pii: true}
          amount: {type: "decimal(10,2)"}
        ---
        kind: contract
        name: requests
        version: 1.0.0
        relation: raw.requests
        primary_key: [request_id]
        fields:
          request_id: {type: string, required: true}
          id_type: {type: string, required: true}
          id_value: {type: string, required: true, pii: true}
          requested_at: {type: timestamp, required: true}
    """,
    "definitions/identity.yaml": """
        kind: identity
        name: customer
        version: 1.0.0
        identifiers:
          - {type: member_no, normalize: upper_trim, max_per_profile: 1}
          - {type: email, normalize: email, max_per_profile: 3}
          - {type: phone, normalize: phone, max_per_profile: 3}
        sources:
          crm: {member_no: member_no, email: email, phone: phone}
          orders: {email: email, phone: phone}
    """,
    "definitions/erasure.yaml": """
        kind: erasure
        name: forget
        version: 1.0.0
        source: requests
        type_field: id_type
        value_field: id_value
        time_field: requested_at
    """,
    "definitions/attributes.yaml": """
        kind: attribute
        name: full_name
        version: 1.0.0
        type: string
        source: crm
        aggregate: max(name)
        ---
        kind: attribute
        name: note
        version: 1.0.0
        type: string
        source: crm
        aggregate: max(notes)
        ---
        kind: attribute
        name: spend
        version: 1.0.0
        type: "decimal(12,2)"
        source: orders
        aggregate: sum(amount)
        default: 0
        ---
        kind: consent
        name: marketing
        version: 1.0.0
        purposes:
          email_marketing:
            channels: [email]
            sources: [{source: crm, granted: true}]
          ads_personalization:
            channels: [ads]
            sources: [{source: crm, granted: true}]
        ---
        kind: segment
        name: named
        version: 1.0.0
        where: full_name IS NOT NULL
        purposes: [email_marketing, ads_personalization]
    """,
    "definitions/destinations.yaml": """
        kind: destination
        name: esp
        version: 1.0.0
        channel: email
        identifiers: [email, phone]
        fields: [full_name, spend]
        syncs:
          - {segment: named, purpose: email_marketing, mode: mirror, max_remove: 1}
        ---
        kind: destination
        name: ads
        version: 1.0.0
        channel: ads
        platform: meta_custom_audiences
        identifiers: [email]
        hash: sha256
        syncs:
          - {segment: named, purpose: ads_personalization, mode: mirror, max_remove: 1}
    """,
}

CRM = [
    ("member_no", "email", "phone", "name", "notes", "updated_at"),
    ("m1", "Ann@X.example", "(415) 555-0001", "Ann Annson", "ann knee surgery", "2026-10-01 10:00:00"),
    ("M2", "bob@x.example", None, "Bob Bobson", None, "2026-10-02 10:00:00"),
    ("M3", "cy@x.example", "+1 415 555 0003", "Cy Cyson", None, "2026-10-03 10:00:00"),
    ("M4", "dee@x.example", None, "Dee Deeson", None, "2026-10-04 10:00:00"),
]
ORDERS = [
    ("order_id", "email", "phone", "amount"),
    ("o1", "ann@x.example", None, "10.00"),
    ("o2", None, "4155550001", "5.00"),
    ("o3", "bob@x.example", "415-555-0001", "7.00"),
    ("o4", "ANN@x.example", None, "not-a-number"),
    ("o5", "dee@x.example", None, "3.00"),
    ("o6", "cy@x.example", None, "2.00"),
]
REQUESTS_NONE = [("request_id", "id_type", "id_value", "requested_at")]
REQUESTS = REQUESTS_NONE + [
    ("r1", "email", " ANN@x.example ", "2026-11-01 09:00:00"),
    ("r2", "member_no", "bob@x.example", "2026-11-02 09:00:00"),
    ("r3", "email", "dee@x.example", "2026-12-01 09:00:00"),
    ("r4", "fax", "555", "2026-11-03 09:00:00"),
    ("r5", "phone", "+1 (415) 555-0003", "2026-11-04 09:00:00"),
]
# every clear value of the erased members, in the forms a table could hold it
ANN = ["ann@x.example", "Ann Annson", "ann knee surgery", "+14155550001", "4155550001", "415-555-0001", "M1"]
CY = ["cy@x.example", "Cy Cyson", "+14155550003", "M3"]


def write_data(folder: Path, requests=REQUESTS, crm=CRM, orders=ORDERS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (("crm", crm), ("orders", orders), ("requests", requests)):
        with (folder / f"raw.{name}.csv").open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            for row in rows:
                writer.writerow(["" if v is None else v for v in row])
    return folder
