"""The reviewer's report: Markdown for a pull-request comment or a job summary.

Sections, in order: result, findings, tests and owners (the definition tests, test
coverage, owner coverage, notes), definitions (added, removed, changed: logic,
upstream only, documentation only), what changed and whether it is breaking,
downstream impact, generated SQL per target (counts, then the unified diff in a
collapsed <details>), audience impact (with --data), approvals. Everything is sorted,
so the same check gives the same report.
"""

from __future__ import annotations

from .changes import UNCHANGED
from .checker import CheckResult
from .formats import summary_lines
from .rules import MAJOR, NONE

MAX_DIFF_LINES = 400  # per target; GitHub comments hold 65,536 characters
MAX_REPORT_CHARS = 60_000
WHAT = {"added": "added", "removed": "removed", "logic": "changed", "upstream": "upstream changed",
        "governance": "governance policy changed", "metadata": "documentation only", "version": "version only"}


def render_report(result: CheckResult) -> str:
    parts = [_header(result), _findings(result)]
    if result.validated:
        parts += [_quality(result), _definitions(result), _reach(result), _audience(result), _approvals(result)]
    text = "\n".join(p for p in parts if p)
    sql = _sql(result, MAX_REPORT_CHARS - len(text))
    if sql:
        # the SQL goes before the audience and approvals sections, where a reviewer looks for it
        marker = "\n## Audience impact" if "\n## Audience impact" in text else "\n## Approvals"
        head, found, tail = text.partition(marker)
        text = head + "\n" + sql + (found + tail if found else "")
    return text.rstrip("\n") + "\n"


def _header(result: CheckResult) -> str:
    icon = "❌" if result.errors else "✅"
    lines = [f"# cdpc check: {result.head.definitions.project.name if result.head.definitions else result.root.name}", ""]
    lines.append(f"{icon} **{summary_lines(result)[-1]}**")
    lines.append("")
    if result.base is None:
        lines.append("No `--base` was given: nothing is compared, so only validation, `generated/`, the tests and stale "
                     "approvals are checked.")
    else:
        lines.append(f"Base: `{result.base.ref}` (`{result.base.short}`); head: the working tree.")
        if result.base.project is not None and not result.base_usable:
            lines.append("")
            lines.append("⚠️ The base does not validate: its definitions could not be compared.")
    return "\n".join(lines) + "\n"


def _findings(result: CheckResult) -> str:
    if not result.diagnostics:
        return "## Findings\n\nNone.\n"
    lines = ["## Findings", "", "| | Where | Code | Message |", "|---|---|---|---|"]
    for d in result.diagnostics:
        lines.append(f"| {'❌' if d.is_error else '⚠️'} | `{d.location}` | {d.code} | {_cell(d.message)} |")
    return "\n".join(lines) + "\n"


def _quality(result: CheckResult) -> str:
    lines = ["## Tests and owners", ""]
    tests = result.tests
    if tests is not None and tests.skipped:
        lines.append(f"Tests: not run: {_md(tests.skipped)}.")
    elif tests is not None and tests.total:
        icon = "❌" if tests.failed else "✅"
        lines.append(f"{icon} Tests: {tests.passed} passed, {len(tests.failed)} failed"
                     + (": " + ", ".join(f"`{n}`" for n in tests.failed) if tests.failed else "") + ".")
    else:
        lines.append("Tests: none yet (`kind: test`).")
    covered = result.coverage
    if covered is not None and covered.total:
        lines += ["", f"Test coverage: **{covered.percent}** of segments, attributes and syncs "
                  f"({len(covered.covered)} of {covered.total})."]
        if covered.uncovered:
            lines += ["", "<details><summary>Not covered by any test</summary>", "", "| Kind | Name |", "|---|---|"]
            lines += [f"| {kind} | `{name}` |" for kind, name in covered.uncovered]
            lines += ["", "</details>"]
    owned = result.owners
    if owned is not None and owned.total:
        lines += ["", f"Owners: {owned.named} of {owned.total} contracts, segments and destinations name an owner"
                  + (": missing for " + ", ".join(f"{kind} `{name}`" for kind, name in owned.missing) if owned.missing
                     else "") + "."]
    for note in result.notes:
        lines += ["", f"Note: {_md(note)}."]
    return "\n".join(lines) + "\n"


