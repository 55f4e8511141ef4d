"""`cdpc docs`: the catalog site's content, its links, its reproducibility and its folder.

The browser half (clicks, search, screenshots, console and network) is test_site_browser.py.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest

from helpers import AS_OF, cdpc, copy_reference, write_files

from compiler.project import load_project
from compiler.site import build_site
from compiler.site.coverage import coverable, covering_tests


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    return copy_reference(tmp_path_factory.mktemp("reference"), with_generated=False)


@pytest.fixture(scope="module")
def run_db(reference, tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("run") / "warehouse.duckdb"
    result = cdpc("run", "--project", str(reference), "--db", str(db), "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    return db


@pytest.fixture(scope="module")
def site(reference, run_db, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site") / "site"
    result = cdpc("docs", "--project", str(reference), "--out", str(out), "--db", str(run_db))
    assert result.exit_code == 0, result.output
    return out


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value is not None:
                self.links.append(value)
            if name == "id" and value:
                self.ids.add(value)


def _parse(path: Path) -> _Links:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def _text(path: Path) -> str:
    """A page's visible words, tags removed and entities decoded (for asserting what a reader sees)."""
    return _words(path.read_text(encoding="utf-8"))


BLOCK = r"</?(?:p|div|td|th|tr|dt|dd|li|h\d|section|br|pre|table|thead|tbody|summary|details|figure|figcaption|svg|g|a class=\"node)\b[^>]*>"


def _words(page: str) -> str:
    """Tags that start a block become a space, inline ones (a link, a badge) nothing."""
    body = re.sub(r"<(script|style|title)\b.*?</\1>", " ", page, flags=re.S)
    body = re.sub(BLOCK, " ", body)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", body))).strip()


def test_one_page_per_definition_and_the_project_pages(site, reference):
    project = load_project(reference)
    pages = {p.name for p in site.glob("*.html")}
    for definition in project.definitions.all():
        assert f"{definition.kind}.{definition.name}.html" in pages
    assert {"index.html", "segments.html", "attributes.html", "sources.html", "destinations.html", "lineage.html",
            "privacy.html", "owners.html", "tests.html", "run.html"} <= pages
    assert sorted(p.name for p in (site / "assets").iterdir()) == ["cdpc.css", "cdpc.js", "favicon.svg", "index.js"]


def test_every_link_stays_in_the_folder_and_reaches_a_page_and_anchor(site):
    pages = {p.name: _parse(p) for p in site.glob("*.html")}
    for name, parsed in pages.items():
        for target in parsed.links:
            assert not re.match(r"^[a-z][a-z0-9+.-]*:", target), f"{name}: {target} is not a relative link"
            assert not target.startswith(("/", "..")), f"{name}: {target} leaves the site's folder"
            path, _, anchor = target.partition("#")
            path = path or name
            assert (site / path).is_file(), f"{name}: {target} points at no file"
            if anchor and path.endswith(".html"):
                assert anchor in pages[path].ids, f"{name}: {target} points at no element"
    css = (site / "assets" / "cdpc.css").read_text(encoding="utf-8")
    assert re.findall(r"url\(([^)]*)\)", css) == ['"favicon.svg"']
    assert "@import" not in css


def test_nothing_names_the_machine(site, reference, run_db):
    for path in site.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert str(reference) not in text and str(run_db.parent) not in text, path
            assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', ""), path
            assert "https://" not in text, path


def test_byte_reproducible(reference, run_db, tmp_path):
    first = build_site(load_project(reference), run_db)
    second = build_site(load_project(reference), run_db)
    assert first == second
    copy = copy_reference(tmp_path / "elsewhere", with_generated=False)  # another folder, same definitions
    assert build_site(load_project(copy), run_db) == first


