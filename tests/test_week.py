"""data/week/generate.py: five daily snapshots of the reference project's raw data.

The week is generated, run day after day on DuckDB as docs/week.md shows, and checked: the
same bytes every time, day 1 is data/ as it is, each day's data is valid for the reference
project, the segment sizes are the ones docs/week.md lists, and each member the generator
scripts does to the Meta and email audiences what its comment says.
"""

from __future__ import annotations

import re

import pytest

from compiler.project import require_valid
from compiler.run.engines import open_engine

from activation_state import audiences, sync_columns
from helpers import ROOT, cdpc
from test_export import load_week

TABLES = ("crm_contacts", "bookings", "pos_transactions", "app_events", "consent_events")


@pytest.fixture(scope="module")
def week(tmp_path_factory):
    """Per day: the run's exit code and output, its segment sizes and its sync audiences."""
    root = tmp_path_factory.mktemp("week")
    generator = load_week()
    story = generator.generate(root / "week")
    project = require_valid(ROOT)
    db, days = root / "fitclub.duckdb", {}
    for day, as_of, _ in story:
        result = cdpc("run", "--project", str(ROOT), "--data", str(root / "week" / f"day{day}"), "--db", str(db),
                      "--as-of", f"{as_of:%Y-%m-%d %H:%M:%S}")
        engine = open_engine("duckdb", db=db)
        try:
            sizes = {s: engine.rows(f'SELECT count(*) FROM cdp_audiences."{s}"')[0][0]
                     for s in project.definitions.segments}
            members = {s: {r[0] for r in engine.rows(f'SELECT profile_id FROM cdp_audiences."{s}"')}
                       for s in project.definitions.segments}
            syncs = audiences(engine, project)
            profile_of = dict(engine.rows(
                "SELECT upper(trim(c.membership_id)), m.profile_id FROM cdp_identity.customer_map m "
                "JOIN cdp_staging.crm_contacts c ON m.source = 'crm_contacts' AND m.record_key = c.contact_id "
                "WHERE c.membership_id IS NOT NULL"))
        finally:
            engine.close()
        days[day] = dict(result=result, sizes=sizes, members=members, syncs=syncs, profile_of=profile_of)
    return dict(root=root, generator=generator, story=story, days=days, project=project)


def test_the_same_command_writes_the_same_bytes_and_day_1_is_the_sample(week, tmp_path):
    week["generator"].generate(tmp_path / "again")
    for day in range(1, 6):
        for table in TABLES:
            name = f"day{day}/raw.{table}.csv"
            assert (tmp_path / "again" / name).read_bytes() == (week["root"] / "week" / name).read_bytes(), name
    for table in TABLES:
        assert (week["root"] / "week" / "day1" / f"raw.{table}.csv").read_bytes() == \
            (ROOT / "data" / f"raw.{table}.csv").read_bytes()


def test_every_day_runs_and_only_the_broken_day_fails_a_check(week):
    for day, run in week["days"].items():
        output = run["result"].output
        if day == 4:
            assert run["result"].exit_code == 1 and "CDP507 segment high_value_lapsed" in output
        else:
            assert run["result"].exit_code == 0, output
        assert "CDP505" not in output and "CDP506" not in output, f"day {day}: every source stays fresh"
        assert "CDP501" not in output and "CDP502" not in output


def test_segment_sizes_are_the_ones_docs_week_md_lists(week):
    page = (ROOT / "docs" / "week.md").read_text(encoding="utf-8")
    listed = {}
    for line in page.splitlines():
        cells = [c.strip().strip("*") for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0] in week["days"][1]["sizes"]:
            listed[cells[0]] = [int(c) for c in cells[1:]]
    assert set(listed) == set(week["days"][1]["sizes"])
    assert {s: [week["days"][d]["sizes"][s] for d in range(1, 6)] for s in listed} == listed


def test_the_week_moves_members_in_and_out(week):
    days = week["days"]
    onboarding = [days[d]["members"]["new_members_onboarding"] for d in range(1, 6)]
    joined = {days[3]["profile_of"][f"FC00030{i}"] for i in range(1, 6)}
    assert joined <= onboarding[2], "the five members who joined are onboarding"
    assert days[2]["members"]["winback_7d_inactive"] - days[1]["members"]["winback_7d_inactive"], "members lapse"
    assert days[1]["members"]["winback_7d_inactive"] - days[2]["members"]["winback_7d_inactive"], "members come back"
    cancelled = [line.split()[0] for _, _, events in week["story"] for line in events if "cancels" in line]
    for member in cancelled:
        profile = days[3]["profile_of"][member]
        assert profile not in days[3]["members"]["winback_7d_inactive"] | days[3]["members"]["vip_retention"]
    unsubscribed = next(line.split()[0] for _, _, events in week["story"] for line in events if "unsubscribes" in line)
    profile = days[3]["profile_of"][unsubscribed]
    assert profile in days[2]["syncs"][("email_service", "winback_7d_inactive")]
    assert profile not in days[3]["syncs"][("email_service", "winback_7d_inactive")]
    assert profile in days[3]["members"]["winback_7d_inactive"], "still lapsed: only the email audiences lose them"


def test_a_new_email_is_an_update_of_the_audience(week):
    days, generator = week["days"], week["generator"]
    lapsed = next(line.split()[0] for line in week["story"][1][2]
                  if "changes email" in line and not line.startswith(generator.VIP_NEW_EMAIL))
    for member, sync in ((lapsed, ("email_service", "winback_7d_inactive")),
                         (generator.VIP_NEW_EMAIL, ("meta_ads", "vip_retention"))):
        profile = days[2]["profile_of"][member]
        before, after = days[1]["syncs"][sync][profile], days[2]["syncs"][sync][profile]
        assert before[0] != after[0] and before[1:] == after[1:], f"{member}: only the email changes in {sync}"


def test_the_scripted_vips_do_what_generate_py_says(week):
    days, generator = week["days"], week["generator"]
    vip = days[1]["profile_of"][generator.VIP_CANCELS]
    for sync in (("meta_ads", "vip_retention"), ("email_service", "vip_retention")):
        assert vip in days[2]["syncs"][sync] and vip not in days[3]["syncs"][sync]
    lapsed = days[1]["profile_of"][generator.LAPSED_RETURNS]
    meta = ("meta_ads", "high_value_lapsed")
    assert lapsed in days[3]["syncs"][meta] and lapsed not in days[5]["syncs"][meta]
    assert set(days[5]["syncs"][meta]) == set(days[3]["syncs"][meta]) - {lapsed}, \
        "day 5 against day 3 (day 4 held): one remove"


def test_the_broken_pos_day_empties_the_revenue_segments_only(week):
    days = week["days"]
    assert days[4]["sizes"]["high_value_lapsed"] == days[4]["sizes"]["vip_retention"] == 0
    assert days[5]["sizes"]["high_value_lapsed"] > 0 and days[5]["sizes"]["vip_retention"] > 0
    assert "rejected" in days[4]["result"].output
    staged = re.search(r"pos_transactions\s+([\d,]+)\s+(\d+)", days[4]["result"].output)
    assert staged and staged.group(2) == re.search(r"pos_transactions\s+([\d,]+)\s+(\d+)",
                                                   days[3]["result"].output).group(2), "no row is quarantined"
    for key in sync_columns(week["project"]):
        if key[1] not in ("high_value_lapsed", "vip_retention"):
            assert days[4]["syncs"][key], f"{key}: the other audiences stay"
