"""How `cdpc check` prints its findings: text (as `cdpc validate`), json, or GitHub annotations."""

from __future__ import annotations

import json
from typing import Iterable

from ..diagnostics import Diagnostic
from .changes import UNCHANGED
from .checker import CheckResult

FORMATS = ("text", "json", "github")


def summary_lines(result: CheckResult) -> list[str]:
    lines = []
    if result.base is not None:
        if result.base.project is None:
            lines.append(f"base {result.base.ref} ({result.base.short}): no definitions/ there, everything is new")
        elif result.base_usable:
            counts = _counts(result)
            lines.append(f"base {result.base.ref} ({result.base.short}): " + (", ".join(
                f"{n} {what}" for what, n in counts.items()) if counts else "no definition changed"))
    lines += quality_lines(result)
    errors, warnings = result.errors, result.warnings
    verdict = "check failed" if errors else "check passed"
    lines.append(f"{verdict}: {_plural(errors, 'error')}, {_plural(warnings, 'warning')}")
    return lines


def quality_lines(result: CheckResult) -> list[str]:
    """Tests, test coverage (with what no test covers), owner coverage and notes."""
    lines = []
    tests = result.tests
    if tests is not None:
        if tests.skipped:
            lines.append(f"tests: not run: {tests.skipped}")
        elif tests.total:
            lines.append(f"tests: {tests.passed} passed, {len(tests.failed)} failed ({tests.seconds:.2f} s)"
                         + (": " + ", ".join(tests.failed) if tests.failed else ""))
        else:
            lines.append("tests: none (add `kind: test` definitions: docs/commands/test.md)")
    if result.coverage is not None and result.coverage.total:
        covered = result.coverage
        lines.append(f"test coverage: {covered.percent} of segments, attributes and syncs "
                     f"({len(covered.covered)} of {covered.total})")
        if covered.uncovered:
            lines.append("  not covered: " + ", ".join(f"{kind} {name}" for kind, name in covered.uncovered))
    if result.owners is not None and result.owners.total:
        owned = result.owners
        lines.append(f"owners: {owned.named} of {owned.total} contracts, segments and destinations name an owner "
                     f"({owned.named * 100 // owned.total}%)"
                     + ("; missing: " + ", ".join(f"{kind} {name}" for kind, name in owned.missing) if owned.missing else ""))
    lines += [f"note: {note}" for note in result.notes]
    return lines


def _counts(result: CheckResult) -> dict[str, int]:
    counts: dict[str, int] = {}
    labels = {"added": "added", "removed": "removed", "logic": "changed", "upstream": "changed upstream only",
              "governance": "governance policy changed", "metadata": "changed in documentation only",
              "version": "with only a new version"}
    for change in result.changes:
        if change.what != UNCHANGED:
            label = labels[change.what]
            counts[label] = counts.get(label, 0) + 1
    return counts


def to_json(result: CheckResult) -> str:
    base = None
    if result.base is not None:
        base = {"ref": result.base.ref, "commit": result.base.commit, "usable": result.base_usable}
    content = {
        "ok": result.errors == 0,
        "errors": result.errors,
        "warnings": result.warnings,
        "base": base,
        "diagnostics": [d.to_dict() for d in result.diagnostics],
        "changes": [{
            "kind": c.kind, "name": c.name, "change": c.what,
            "base_version": c.versions[0], "head_version": c.versions[1],
            "required_bump": c.required_bump,
            "base_data_hash": c.base_print.data_hash if c.base_print else None,
            "head_data_hash": c.head_print.data_hash if c.head_print else None,
            "findings": [{"rule": f.rule.name, "bump": f.level, "detail": f.detail} for f in c.findings],
        } for c in result.changes if c.what != UNCHANGED],
        "policy": None if result.policy is None else {
            "from": result.policy.origin, "hash": result.policy.hash, **result.policy.content(),
            "changed": None if result.policy_change is None else result.policy_change.changes},
        "tests": None if result.tests is None else {
            "passed": result.tests.passed, "failed": result.tests.failed, "skipped": result.tests.skipped or None},
        "coverage": None if result.coverage is None else {
            "ratio": round(result.coverage.ratio, 4),
            "covered": [f"{kind} {name}" for kind, name in result.coverage.covered],
            "uncovered": [f"{kind} {name}" for kind, name in result.coverage.uncovered]},
        "owners": None if result.owners is None else {
            "named": result.owners.named, "total": result.owners.total,
            "missing": [f"{kind} {name}" for kind, name in result.owners.missing]},
        "notes": result.notes,
        "approvals": [{
            "kind": s.kind, "name": s.name, "version": s.version, "data_hash": s.data_hash,
            "approved_by": s.approved_by, "needed": s.needed, "ok": s.ok, "voided_by": s.voided_by,
            "not_counted": [{"approver": p, "code": r.code, "why": r.why} for p, r in s.refused],
        } for s in ([result.policy_change] if result.policy_change is not None else []) + result.approvals],
    }
    return json.dumps(content, indent=2, ensure_ascii=False) + "\n"


def github_annotations(diagnostics: Iterable[Diagnostic], path_prefix: str = "") -> list[str]:
    """`::error file=…,line=…,col=…::CODE message` workflow commands, one per finding.

    Paths are made relative to the repository root (`path_prefix`: where the project sits
    in it), as GitHub expects; a finding without a file becomes a plain annotation."""
    lines = []
    for d in diagnostics:
        level = "error" if d.is_error else "warning"
        props = []
        if d.location.file:
            props.append(f"file={_prop(path_prefix + d.location.file)}")
            if d.location.line:
                props.append(f"line={d.location.line}")
                if d.location.col:
                    props.append(f"col={d.location.col}")
        text = f"{d.code} {d.message}" + (f"\nhint: {d.hint}" if d.hint else "")
        lines.append(f"::{level}{' ' if props else ''}{','.join(props)}::{_data(text)}")
    return lines


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")