def test_a_segment_page_says_what_a_council_member_asks(site, reference):
    page = _text(site / "segment.vip_retention.html")
    assert "Engaged, high-value active members" in page
    assert "Owner retention@fitclub.example" in page and "Version 1.0.0" in page
    assert "email_marketing (email, from marketing)" in page and "ads_personalization (ads, from marketing)" in page
    assert "Expected size not declared" in page
    assert "membership_status = 'active' and is_high_value" in page
    assert "No tests cover this segment yet." in page
    assert "not approved" in page and "No approval on file." in page
    assert "Last run 12 members" in page
    links = _parse(site / "segment.vip_retention.html").links
    assert {"attribute.is_high_value.html", "attribute.membership_status.html", "attribute.engagement_tier.html",
            "destination.email_service.html", "destination.meta_ads.html"} <= set(links)
    svg = (site / "segment.vip_retention.html").read_text(encoding="utf-8")
    assert '<svg class="lineage"' in svg and 'class="node segment focus"' in svg
    for target in ("DuckDB", "PostgreSQL", "Spark", "Snowflake", "BigQuery"):
        assert f"{target} <span class=\"muted\">generated/" in svg
    yaml_text = reference / "definitions/segments/vip_retention.yaml"
    assert "YAML definitions/segments/vip_retention.yaml" in page
    assert html.escape(yaml_text.read_text(encoding="utf-8")) in svg


def test_sql_per_target_is_the_compiled_sql(site, reference):
    result = cdpc("compile", "--project", str(reference))
    assert result.exit_code == 0, result.output
    page = (site / "attribute.spend_365d.html").read_text(encoding="utf-8")
    for target in ("duckdb", "postgres", "spark", "snowflake", "bigquery"):
        generated = next((reference / "generated" / target).glob("*_attributes__spend_365d.sql"))
        assert html.escape(generated.read_text(encoding="utf-8")) in page


def test_expected_size_and_sizes_against_it(reference, run_db, tmp_path):
    project = copy_reference(tmp_path / "p", with_generated=False)
    path = project / "definitions/segments/vip_retention.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "expected_size: {min: 20, max: 500}\n", encoding="utf-8")
    site = build_site(load_project(project), run_db)
    page = _words(site["segment.vip_retention.html"].decode())
    assert "20 to 500 members" in page
    assert "12 members outside the expected size" in page


def test_approvals_current_and_out_of_date(tmp_path):
    project = copy_reference(tmp_path / "p", with_generated=False)
    result = cdpc("approve", "vip_retention", "--by", "ana@fitclub.example", "--project", str(project))
    assert result.exit_code == 0, result.output
    page = _words(build_site(load_project(project))["segment.vip_retention.html"].decode())
    assert "approved The current definition (version 1.0.0) is approved by ana@fitclub.example" in page
    assert "ana@fitclub.example" in page and " current " in page
    # an upstream attribute changes: the segment's data hash moves and the approval no longer counts
    attribute = project / "definitions/attributes/is_high_value.yaml"
    text = attribute.read_text(encoding="utf-8")
    assert "1000" in text
    attribute.write_text(text.replace("1000", "1500"), encoding="utf-8")
    page = _words(build_site(load_project(project))["segment.vip_retention.html"].decode())
    assert "has 0 of the 1 approval it needs" in page
    assert "out of date: it changed since" in page


def test_source_map_identifiers_freshness_privacy(site):
    page = _text(site / "sources.html")
    row = re.search(r"bookings raw\.bookings (.*?) crm_contacts raw\.crm_contacts", page).group(1)
    assert "membership_id ← membership_id" in row and "email ← email" in row
    assert "warn after 24h, fail after 7d (by booked_at)" in row
    assert "internal ×8 confidential ×2 restricted ×1" in row
    assert "notes (PHI)" in row
    assert "2026-11-19 23:13:58" in row  # the newest booking of the last run


def test_privacy_classes_propagate_through_lineage(site):
    page = _text(site / "privacy.html")
    assert "primary_email confidential reads bookings.email, consent_events.email, crm_contacts.email" in page
    assert "has_medical_flag restricted reads crm_contacts.has_injury_flag, crm_contacts.medical_notes" in page
    assert "spend_365d internal reads pos_transactions.amount" in page
    assert "granted restricted" in page  # consent reads the medical flag through suppress_when
    assert "phone confidential the identity reads it from" in page


