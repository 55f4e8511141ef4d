"""The pages of the site, as HTML text: the overview, a list per kind, one page per
definition, the lineage, the source map, privacy per column, owners, tests and the last run.

Every page is written for someone who does not read YAML: each section opens with a
sentence saying what it shows, names are links, and the YAML's keys appear only where
they are the thing itself (a snippet of SQL, a table's name).
"""

from __future__ import annotations

import json
from typing import Optional

import networkx as nx

from ..emit.syncs import sync_table
from ..graph import CLASSIFICATIONS, LINEAGE, MEMBER, SOURCE, field_id, node_id, node_sort_key
from ..model import Attribute, Consent, Contract, Destination, Identity, Project, Segment
from . import picture
from .coverage import coverable, sync_key
from .facts import TARGET_NAMES, Facts, href_of, kind_words, page_of
from .html import (CLASS_WORDS, badge, classification, code, e, facts as fact_list, link, number, page, percent,
                   plural, section, table, words)

LIST_PAGES = {"segment": "segments.html", "attribute": "attributes.html", "contract": "sources.html",
              "destination": "destinations.html"}
SHOWN_READERS = 3  # "why" lists name this many fields, then "and N more"
MAX_FIELD_BOXES = 12  # a definition's picture with more fields read draws their contracts instead


