"""Version rules: which bump a definition's own change needs, and whether it got it.

Contracts follow the compatibility table of compat.py. Every other versioned kind
follows the rule of docs/reference.md §4.1: a change of the definition's own semantic keys needs a bump,
MAJOR when it can remove members or rows that were there, else MINOR; when cdpc
cannot tell, MAJOR. The tables below spell that out per key. A change upstream needs
no bump here (it changes the data hash, which approvals catch), documentation needs
none, and a version never goes backwards (CDP606).
"""

from __future__ import annotations

from typing import Any, Optional

from ..diagnostics import Diagnostic
from ..model.access import VISIBILITIES


from ..model import Sync
from ..model.base import semver_tuple
from .compat import classify_contract
from .rules import MAJOR, MINOR, NONE, PATCH, RANK, Finding, Rule, added, always, apply, is_widening, names, removed


def _grew(what: str):
    return lambda old, new: f"{what} added: {names(more)}" if (more := added(old, new)) else None


def _shrank(what: str):
    return lambda old, new: f"{what} removed: {names(gone)}" if (gone := removed(old, new)) else None


def _reordered(what: str):
    return lambda old, new: f"{what} reordered" if not added(old, new) and not removed(old, new) else None


def _include_narrowed(old: Any, new: Any) -> Optional[str]:
    if new and not old:
        return f"include added ({names(new)}): members must now be in one of them"
    gone = removed(old, new)
    return f"include no longer lists {names(gone)}" if new and gone else None


def _include_widened(old: Any, new: Any) -> Optional[str]:
    if old and not new:
        return "include removed: no include restriction any more"
    more = added(old, new)
    return f"include also lists {names(more)}" if old and more else None


SEGMENT_RULES: tuple[Rule, ...] = (
    Rule("where-changed", ("where",), MAJOR, "`where` added or changed (cdpc cannot prove it keeps every member)",
         lambda old, new: None if new is None else f"where `{old}` -> `{new}`" if old else f"where `{new}` added"),
    Rule("where-removed", ("where",), MINOR, "`where` removed (every profile qualifies)",
         lambda old, new: "where removed" if new is None else None),
    Rule("include-narrowed", ("include",), MAJOR, "`include` added where there was none, or an entry removed while others stay",
         _include_narrowed),
    Rule("include-widened", ("include",), MINOR, "`include` removed entirely, or an entry added to a non-empty list",
         _include_widened),
    Rule("exclude-added", ("exclude",), MAJOR, "an `exclude` entry added", _grew("exclude")),
    Rule("exclude-removed", ("exclude",), MINOR, "an `exclude` entry removed", _shrank("exclude")),
    Rule("purposes-removed", ("purposes",), MAJOR, "a purpose removed (its syncs lose the audience)", _shrank("purposes")),
    Rule("purposes-added", ("purposes",), MINOR, "a purpose added", _grew("purposes")),
    Rule("expected-size-changed", ("expected_size",), MINOR, "`expected_size` changed (a run check, not membership)",
         always("expected_size {old} -> {new}")),
)

ATTRIBUTE_RULES: tuple[Rule, ...] = (
    Rule("attribute-type-widened", ("type",), MINOR, "`type` widened (as for contract fields)",
         lambda old, new: f"type {old} -> {new} (widening)" if is_widening(old, new) else None),
    Rule("attribute-type-changed", ("type",), MAJOR, "`type` changed otherwise",
         lambda old, new: None if is_widening(old, new) else f"type {old} -> {new}"),
    Rule("attribute-logic-changed", ("source", "aggregate", "where", "expression", "pick", "default"), MAJOR,
         "its logic changed: `source`, `aggregate`, `where`, `expression`, `pick` or `default` (values change for existing profiles)",
         always("`{old}` -> `{new}`")),
)

IDENTITY_RULES: tuple[Rule, ...] = (
    Rule("identity-changed", ("identifiers", "sources", "blocklist"), MAJOR,
         "`identifiers`, `sources` or `blocklist` changed: profiles can merge or split, so profiles that were there can disappear",
         always("changed")),
)


def _purposes(kind: str):
    def fires(old: Any, new: Any) -> Optional[str]:
        old, new = old or {}, new or {}
        keys = sorted(set(old) - set(new)) if kind == "removed" else sorted(set(new) - set(old))
        return f"purposes {kind}: {names(keys)}" if keys else None
    return fires


