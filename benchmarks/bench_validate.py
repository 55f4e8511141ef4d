#!/usr/bin/env python3
"""How fast is `cdpc validate` on projects of 100, 1,000 and 5,000 definitions?

Each project is synthetic but shaped like a real one: about 8% contracts (15 fields
each, PII and one PHI field), one identity over every contract, ~50% attributes (two
thirds aggregates with a `where`, one third expressions over earlier attributes, plus
picks), ~30% segments (some include or exclude earlier ones), one consent per ~500
definitions, and destinations on every channel (ads ones hashed). All snippets differ,
as they would in a real project, so parse caches do not flatter the numbers.

`cdpc validate` runs as a subprocess, as a user or CI would run it; the table shows
wall time, CPU time (user + system of the child, from getrusage(RUSAGE_CHILDREN)),
the child's peak RSS and the wall time per definition.

    python benchmarks/bench_validate.py [--sizes 100,1000,5000] [--keep DIR]

Target: 1,000 definitions in <= 2 s wall and <= 300 MiB on a 2-core machine.
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHANNELS = ("email", "sms", "ads", "push", "webhook")
NUMERIC_FIELDS = ("amount", "quantity", "score", "price", "visits", "rating")
TEXT_FIELDS = ("status", "channel", "country", "plan")
TARGETS = "duckdb, postgres, spark, snowflake, bigquery"


def write_project(root: Path, size: int, seed: int = 11) -> dict[str, int]:
    """A valid project of `size` definitions (counting the project itself)."""
    rng = random.Random(seed)
    d = root / "definitions"
    for folder in ("contracts", "identity", "attributes", "segments", "consent", "destinations"):
        (d / folder).mkdir(parents=True, exist_ok=True)
    n_contracts = max(3, size * 8 // 100)
    n_consents = max(1, size // 500)
    n_attributes = size // 2
    n_segments = size * 30 // 100
    n_destinations = max(1, size - 2 - n_contracts - n_consents - n_attributes - n_segments)
    (d / "project.yaml").write_text(f"kind: project\nname: bench\ntargets: [{TARGETS}]\n")
    contracts = [_contract(d, c) for c in range(n_contracts)]
    _identity(d, contracts)
    purposes = _consents(d, n_consents)
    attributes = _attributes(d, rng, n_attributes, contracts)
    segments = _segments(d, rng, n_segments, attributes, purposes)
    _destinations(d, rng, n_destinations, segments, attributes, purposes)
    return {"definitions": 2 + n_contracts + n_consents + n_attributes + n_segments + n_destinations,
            "attributes": n_attributes, "segments": n_segments}


def _contract(d: Path, c: int) -> str:
    name = f"source_{c:03d}"
    lines = ["  id: {type: string, required: true, unique: true}",
             "  email: {type: string, pii: true, classification: confidential}",
             "  phone: {type: string, pii: true}",
             "  happened_at: {type: timestamp, required: true}",
             "  opt_in: {type: boolean}",
             "  diagnosis: {type: string, phi: true}",
             "  purpose: {type: string}"]
    lines += [f"  {f}: {{type: string, accepted_values: [a, b, c, d]}}" for f in TEXT_FIELDS[:2]]
    lines += [f"  {f}: {{type: \"decimal(12,2)\", min: 0, max: 100000}}" for f in NUMERIC_FIELDS]
    (d / "contracts" / f"{name}.yaml").write_text(
        f"kind: contract\nname: {name}\nversion: 1.0.0\nrelation: raw.{name}\nprimary_key: [id]\n"
        "event_time: happened_at\nfreshness: {warn_after: 24h, error_after: 7d}\nfields:\n" + "\n".join(lines) + "\n")
    return name


def _identity(d: Path, contracts: list[str]) -> None:
    sources = "\n".join(f"  {c}: {{email: email, phone: phone}}" for c in contracts)
    (d / "identity" / "customer.yaml").write_text(
        "kind: identity\nname: customer\nversion: 1.0.0\nidentifiers:\n"
        "  - {type: email, normalize: email, max_per_profile: 3}\n"
        "  - {type: phone, normalize: phone, max_per_profile: 3}\n"
        f"sources:\n{sources}\nblocklist: {{email: [test@example.com]}}\n")


def _consents(d: Path, count: int) -> dict[str, str]:
    """purpose -> channel."""
    purposes = {}
    for k in range(count):
        declared = {f"{channel}_{k}": channel for channel in CHANNELS}
        body = "\n".join(f"  {p}: {{channels: [{ch}]}}" for p, ch in declared.items())
        (d / "consent" / f"consent_{k}.yaml").write_text(
            f"kind: consent\nname: consent_{k}\nversion: 1.0.0\nsource: source_000\npurpose_field: purpose\n"
            f"granted_field: opt_in\ntime_field: happened_at\npurposes:\n{body}\nsuppress_when: [attr_00000]\n")
        purposes.update(declared)
    return purposes


def _attributes(d: Path, rng: random.Random, count: int, contracts: list[str]) -> list[str]:
    names: list[str] = []
    numeric: list[str] = []  # the double attributes: an expression does arithmetic on these only
    for a in range(count):
        name = f"attr_{a:05d}"
        if a == 0:  # the suppression flag every consent reads
            body = f"type: boolean\nsource: {contracts[0]}\naggregate: count(*) > 0\nwhere: status = 'd'\ndefault: false\n"
        elif a % 3 == 2 and len(numeric) > 1:
            x, y = rng.sample(numeric[-50:], 2)
            body = f"type: double\nexpression: coalesce({x}, 0) * {rng.randrange(2, 9)} + coalesce({y}, {a})\n"
        elif a % 10 == 1:
            picked = rng.sample(contracts, min(2, len(contracts)))
            body = f"type: string\npick: {{field: email, from: [{', '.join(picked)}], strategy: most_recent}}\n"
        else:
            source = rng.choice(contracts)
            field = rng.choice(NUMERIC_FIELDS)
            agg = rng.choice(("sum", "max", "min", "avg"))
            body = (f"type: double\nsource: {source}\naggregate: {agg}({field})\n"
                    f"where: status in ('a', 'b') and happened_at >= current_date - interval {a % 700 + 1} day\n"
                    "default: 0\n")
        (d / "attributes" / f"{name}.yaml").write_text(
            f"kind: attribute\nname: {name}\nversion: 1.0.0\ndescription: Synthetic attribute {a}.\n{body}")
        names.append(name)
        if body.startswith("type: double"):
            numeric.append(name)
    return names


def _segments(d: Path, rng: random.Random, count: int, attributes: list[str], purposes: dict[str, str]) -> list[str]:
    numeric = [a for i, a in enumerate(attributes) if i % 10 != 1 and i]
    names: list[str] = []
    for s in range(count):
        name = f"segment_{s:05d}"
        x, y = rng.choice(numeric), rng.choice(numeric)
        extra = f"exclude: [{rng.choice(names)}]\n" if names and s % 5 == 0 else ""
        extra += f"include: [{rng.choice(names)}]\n" if names and s % 11 == 0 else ""
        (d / "segments" / f"{name}.yaml").write_text(
            f"kind: segment\nname: {name}\nversion: 1.0.0\nwhere: {x} > {s} and ({y} < {s * 3 + 7} or {y} is null)\n"
            f"{extra}purposes: [{', '.join(sorted(purposes))}]\n")
        names.append(name)
    return names


def _destinations(d: Path, rng: random.Random, count: int, segments: list[str], attributes: list[str],
                  purposes: dict[str, str]) -> None:
    safe_fields = [a for i, a in enumerate(attributes) if i % 3 != 2 and i % 10 != 1 and i][:200]
    for t in range(count):
        channel = CHANNELS[t % len(CHANNELS)]
        purpose = next(p for p, ch in sorted(purposes.items()) if ch == channel)
        syncs = "\n".join(f"  - {{segment: {s}, purpose: {purpose}}}" for s in rng.sample(segments, min(3, len(segments))))
        hash_ = "sha256" if channel == "ads" else "none"
        (d / "destinations" / f"dest_{t:04d}.yaml").write_text(
            f"kind: destination\nname: dest_{t:04d}\nversion: 1.0.0\nchannel: {channel}\nidentifiers: [email]\n"
            f"fields: [{rng.choice(safe_fields)}]\nhash: {hash_}\nsyncs:\n{syncs}\n")


def time_validate(root: Path) -> tuple[float, float, float, int]:
    """(wall s, cpu s, peak RSS MiB, exit code) of one `cdpc validate` subprocess."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([_cdpc(), "validate", "--project", str(root)], capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # ru_maxrss of RUSAGE_CHILDREN is the largest child so far: sizes run in increasing order.
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-2000:] + done.stderr[-2000:])
    return wall, cpu, after.ru_maxrss / 1024, done.returncode


def _cdpc() -> str:
    beside = Path(sys.executable).with_name("cdpc")
    return str(beside) if beside.exists() else shutil.which("cdpc") or "cdpc"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,1000,5000")
    parser.add_argument("--keep", type=Path, help="write the projects here instead of a temporary folder")
    options = parser.parse_args()
    base = options.keep or Path(tempfile.mkdtemp(prefix="cdpc-bench-"))
    print(f"{'definitions':>11}  {'wall s':>7}  {'cpu s':>6}  {'peak RSS MiB':>12}  {'ms/definition':>13}")
    failed = False
    for size in sorted(int(s) for s in options.sizes.split(",")):
        root = base / f"project_{size}"
        shape = write_project(root, size)
        wall, cpu, rss, code = time_validate(root)
        failed |= code != 0
        print(f"{shape['definitions']:>11}  {wall:>7.2f}  {cpu:>6.2f}  {rss:>12.0f}  {wall * 1000 / shape['definitions']:>13.2f}"
              + ("" if code == 0 else f"  (exit {code})"))
    if not options.keep:
        shutil.rmtree(base, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