def test_owners_and_coverage_tables(site, reference):
    owners = _text(site / "owners.html")
    assert "Segments 7 7 100%" in owners and "Every definition names an owner." in owners
    assert "retention@fitclub.example 3 segment at_risk_churn, segment reactivation_sms, segment vip_retention" in owners
    tests = _text(site / "tests.html")
    project = load_project(reference)
    keys = coverable(project.definitions)
    covered = [key for key, _ in keys if key in covering_tests(project)]  # the reference project's own tests
    assert 0 < len(covered) < len(keys)
    assert f"{len(covered)} of {len(keys)} segments, attributes and syncs are covered ({len(covered) / len(keys):.0%})" in tests
    assert tests.count("no tests") == len(keys) - len(covered)


def test_owner_missing_is_shown(tmp_path):
    project = copy_reference(tmp_path / "p", with_generated=False)
    path = project / "definitions/segments/vip_retention.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("owner: retention@fitclub.example\n", ""), encoding="utf-8")
    site = build_site(load_project(project))
    assert "Without an owner segment vip_retention" in _words(site["owners.html"].decode())
    assert "no owner" in site["segment.vip_retention.html"].decode()


def test_last_run_figures_are_the_tables(site, run_db):
    page = _text(site / "run.html")
    with duckdb.connect(str(run_db), read_only=True) as con:
        profiles = con.execute("SELECT count(*) FROM cdp.customer_profiles").fetchone()[0]
        winback = con.execute("SELECT count(*) FROM cdp_audiences.winback_7d_inactive").fetchone()[0]
        rejected = con.execute("SELECT count(*) FROM cdp_staging.bookings_rejected").fetchone()[0]
        sync = con.execute("SELECT count(*) FROM cdp_audiences.sync__meta_ads__vip_retention").fetchone()[0]
        reason, times = con.execute(
            "SELECT r, count(*) AS n FROM (SELECT unnest(_reject_reasons) AS r FROM cdp_staging.bookings_rejected) "
            "GROUP BY r ORDER BY n DESC, r LIMIT 1").fetchone()
    assert f"Profiles {profiles:,}" in page
    assert f"winback_7d_inactive {winback:,}" in page
    assert f"{rejected:,}" in page and f"{reason} ×{times:,}" in page
    assert f"meta_ads vip_retention {sync:,}" in page
    assert "warehouse.duckdb" in page and "Not in the database" not in page


def test_a_database_without_some_tables_lists_them(reference, tmp_path):
    db = tmp_path / "partial.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE SCHEMA cdp_audiences")
        con.execute("CREATE TABLE cdp_audiences.vip_retention AS SELECT 'p1' AS profile_id")
    files = build_site(load_project(reference), db)
    page = _words(files["run.html"].decode())
    assert "Not in the database" in page and "cdp_staging.bookings" in page
    assert "vip_retention 1" in page


def test_without_db_there_is_no_run_page(reference):
    files = build_site(load_project(reference))
    assert "run.html" not in files
    assert "Last run" not in files["index.html"].decode()


def test_search_index_holds_definitions_fields_and_owners(site):
    text = (site / "assets" / "index.js").read_text(encoding="utf-8")
    assert text.startswith("/* The search index")
    import json
    entries = json.loads(text.split("window.cdpcIndex = ", 1)[1].rstrip().rstrip(";"))
    titles = {(e["k"], e["t"]): e for e in entries}
    assert titles[("segment", "vip_retention")]["u"] == "segment.vip_retention.html"
    assert titles[("field", "bookings.email")]["u"] == "contract.bookings.html#field-email"
    assert "retention@fitclub.example" in titles[("segment", "vip_retention")]["x"]
    assert (site / "assets" / "cdpc.js").read_bytes() == (
        Path(__file__).resolve().parent.parent / "compiler/site/assets/cdpc.js").read_bytes()