def _channels(kind: str):
    def fires(old: Any, new: Any) -> Optional[str]:
        old, new = old or {}, new or {}
        found = []
        for purpose in sorted(set(old) & set(new)):
            a, b = old[purpose].get("channels", []), new[purpose].get("channels", [])
            diff = removed(a, b) if kind == "removed" else added(a, b)
            if diff:
                found.append(f"`{purpose}` {kind} {names(diff)}")
        return "channels: " + "; ".join(found) if found else None
    return fires


def _evidence_changed(old: Any, new: Any) -> Optional[str]:
    old, new = old or {}, new or {}
    changed = [p for p in sorted(set(old) & set(new)) if old[p].get("sources") != new[p].get("sources")]
    return f"sources changed for {names(changed)}" if changed else None


CONSENT_RULES: tuple[Rule, ...] = (
    Rule("consent-source-changed", ("source", "purpose_field", "granted_field", "time_field"), MAJOR,
         "where grants come from changed: `source`, `purpose_field`, `granted_field` or `time_field`",
         always("{old} -> {new}")),
    Rule("evidence-changed", ("purposes",), MAJOR,
         "a purpose's `sources` changed: evidence added, removed or read otherwise (grants can disappear)",
         _evidence_changed),
    Rule("purpose-removed", ("purposes",), MAJOR, "a purpose removed (its grants disappear)", _purposes("removed")),
    Rule("purpose-added", ("purposes",), MINOR, "a purpose added", _purposes("added")),
    Rule("channels-removed", ("purposes",), MAJOR, "a purpose loses a channel", _channels("removed")),
    Rule("channels-added", ("purposes",), MINOR, "a purpose gains a channel", _channels("added")),
    Rule("suppression-added", ("suppress_when",), MAJOR, "a `suppress_when` attribute added (grants can disappear)",
         _grew("suppress_when")),
    Rule("suppression-removed", ("suppress_when",), MINOR, "a `suppress_when` attribute removed", _shrank("suppress_when")),
)


def _sync_key(sync: dict) -> str:
    return f"{sync.get('segment')}/{sync.get('purpose')}"


def _syncs(kind: str, default: Any = None):
    """`default`: the value of a key that the semantic content leaves out at its default."""
    def fires(old: Any, new: Any) -> Optional[str]:
        a = {_sync_key(s): s for s in old or []}
        b = {_sync_key(s): s for s in new or []}
        if kind == "removed":
            keys = sorted(set(a) - set(b))
        elif kind == "added":
            keys = sorted(set(b) - set(a))
        elif kind == "reordered":
            same = set(a) == set(b) and all(a[k] == b[k] for k in a)
            return "syncs reordered" if same and list(a) != list(b) else None
        else:
            keys = sorted(k for k in set(a) & set(b) if a[k].get(kind, default) != b[k].get(kind, default))
            return "; ".join(f"sync `{k}` {kind} {a[k].get(kind, default)} -> {b[k].get(kind, default)}"
                             for k in keys) or None
        return f"syncs {kind}: {names(keys)}" if keys else None
    return fires


DESTINATION_RULES: tuple[Rule, ...] = (
    Rule("delivery-changed", ("channel", "platform", "hash"), MAJOR,
         "`channel`, `platform` or `hash` changed (what the receiving side gets is different)", always("{old} -> {new}")),
    Rule("identifiers-removed", ("identifiers",), MAJOR, "an identifier no longer sent", _shrank("identifiers")),
    Rule("identifiers-added", ("identifiers",), MINOR, "an identifier added", _grew("identifiers")),
    Rule("identifiers-reordered", ("identifiers",), MINOR, "identifiers reordered", _reordered("identifiers")),
    Rule("fields-removed", ("fields",), MAJOR, "a field no longer sent", _shrank("fields")),
    Rule("fields-added", ("fields",), MINOR, "a field added", _grew("fields")),
    Rule("fields-reordered", ("fields",), MINOR, "fields reordered", _reordered("fields")),
    Rule("sync-removed", ("syncs",), MAJOR, "a sync (segment, purpose) removed", _syncs("removed")),
    Rule("sync-added", ("syncs",), MINOR, "a sync added", _syncs("added")),
    Rule("sync-mode-changed", ("syncs",), MAJOR, "a sync's `mode` changed (e.g. mirror stops removing)", _syncs("mode")),
    Rule("sync-cadence-changed", ("syncs",), MINOR, "a sync's `cadence` changed", _syncs("cadence")),
    Rule("sync-max-remove-changed", ("syncs",), MINOR,
         "a sync's `max_remove` changed (how much of its audience may leave before a run holds it)",
         _syncs("max_remove", Sync.model_fields["max_remove"].default)),
    Rule("syncs-reordered", ("syncs",), MINOR, "syncs reordered", _syncs("reordered")),
)

