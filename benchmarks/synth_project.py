#!/usr/bin/env python3
"""A synthetic, valid cdpc project of about N definitions, for benchmarks of validate/compile/check.

Shape (for N = 1000): 1 project, 20 contracts of 15 fields each, 1 identity over every
contract, 1 consent, ~590 attributes (two thirds aggregates over a contract, one third
expressions over earlier attributes, so lineage is deep as well as wide), ~300 segments
(some including or excluding earlier ones) and ~90 destinations with syncs. Every file
is deterministic for a given N.

    python benchmarks/synth_project.py OUT_DIR [--definitions 1000] [--targets duckdb,postgres]
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

CONTRACTS = 20
FIELDS = ("amount", "quantity", "score", "status", "channel", "country", "plan", "price", "visits", "rating")


def write_project(out: Path, definitions: int = 1000, targets: tuple[str, ...] = ("duckdb",), seed: int = 7) -> dict:
    rng = random.Random(seed)
    d = out / "definitions"
    for folder in ("contracts", "identity", "attributes", "segments", "consent", "destinations", "governance"):
        (d / folder).mkdir(parents=True, exist_ok=True)
    rest = definitions - CONTRACTS - 3  # the project, the identity and the consent
    n_attributes = int(rest * 0.6)
    n_segments = int(rest * 0.31)
    n_destinations = rest - n_attributes - n_segments

    (d / "project.yaml").write_text(
        "kind: project\nname: synthetic\nentity: customer\nexpression_dialect: duckdb\n"
        f"targets: [{', '.join(targets)}]\n"
        "governance:\n  require_approval: [segment]\n  approvers: [ana@example.com, raj@example.com]\n"
        "  min_approvals: 1\n")

    for c in range(CONTRACTS):
        fields = [f"  id: {{type: string, required: true}}",
                  f"  email: {{type: string, pii: true}}",
                  f"  phone: {{type: string, pii: true}}",
                  f"  happened_at: {{type: timestamp, required: true}}"]
        fields.append("  opt_in: {type: boolean}")
        for f in FIELDS:
            if f in ("status", "channel", "country", "plan"):
                fields.append(f"  {f}: {{type: string, accepted_values: [a, b, c, d]}}")
            else:
                fields.append(f"  {f}: {{type: \"decimal(12,2)\", min: 0}}")
        (d / "contracts" / f"c{c:02d}.yaml").write_text(
            f"kind: contract\nname: c{c:02d}\nversion: 1.0.0\ndescription: Synthetic source {c}.\n"
            f"relation: raw.c{c:02d}\nprimary_key: [id]\nevent_time: happened_at\nfields:\n" + "\n".join(fields) + "\n")

    sources = "\n".join(f"  c{c:02d}: {{email: email, phone: phone}}" for c in range(CONTRACTS))
    (d / "identity" / "customer.yaml").write_text(
        "kind: identity\nname: customer\nversion: 1.0.0\nidentifiers:\n"
        "  - {type: email, normalize: email, max_per_profile: 3}\n"
        "  - {type: phone, normalize: phone, max_per_profile: 3}\n"
        f"sources:\n{sources}\n")

    (d / "consent" / "marketing.yaml").write_text(
        "kind: consent\nname: marketing\nversion: 1.0.0\nsource: c00\npurpose_field: status\n"
        "granted_field: opt_in\ntime_field: happened_at\n"
        "purposes:\n  email_marketing: {channels: [email]}\n  sms_marketing: {channels: [sms]}\n")

    numeric: list[str] = []
    for a in range(n_attributes):
        name = f"a{a:04d}"
        if a < 10 or a % 3 or len(numeric) < 2:
            c = rng.randrange(CONTRACTS)
            f = rng.choice(("amount", "quantity", "score", "price", "visits", "rating"))
            agg = rng.choice(("sum", "max", "min", "avg"))
            body = (f"type: double\nsource: c{c:02d}\naggregate: {agg}({f})\n"
                    f"where: status in ('a', 'b') and happened_at >= current_date - interval {rng.randrange(7, 400)} day\n"
                    "default: 0\n")
        else:
            x, y = rng.sample(numeric[-40:], 2)
            body = f"type: double\nexpression: coalesce({x}, 0) * 0.5 + coalesce({y}, 0)\n"
        numeric.append(name)
        (d / "attributes" / f"{name}.yaml").write_text(
            f"kind: attribute\nname: {name}\nversion: 1.0.0\ndescription: Synthetic attribute {a}.\n{body}")

    segments = []
    for s in range(n_segments):
        name = f"s{s:04d}"
        x = rng.choice(numeric)
        extra = ""
        if segments and s % 7 == 0:
            extra = f"exclude: [{rng.choice(segments)}]\n"
        (d / "segments" / f"{name}.yaml").write_text(
            f"kind: segment\nname: {name}\nversion: 1.0.0\nwhere: {x} > {rng.randrange(1, 500)}\n{extra}"
            "purposes: [email_marketing, sms_marketing]\n")
        segments.append(name)

    for t in range(n_destinations):
        picked = rng.sample(segments, 3)
        syncs = "\n".join(f"  - {{segment: {s}, purpose: email_marketing}}" for s in picked)
        (d / "destinations" / f"d{t:03d}.yaml").write_text(
            f"kind: destination\nname: d{t:03d}\nversion: 1.0.0\nchannel: email\nidentifiers: [email]\n"
            f"fields: [{rng.choice(numeric)}]\nsyncs:\n{syncs}\n")

    (d / "governance" / "approvals.yaml").write_text("kind: approvals\napprovals: []\n")
    total = 1 + CONTRACTS + 2 + n_attributes + n_segments + n_destinations
    return {"definitions": total, "attributes": n_attributes, "segments": n_segments, "destinations": n_destinations}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--definitions", type=int, default=1000)
    parser.add_argument("--targets", default="duckdb")
    options = parser.parse_args()
    print(write_project(options.out, options.definitions, tuple(options.targets.split(","))))


if __name__ == "__main__":
    main()
