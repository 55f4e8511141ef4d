"""Retention (docs/reference.md §2.2, docs/privacy.md): a raw row whose event_time is older than the
as-of time minus the contract's retention is expired: not staged, not rejected, counted per contract.

The reference project on a real engine, with a row planted in each event source that is older
than its retention and carries a token in every text field: no table cdpc wrote holds the token,
and the summary counts the planted rows with the expired ones. tests/test_pipeline_reference.py
compares every table with a pure-Python reference of the rule (boundaries included)."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from pathlib import Path

import pytest

from compiler.model.base import duration_seconds
from compiler.project import require_valid
from compiler.run.runner import run_project

from helpers import AS_OF, ROOT, cdpc

AS_OF_TIME = dt.datetime(2026, 11, 20)
TOKEN = "expiredtoken"
# contract -> (raw file, the event_time column, a timestamp older than its retention)
PLANTED = {
    "bookings": ("raw.bookings.csv", "booked_at", "2024-11-19 23:59:59"),  # retention 730d: the limit is 2024-11-20
    "app_events": ("raw.app_events.csv", "occurred_at", "2025-10-20 00:00:00"),  # 395d
    "pos_transactions": ("raw.pos_transactions.csv", "occurred_at", "2019-11-20 00:00:00"),  # 2555d
    "consent_events": ("raw.consent_events.csv", "recorded_at", "2016-11-20 00:00:00"),  # 3650d
}


def _plant(data: Path) -> None:
    """One row per event source, older than its retention, every text cell the token (its
    event_time and the cells a rule would reject on aside: it would be rejected if it were not expired)."""
    for contract, (name, event_time, when) in PLANTED.items():
        path = data / name
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
        header, first = rows[0], rows[1]
        planted = [when if column == event_time else f"{TOKEN}_{contract}_{column}" for column in header]
        with path.open("a", encoding="utf-8", newline="") as handle:
            csv.writer(handle, lineterminator="\n").writerow(planted)
        assert len(first) == len(planted)


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(ROOT / "data", data)
    _plant(data)
    return data


def _expected_expired(data: Path) -> dict[str, int]:
    """What the rule says, counted in Python from the raw files: castable event_time older than the limit."""
    project = require_valid(ROOT)
    expected = {}
    for contract in project.definitions.contracts.values():
        if contract.name in project.definitions.erasure_sources:  # read, never staged: no count
            continue
        if contract.retention is None:
            expected[contract.name] = 0
            continue
        limit = AS_OF_TIME - dt.timedelta(seconds=duration_seconds(contract.retention))
        with (data / f"{contract.relation}.csv").open(encoding="utf-8", newline="") as handle:
            count = 0
            for row in csv.DictReader(handle):
                try:
                    at = dt.datetime.fromisoformat(row[contract.event_time].replace("T", " "))
                except (ValueError, TypeError):
                    continue  # no age: staged or rejected by its own rules
                if row[contract.event_time] != row[contract.event_time].strip() or len(row[contract.event_time]) < 19:
                    continue  # not castable (cdpc's forms: no whitespace, a time part)
                count += at < limit
            expected[contract.name] = count
    return expected


def _tables_hold(engine, needle: str) -> list[str]:
    """Every table and view cdpc owns whose text holds `needle`."""
    found = []
    for schema, name in engine.rows("SELECT schema_name, table_name FROM cdpc_meta.owned"):
        columns = [r[0] for r in engine.rows(
            "SELECT column_name FROM information_schema.columns "
            f"WHERE table_schema = '{schema}' AND table_name = '{name}'")]
        text = " || '|' || ".join(f'coalesce(CAST("{c}" AS VARCHAR), \'\')' for c in columns)
        if engine.rows(f'SELECT count(*) FROM "{schema}"."{name}" WHERE strpos({text}, \'{needle}\') > 0')[0][0]:
            found.append(f"{schema}.{name}")
    return found


def test_expired_rows_are_in_no_table_and_counted_per_contract(planted: Path):
    from compiler.run.engines.duckdb import DuckDBEngine

    project = require_valid(ROOT)
    engine = DuckDBEngine()
    try:
        result = run_project(project, engine, planted, AS_OF_TIME)
        assert _tables_hold(engine, TOKEN) == []
        assert result.stats.expired == _expected_expired(planted)
        assert all(result.stats.expired[c] >= 1 for c in PLANTED)
        for contract in project.definitions.contracts.values():  # nothing older than the limit is staged
            if contract.retention is None:
                continue
            limit = AS_OF_TIME - dt.timedelta(seconds=duration_seconds(contract.retention))
            oldest = engine.rows(f"SELECT min({contract.event_time}) FROM cdp_staging.{contract.name}")[0][0]
            assert oldest is None or oldest >= limit, contract.name
    finally:
        engine.close()


def test_the_summary_has_an_expired_column(planted: Path):
    result = cdpc("run", "--project", str(ROOT), "--data", str(planted), "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    header = next(line for line in result.output.splitlines() if line.startswith("contract"))
    assert header.split() == ["contract", "staged", "rejected", "expired"]
    line = next(line for line in result.output.splitlines() if line.startswith("bookings "))
    assert line.split()[-1] == f"{_expected_expired(planted)['bookings']:,}"
