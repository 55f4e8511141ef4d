"""One page per definition: what it means, its facts, lineage, approvals, tests and code."""

from __future__ import annotations

import json

from ..emit.syncs import sync_table
from ..graph import field_id, node_id, node_sort_key
from ..model import Attribute, Consent, Contract, Destination, Identity, Project, Segment
from .base import LIST_PAGES, SHOWN_READERS, Writer, expected_text, short_hash
from .coverage import sync_key
from .diagrams import definition_picture
from .facts import TARGET_NAMES, href_of, kind_words
from .html import (CLASS_WORDS, badge, classification, code, e, facts as fact_list, link, number, percent, plural,
                   section, table, words)


class DefinitionPages(Writer):

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
                   ("Data hash", f'<code title="{e(f.prints[node].data_hash)}">{e(short_hash(f.prints[node].data_hash))}</code>'
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
            out.append(("Expected size", expected_text(d)))
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
        picture_svg = definition_picture(self.f, node)
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
        rows = [[e(a.version or "—"), f'<code title="{e(a.hash)}">{e(short_hash(a.hash))}</code>',
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