def _definitions(result: CheckResult) -> str:
    if result.base is None or not result.base_usable:
        return ""
    changes = [c for c in result.changes if c.what != UNCHANGED]
    lines = ["## Definitions", ""]
    if not changes:
        return "\n".join(lines + ["No definition changed.", ""])
    counts = {}
    for c in changes:
        counts[WHAT[c.what]] = counts.get(WHAT[c.what], 0) + 1
    lines.append(", ".join(f"{n} {what}" for what, n in counts.items()) + ".")
    upstream = [c for c in changes if c.what == "upstream"]
    listed = [c for c in changes if c.what != "upstream"]
    if listed:
        lines += ["", "| Kind | Name | Change | Version | Bump needed | Breaking |", "|---|---|---|---|---|---|"]
    for c in listed:
        old, new = c.versions
        version = (f"{old} → {new}" if old != new else f"{new}") if old and new else (new or old or "")
        bump = c.required_bump.upper() if c.required_bump != NONE else "none"
        breaking = "**yes**" if c.required_bump == MAJOR else "no" if c.what == "logic" else ""
        lines.append(f"| {c.kind} | `{c.name}` | {WHAT[c.what]} | {version} | {bump if c.what == 'logic' else ''} "
                     f"| {breaking} |")
    detailed = [c for c in changes if c.findings or c.policy_changed]
    if detailed:
        lines += ["", "### What changed", ""]
    if result.policy_change is not None:
        lines.append(f"- **governance policy** (needs {result.policy_change.needed} approval"
                     f"{'s' if result.policy_change.needed != 1 else ''} from the base's approvers; this check "
                     "applies the base's policy)")
        lines += [f"  - {_md(text)}" for text in result.policy_change.changes]
    for c in detailed:
        if not c.findings:
            continue
        lines.append(f"- **{c.kind} `{c.name}`** needs a {c.required_bump.upper()} bump")
        for f in c.findings:
            mark = "⚠️ breaking: " if f.level == MAJOR else ""
            lines.append(f"  - {mark}{_md(f.detail)} (`{f.rule.name}`, {f.level.upper()})")
    if upstream:
        lines += ["", f"<details><summary>{len(upstream)} definition{'s' if len(upstream) != 1 else ''} changed only "
                  "through something upstream (their data hash moved: no version bump needed, their approvals are void)"
                  "</summary>", ""]
        for kind in dict.fromkeys(c.kind for c in upstream):
            lines.append(f"- {kind}: " + ", ".join(f"`{c.name}`" for c in upstream if c.kind == kind))
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def _reach(result: CheckResult) -> str:
    if not result.reach:
        return ""
    lines = ["## Downstream impact", ""]
    for reach in result.reach:
        kind, _, name = reach.node.partition(":")
        bits = [f"{len(v)} {label}{'s' if len(v) != 1 else ''} ({', '.join(f'`{x}`' for x in v)})"
                for label, v in (("attribute", reach.attributes), ("segment", reach.segments), ("sync", reach.syncs)) if v]
        lines.append(f"- {kind} `{name}` reaches " + "; ".join(bits))
    return "\n".join(lines) + "\n"


def _sql(result: CheckResult, budget: int) -> str:
    if result.sql is None:
        return ""
    lines = ["## Generated SQL", ""]
    changed = [t for t in result.sql if t.files]
    if not changed:
        return "\n".join(lines + ["No generated SQL changed.", ""])
    lines += ["| Target | Added | Removed | Changed | Lines |", "|---|---|---|---|---|"]
    for t in changed:
        lines.append(f"| {t.target} | {t.count('added')} | {t.count('removed')} | {t.count('changed')} | +{t.plus} −{t.minus} |")
    lines.append("")
    summary = "\n".join(lines)
    details = []
    for t in changed:
        files = ", ".join(f"`{f.key}` ({f.status})" for f in t.files[:8]) + (f" and {len(t.files) - 8} more" if len(t.files) > 8 else "")
        body = [line for f in t.files for line in f.diff]
        cut = len(body) > MAX_DIFF_LINES
        body = body[:MAX_DIFF_LINES]
        block = [f"<details><summary>{t.target}: {len(t.files)} file{'s' if len(t.files) != 1 else ''}, "
                 f"+{t.plus} −{t.minus}</summary>", "", files, "", "```diff", *body, "```"]
        if cut:
            block.append(f"\n(diff cut at {MAX_DIFF_LINES} lines: run `git diff` on generated/{t.target}/ for the rest)")
        block += ["", "</details>", ""]
        details.append("\n".join(block))
    out = summary
    for block in details:
        if len(out) + len(block) > budget:
            out += "\n(more diffs left out: the report would be too long for a pull-request comment)\n"
            break
        out += "\n" + block
    return out


