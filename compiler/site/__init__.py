"""`cdpc docs`: a static catalog site of a project, readable from disk with no network.

    build_site(project, db) -> {relative path: bytes}   every file of the site, in memory
    write_site(out, files)  -> bool                      the folder made to hold exactly them

The site is flat: every page is an HTML file in the top folder (`index.html`,
`segment.vip_retention.html`, ...), and `assets/` holds the style sheet, the search
script (hand-written, compiler/site/assets/) and the search index (`index.js`, generated).
Pages link to one another and to those assets by relative paths only; nothing is
fetched from elsewhere. The same definitions (and the same run database) give the same
bytes: no timestamps, no absolute paths, every list sorted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from ..model import KIND_ORDER
from ..project import LoadedProject
from .facts import Facts, page_of
from .figures import read_figures
from .folder import MARKER, MARKER_TEXT, SiteError, write_site
from .base import LIST_PAGES
from .definition import DefinitionPages
from .pages import ProjectPages

ASSETS = Path(__file__).resolve().parent / "assets"
VENDORED = ("cdpc.css", "cdpc.js", "favicon.svg")

__all__ = ["SiteError", "build_site", "write_site"]


def build_site(project: LoadedProject, db: Optional[Path] = None) -> dict[str, bytes]:
    figures = read_figures(db, project.definitions) if db is not None else None
    facts = Facts(project, figures)
    site, one = ProjectPages(facts), DefinitionPages(facts)
    pages: dict[str, str] = {"index.html": site.index()}
    for kind, name in LIST_PAGES.items():
        pages[name] = site.kind_list(kind)
    pages["lineage.html"] = site.lineage_page()
    pages["privacy.html"] = site.privacy_page()
    pages["owners.html"] = site.owners_page()
    pages["tests.html"] = site.tests_page()
    if figures is not None:
        pages["run.html"] = site.run_page()
    for kind in KIND_ORDER:
        for name in project.definitions.by_kind(kind):
            pages[page_of(kind, name)] = one.definition_page(kind, name)
    files = {path: text.encode("utf-8") for path, text in pages.items()}
    for name in VENDORED:
        files[f"assets/{name}"] = (ASSETS / name).read_bytes()
    index = json.dumps(site.search_index(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    files["assets/index.js"] = ("/* The search index of this site, written by cdpc docs; read by cdpc.js. */\n"
                                f"window.cdpcIndex = {index};\n").encode("utf-8")
    files[MARKER] = MARKER_TEXT.encode("utf-8")
    return dict(sorted(files.items()))
