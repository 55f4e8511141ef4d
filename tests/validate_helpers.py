"""A small valid project to break one rule at a time, and assertions on diagnostics.

`make_project(tmp_path, {"definitions/x.yaml": text, ...})` writes the BASE project with
the given files added or replaced (None deletes one). Texts are dedented, so tests can
indent them; line numbers in assertions count from the first line of the dedented text.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Optional

from compiler.diagnostics import Diagnostic
from compiler.project import load_project

BASE: dict[str, str] = {
    "definitions/project.yaml": """
        kind: project
        name: shop
        targets: [duckdb, postgres]
        """,
    "definitions/contracts/orders.yaml": """
        kind: contract
        name: orders
        version: 1.0.0
        relation: raw.orders
        primary_key: [order_id]
        event_time: ordered_at
        fields:
          order_id: {type: string, required: true}
          email: {type: string, pii: true}
          amount: {type: "decimal(10,2)", min: 0}
          status: {type: string, accepted_values: [paid, refunded]}
          ordered_at: {type: timestamp}
          notes: {type: string, phi: true}
        """,
    "definitions/contracts/consents.yaml": """
        kind: contract
        name: consents
        version: 1.0.0
        relation: raw.consents
        primary_key: [consent_id]
        event_time: recorded_at
        fields:
          consent_id: {type: string}
          email: {type: string, pii: true}
          purpose: {type: string}
          granted: {type: boolean}
          recorded_at: {type: timestamp}
        """,
    "definitions/identity/customer.yaml": """
        kind: identity
        name: customer
        version: 1.0.0
        identifiers:
          - {type: email, normalize: email}
        sources:
          orders: {email: email}
          consents: {email: email}
        """,
    "definitions/attributes/spend.yaml": """
        kind: attribute
        name: spend
        version: 1.0.0
        type: "decimal(12,2)"
        source: orders
        aggregate: sum(amount)
        where: status = 'paid'
        default: 0
        """,
    "definitions/attributes/big_spender.yaml": """
        kind: attribute
        name: big_spender
        version: 1.0.0
        type: boolean
        expression: spend > 100
        """,
    "definitions/attributes/best_email.yaml": """
        kind: attribute
        name: best_email
        version: 1.0.0
        type: string
        pick: {field: email, from: [orders, consents], strategy: most_recent}
        """,
    "definitions/segments/vip.yaml": """
        kind: segment
        name: vip
        version: 1.0.0
        where: big_spender
        purposes: [email_marketing, ads_marketing]
        """,
    "definitions/consent/marketing.yaml": """
        kind: consent
        name: marketing
        version: 1.0.0
        source: consents
        purpose_field: purpose
        granted_field: granted
        time_field: recorded_at
        purposes:
          email_marketing: {channels: [email]}
          ads_marketing: {channels: [ads]}
        """,
    "definitions/destinations/esp.yaml": """
        kind: destination
        name: esp
        version: 1.0.0
        channel: email
        identifiers: [email]
        fields: [spend]
        syncs:
          - {segment: vip, purpose: email_marketing}
        """,
}


def make_project(root: Path, files: Optional[dict[str, Optional[str]]] = None) -> Path:
    merged = {**BASE, **(files or {})}
    for rel, text in merged.items():
        if text is None:
            continue
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


def diagnostics_of(root: Path) -> list[Diagnostic]:
    return load_project(root).diagnostics


def check(root: Path, files: dict[str, Optional[str]]) -> list[Diagnostic]:
    """Diagnostics of the base project with `files` replaced."""
    return diagnostics_of(make_project(root, files))


def find(diagnostics: list[Diagnostic], code: str, where: str) -> Diagnostic:
    """The one diagnostic with `code` at `where` (`file:line:col`, file relative to definitions/)."""
    found = [d for d in diagnostics if d.code == code and str(d.location) == f"definitions/{where}"]
    assert len(found) == 1, f"expected one {code} at {where}, got:\n" + "\n".join(d.render() for d in diagnostics)
    return found[0]


def only(diagnostics: list[Diagnostic], code: str, where: str, *fragments: str) -> Diagnostic:
    """Assert that the project has exactly this one diagnostic, whose message holds every fragment."""
    assert len(diagnostics) == 1, "expected exactly one diagnostic, got:\n" + "\n".join(d.render() for d in diagnostics)
    found = find(diagnostics, code, where)
    for fragment in fragments:
        assert fragment in found.message, f"{fragment!r} not in {found.message!r}"
    return found