def _seen(kind: str):
    """`see` levels whose columns the role now sees less (`clear` > `hashed` > `hidden`) or more of."""
    def fires(old: Any, new: Any) -> Optional[str]:
        old, new = old or {}, new or {}
        changed = [f"`{level}` {old.get(level)} -> {new.get(level)}" for level in sorted(set(old) | set(new))
                   if old.get(level) in VISIBILITIES and new.get(level) in VISIBILITIES
                   and (VISIBILITIES.index(new[level]) > VISIBILITIES.index(old[level])) == (kind == "less")
                   and new[level] != old[level]]
        return "see: " + ", ".join(changed) if changed else None
    return fires


ACCESS_RULES: tuple[Rule, ...] = (
    Rule("role-changed", ("role",), MAJOR, "`role` changed: the old role loses every view", always("role {old} -> {new}")),
    Rule("access-narrowed", ("see",), MAJOR, "a classification is shown less (`clear` -> `hashed` -> `hidden`): "
         "the role loses values it read", _seen("less")),
    Rule("access-widened", ("see",), MINOR, "a classification is shown more: the role reads values it did not "
         "(require approval of `access` to have the council sign it off)", _seen("more")),
)

VERSION_RULES: dict[str, tuple[Rule, ...]] = {
    "segment": SEGMENT_RULES,
    "attribute": ATTRIBUTE_RULES,
    "identity": IDENTITY_RULES,
    "consent": CONSENT_RULES,
    "destination": DESTINATION_RULES,
    "access": ACCESS_RULES,
}
FALLBACK = Rule("other-change", ("*",), MAJOR, "any other change of the definition's own keys (cdpc cannot tell: MAJOR)",
                always("changed"))


def classify(kind: str, old: dict, new: dict) -> list[Finding]:
    """Own changes of a definition (semantic content of both sides), each with the bump it needs."""
    if kind == "contract":
        return classify_contract(old, new)
    if kind not in VERSION_RULES:
        return []  # the project has no version
    return apply(VERSION_RULES[kind], FALLBACK, old, new)


def required_bump(findings: list[Finding]) -> str:
    return max((f.level for f in findings), key=RANK.__getitem__, default=NONE)


def bump_of(old: str, new: str) -> str:
    """What kind of bump old -> new is: major, minor, patch, none, or `backwards`."""
    a, b = semver_tuple(old), semver_tuple(new)
    if b < a:
        return "backwards"
    if b[0] > a[0]:
        return MAJOR
    if b[1] > a[1]:
        return MINOR
    return PATCH if b[2] > a[2] else NONE


def next_version(old: str, level: str) -> str:
    major, minor, patch = semver_tuple(old)
    if level == MAJOR:
        return f"{major + 1}.0.0"
    if level == MINOR:
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


def version_findings(change) -> list[Diagnostic]:
    """CDP606 for a version that went backwards; CDP602/CDP603 for each change the bump does not cover."""
    base, head = change.base, change.head
    old, new = getattr(base, "version", None), getattr(head, "version", None)
    if old is None or new is None:
        return []
    bump = bump_of(old, new)
    label = f"{change.kind} `{change.name}`"
    if bump == "backwards":
        return [Diagnostic("CDP606", f"{label}: version went backwards, {old} on the base, {new} here",
                           head.loc("version"), f"versions only go up: use {next_version(old, required_bump(change.findings) if change.findings else PATCH)} or higher")]
    out = []
    for finding in change.findings:
        if RANK[bump] >= RANK[finding.level]:
            continue
        breaking = change.kind == "contract" and finding.level == MAJOR
        what = "breaking change" if breaking else "change"
        out.append(Diagnostic(
            "CDP602" if breaking else "CDP603",
            f"{label}: {what} ({finding.rule.name}): {finding.detail}; needs a {finding.level.upper()} version bump, "
            f"but the version is {new} (base {old})",
            change.location(finding.path), f"set `version: {next_version(old, finding.level)}`"))
    return out
