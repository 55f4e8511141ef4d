"""Small HTML builders: every text that reaches a page goes through `e` (escaped) here."""

from __future__ import annotations

import re
from html import escape
from typing import Iterable, Optional, Sequence

from .. import __version__

CLASS_WORDS = {
    "public": "may be shown to anyone",
    "internal": "for staff; not personal on its own",
    "confidential": "personal data: for those who need it",
    "restricted": "the most sensitive data, such as health data: for the fewest people",
}


def e(text: object) -> str:
    return escape("" if text is None else str(text), quote=True)


def link(href: str, text: str, css: str = "") -> str:
    return f'<a href="{e(href)}"' + (f' class="{css}"' if css else "") + f">{e(text)}</a>"


def code(text: object) -> str:
    return f"<code>{e(text)}</code>"


def badge(text: str, css: str = "") -> str:
    return f'<span class="badge {css}">{e(text)}</span>'


def classification(level: str) -> str:
    return f'<span class="badge class-{level}" title="{e(CLASS_WORDS.get(level, ""))}">{e(level)}</span>'


def number(value: Optional[int]) -> str:
    return "—" if value is None else f"{value:,}"


def percent(part: int, whole: int) -> str:
    return "—" if not whole else f"{100 * part / whole:.0f}%"


def plural(count: int, one: str, many: Optional[str] = None) -> str:
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def words(items: Sequence[str], conj: str = "and") -> str:
    items = list(items)
    if len(items) <= 2:
        return f" {conj} ".join(items)
    return ", ".join(items[:-1]) + f", {conj} " + items[-1]


def table(head: Sequence[str], rows: Iterable[Sequence[str]], css: str = "", empty: str = "") -> str:
    """A table whose cells are HTML already; wrapped so that it scrolls sideways on a phone."""
    rows = list(rows)
    if not rows and empty:
        return f'<p class="empty">{e(empty)}</p>'
    out = [f'<div class="table-wrap"><table class="{css}">' if css else '<div class="table-wrap"><table>',
           "<thead><tr>" + "".join(f'<th scope="col">{h}</th>' for h in head) + "</tr></thead><tbody>"]
    labels = [e(re.sub(r"<[^>]+>", "", h)) for h in head]  # a phone shows each cell under its column's name
    for row in rows:
        out.append("<tr>" + "".join(f'<td data-label="{label}"><div>{cell}</div></td>' for label, cell in zip(labels, row)) + "</tr>")
    out.append("</tbody></table></div>")
    return "\n".join(out)


def facts(rows: Iterable[tuple[str, str]]) -> str:
    """A definition list of label -> HTML value (skips empty values)."""
    items = [f"<dt>{e(label)}</dt><dd>{value}</dd>" for label, value in rows if value]
    return '<dl class="facts">' + "".join(items) + "</dl>" if items else ""


def section(title: str, body: str, anchor: str = "", intro: str = "") -> str:
    ident = f' id="{e(anchor)}"' if anchor else ""
    lead = f'<p class="intro">{intro}</p>' if intro else ""
    return f"<section{ident}><h2>{e(title)}</h2>{lead}{body}</section>"


NAV = [
    ("index.html", "Overview"),
    ("segments.html", "Segments"),
    ("attributes.html", "Attributes"),
    ("sources.html", "Sources"),
    ("destinations.html", "Destinations"),
    ("lineage.html", "Lineage"),
    ("privacy.html", "Privacy"),
    ("owners.html", "Owners"),
    ("tests.html", "Tests"),
]


def page(project: str, title: str, body: str, current: str, run: bool = False) -> str:
    nav = NAV + ([("run.html", "Last run")] if run else [])
    items = "".join(f'<li><a href="{href}"' + (' aria-current="page"' if href == current else "") + f">{e(label)}</a></li>"
                    for href, label in nav)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="cdpc {e(__version__)}">
<title>{e(title)} · {e(project)} data catalog</title>
<link rel="icon" href="assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="assets/cdpc.css">
<script src="assets/index.js" defer></script>
<script src="assets/cdpc.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to the content</a>
<header class="top">
<div class="bar">
<a class="brand" href="index.html"><span class="logo" aria-hidden="true"></span>{e(project)} <span class="muted">data catalog</span></a>
<div class="search" role="search">
<label class="sr" for="search">Search the catalog</label>
<input id="search" type="search" placeholder="Search segments, attributes, fields, owners…" autocomplete="off" spellcheck="false" aria-controls="search-results" aria-expanded="false">
<ol id="search-results" class="results" hidden></ol>
</div>
</div>
<nav aria-label="Sections"><ul>{items}</ul></nav>
</header>
<main id="main">
{body}
</main>
<footer>Written by <code>cdpc docs</code> from the definitions of <strong>{e(project)}</strong>. Every figure here is read from them{', and from the last run' if run else ''}; nothing is fetched from anywhere.</footer>
</body>
</html>
"""
