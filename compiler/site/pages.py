"""The project-wide pages: the overview, a list per kind with the source map, the lineage,
privacy per column, owners, tests, the last run, and the search index."""

from __future__ import annotations

from ..emit.syncs import sync_table
from ..graph import field_id, node_id
from ..model.contract import CLASSIFICATIONS
from .base import LIST_PAGES, SHOWN_READERS, Writer, expected_text, size_check
from .coverage import coverable
from .diagrams import project_picture
from .facts import TARGET_NAMES, href_of, kind_words, page_of
from .html import (CLASS_WORDS, badge, classification, code, e, facts as fact_list, link, number, percent, plural,
                   section, table)


class ProjectPages(Writer):

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
                figures = f.figures.contracts.get(contract.name)  # none for an erasure's requests: never staged
                row.append(e(figures.newest if figures and figures.newest else "—"))
            rows.append(row)
        head = ["Source", "Table", "Identifiers it carries", "Freshness", "Privacy classes", "Personal fields"]
        head += ["Newest row (last run)"] if self.run else []
        return table(head, rows, empty="This project has no sources.")


    def lineage_page(self) -> str:
        legend = "".join(f'<li><span class="swatch {k}"></span>{e(kind_words(k)[1])}</li>'
                         for k in ("contract", "identity", "attribute", "consent", "segment", "destination"))
        body = ("<h1>Lineage</h1><p class=\"lead\">How data flows from the sources (left) through the identity and "
                "the attributes to the segments and the destinations (right). An arrow points from what is read to "
                "what reads it; click a box to open its page.</p>"
                f'<ul class="legend">{legend}</ul>'
                f'<figure class="picture wide">{project_picture(self.f)}</figure>'
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
        f = self.f
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
                + section("Per segment, attribute and sync", table(["Kind", "Name", "Tests"], rows), "detail"))
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
        segments = [[self.ref(node_id("segment", name)), number(size), expected_text(f.defs.segments[name]),
                     size_check(size, f.defs.segments[name])] for name, size in figures.segments.items()]
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