def _audience(result: CheckResult) -> str:
    impact = result.audience
    if impact is None:
        return ""
    lines = ["## Audience impact", "", f"Base and head run on the same data, as of {impact.as_of:%Y-%m-%d %H:%M:%S}.", ""]
    for problem in impact.problems:
        lines.append(f"- ⚠️ {problem}")
    if impact.deltas:
        lines += ["| Audience | Base | Head | Added | Removed |", "|---|---|---|---|---|"]
        for d in impact.deltas:
            lines.append(f"| {d.kind} `{d.name}` | {'' if d.base is None else d.base} | {'' if d.head is None else d.head} "
                         f"| +{d.added} | −{d.removed} |")
    return "\n".join(lines) + "\n"


def _approvals(result: CheckResult) -> str:
    if result.base is None:
        return ""
    lines = ["## Approvals", ""]
    policy = result.policy
    if policy is not None:
        where = f"the base's (`{result.base.ref}`)" if policy.origin == "base" else "the head's (the base has no project)"
        lines += [f"Policy: {where}: {', '.join(policy.governed) or 'nothing'} need"
                  f"{'s' if len(policy.governed) == 1 else ''} {policy.min_approvals} approval"
                  f"{'s' if policy.min_approvals != 1 else ''} from {', '.join(policy.approvers) or 'nobody'}"
                  + ("; approvals added in the change must be SSH-signed by their approver" if policy.require_signed
                     else "") + ".", ""]
    statuses = ([result.policy_change] if result.policy_change is not None else []) + result.approvals
    if not statuses:
        return "\n".join(lines + ["No governed definition changed: no approval needed.", ""])
    lines += ["| Definition | Version | Data hash | Approved by | Needed | Status | Why it needs approval |",
              "|---|---|---|---|---|---|---|"]
    for s in statuses:
        status = "✅ approved" if s.ok else f"❌ missing {s.needed - len(s.approved_by)}"
        label = "governance policy" if s.kind == "project" else f"{s.kind} `{s.name}`"
        lines.append(f"| {label} | {s.version} | `{s.data_hash[:19]}…` | {', '.join(s.approved_by) or '–'} "
                     f"| {s.needed} | {status} | {_cell(_why(result, s))} |")
    refused = [(s, person, r) for s in statuses for person, r in s.refused]
    if refused:
        lines += ["", "Approvals that do not count:", ""]
        lines += [f"- {'governance policy' if s.kind == 'project' else f'{s.kind} `{s.name}`'} by {person}: "
                  f"{r.code} {_md(r.why)}" for s, person, r in refused]
    missing = [s for s in statuses if not s.ok]
    if missing:
        lines += ["", "To approve, a council member checks out this branch and runs, then commits "
                  "approvals.yaml under their own name" + (", signed" if policy is not None and policy.require_signed
                                                           else "") + ", and pushes:", "", "```sh"]
        lines += [f"cdpc approve {s.name}{'' if s.kind == 'segment' else ' --kind ' + s.kind}" for s in missing]
        lines += ["```"]
    return "\n".join(lines) + "\n"


def _why(result: CheckResult, status) -> str:
    if status.kind == "project":
        return "; ".join(status.changes)
    change = next((c for c in result.changes if c.node == f"{status.kind}:{status.name}"), None)
    if change is None or change.what == "added":
        return "new"
    if status.voided_by:
        return "voided by " + ", ".join(status.voided_by)
    return WHAT.get(change.what, change.what)


def _cell(text: str) -> str:
    return _md(text).replace("|", "\\|").replace("\n", " ")


def _md(text: str) -> str:
    """Keep `<` from opening an HTML tag, except inside code spans (which show text as is)."""
    parts = text.split("`")
    return "`".join(p if i % 2 else p.replace("<", "&lt;") for i, p in enumerate(parts))
