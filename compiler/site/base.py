"""What every page writer shares: links to definitions, owners, approval badges, sizes.

Every page is written for someone who does not read YAML: each section opens with a
sentence saying what it shows, names are links, and the YAML's keys appear only where
they are the thing itself (a snippet of SQL, a table's name).
"""

from __future__ import annotations

from typing import Optional

from ..model import Contract, Segment
from .facts import Facts, href_of, kind_words
from .html import badge, code, e, link, page, plural

LIST_PAGES = {"segment": "segments.html", "attribute": "attributes.html", "contract": "sources.html",
              "destination": "destinations.html"}
SHOWN_READERS = 3  # "why" lists name this many fields, then "and N more"


class Writer:
    def __init__(self, facts: Facts):
        self.f = facts
        self.project = facts.defs.project.name
        self.run = facts.figures is not None

    def page(self, title: str, body: str, current: str) -> str:
        return page(self.project, title, body, current, self.run)

    def ref(self, node: str, full: bool = False) -> str:
        """A link to a node's page, labelled by its name (a field: `contract.field`)."""
        kind, _, name = node.partition(":")
        text = f"{kind_words(kind)[0].lower()} {name}" if full else name
        return link(href_of(node), text)

    def refs(self, nodes: list[str], empty: str = "—") -> str:
        return ", ".join(self.ref(n) for n in nodes) if nodes else empty

    def owner(self, definition) -> str:
        return e(definition.owner) if definition.owner else '<span class="warn">no owner</span>'

    def tests_of(self, key: str) -> list:
        return self.f.tests.get(key, [])

    def approval_badge(self, kind: str, name: str) -> str:
        view = self.f.approval(kind, name)
        if not view.governed:
            return badge("not required", "muted")
        if view.approved:
            return badge("approved", "ok")
        return badge("not approved", "warn")

    def _freshness(self, contract: Contract) -> str:
        fresh = contract.freshness
        if fresh is None or (fresh.warn_after is None and fresh.error_after is None):
            return '<span class="muted">not checked</span>'
        parts = []
        if fresh.warn_after:
            parts.append(f"warn after {e(fresh.warn_after)}")
        if fresh.error_after:
            parts.append(f"fail after {e(fresh.error_after)}")
        by = f" (by {code(contract.event_time)})" if contract.event_time else ""
        return ", ".join(parts) + by

    def _size_against(self, size: Optional[int], d: Segment) -> str:
        if size is None:
            return '<span class="muted">not in the run\'s database</span>'
        check = size_check(size, d)
        return plural(size, "member") + (" " + check if check != "—" else "")


def size_check(size: Optional[int], d: Segment) -> str:
    """A badge: is a segment's size within its expected_size (a dash when none is declared)?"""
    expected = d.expected_size
    if size is None or expected is None or (expected.min is None and expected.max is None):
        return "—"
    if (expected.min is not None and size < expected.min) or (expected.max is not None and size > expected.max):
        return badge("outside the expected size", "warn")
    return badge("as expected", "ok")


def expected_text(d: Segment) -> str:
    size = d.expected_size
    if size is None or (size.min is None and size.max is None):
        return '<span class="muted">not declared</span>'
    if size.min is not None and size.max is not None:
        return f"{size.min:,} to {size.max:,} members"
    return f"at least {size.min:,} members" if size.min is not None else f"at most {size.max:,} members"


def short_hash(hash_: str) -> str:
    algo, _, digest = hash_.partition(":")
    return f"{algo}:{digest[:12]}…" if digest else hash_[:12]
