"""The catalog site in a real browser: headless Chromium, driven by Playwright.

The site of the reference project (with its last run's figures) is opened from disk
(file://). Every page is watched: a console error, an uncaught exception, or a request
for anything outside the site's folder (another folder, the network) fails the test; such
a request is also stopped before it leaves. The tests click from a segment to its
attributes to their contract, use the search, and take screenshots at a desktop and a
phone width (under the test's tmp_path), checked to show a page and to fit the width.

Chromium is Debian's `chromium` (.ci/install-engines.sh installs it; CDPC_CHROMIUM names
another binary); Playwright drives it through `executable_path`, so no browser is
downloaded. Without either, the tests are skipped, except under CI=true, where they fail.
"""

from __future__ import annotations

import base64
import os
import shutil
import struct
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from helpers import AS_OF, cdpc, copy_reference

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
SHOTS = ("index.html", "segment.vip_retention.html", "attribute.membership_status.html", "contract.bookings.html",
         "lineage.html", "run.html")


def _unavailable(message: str):
    if IN_CI:
        pytest.fail(message + " (CI=true: .ci/run installs Chromium and the test extra, so this is a failure)",
                    pytrace=False)
    pytest.skip(message)


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CDPC_CHROMIUM"), shutil.which("chromium"), shutil.which("chromium-browser"),
                      "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _unavailable(f"playwright is not installed ({exc}); pip install -e '.[test]'")
    path = chromium_path()
    if path is None:
        _unavailable("no Chromium found (apt-get install chromium, or set CDPC_CHROMIUM)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=path, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("browser")
    project = copy_reference(root / "project", with_generated=False)
    db = root / "warehouse.duckdb"
    result = cdpc("run", "--project", str(project), "--db", str(db), "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    out = root / "site"
    result = cdpc("docs", "--project", str(project), "--out", str(out), "--db", str(db))
    assert result.exit_code == 0, result.output
    return out


class Watch:
    """A browser context whose pages may load files of `folder` only, and must log no error."""

    def __init__(self, browser, folder: Path, viewport: dict):
        self.folder = folder.resolve()
        self.problems: list[str] = []
        self.context = browser.new_context(viewport=viewport)
        self.context.route("**/*", self._route)

    def _inside(self, url: str) -> bool:
        parsed = urlparse(url)
        if parsed.scheme != "file":
            return False
        path = Path(unquote(parsed.path)).resolve()
        return path == self.folder or self.folder in path.parents

    def _route(self, route):
        url = route.request.url
        if self._inside(url):
            route.continue_()
        else:
            self.problems.append(f"request outside the site's folder: {url}")
            route.abort()

    def page(self):
        page = self.context.new_page()
        page.on("console", lambda msg: self.problems.append(f"console {msg.type}: {msg.text}")
                if msg.type in ("error", "warning") else None)
        page.on("pageerror", lambda exc: self.problems.append(f"uncaught: {exc}"))
        return page

    def open(self, name: str):
        page = self.page()
        page.goto((self.folder / name).as_uri())
        return page

    def close(self):
        self.context.close()


@pytest.fixture
def watch(browser, site):
    watches: list[Watch] = []

    def make(viewport: dict = DESKTOP) -> Watch:
        w = Watch(browser, site, viewport)
        watches.append(w)
        return w

    yield make
    problems = [p for w in watches for p in w.problems]
    for w in watches:
        w.close()
    assert problems == [], "the site made the browser complain or reach outside its folder"


def _uri(site: Path, name: str) -> str:
    return (site.resolve() / name).as_uri()


def test_segment_to_attribute_to_contract(watch, site):
    w = watch()
    page = w.open("index.html")
    assert page.title() == "Overview · fitclub data catalog"
    page.locator("#audiences").get_by_role("link", name="vip_retention", exact=True).click()
    assert page.url == _uri(site, "segment.vip_retention.html")
    assert page.locator("h1").inner_text() == "vip_retention"
    page.locator("#logic").get_by_role("link", name="membership_status", exact=True).click()
    assert page.url == _uri(site, "attribute.membership_status.html")
    assert "One value picked from the profile's records" in page.locator("#logic").inner_text()
    page.locator("#logic").get_by_role("link", name="crm_contacts", exact=True).click()
    assert page.url == _uri(site, "contract.crm_contacts.html")
    assert page.locator("h1").inner_text() == "crm_contacts"
    row = page.locator("#fields tr", has=page.locator("#field-membership_status"))
    assert "membership_status" in row.inner_text() and "Read by" not in row.inner_text()
    assert "membership_status" in row.locator("td").last.inner_text() or row.count() == 1


def test_a_lineage_box_opens_its_page(watch, site):
    page = watch().open("segment.vip_retention.html")
    box = page.locator("#lineage svg a.node", has=page.locator("text.name", has_text="is_high_value"))
    box.click()
    assert page.url == _uri(site, "attribute.is_high_value.html")
    # the whole project's picture links every definition too
    page.goto(_uri(site, "lineage.html"))
    page.locator("svg a.node", has=page.locator("text.name", has_text="meta_ads")).click()
    assert page.url == _uri(site, "destination.meta_ads.html")


def test_search(watch, site):
    page = watch().open("index.html")
    page.keyboard.press("/")  # focuses the search box
    page.keyboard.type("spend")
    results = page.locator("#search-results")
    assert results.is_visible()
    assert results.locator("a .title").first.inner_text() == "spend_365d"
    page.keyboard.press("Enter")
    page.wait_for_url(_uri(site, "attribute.spend_365d.html"))
    assert page.locator("h1").inner_text() == "spend_365d"

    box = page.locator("#search")
    box.fill("bookings email")  # every word must match: the field, not every email
    titles = results.locator("a .title").all_inner_texts()
    assert titles[0] == "bookings.email" and "crm_contacts.email" not in titles
    results.locator("a", has_text="bookings.email").click()
    assert page.url == _uri(site, "contract.bookings.html") + "#field-email"

    page.locator("#search").fill("growth-marketing")  # an owner finds what they own
    owned = page.locator("#search-results a .title").all_inner_texts()
    assert {"winback_7d_inactive", "email_service", "sms_provider"} <= set(owned)
    page.locator("#search").fill("zzzz")
    assert page.locator("#search-results .none").inner_text() == "Nothing matches “zzzz”"
    page.keyboard.press("Escape")
    assert not page.locator("#search-results").is_visible()


def test_every_page_loads_clean_and_fits_a_phone(watch, site):
    page = watch(PHONE).page()
    names = sorted(p.name for p in site.glob("*.html"))
    assert len(names) > 40 and "index.html" in names  # every page the site has, whatever their number
    for name in names:
        page.goto(_uri(site, name))
        assert page.locator("h1").count() == 1, name
        assert page.evaluate("document.styleSheets.length") == 1, name
        assert page.evaluate("Array.isArray(window.cdpcIndex) && window.cdpcIndex.length > 50"), name
        # wide tables become one card per row, pictures scroll inside their frame: the page never scrolls sideways
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], name


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def _looks(blank, data: bytes) -> dict:
    """Distinct colours and the share of pixels that are not white, measured in a blank page."""
    return blank.evaluate("""async (b64) => {
            const img = new Image();
            img.src = 'data:image/png;base64,' + b64;
            await img.decode();
            const canvas = document.createElement('canvas');
            canvas.width = img.width; canvas.height = img.height;
            const ctx = canvas.getContext('2d');
            ctx.drawImage(img, 0, 0);
            const d = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
            const colours = new Set();
            let ink = 0, seen = 0;
            for (let i = 0; i < d.length; i += 4 * 3) {
                seen++;
                colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
                if (d[i] < 235 || d[i + 1] < 235 || d[i + 2] < 235) ink++;
            }
            return {colours: colours.size, ink: ink / seen};
        }""", base64.b64encode(data).decode())


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_screenshots(watch, browser, site, tmp_path, viewport):
    w = watch(viewport)
    page = w.page()
    shots = tmp_path / "screenshots"
    shots.mkdir()
    analysis = browser.new_context()  # a blank page of its own, outside the watched context
    blank = analysis.new_page()
    for name in SHOTS:
        page.goto(_uri(site, name))
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"], \
            f"{name} is wider than a {viewport['width']}px screen"
        path = shots / f"{name.removesuffix('.html')}-{viewport['width']}.png"
        data = page.screenshot(path=str(path), full_page=True)
        width, height = _png_size(data)
        assert width == viewport["width"] and height >= viewport["height"] // 2, (name, width, height)
        look = _looks(blank, data)
        assert look["colours"] > 20 and 0.01 < look["ink"] < 0.9, (name, look)
    analysis.close()
    assert len(list(shots.glob("*.png"))) == len(SHOTS)


def test_the_watch_catches_what_it_must(browser, tmp_path):
    """The guard of these tests fails on a page that reaches outside its folder or logs an error."""
    folder = tmp_path / "bad"
    folder.mkdir()
    (tmp_path / "outside.css").write_text("body{}", encoding="utf-8")
    (folder / "page.html").write_text(
        '<!doctype html><link rel="stylesheet" href="../outside.css">'
        '<script src="https://cdn.example.invalid/lib.js"></script><h1>x</h1>'
        "<script>console.error('broken')</script>", encoding="utf-8")
    w = Watch(browser, folder, DESKTOP)
    try:
        w.open("page.html")
    finally:
        w.close()
    joined = "\n".join(w.problems)
    assert "request outside the site's folder: " + (tmp_path / "outside.css").resolve().as_uri() in joined
    assert "request outside the site's folder: https://cdn.example.invalid/lib.js" in joined
    assert "console error: broken" in joined
