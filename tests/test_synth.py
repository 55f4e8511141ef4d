"""The benchmark data generator (benchmarks/synth.py): the sample data in data/ is its gentle
shape, byte for byte; its export shape is deterministic and has the shapes of real exports
that the run benchmarks rely on."""

from __future__ import annotations

import csv
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from compiler.run.rawcsv import clean_csv

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import synth  # noqa: E402


def _rows(folder: Path, relation: str) -> list[dict[str, str]]:
    """The well-formed rows of a file, as the CSV module reads them (malformed lines skipped)."""
    text = (folder / f"{relation}.csv").read_bytes().decode("utf-8", errors="replace")
    width = len(synth.COLUMNS[relation])
    return [dict(zip(synth.COLUMNS[relation], row)) for row in csv.reader(text.splitlines()[1:]) if len(row) == width]


def test_the_sample_data_is_the_gentle_shape_byte_for_byte(tmp_path):
    # the command of data/README.md
    synth.main([str(tmp_path), "--members", "300", "--seed", "7", "--bad-row-rate", "0.02", "--shape", "gentle"])
    for relation in [*synth.COLUMNS, *synth.REQUESTS]:  # the erasure requests too
        assert (tmp_path / f"{relation}.csv").read_bytes() == (ROOT / "data" / f"{relation}.csv").read_bytes(), relation


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("export")
    synth.write_dataset(folder, 3000)
    return folder


def test_the_export_shape_is_deterministic(export, tmp_path):
    synth.write_dataset(tmp_path, 3000)
    for relation in synth.COLUMNS:
        assert (tmp_path / f"{relation}.csv").read_bytes() == (export / f"{relation}.csv").read_bytes(), relation


def test_the_export_shape_has_malformed_lines_that_cdpc_quarantines(export, tmp_path):
    reasons: Counter[str] = Counter()
    lines = rows = 0
    for relation, columns in synth.COLUMNS.items():
        clean = clean_csv(export / f"{relation}.csv", tuple(columns), tmp_path / f"{relation}.clean.csv")
        reasons.update(re.sub(r"^row has \d+ cells, header has \d+$", "wrong width", m.reason) for m in clean.malformed)
        rows += clean.rows
        lines += len(clean.malformed)
    assert set(reasons) == {"wrong width", "unbalanced quote", "not valid UTF-8"}
    assert 0.0005 < lines / (rows + lines) < 0.003


def test_the_export_shape_is_shaped_like_real_exports(export):
    app = _rows(export, "raw.app_events")
    members_of: dict[str, set[str]] = defaultdict(set)
    devices_of: dict[str, set[str]] = defaultdict(set)
    for row in app:
        if row["member_ref"] and row["device_id"]:
            members_of[row["device_id"]].add(row["member_ref"].strip().upper())
    for device, refs in members_of.items():
        if len(refs) == 1:  # a member's own install
            devices_of[next(iter(refs))].add(device)
    # shared tablets (front desks, trainers, kiosks): 30 of them, each signed in by dozens of
    # members at 3,000 members (by thousands at 100,000)
    shared = sorted((len(refs) for refs in members_of.values()), reverse=True)
    assert shared[0] >= 50 and sum(1 for n in shared if n >= 10) >= 24
    # re-install chains: some members went through more than ten installs
    assert max(len(d) for d in devices_of.values()) > 10
    # heavy-tailed activity: members with hundreds of rows and members with one
    activity = Counter(row["member_ref"].strip().upper() for row in app if row["member_ref"])
    activity.update(row["membership_id"].strip().upper() for row in _rows(export, "raw.bookings") if row["membership_id"])
    assert max(activity.values()) >= 300 and sum(1 for n in activity.values() if n == 1) >= 20
    # phones typed in more than a dozen formats
    pos, crm = _rows(export, "raw.pos_transactions"), _rows(export, "raw.crm_contacts")
    formats = Counter(re.sub(r"[0-9]", "9", row["phone"]) for row in pos + crm if row["phone"])
    assert sum(1 for n in formats.values() if n >= 5) >= 12
    # staff placeholders the blocklist does not know, shared by many members
    emails = Counter(row["email"] for row in pos + crm if row["email"])
    assert emails["x@x.com"] >= 20 and emails["frontdesk@fitclub.example"] >= 20
