"""`cdpc export`: the latest changes of a destination's syncs as the files its platform takes.

The reference project runs for real over the week's evolving data (data/week/generate.py):
day 1, day 2 (a VIP on Meta changes email: an update), then day 3 with that VIP cancelling
too (a remove, after an email change). The activation state those runs leave comes from
tests/activation_state.py until `cdpc run` writes it (the `published` fixture is the one
place to switch).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import importlib.util
import io
import json
import shutil
from pathlib import Path

import pytest

from compiler.normalize import normalize_value
from compiler.project import require_valid
from compiler.run.engines import open_engine
from compiler.run.export import changes_table

from activation_state import Activation, audiences, last_run_id, modes
from helpers import ROOT, cdpc, copy_reference, write_files

VIP = "FC000249"  # in vip_retention on Meta; changes email on day 2 (generate.py, VIP_NEW_EMAIL)
GOOGLE = """
kind: destination
name: google_ads
version: 1.0.0
description: Customer Match lists on Google Ads.
owner: paid-search@fitclub.example
channel: ads
platform: google_customer_match
identifiers: [email, phone]
hash: sha256
syncs:
  - {segment: vip_retention, purpose: ads_personalization, cadence: daily, mode: mirror}
"""


def load_week():
    spec = importlib.util.spec_from_file_location("week_generate", ROOT / "data" / "week" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cancel(folder: Path, member: str, at: str) -> None:
    path = folder / "raw.crm_contacts.csv"
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        columns, rows = reader.fieldnames, list(reader)
    for row in rows:
        if row["membership_id"].strip().upper() == member:
            row["membership_status"], row["updated_at"] = "cancelled", at
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """DuckDB files after runs 1-2 (`after2`) and 1-3 (`after3`) of the reference project (with
    a Google destination added), each with the activation state those runs publish."""
    root = tmp_path_factory.mktemp("export")
    project_dir = copy_reference(root / "project", with_generated=False)
    write_files(project_dir, {"definitions/destinations/google_ads.yaml": GOOGLE})
    week = load_week()
    week.generate(root / "week")
    shutil.copytree(root / "week" / "day3", root / "day3")
    cancel(root / "day3", VIP, "2026-11-21 20:00:00")
    project = require_valid(project_dir)
    db, activation, found = root / "run.duckdb", Activation(), {"project": project_dir, "week": root / "week"}
    for day, data in ((1, root / "week" / "day1"), (2, root / "week" / "day2"), (3, root / "day3")):
        as_of = week.as_of(day)
        result = cdpc("run", "--project", str(project_dir), "--data", str(data), "--db", str(db),
                      "--as-of", f"{as_of:%Y-%m-%d %H:%M:%S}")
        assert result.exit_code == 0, result.output
        target = root / f"after{day}.duckdb"
        engine = open_engine("duckdb", db=db)
        try:
            activation.publish(last_run_id(engine, project), as_of, audiences(engine, project), modes(project))
        finally:
            engine.close()
        shutil.copy(db, target)
        engine = open_engine("duckdb", db=target)
        try:
            activation.write(engine, project)
        finally:
            engine.close()
        found[f"after{day}"] = target
        found[f"run{day}"] = activation.runs[-1][0]
    return found


def export(published, db_key: str, destination: str, out: Path, *extra: str):
    return cdpc("export", destination, "--out", str(out), "--db", str(published[db_key]),
                "--project", str(published["project"]), *extra)


def read_csv(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def raw_values(folder: Path, member: str, column: str) -> set[str]:
    """Every value of `column` that the CRM and the bookings give `member`."""
    found = set()
    for table in ("crm_contacts", "bookings"):
        with open(folder / f"raw.{table}.csv", encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                if row["membership_id"].strip().upper() == member and row.get(column, "").strip():
                    found.add(row[column])
    return found


def changes_of(db: Path, destination: str, segment: str) -> list[tuple]:
    engine = open_engine("duckdb", db=db)
    try:
        return engine.rows(f'SELECT * FROM cdp_audiences."{changes_table(destination, segment)}"')
    finally:
        engine.close()


# --------------------------------------------------------------------------- Meta and Google


def test_meta_update_is_an_add_under_meta_headers_hashed_as_sent(published, tmp_path):
    result = export(published, "after2", "meta_ads", tmp_path / "out")
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["run_id"] == published["run2"] and manifest["platform"] == "meta_custom_audiences"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["manifest.json", "vip_retention.add.csv"]
    rows = read_csv(tmp_path / "out" / "vip_retention.add.csv")
    assert rows[0] == ["email", "phone", "value"]  # Meta's customer list headers; value: lifetime_value
    assert len(rows) == 2, "day 2 changes one VIP's email: one update, sent as an add"
    email, phone, value = rows[1]
    new_email = {e.strip().lower() for e in raw_values(published["week"] / "day2", VIP, "email")}
    assert email in {sha(e) for e in new_email} and len(new_email) == 1, "the new email, normalized, SHA-256 hex"
    phones = {normalize_value("phone", p) for p in raw_values(published["week"] / "day2", VIP, "phone")} - {None}
    assert phone in {sha(p.lstrip("+")) for p in phones}, "Meta: the phone's digits without +, hashed"
    assert float(value) > 1500
    [entry] = manifest["files"]
    assert entry == {"path": "vip_retention.add.csv", "sync": "vip_retention", "changes": {"add": 0, "update": 1},
                     "rows": 1, "no_identifier": 0,
                     "sha256": hashlib.sha256((tmp_path / "out" / "vip_retention.add.csv").read_bytes()).hexdigest()}
    syncs = {s["segment"]: s for s in manifest["syncs"]}
    assert syncs["high_value_lapsed"]["changes"] == {"add": 0, "update": 0, "remove": 0}
    assert syncs["high_value_lapsed"]["files"] == [] and syncs["vip_retention"]["run_id"] == published["run2"]


def test_meta_remove_carries_every_email_the_member_was_sent_under(published, tmp_path):
    """A member who changed email and then left: Meta may still match the old email, so the
    remove file has both."""
    result = export(published, "after3", "meta_ads", tmp_path / "out")
    assert result.exit_code == 0, result.output
    rows = read_csv(tmp_path / "out" / "vip_retention.remove.csv")
    assert rows[0] == ["email", "phone", "value"]
    emails = {r[0] for r in rows[1:]}
    old = {e.strip().lower() for e in raw_values(published["week"] / "day1", VIP, "email")}
    new = {e.strip().lower() for e in raw_values(published["week"] / "day2", VIP, "email")}
    assert {sha(e) for e in old} & emails and {sha(e) for e in new} <= emails
    removes = [c for c in changes_of(published["after3"], "meta_ads", "vip_retention") if c[1] == "remove"]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    entry = next(f for f in manifest["files"] if f["path"] == "vip_retention.remove.csv")
    assert entry["changes"] == {"remove": len(removes)} and entry["rows"] == len(removes) + 1  # the old email's row
    assert rows[1:] == sorted(rows[1:])


def test_google_customer_match_headers_and_phone_with_plus(published, tmp_path):
    result = export(published, "after3", "google_ads", tmp_path / "out")
    assert result.exit_code == 0, result.output
    remove = read_csv(tmp_path / "out" / "vip_retention.remove.csv")
    assert remove[0] == ["Email", "Phone"]
    phones = {normalize_value("phone", p) for p in raw_values(published["week"] / "day1", VIP, "phone")} - {None}
    assert {r[1] for r in remove[1:]} & {sha(p) for p in phones}, "Google: E.164 with its +, hashed"
    assert "google_customer_match" in result.output


# --------------------------------------------------------------------------- generic


def test_generic_is_every_change_with_its_op_sorted(published, tmp_path):
    result = export(published, "after2", "email_service", tmp_path / "out")
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    for sync in manifest["syncs"]:
        changes = changes_of(published["after2"], "email_service", sync["segment"])
        assert sync["changes"] == {op: sum(1 for c in changes if c[1] == op) for op in ("add", "update", "remove")}
        if not changes:
            assert sync["files"] == []
            continue
        rows = read_csv(tmp_path / "out" / f"{sync['segment']}.csv")
        assert rows[0] == ["op", "profile_id", "email", "membership_status", "home_club", "engagement_tier"]
        expected = sorted([c[1], *("" if v is None else str(v) for v in c[2:])] for c in changes)
        assert rows[1:] == expected
    winback = json.loads((tmp_path / "out" / "manifest.json").read_text())["syncs"]
    assert next(s for s in winback if s["segment"] == "winback_7d_inactive")["changes"]["update"] >= 1, \
        "day 2: a lapsed member's new email is an update"


def test_the_same_state_gives_the_same_bytes_and_a_second_export_replaces_the_first(published, tmp_path):
    out = tmp_path / "out"
    assert export(published, "after3", "email_service", out).exit_code == 0
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    assert export(published, "after2", "email_service", out).exit_code == 0  # another run: replaced
    assert {p.name: p.read_bytes() for p in out.iterdir()} != first
    assert export(published, "after3", "email_service", out).exit_code == 0
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"], "nothing left beside DIR"


def test_summary_names_the_run_and_each_sync(published, tmp_path):
    result = export(published, "after3", "meta_ads", tmp_path / "out")
    lines = result.output.splitlines()
    assert lines[0] == (f"cdpc export meta_ads (meta_custom_audiences): run {published['run3']}, "
                        "as of 2026-11-22 00:00:00 UTC")
    assert lines[1].split() == ["sync", "run", "add", "update", "remove", "files"]
    assert lines[-1] == f"wrote {tmp_path / 'out'}: 1 file and manifest.json"


# --------------------------------------------------------------------------- errors


def test_a_failed_export_leaves_dir_as_it_was(published, tmp_path):
    out = tmp_path / "out"
    assert export(published, "after3", "meta_ads", out).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    broken = tmp_path / "broken.duckdb"
    shutil.copy(published["after3"], broken)
    engine = open_engine("duckdb", db=broken)
    engine.execute(f'DROP TABLE cdp_audiences."{changes_table("meta_ads", "high_value_lapsed")}"')
    engine.close()
    result = cdpc("export", "meta_ads", "--out", str(out), "--db", str(broken), "--project", str(published["project"]))
    assert result.exit_code == 2
    assert "CDP908" in result.output and "sync__meta_ads__high_value_lapsed__changes` does not exist" in result.output
    assert "meta_ads.yaml" in result.output and "hint: " in result.output
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.duckdb", "out"]


def test_a_sync_column_the_run_did_not_publish_is_cdp908(published, tmp_path):
    project = copy_reference(tmp_path / "project", with_generated=False)
    path = project / "definitions" / "destinations" / "sms_provider.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("identifiers: [phone]", "identifiers: [phone, email]"),
                    encoding="utf-8")  # sent from the next run on
    result = cdpc("export", "sms_provider", "--out", str(tmp_path / "out"), "--db", str(published["after3"]),
                  "--project", str(project))
    assert result.exit_code == 2 and "CDP908" in result.output and "has no column email" in result.output
    assert not (tmp_path / "out").exists()


def test_no_published_run_is_cdp907(published, tmp_path):
    result = cdpc("export", "meta_ads", "--out", str(tmp_path / "out"), "--project", str(published["project"]))
    assert result.exit_code == 2 and "CDP907" in result.output and "--db FILE" in result.output
    assert not (tmp_path / "out").exists()


def test_unknown_destination_suggests_the_closest(published, tmp_path):
    result = export(published, "after3", "meta_add", tmp_path / "out")
    assert result.exit_code == 2 and "no destination named `meta_add`" in result.output and "meta_ads" in result.output


def test_a_folder_that_is_not_an_export_is_not_replaced(published, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    result = export(published, "after3", "meta_ads", out)
    assert result.exit_code == 2 and "no manifest.json" in result.output
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_as_of_of_the_manifest_is_the_run_s(published, tmp_path):
    assert export(published, "after2", "sms_provider", tmp_path / "out").exit_code == 0
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["as_of"] == f"{dt.datetime(2026, 11, 21):%Y-%m-%d %H:%M:%S}"
    assert list(manifest) == ["destination", "platform", "run_id", "as_of", "syncs", "files"]


# --------------------------------------------------------------------------- PostgreSQL


def test_postgres_exports_the_same_bytes_as_duckdb(published, pg_database, tmp_path):
    """Days 1 and 2 on PostgreSQL: every file of every destination is DuckDB's, byte for byte."""
    week, project = load_week(), require_valid(published["project"])
    activation = Activation()
    for day in (1, 2):
        as_of = week.as_of(day)
        result = cdpc("run", "--project", str(published["project"]), "--data", str(published["week"] / f"day{day}"),
                      "--engine", "postgres", "--dsn", pg_database, "--as-of", f"{as_of:%Y-%m-%d %H:%M:%S}")
        assert result.exit_code == 0, result.output
        engine = open_engine("postgres", dsn=pg_database)
        try:
            activation.publish(last_run_id(engine, project), as_of, audiences(engine, project), modes(project))
        finally:
            engine.close()
    engine = open_engine("postgres", dsn=pg_database)
    try:
        activation.write(engine, project)
    finally:
        engine.close()
    for destination in project.definitions.destinations:
        on_pg = cdpc("export", destination, "--out", str(tmp_path / "pg" / destination), "--engine", "postgres",
                     "--dsn", pg_database, "--project", str(published["project"]))
        assert on_pg.exit_code == 0, on_pg.output
        assert export(published, "after2", destination, tmp_path / "duckdb" / destination).exit_code == 0
        files = sorted(p.name for p in (tmp_path / "duckdb" / destination).iterdir())
        assert sorted(p.name for p in (tmp_path / "pg" / destination).iterdir()) == files
        for name in files:
            if name != "manifest.json":  # its run ids are each run's own
                assert (tmp_path / "pg" / destination / name).read_bytes() == \
                    (tmp_path / "duckdb" / destination / name).read_bytes(), f"{destination}/{name}"