# --------------------------------------------------------------------------- the folder


def test_replaces_its_own_site_whole_and_reports_unchanged(reference, tmp_path):
    out = tmp_path / "site"
    assert cdpc("docs", "--project", str(reference), "--out", str(out)).exit_code == 0
    (out / "segment.gone.html").write_text("old", encoding="utf-8")
    result = cdpc("docs", "--project", str(reference), "--out", str(out))
    assert result.exit_code == 0 and "site written:" in result.output
    assert not (out / "segment.gone.html").exists()
    again = cdpc("docs", "--project", str(reference), "--out", str(out))
    pages = len(list(out.glob("*.html")))
    assert again.exit_code == 0 and re.match(rf"site unchanged: {pages} pages for \d+ definitions", again.output)
    assert [p.name for p in tmp_path.iterdir()] == ["site"]  # no staging folder left beside it


def test_refuses_a_folder_it_did_not_write(reference, tmp_path):
    out = tmp_path / "mine"
    write_files(out, {"notes.txt": "keep me\n"})
    result = cdpc("docs", "--project", str(reference), "--out", str(out))
    assert result.exit_code == 2
    assert "CDP901 the folder" in result.output and "is not empty and was not written by `cdpc docs`" in result.output
    assert (out / "notes.txt").read_text(encoding="utf-8") == "keep me\n"
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_a_failed_write_leaves_the_old_site(reference, tmp_path, monkeypatch):
    from compiler.site import folder

    out = tmp_path / "site"
    assert cdpc("docs", "--project", str(reference), "--out", str(out)).exit_code == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    files = build_site(load_project(reference))
    files["index.html"] += b"<!-- changed -->"
    calls = []
    real_open = open

    def failing_open(path, mode="r", *args, **kwargs):
        if "w" in mode and str(path).endswith("tests.html"):
            calls.append(path)
            raise OSError(28, "No space left on device")
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr("builtins.open", failing_open)
    with pytest.raises(OSError):
        folder.write_site(out, files)
    monkeypatch.undo()
    assert calls
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["site"]


def test_an_invalid_project_is_exit_1(tmp_path):
    project = copy_reference(tmp_path / "p", with_generated=False)
    path = project / "definitions/segments/vip_retention.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("is_high_value and", "is_high_valu and"), encoding="utf-8")
    result = cdpc("docs", "--project", str(project), "--out", str(tmp_path / "site"))
    assert result.exit_code == 1 and "CDP303" in result.output
    assert not (tmp_path / "site").exists()


def test_a_db_that_is_not_duckdb_is_exit_2(reference, tmp_path):
    bad = tmp_path / "not.duckdb"
    bad.write_text("hello\n", encoding="utf-8")
    result = cdpc("docs", "--project", str(reference), "--out", str(tmp_path / "site"), "--db", str(bad))
    assert result.exit_code == 2 and "CDP901" in result.output
    assert not (tmp_path / "site").exists()


def test_a_project_with_one_contract_only(tmp_path):
    project = write_files(tmp_path / "p", {
        "definitions/project.yaml": "kind: project\nname: tiny\n",
        "definitions/contracts/orders.yaml": """
            kind: contract
            name: orders
            version: 1.0.0
            relation: raw.orders
            primary_key: [order_id]
            fields:
              order_id: {type: string, required: true}
            """,
    })
    loaded = load_project(project)
    assert loaded.ok, [d.render() for d in loaded.diagnostics]
    files = build_site(loaded)
    assert "contract.orders.html" in files and "project.tiny.html" in files
    assert "This project has no segments yet." in _words(files["index.html"].decode())
    assert "0 of 0 segments, attributes and syncs are covered (—)" in _words(files["tests.html"].decode())
    assert "Owner no owner" in _words(files["contract.orders.html"].decode())