class Site:
    def __init__(self, facts: Facts):
        self.f = facts
        self.project = facts.defs.project.name
        self.run = facts.figures is not None

    # ------------------------------------------------------------------ helpers

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

    # ------------------------------------------------------------------ pictures

    def project_picture(self) -> str:
        graph = self.f.lineage.graph
        keep = [n for n in self.f.lineage.nodes() if graph.nodes[n]["kind"] not in ("field", "project")]
        edges: set[tuple[str, str]] = set()
        for u, v, kind in self.f.lineage.edges():
            if kind == LINEAGE and graph.nodes[u]["kind"] == "field":
                u = node_id("contract", graph.nodes[u]["contract"])
            if kind in (LINEAGE, SOURCE) and u in keep and v in keep:
                edges.add((u, v))
        return picture.render([self._box(n) for n in keep], [picture.Edge(u, v) for u, v in sorted(edges)],
                              f"Lineage of {self.project}: sources on the left, destinations on the right")

    def definition_picture(self, node: str) -> str:
        lineage = self.f.lineage
        around = lineage.around(node).graph
        kinds = {n: around.nodes[n]["kind"] for n in around}
        read_fields = {u for u, v, k in around.edges(data="kind") if k == LINEAGE and kinds[u] == "field"}
        shown_contracts = {around.nodes[f]["contract"] for f in read_fields}
        keep = []
        for n in sorted(around, key=node_sort_key):
            if kinds[n] == "field" and n not in read_fields:
                continue
            if kinds[n] == "contract" and n != node and n.partition(":")[2] in shown_contracts:
                continue
            keep.append(n)
        kept = set(keep)
        edges = []
        for u, v, kind in sorted(around.edges(data="kind"), key=lambda t: (node_sort_key(t[0]), node_sort_key(t[1]))):
            if u in kept and v in kept and (kind in (LINEAGE, SOURCE) or (kind == MEMBER and u == node)):
                edges.append(picture.Edge(u, v, "lineage" if kind != SOURCE else "source"))
        # only what is joined to the definition by the edges drawn: a definition that `around` reached
        # through a profile edge alone (everything computed per profile) is left out
        drawn = nx.DiGraph((edge.source, edge.target) for edge in edges)
        drawn.add_node(node)
        joined = {node} | nx.ancestors(drawn, node) | nx.descendants(drawn, node)
        keep = [n for n in keep if n in joined]
        edges = [edge for edge in edges if edge.source in joined and edge.target in joined]
        if sum(1 for n in keep if kinds[n] == "field") > MAX_FIELD_BOXES:  # too tall: one box per contract instead
            keep, edges = self._fold_fields(keep, edges, around)
        if len(keep) == 1:
            return ""
        name = node.partition(":")[2]
        return picture.render([self._box(n) for n in keep], edges,
                              f"What {name} reads (left) and what reads it (right)", focus=node)

    @staticmethod
    def _fold_fields(keep: list[str], edges: list, graph) -> tuple[list[str], list]:
        """Each field box replaced by its contract's, the edges moved with it (once each)."""
        def folded(n: str) -> str:
            data = graph.nodes[n]
            return node_id("contract", data["contract"]) if data["kind"] == "field" else n

        nodes = sorted(dict.fromkeys(folded(n) for n in keep), key=node_sort_key)
        moved: dict[tuple[str, str], str] = {}
        for edge in edges:
            pair = (folded(edge.source), folded(edge.target))
            if pair[0] != pair[1]:
                moved[pair] = "source" if moved.get(pair, edge.css) == "source" and edge.css == "source" else "lineage"
        return nodes, [picture.Edge(u, v, css) for (u, v), css in sorted(moved.items())]

    def _box(self, node: str) -> picture.Node:
        data = self.f.lineage.graph.nodes[node]
        kind = data["kind"]
        if kind == "field":
            level = data["classification"]
            flags = [flag for flag in ("phi", "pii") if data.get(flag)]
            caption = "field · " + level + (f" · {', '.join(flags)}" if flags else "")
            return picture.Node(node, data["name"], caption, f"field class-{level}", href_of(node),
                                f"field {data['name']} ({data['type']}, {level})")
        definition = self.f.definition(node)
        return picture.Node(node, data["name"], kind_words(kind)[0].lower(), kind, href_of(node),
                            f"{kind_words(kind)[0]} {data['name']}" + (f": {definition.description}"
                                                                       if definition.description else ""))

    # ------------------------------------------------------------------ the overview

    def index(self) -> str:
        f, defs = self.f, self.f.defs
        project = defs.project
        counts = []
        for kind in ("segment", "attribute", "contract", "destination", "consent", "identity"):
            items = f.definitions(kind)
            one, many, what = kind_words(kind)
            href = LIST_PAGES.get(kind) or (page_of(kind, items[0].name) if len(items) == 1 else "lineage.html")
            counts.append(f'<a class="card" href="{href}"><span class="count">{len(items)}</span>'
                          f'<span class="label">{e(one if len(items) == 1 else many)}</span>'
                          f'<span class="what">{e(what)}</span></a>')
        health = self._health()
        audiences = self._segment_rows()
        guide = "".join(f"<dt>{e(kind_words(k)[0])}</dt><dd>{e(kind_words(k)[2])}.</dd>"
                        for k in ("contract", "identity", "attribute", "consent", "segment", "destination"))
        body = (f'<h1>{e(project.name)}</h1>'
                + (f'<p class="lead">{e(project.description)}</p>' if project.description else "")
                + fact_list([("Owner", self.owner(project)),
                             ("Targets", ", ".join(e(TARGET_NAMES.get(t, t)) for t in project.targets)),
                             ("Settings", link(page_of("project", project.name), "project settings and governance"))])
                + f'<div class="cards">{"".join(counts)}</div>'
                + section("At a glance", health, "health")
                + section("Audiences", table(["Segment", "What it is", "Owner", "Approval", *(["Last run"] if self.run else []),
                                              "Sent to"], audiences, empty="This project has no segments yet."),
                          "audiences", "Every segment, who owns it, whether the council signed off its current "
                          "logic, and where it is sent.")
                + section("How to read this catalog", f'<dl class="glossary">{guide}</dl><p>Each name is a link to '
                          "its page: what it means, who owns it, who approved it, what it reads and what reads it, "
                          "its privacy class, the tests that cover it and the SQL it compiles to. The search box "
                          "finds any definition, field or owner.</p>", "guide"))
        return self.page("Overview", body, "index.html")

    def _health(self) -> str:
        f, defs = self.f, self.f.defs
        rows = []
        all_defs = list(defs.all())
        owned = sum(1 for d in all_defs if d.owner)
        rows.append(("Owners", f"{owned} of {len(all_defs)} definitions name an owner ({percent(owned, len(all_defs))}) "
                     + link("owners.html", "owners")))
        keys = coverable(defs)
        covered = sum(1 for key, _ in keys if f.tests.get(key))
        rows.append(("Tests", (f"{covered} of {len(keys)} segments, attributes and syncs are covered by a test "
                               f"({percent(covered, len(keys))}) ") + link("tests.html", "coverage")))
        governed = [(k, n) for k in f.policy.governed for n in defs.by_kind(k)]
        if governed:
            approved = sum(1 for k, n in governed if f.approval(k, n).approved)
            rows.append(("Approvals", f"{approved} of {len(governed)} definitions that need the council's sign-off "
                         "are approved in their current form"))
        else:
            rows.append(("Approvals", "nothing needs the council's sign-off (no approvers are listed)"))
        levels = {}
        for name in defs.attributes:
            levels.setdefault(f.classification(node_id("attribute", name)), []).append(name)
        rows.append(("Privacy", ", ".join(f"{len(levels[c])} {c}" for c in CLASSIFICATIONS if c in levels)
                     + " attributes " + link("privacy.html", "privacy per column")))
        if self.run:
            figures = f.figures
            staged = sum(c.staged or 0 for c in figures.contracts.values())
            rejected = sum(c.rejected or 0 for c in figures.contracts.values())
            rows.append(("Last run", f"{number(figures.profiles)} profiles from {number(staged)} staged rows; "
                         f"{number(rejected)} rows rejected " + link("run.html", "figures")))
        return fact_list(rows)

    def _segment_rows(self) -> list[list[str]]:
        f, defs = self.f, self.f.defs
        sent: dict[str, list[str]] = {}
        for destination in defs.destinations.values():
            for sync in destination.syncs:
                sent.setdefault(sync.segment, []).append(destination.name)
        rows = []
        for segment in defs.segments.values():
            row = [self.ref(node_id("segment", segment.name)), e(segment.description or ""), self.owner(segment),
                   self.approval_badge("segment", segment.name)]
            if self.run:
                row.append(number(f.figures.segments.get(segment.name)))
            row.append(", ".join(self.ref(node_id("destination", d)) for d in sorted(set(sent.get(segment.name, []))))
                       or "—")
            rows.append(row)
        return rows

    # ------------------------------------------------------------------ lists

    def kind_list(self, kind: str) -> str:
        one, many, what = kind_words(kind)
        f = self.f
        rows = []
        for definition in f.definitions(kind):
            node = node_id(kind, definition.name)
            row = [self.ref(node), e(definition.description or ""), self.owner(definition),
                   e(getattr(definition, "version", "") or "")]
            row.append(classification(f.classification(node)))
            if kind in ("segment", "attribute"):
                tests = self.tests_of(node)
                row.append(plural(len(tests), "test") if tests else '<span class="muted">no tests</span>')
            if kind in ("segment", "destination"):
                row.append(self.approval_badge(kind, definition.name))
            if self.run and kind == "segment":
                row.append(number(f.figures.segments.get(definition.name)))
            if self.run and kind == "contract":
                c = f.figures.contracts.get(definition.name)
                row.append(f"{number(c.staged)} / {number(c.rejected)}" if c else "—")
            rows.append(row)
        head = [one, "What it is", "Owner", "Version", "Privacy"]
        head += ["Tests"] if kind in ("segment", "attribute") else []
        head += ["Approval"] if kind in ("segment", "destination") else []
        head += ["Last run"] if self.run and kind == "segment" else []
        head += ["Staged / rejected"] if self.run and kind == "contract" else []
        extra = ""
        if kind == "contract":
            extra = section("Source map", self.source_map(), "source-map",
                            "Each source, the identifiers it carries into the identity, how fresh it must be, "
                            "and the privacy classes of its fields.")
        body = (f"<h1>{e(many)}</h1><p class=\"lead\">{e(what[0].upper() + what[1:])}.</p>"
                + table(head, rows, "list", empty=f"This project has no {many.lower()}.") + extra)
        return self.page(many, body, LIST_PAGES[kind])

    def source_map(self) -> str:
        f, defs = self.f, self.f.defs
        identity = defs.identity
        rows = []
        for contract in defs.contracts.values():
            ids = []
            if identity is not None:
                for id_type in identity.types:
                    column = identity.sources.get(contract.name, {}).get(id_type)
                    if column:
                        ids.append(f"{e(id_type)} ← {link(href_of(field_id(contract.name, column)), column)}")
            levels: dict[str, int] = {}
            for spec in contract.fields.values():
                levels[spec.effective_classification] = levels.get(spec.effective_classification, 0) + 1
            classes = " ".join(f'<span class="nowrap">{classification(c)}&nbsp;×{levels[c]}</span>'
                               for c in CLASSIFICATIONS if c in levels)
            flagged = [n for n, s in contract.fields.items() if s.pii or s.phi]
            row = [self.ref(node_id("contract", contract.name)), code(contract.relation),
                   "<br>".join(ids) or '<span class="muted">none: not an identity source</span>',
                   self._freshness(contract), classes,
                   (", ".join(link(href_of(field_id(contract.name, n)), n) + (" (PHI)" if contract.fields[n].phi else "")
                              for n in flagged) or "—")]
            if self.run:
                row.append(e(f.figures.contracts[contract.name].newest or "—"))
            rows.append(row)
        head = ["Source", "Table", "Identifiers it carries", "Freshness", "Privacy classes", "Personal fields"]
        head += ["Newest row (last run)"] if self.run else []
        return table(head, rows, empty="This project has no sources.")

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

    # ------------------------------------------------------------------ one definition

    def definition_page(self, kind: str, name: str) -> str:
        f = self.f
        definition = f.definition(node_id(kind, name))
        node = node_id(kind, name)
        one = kind_words(kind)[0]
        head = (f'<p class="kicker">{e(one)}</p><h1>{e(name)}</h1>'
                + (f'<p class="lead">{e(definition.description)}</p>' if definition.description else
                   '<p class="lead muted">No description.</p>'))
        summary = [("Owner", self.owner(definition)),
                   ("Version", e(getattr(definition, "version", "") or "")),
                   ("Tags", " ".join(badge(t) for t in definition.tags)),
                   ("Privacy", self._why_class(node) if kind != "project" else ""),
                   ("Defined in", code(f"{definition.file}")),
                   ("Data hash", f'<code title="{e(f.prints[node].data_hash)}">{e(_short(f.prints[node].data_hash))}</code>'
                                 if node in f.prints else "")]
        summary += self._kind_facts(kind, definition)
        body = [head, fact_list(summary)]
        body.append(self._kind_sections(kind, definition))
        if kind != "project":
            body.append(self._lineage_section(node))
        body.append(self._approval_section(kind, name))
        if kind in ("segment", "attribute", "destination"):
            body.append(self._tests_section(kind, definition))
        body.append(self._sql_section(node))
        return self.page(f"{one} {name}", "\n".join(b for b in body if b), LIST_PAGES.get(kind, ""))

    def _why_class(self, node: str) -> str:
        f = self.f
        level = f.classification(node)
        kind = node.partition(":")[0]
        if kind == "destination":
            sent = f.sent_values(node.partition(":")[2])
            top = [value for value, value_level in sent if value_level == level]
            text = f"{classification(level)} <span class=\"muted\">({e(CLASS_WORDS[level])})</span>"
            return text + (f"<br><span class=\"why\">the most sensitive values it sends: {e(', '.join(top))}</span>"
                           if top else "<br><span class=\"why\">it sends only the profile id</span>")
        deciders = f.lineage.classified_by(node)
        if kind == "contract":
            why = "its most sensitive fields" if deciders else "it has no fields"
        elif not deciders:
            why = "it reads no source value"
        else:
            why = "it reads"
        shown = ", ".join(self.ref(d) for d in deciders[:SHOWN_READERS])
        more = f" and {len(deciders) - SHOWN_READERS} more" if len(deciders) > SHOWN_READERS else ""
        text = f"{classification(level)} <span class=\"muted\">({e(CLASS_WORDS[level])})</span>"
        if deciders:
            return text + f"<br><span class=\"why\">because {why}: {shown}{more}</span>"
        return text + f"<br><span class=\"why\">because {why}</span>"

    def _kind_facts(self, kind: str, d) -> list[tuple[str, str]]:
        f = self.f
        out: list[tuple[str, str]] = []
        if isinstance(d, Segment):
            purposes = f.defs.purposes
            out.append(("Purposes", ", ".join(
                f"{e(p)}" + (f" <span class=\"muted\">({e(', '.join(purposes[p][1]))}, from "
                             f"{self.ref(node_id('consent', purposes[p][0].name))})</span>" if p in purposes else "")
                for p in d.purposes) or '<span class="muted">none declared</span>'))
            out.append(("Expected size", _expected(d)))
            if self.run:
                size = f.figures.segments.get(d.name)
                out.append(("Last run", self._size_against(size, d)))
        elif isinstance(d, Attribute):
            out.append(("Type", code(d.type)))
            if self.run and f.figures.profiles is not None and d.name in f.figures.filled:
                filled = f.figures.filled[d.name]
                out.append(("Last run", f"{number(filled)} of {number(f.figures.profiles)} profiles have a value "
                            f"({percent(filled, f.figures.profiles)})"))
        elif isinstance(d, Contract):
            out.append(("Table", code(d.relation)))
            out.append(("Primary key", ", ".join(code(k) for k in d.primary_key) or "—"))
            out.append(("Freshness", self._freshness(d)))
            out.append(("Retention", e(d.retention) if d.retention else ""))
            if self.run:
                c = f.figures.contracts.get(d.name)
                if c is not None:
                    out.append(("Last run", f"{number(c.staged)} rows staged, {number(c.rejected)} rejected"
                                + (f"; newest row {e(c.newest)}" if c.newest else "")))
        elif isinstance(d, Destination):
            out.append(("Channel", e(d.channel)))
            out.append(("Platform", e(d.platform)))
            out.append(("Hashing", "sha256 of personal values" if d.hash == "sha256" else "none: values are sent as they are"))
        elif isinstance(d, Identity):
            if self.run and f.figures.profiles is not None:
                out.append(("Last run", f"{number(f.figures.records)} records became {number(f.figures.profiles)} "
                            f"profiles ({number(f.figures.multi_record)} from more than one record); "
                            f"{number(f.figures.conflicts)} conflicts"))
        elif isinstance(d, Project):
            out.append(("Profile entity", code(d.entity)))
            out.append(("Snippets written in", e(TARGET_NAMES.get(d.expression_dialect, d.expression_dialect))))
            out.append(("Compiled for", ", ".join(e(TARGET_NAMES.get(t, t)) for t in d.targets)))
        return out

    def _size_against(self, size: Optional[int], d: Segment) -> str:
        if size is None:
            return '<span class="muted">not in the run\'s database</span>'
        check = _size_check(size, d)
        return plural(size, "member") + (" " + check if check != "—" else "")

    def _kind_sections(self, kind: str, d) -> str:
        if isinstance(d, Segment):
            return self._segment(d)
        if isinstance(d, Attribute):
            return self._attribute(d)
        if isinstance(d, Contract):
            return self._contract(d)
        if isinstance(d, Destination):
            return self._destination(d)
        if isinstance(d, Identity):
            return self._identity(d)
        if isinstance(d, Consent):
            return self._consent(d)
        if isinstance(d, Project):
            return self._project(d)
        return ""

    def _segment(self, d: Segment) -> str:
        f = self.f
        parts = []
        if d.where:
            attrs = [n for n in f.reads(node_id("segment", d.name)) if n.startswith("attribute:")]
            parts.append(f"<p>A profile is in <strong>{e(d.name)}</strong> when</p><pre class=\"snippet\"><code>"
                         f"{e(d.where.strip())}</code></pre>"
                         + (f"<p>using the attributes {words([self.ref(a) for a in attrs])}.</p>" if attrs else ""))
        if d.include:
            parts.append(f"<p>It also takes in every member of {words([self.ref(node_id('segment', s)) for s in d.include])}.</p>")
        if d.exclude:
            parts.append(f"<p>It leaves out every member of {words([self.ref(node_id('segment', s)) for s in d.exclude], 'or')}.</p>")
        if not parts:
            parts.append("<p>It has no condition: every profile is in it.</p>")
        rows = []
        for destination in f.defs.destinations.values():
            for sync in destination.syncs:
                if sync.segment == d.name:
                    rows.append(self._sync_row(destination, sync, with_segment=False))
        syncs = table(self._sync_head(with_segment=False), rows,
                      empty="No destination receives this segment: it is computed but not sent anywhere.")
        return (section("Who is in it", "".join(parts), "logic")
                + section("Where it is sent", syncs, "syncs", "Only members who granted the sync's purpose are sent."))

    def _sync_head(self, with_segment: bool = True) -> list[str]:
        head = ["Segment" if with_segment else "Destination", "Purpose", "How often", "Mode", "Audience table"]
        return head + (["Rows (last run)", "Without an identifier"] if self.run else []) + ["Tests"]

    def _sync_row(self, destination: Destination, sync, with_segment: bool = True) -> list[str]:
        table_name = sync_table(destination.name, sync.segment)
        row = [self.ref(node_id("segment", sync.segment)) if with_segment else self.ref(node_id("destination", destination.name)),
               e(sync.purpose), e(sync.cadence), e(sync.mode),
               code(f"{self.f.defs.project.schemas.audiences}.{table_name}")]
        if self.run:
            rows, none = self.f.figures.syncs.get(table_name, (None, None))
            row += [number(rows), number(none)]
        tests = self.tests_of(sync_key(destination.name, sync.segment))
        row.append(plural(len(tests), "test") if tests else '<span class="muted">no tests</span>')
        return row

    def _attribute(self, d: Attribute) -> str:
        if d.form == "aggregate":
            text = (f"<p>Computed from the rows of {self.ref(node_id('contract', d.source))} that belong to the profile"
                    + (", keeping the rows where" if d.where else "") + "</p>"
                    + (f'<pre class="snippet"><code>{e(d.where.strip())}</code></pre>' if d.where else "")
                    + f'<p>as</p><pre class="snippet"><code>{e(d.aggregate.strip())}</code></pre>'
                    + (f"<p>A profile with no such row gets {code(d.default)}.</p>" if d.default is not None else
                       "<p>A profile with no such row gets no value (NULL).</p>"))
        elif d.form == "expression":
            attrs = [n for n in self.f.reads(node_id("attribute", d.name)) if n.startswith("attribute:")]
            text = (f'<p>Computed from other attributes of the profile:</p><pre class="snippet"><code>'
                    f"{e(d.expression.strip())}</code></pre>"
                    + (f"<p>It reads {words([self.ref(a) for a in attrs])}.</p>" if attrs else ""))
        else:
            pick = d.pick
            strategy = {"source_priority": "the first source in this order that has a value, its latest value",
                        "most_recent": "the most recent value over all sources",
                        "most_frequent": "the value seen most often over all sources",
                        "first_seen": "the earliest value over all sources"}[pick.strategy]
            rows = [[str(i + 1), self.ref(node_id("contract", s)),
                     link(href_of(field_id(s, pick.field_for(s))), pick.field_for(s))] for i, s in enumerate(pick.from_)]
            text = (f"<p>One value picked from the profile's records: {e(strategy)}.</p>"
                    + table(["Order", "Source", "Field"], rows))
        readers = self.f.read_by(node_id("attribute", d.name))
        used = (f"<p>Used by {words([self.ref(r, full=True) for r in readers])}.</p>" if readers else
                '<p class="muted">No segment, consent or destination uses it yet.</p>')
        return section("How it is computed", text, "logic") + section("Where it is used", used, "used")

    def _contract(self, d: Contract) -> str:
        f = self.f
        rows = []
        for name, spec in d.fields.items():
            rules = []
            if spec.required:
                rules.append("required")
            if spec.unique:
                rules.append("unique")
            if spec.accepted_values is not None:
                rules.append("one of " + ", ".join(code(v) for v in spec.accepted_values))
            if spec.min is not None:
                rules.append(f"at least {code(spec.min)}")
            if spec.max is not None:
                rules.append(f"at most {code(spec.max)}")
            if spec.pattern is not None:
                rules.append(f"matches {code(spec.pattern)}")
            flags = [badge("PHI", "phi") if spec.phi else "", badge("PII", "pii") if spec.pii else ""]
            fid = field_id(d.name, name)
            readers = [r for r in f.lineage.graph.successors(fid)] if fid in f.lineage.graph else []
            ids = f.identifier_of(d.name, name)
            identifier = (f'<br><span class="muted">identifier: {e(", ".join(ids))}</span>' if ids else "")
            rows.append([f'<span id="field-{e(name)}" class="anchor"></span><strong>{e(name)}</strong>{identifier}',
                         e(spec.description or ""), code(spec.type),
                         classification(spec.effective_classification) + " " + " ".join(x for x in flags if x),
                         "; ".join(r for r in rules) or "—", self.refs(sorted(readers, key=node_sort_key))])
        fields = table(["Field", "Description", "Type", "Privacy", "Rules",
                        "Read by"], rows, "fields")
        parts = [section("Fields", fields, "fields", "Every column the source promises. A row that breaks a rule "
                         "is set aside in the rejected table with its reason, never loaded.")]
        if self.run:
            c = f.figures.contracts.get(d.name)
            if c is not None and c.reasons:
                reasons = table(["Reason", "Rows"], [[e(r), number(n)] for r, n in c.reasons])
                parts.append(section("Why rows were rejected (last run)", reasons, "rejects",
                                     f"The most frequent reasons among the {number(c.rejected)} rejected rows."))
        return "".join(parts)

    def _destination(self, d: Destination) -> str:
        f = self.f
        manifest = json.loads(f.outputs.get(f"syncs/{d.name}.json", "{}"))
        rows = []
        for item in manifest.get("identifiers", []):
            rows.append([e(item["type"]), "identifier", e(item["sent_as"]),
                         classification(f.identifier_classification(item["type"]))])
        for item in manifest.get("fields", []):
            rows.append([self.ref(node_id("attribute", item["attribute"])), "attribute", e(item["sent_as"]),
                         classification(f.classification(node_id("attribute", item["attribute"])))])
        sent = table(["Value", "What", "Sent as", "Privacy"], rows, empty="Only the profile id is sent.")
        syncs = table(self._sync_head(), [self._sync_row(d, s) for s in d.syncs],
                      empty="No sync: nothing is sent yet.")
        return (section("What is sent", sent, "sent", "Per member of each audience, one row with these values.")
                + section("Audiences sent", syncs, "syncs", "Only members who granted the sync's purpose are sent."))

    def _identity(self, d: Identity) -> str:
        f = self.f
        rows = []
        for priority, ident in enumerate(d.identifiers, 1):
            carried = [link(href_of(field_id(s, m[ident.type])), f"{s}.{m[ident.type]}")
                       for s, m in sorted(d.sources.items()) if ident.type in m]
            rows.append([str(priority), f"<strong>{e(ident.type)}</strong>", e(ident.normalize),
                         e(ident.max_per_profile) if ident.max_per_profile else "no limit", ", ".join(carried),
                         classification(f.identifier_classification(ident.type)),
                         number(len(d.blocklist.get(ident.type, [])))])
        ids = table(["Priority", "Identifier", "Normalized as", "At most per profile", "Carried by",
                     "Privacy", "Blocked values"], rows)
        parts = [section("Identifiers", ids, "identifiers",
                         "Records are matched one identifier at a time, highest priority first. A match that would give "
                         "a profile more values of a type than allowed is refused and recorded as a conflict.")]
        if d.blocklist:
            blocked = table(["Identifier", "Values that never link anyone"],
                            [[e(t), ", ".join(code(v) for v in values)] for t, values in sorted(d.blocklist.items())])
            parts.append(section("Blocklist", blocked, "blocklist"))
        if self.run and f.figures.conflict_reasons:
            parts.append(section("Conflicts (last run)", table(["Reason", "Count"], [[e(r), number(n)] for r, n in
                                                                                      f.figures.conflict_reasons]),
                                 "conflicts"))
        return "".join(parts)

    def _consent(self, d: Consent) -> str:
        f = self.f
        rows = []
        for purpose, spec in d.purposes.items():
            evidence = [ev for ev in d.evidence if ev.purpose in (None, purpose)]
            where = ", ".join(self.ref(node_id("contract", ev.source)) + (" (log)" if ev.purpose is None else "")
                              for ev in evidence)
            row = [f"<strong>{e(purpose)}</strong>", e(", ".join(spec.channels)), where or "—"]
            if self.run:
                row.append(number(f.figures.granted.get(purpose)))
            rows.append(row)
        head = ["Purpose", "Channels", "Evidence from"] + (["Granted (last run)"] if self.run else [])
        parts = [section("Purposes", table(head, rows), "purposes",
                         "Per purpose the latest evidence wins; a tie or an unknown answer is a denial, and no "
                         "evidence means not granted.")]
        if d.suppress_when:
            parts.append(section("Always suppressed", f"<p>No purpose is granted to a profile for which "
                                 f"{words([self.ref(node_id('attribute', a)) for a in d.suppress_when], 'or')} is true.</p>",
                                 "suppression"))
        return "".join(parts)

    def _project(self, d: Project) -> str:
        g = d.governance
        schemas = table(["What", "Schema"], [[e(role), code(getattr(d.schemas, role))]
                                             for role in ("staging", "identity", "profiles", "audiences", "meta")])
        if g.approvers:
            policy = (f"<p>A change to what a {words([e(k) for k in g.require_approval], 'or')} produces needs "
                      f"{plural(g.min_approvals, 'approval')} from {words([e(a) for a in g.approvers], 'or')}"
                      + (", each signed" if g.require_signed else "") + ". A change of this policy needs them too.</p>")
        else:
            policy = "<p>No approvers are listed, so no change needs the council's sign-off.</p>"
        return section("Governance", policy, "governance") + section("Where tables land", schemas, "schemas")

    def _lineage_section(self, node: str) -> str:
        f = self.f
        reads, readers = f.reads(node), f.read_by(node)
        picture_svg = self.definition_picture(node)
        lists = fact_list([("Reads", self.refs(reads, "nothing")), ("Read by", self.refs(readers, "nothing yet"))])
        note = (f"<p class=\"muted\">It is computed per profile, after {self.ref(node_id('identity', f.defs.identity.name))} "
                "has matched the records.</p>" if f.per_profile(node) and f.defs.identity else "")
        figure = (f'<figure class="picture">{picture_svg}<figcaption>Arrows point from what is read to what reads '
                  "it. Fields appear where a value is read; click a box to open it.</figcaption></figure>"
                  if picture_svg else "")
        return section("Lineage", lists + note + figure, "lineage")

    def _approval_section(self, kind: str, name: str) -> str:
        view = self.f.approval(kind, name)
        status = view.status
        what = "policy" if kind == "project" else "definition"
        if not view.governed:
            lead = (f"<p>Changes to {'an' if kind[0] in 'aeiou' else 'a'} {e(kind)} do not need the council's "
                    "sign-off in this project.</p>"
                    if kind != "project" else "<p>No approvers are listed, so nothing needs a sign-off.</p>")
        elif view.approved:
            lead = (f"<p>{badge('approved', 'ok')} The current {what}"
                    + (f" (version {e(status.version)})" if status.version else "")
                    + f" is approved by {words([e(p) for p in status.approved_by])}.</p>")
        else:
            have = len(status.approved_by)
            lead = (f"<p>{badge('not approved', 'warn')} The current {what}"
                    + (f" (version {e(status.version)})" if status.version else "")
                    + f" has {have} of the {status.needed} approval{'s' if status.needed != 1 else ''} it needs"
                    + (" — earlier approvals were for another version or logic and no longer count" if status.stale else "")
                    + ". An approver runs " + code(f"cdpc approve {name}" + ("" if kind == "segment" else f" --kind {kind}"))
                    + ".</p>")
        rows = [[e(a.version or "—"), f'<code title="{e(a.hash)}">{e(_short(a.hash))}</code>',
                 e(", ".join(a.approved_by)), e(a.approved_at or "—"),
                 badge("current", "ok") if current else badge("out of date: it changed since", "muted")]
                for a, current in view.entries]
        entries = table(["Version", "Data hash", "Approved by", "On", "Still valid?"], rows) if rows else (
            '<p class="empty">No approval on file.</p>' if view.governed else "")
        return section("Approvals", lead + entries, "approvals",
                       "An approval names the exact logic it covers (the data hash): when anything it reads "
                       "changes, the approval no longer counts." if view.governed else "")

    def _tests_section(self, kind: str, d) -> str:
        keys = [(node_id(kind, d.name), d.name)]
        if isinstance(d, Destination):
            keys = [(sync_key(d.name, s.segment), f"sync of {s.segment}") for s in d.syncs]
        rows = []
        for key, label in keys:
            for test in self.tests_of(key):
                rows.append([e(test.name), e(label), code(f"{test.file}:{test.line}"), e(test.description)])
        what = {"segment": "segment", "attribute": "attribute", "destination": "destination's syncs"}[kind]
        body = table(["Test", "Covers", "Defined in", "What it checks"], rows) if rows else (
            f'<p class="empty no-tests">No tests cover this {e(what)} yet.</p>')
        return section("Tests that cover it", body, "tests")

    def _sql_section(self, node: str) -> str:
        per_target = self.f.sql.get(node, {})
        blocks = []
        definition = self.f.definition(node)
        source = self.f.source_text(definition.file) if definition.file else None
        if source is not None:
            blocks.append(f"<details><summary>YAML <span class=\"muted\">{e(definition.file)}</span></summary>"
                          f"<pre class=\"yaml\"><code>{e(source)}</code></pre></details>")
        for target in self.f.defs.project.targets:
            for path, text in per_target.get(target, []):
                blocks.append(f"<details><summary>{e(TARGET_NAMES.get(target, target))} <span class=\"muted\">"
                              f"{e(path)}</span></summary><pre class=\"sql\"><code>{e(text)}</code></pre></details>")
        if not blocks:
            return ""
        return section("Code", "".join(blocks), "sql",
                       "The definition as written, and the SQL cdpc compiles it to for each warehouse the project "
                       "targets.")

    # ------------------------------------------------------------------ project-wide pages

    def lineage_page(self) -> str:
        legend = "".join(f'<li><span class="swatch {k}"></span>{e(kind_words(k)[1])}</li>'
                         for k in ("contract", "identity", "attribute", "consent", "segment", "destination"))
        body = ("<h1>Lineage</h1><p class=\"lead\">How data flows from the sources (left) through the identity and "
                "the attributes to the segments and the destinations (right). An arrow points from what is read to "
                "what reads it; click a box to open its page.</p>"
                f'<ul class="legend">{legend}</ul>'
                f'<figure class="picture wide">{self.project_picture()}</figure>'
                "<p class=\"muted\">Every attribute, consent and segment is computed per profile, after the identity has "
                "matched the records; those arrows are left out to keep the picture readable. Each definition's page "
                "shows its own lineage down to the fields it reads.</p>")
        return self.page("Lineage", body, "lineage.html")

    def privacy_page(self) -> str:
        f, defs = self.f, self.f.defs
        s = defs.project.schemas
        legend = table(["Class", "Meaning"], [[classification(c), e(CLASS_WORDS[c])] for c in CLASSIFICATIONS])
        staged = []
        for contract in defs.contracts.values():
            for name, spec in contract.fields.items():
                flags = " ".join(x for x in (badge("PHI", "phi") if spec.phi else "", badge("PII", "pii") if spec.pii else "") if x)
                staged.append([code(f"{s.staging}.{contract.name}"), link(href_of(field_id(contract.name, name)), name),
                               classification(spec.effective_classification) + (" " + flags if flags else ""),
                               "declared" if spec.classification else ("PHI" if spec.phi else "default")])
        profiles = [[code(f"{s.profiles}.{defs.project.entity}_profiles"), "profile_id", classification("internal"),
                     "a key cdpc derives; it carries no source value in clear"]]
        for name in defs.attributes:
            node = node_id("attribute", name)
            profiles.append([code(f"{s.profiles}.{defs.project.entity}_profiles"), self.ref(node),
                             classification(f.classification(node)), self._deciders(node)])
        for consent in defs.consents.values():
            node = node_id("consent", consent.name)
            profiles.append([code(f"{s.profiles}.{defs.project.entity}_consent"), "granted",
                             classification(f.classification(node)), self._deciders(node)])
        audiences = []
        for name in defs.segments:
            node = node_id("segment", name)
            audiences.append([code(f"{s.audiences}.{name}"), "profile_id (membership)",
                              classification(f.classification(node)), self._deciders(node)])
        for destination in defs.destinations.values():
            if not destination.syncs:
                continue
            tables = [code(f"{s.audiences}.{sync_table(destination.name, sync.segment)}") for sync in destination.syncs]
            where = "<br>".join(tables)
            for id_type in destination.identifiers:
                carried = [field_id(source, mapping[id_type]) for source, mapping in sorted(defs.identity.sources.items())
                           if id_type in mapping]
                audiences.append([where, e(id_type), classification(f.identifier_classification(id_type)),
                                  "the identity reads it from " + ", ".join(self.ref(c) for c in carried)])
            for attr in destination.fields:
                node = node_id("attribute", attr)
                audiences.append([where, self.ref(node), classification(f.classification(node)), self._deciders(node)])
        head = ["Table", "Column", "Class", "Why"]
        body = ("<h1>Privacy per column</h1><p class=\"lead\">Every column a run writes, and its privacy class. A "
                "source field has the class its contract declares (PHI is always restricted; no class means internal). "
                "A computed column takes the highest class among the source fields its lineage reaches: "
                "public &lt; internal &lt; confidential &lt; restricted.</p>"
                + section("The four classes", legend, "classes")
                + section("Profiles and consent", table(head, profiles), "profiles")
                + section("Audiences and syncs", table(head, audiences, empty="No segments."), "audiences",
                          "A segment's membership reveals what its condition reads.")
                + section("Staged sources", table(head[:3] + ["Class from"], staged), "staged"))
        return self.page("Privacy", body, "privacy.html")

    def _deciders(self, node: str) -> str:
        deciders = self.f.lineage.classified_by(node)
        if not deciders:
            return '<span class="muted">reads no source value</span>'
        shown = ", ".join(self.ref(d) for d in deciders[:SHOWN_READERS])
        return "reads " + shown + (f" and {len(deciders) - SHOWN_READERS} more" if len(deciders) > SHOWN_READERS else "")

    def owners_page(self) -> str:
        f, defs = self.f, self.f.defs
        by_owner: dict[str, list[str]] = {}
        missing = []
        for kind in f.owner_kinds():
            for definition in f.definitions(kind):
                node = node_id(kind, definition.name)
                if definition.owner:
                    by_owner.setdefault(definition.owner, []).append(node)
                else:
                    missing.append(node)
        rows = [[f"<strong>{e(owner)}</strong>", number(len(nodes)),
                 ", ".join(self.ref(n, full=True) for n in nodes)] for owner, nodes in sorted(by_owner.items())]
        cover = []
        for kind in f.owner_kinds():
            items = f.definitions(kind)
            named = sum(1 for d in items if d.owner)
            cover.append([e(kind_words(kind)[1]), number(len(items)), number(named), percent(named, len(items))])
        body = ("<h1>Owners</h1><p class=\"lead\">Who answers for each definition: the person or team to ask about "
                "what it means and to review its changes.</p>"
                + section("Owner coverage", table(["Kind", "Definitions", "With an owner", "Share"], cover), "coverage")
                + section("Definitions by owner", table(["Owner", "Count", "Definitions"], rows,
                                                        empty="No definition names an owner."), "by-owner")
                + section("Without an owner", ('<p>' + ", ".join(self.ref(n, full=True) for n in missing) + "</p>")
                          if missing else '<p class="empty">Every definition names an owner.</p>', "missing"))
        return self.page("Owners", body, "owners.html")

    def tests_page(self) -> str:
        f, defs = self.f, self.f.defs
        rows = []
        keys = coverable(defs)
        by_kind: dict[str, list[int]] = {}
        for key, label in keys:
            kind = key.partition(":")[0]
            tests = self.tests_of(key)
            counts = by_kind.setdefault(kind, [0, 0])
            counts[0] += 1
            counts[1] += 1 if tests else 0
            if kind == "sync":
                destination, _, segment = key.partition(":")[2].partition(".")
                what = f"{self.ref(node_id('destination', destination))} ← {self.ref(node_id('segment', segment))}"
            else:
                what = self.ref(key)
            rows.append([e({"segment": "Segment", "attribute": "Attribute", "sync": "Sync"}[kind]), what,
                         ", ".join(f"{e(t.name)} <span class=\"muted\">{e(t.file)}:{t.line}</span>" for t in tests)
                         or '<span class="muted no-tests">no tests</span>'])
        summary = [[e(label), number(by_kind.get(kind, [0, 0])[0]), number(by_kind.get(kind, [0, 0])[1]),
                    percent(by_kind.get(kind, [0, 0])[1], by_kind.get(kind, [0, 0])[0])]
                   for kind, label in (("segment", "Segments"), ("attribute", "Attributes"), ("sync", "Syncs"))]
        covered = sum(1 for key, _ in keys if f.tests.get(key))
        body = ("<h1>Tests</h1><p class=\"lead\">A definition test gives a few input rows, an as-of time and the rows "
                "expected in an output table, so a change that alters who is in a segment or what is sent fails "
                f"before it merges. {covered} of {len(keys)} segments, attributes and syncs are covered "
                f"({percent(covered, len(keys))}).</p>"
                + section("Coverage", table(["Kind", "Count", "Covered", "Share"], summary), "coverage")
                + section("What each test covers", table(["Kind", "Name", "Tests"], rows), "detail"))
        return self.page("Tests", body, "tests.html")

    def run_page(self) -> str:
        f = self.f
        figures = f.figures
        contracts = []
        for name, c in figures.contracts.items():
            total = (c.staged or 0) + (c.rejected or 0)
            contracts.append([self.ref(node_id("contract", name)), number(c.staged), number(c.rejected),
                              percent(c.rejected or 0, total),
                              "<br>".join(f"{e(r)} <span class=\"muted\">×{n:,}</span>" for r, n in c.reasons) or "—",
                              e(c.newest or "—")])
        identity = fact_list([("Records", number(figures.records)), ("Profiles", number(figures.profiles)),
                              ("From more than one record", number(figures.multi_record)),
                              ("Conflicts", number(figures.conflicts)
                               + ("".join(f"<br>{e(r)} <span class=\"muted\">×{n:,}</span>" for r, n in figures.conflict_reasons)))])
        segments = [[self.ref(node_id("segment", name)), number(size), _expected(f.defs.segments[name]),
                     _size_check(size, f.defs.segments[name])] for name, size in figures.segments.items()]
        syncs = []
        for destination in f.defs.destinations.values():
            for sync in destination.syncs:
                rows, none = figures.syncs.get(sync_table(destination.name, sync.segment), (None, None))
                syncs.append([self.ref(node_id("destination", destination.name)), self.ref(node_id("segment", sync.segment)),
                              number(rows), number(none)])
        filled = [[self.ref(node_id("attribute", a)), number(n), percent(n, figures.profiles or 0)]
                  for a, n in figures.filled.items()]
        missing = (section("Not in the database", "<p>" + ", ".join(code(m) for m in figures.missing) + "</p>", "missing",
                           "Tables the definitions name that the run's database does not hold: a definition added "
                           "since that run, or other schema names.") if figures.missing else "")
        when = f" finished {e(figures.finished)}" if figures.finished else ""
        body = (f"<h1>Last run</h1><p class=\"lead\">Figures read from <code>{e(figures.database)}</code>, the database "
                f"of the last <code>cdpc run</code>{when}.</p>"
                + section("Sources", table(["Source", "Staged", "Rejected", "Rejected share", "Top reasons",
                                            "Newest row"], contracts), "sources",
                          "A rejected row broke a rule of its contract; it is kept aside with its reasons.")
                + section("Profiles", identity, "profiles")
                + section("Segments", table(["Segment", "Members", "Expected", "Check"], segments, empty="No segments."),
                          "segments")
                + section("Syncs", table(["Destination", "Segment", "Rows", "Without an identifier"], syncs,
                                         empty="No syncs."), "syncs")
                + section("Attributes filled", table(["Attribute", "Profiles with a value", "Share"], filled,
                                                     empty="No attributes."), "attributes")
                + missing)
        return self.page("Last run", body, "run.html")

    # ------------------------------------------------------------------ search

    def search_index(self) -> list[dict]:
        """One entry per page, definition and field: title, kind, link, and the words it is found by."""
        f, defs = self.f, self.f.defs
        entries = [{"t": title, "k": "page", "u": href, "d": ""} for href, title in
                   (("lineage.html", "Lineage"), ("sources.html#source-map", "Source map"),
                    ("privacy.html", "Privacy per column"), ("owners.html", "Owners"), ("tests.html", "Tests"))]
        if self.run:
            entries.append({"t": "Last run", "k": "page", "u": "run.html", "d": ""})
        for node in f.all_nodes():
            kind, _, name = node.partition(":")
            d = f.definition(node)
            extra = [d.owner or "", *d.tags, f.classification(node) if kind != "project" else ""]
            entries.append({"t": name, "k": kind_words(kind)[0].lower(), "u": page_of(kind, name),
                            "d": d.description or "", "x": " ".join(x for x in extra if x)})
        for contract in defs.contracts.values():
            for name, spec in contract.fields.items():
                extra = [spec.type, spec.effective_classification, "pii" if spec.pii else "", "phi" if spec.phi else ""]
                entries.append({"t": f"{contract.name}.{name}", "k": "field", "u": href_of(field_id(contract.name, name)),
                                "d": spec.description or "", "x": " ".join(x for x in extra if x)})
        return entries


def _size_check(size: Optional[int], d: Segment) -> str:
    """A badge: is a segment's size within its expected_size (a dash when none is declared)?"""
    expected = d.expected_size
    if size is None or expected is None or (expected.min is None and expected.max is None):
        return "—"
    if (expected.min is not None and size < expected.min) or (expected.max is not None and size > expected.max):
        return badge("outside the expected size", "warn")
    return badge("as expected", "ok")


def _expected(d: Segment) -> str:
    size = d.expected_size
    if size is None or (size.min is None and size.max is None):
        return '<span class="muted">not declared</span>'
    if size.min is not None and size.max is not None:
        return f"{size.min:,} to {size.max:,} members"
    return f"at least {size.min:,} members" if size.min is not None else f"at most {size.max:,} members"


def _short(hash_: str) -> str:
    algo, _, digest = hash_.partition(":")
    return f"{algo}:{digest[:12]}…" if digest else hash_[:12]
