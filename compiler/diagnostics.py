"""One Diagnostic type for every error and warning cdpc reports, and the table of codes.

Every code used anywhere in the package must be listed in CODES and documented in
docs/errors.md; tests/test_docs.py fails when one is not.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Optional

ERROR = "error"
WARNING = "warning"

# code -> one-line title. Grouped: 0xx load, 1xx model, 2xx references, 3xx snippets,
# 4xx privacy/destinations, 5xx data and run, 6xx check and governance, 9xx environment.
CODES: dict[str, str] = {
    "CDP001": "YAML syntax error",
    "CDP002": "file is not valid UTF-8",
    "CDP003": "file has no documents",
    "CDP004": "duplicate key in a mapping",
    "CDP005": "document is not a mapping with a `kind`",
    "CDP006": "unknown kind",
    "CDP007": "no project definition",
    "CDP008": "more than one project definition",
    "CDP101": "unknown key",
    "CDP102": "missing required key",
    "CDP103": "value has the wrong type or form",
    "CDP104": "invalid name",
    "CDP105": "invalid version (expected semver MAJOR.MINOR.PATCH)",
    "CDP106": "duplicate definition name",
    "CDP107": "invalid duration",
    "CDP108": "invalid field type",
    "CDP201": "unknown contract",
    "CDP202": "unknown field",
    "CDP203": "unknown attribute",
    "CDP204": "unknown segment",
    "CDP205": "unknown purpose",
    "CDP206": "unknown identifier type",
    "CDP207": "identity source has no primary_key",
    "CDP208": "source is not an identity source",
    "CDP209": "more than one identity definition",
    "CDP210": "event_time required",
    "CDP211": "segment include/exclude cycle",
    "CDP212": "attribute cycle",
    "CDP213": "duplicate purpose",
    "CDP214": "column name collision",
    "CDP215": "rule does not apply to this field type",
    "CDP216": "invalid regular expression",
    "CDP217": "duplicate entry in a list",
    "CDP218": "table name collision",
    "CDP219": "output schema is a schema cdpc uses for scratch work",
    "CDP220": "attribute named like an as-of keyword",
    "CDP221": "field or attribute named like a SQL keyword",
    "CDP222": "`where` is not a condition",
    "CDP223": "retention counts from an event_time that may be NULL",
    "CDP224": "access definition in a project without an identity",
    "CDP225": "access shows more sensitive data more clearly than less sensitive data",
    "CDP226": "erasure source or field is not what the erasure needs",
    "CDP227": "erasure source is read by another definition",
    "CDP228": "erasure definition in a project without an identity",
    "CDP229": "more than one erasure definition",


    "CDP230": "test expects rows of a table the project does not have",
    "CDP231": "test row names a column its table does not have",
    "CDP301": "SQL snippet does not parse",
    "CDP302": "SQL snippet is not a single expression",
    "CDP303": "name not allowed in this snippet",
    "CDP304": "function not supported on every target",
    "CDP305": "aggregate expected",
    "CDP306": "aggregate not allowed here",
    "CDP307": "window function not allowed in a snippet",
    "CDP308": "function or construct not on the snippet allow-list",
    "CDP309": "snippet reads columns without naming them",
    "CDP310": "snippet combines values of types that do not go together",
    "CDP311": "snippet's value does not fit the attribute's type",
    "CDP312": "condition is not true/false",
    "CDP313": "Jinja template in a snippet",
    "CDP401": "purpose does not list the destination's channel",
    "CDP402": "purpose not allowed by the segment",
    "CDP403": "PHI-derived field, identifier or audience would be sent",
    "CDP404": "identifier or PII-derived field not hashed on an ads channel",
    "CDP405": "PHI field identifies records",
    "CDP406": "PII-derived field sent to ads hashed as it is: the platform may not match it",
    "CDP409": "identifier or field has no column in the platform's upload file",
    "CDP501": "raw data file missing",
    "CDP502": "raw data column missing",
    "CDP503": "raw data file unreadable",
    "CDP504": "duplicate primary key or unique value",
    "CDP505": "data older than freshness error_after",
    "CDP506": "data older than freshness warn_after",
    "CDP507": "segment size outside expected_size",
    "CDP508": "rows rejected by the contract",
    "CDP509": "the engine refused a statement",
    "CDP510": "raw file header names a column twice",
    "CDP511": "raw relation missing from the warehouse",
    "CDP512": "malformed raw rows quarantined",
    "CDP513": "an access role can read more than its views",
    "CDP514": "erasure requests ignored",
    "CDP516": "a sync published although it would be held: an erasure is never held",
    "CDP515": "meta schema is an output schema or one cdpc uses for scratch work",
    "CDP530": "sync held: its change was not published",


    "CDP520": "definition test failed",
    "CDP601": "generated/ is stale",
    "CDP602": "breaking contract change without a MAJOR bump",
    "CDP603": "change without the required version bump",
    "CDP604": "approval missing for a changed definition",
    "CDP605": "approver not in governance.approvers",
    "CDP606": "version went backwards",
    "CDP607": "approval names an unknown definition",
    "CDP608": "the base does not validate",
    "CDP609": "approval does not match the current hash",
    "CDP610": "audience impact could not be computed",
    "CDP611": "approval added by a commit its approver did not author",
    "CDP612": "approval added by an unsigned or unverifiable commit",
    "CDP613": "approval signed by a key not allowed for its approver",
    "CDP614": "approver authored part of the change (four eyes)",
    "CDP615": "approval not committed",
    "CDP616": "governance policy changed without approval",
    "CDP620": "test coverage below governance.min_test_coverage",
    "CDP621": "definition names no owner",
    "CDP901": "bad environment",
    "CDP902": "git base cannot be read",
    "CDP903": "raw data directory missing",
    "CDP905": "a relation cdpc does not own is in the way",
    "CDP906": "another run holds the warehouse",
    "CDP907": "no published run in the warehouse",
    "CDP908": "a sync's changes or history table is missing or out of date",
    "CDP909": "the engine ran out of memory",
    "CDP910": "an access definition's role does not exist in the warehouse",
    "CDP911": "erasure report cannot read what it reports on",
    "CDP912": "erasure report on a project without an erasure",


    "CDP921": "no such sync",
    "CDP922": "the run did not publish this sync",
    "CDP923": "nothing held to release",
}


@dataclass(frozen=True, order=True)
class Location:
    file: str = ""
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if not self.file:
            return "<project>"
        return f"{self.file}:{self.line}:{self.col}" if self.line else self.file


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    location: Location = field(default_factory=Location)
    hint: str = ""
    severity: str = ERROR

    def __post_init__(self) -> None:
        if self.code not in CODES:  # a programming error, caught by the test suite
            raise ValueError(f"undocumented diagnostic code {self.code}")

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def sort_key(self) -> tuple:
        return (self.location, self.code, self.message)

    def render(self) -> str:
        prefix = "" if self.is_error else "warning: "
        text = f"{self.location}: {self.code} {prefix}{self.message}"
        return text + (f"\n    hint: {self.hint}" if self.hint else "")

    def to_dict(self) -> dict:
        return {
            "code": self.code,
            "severity": self.severity,
            "file": self.location.file,
            "line": self.location.line,
            "col": self.location.col,
            "message": self.message,
            "hint": self.hint,
        }


class DiagnosticError(Exception):
    """Raised by a stage that cannot go on; carries every diagnostic found so far."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        super().__init__("\n".join(d.render() for d in self.diagnostics))


def sort_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    unique = {(d.location, d.code, d.message): d for d in diagnostics}
    return sorted(unique.values(), key=Diagnostic.sort_key)


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)


def did_you_mean(word: str, candidates: Iterable[str], aliases: Optional[Mapping[str, str]] = None) -> str:
    """A hint naming the closest candidate, or listing the few there are.

    `aliases` maps words other languages use to a candidate (`varchar` -> `string`). Closeness
    is difflib's ratio plus a bonus for a shared beginning, so `int` is closest to `integer`,
    not to `bigint` (which holds the same three letters as a larger share of itself)."""
    options = sorted(set(candidates))
    best = closest(word, options, aliases)
    if best is not None:
        return f"did you mean `{best}`?"
    if 0 < len(options) <= 12:
        return "expected one of: " + ", ".join(f"`{o}`" for o in options)
    return ""


def closest(word: str, options: Iterable[str], aliases: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """The option `word` most likely meant, or None when none is close (difflib's cutoff, 0.6)."""
    options = sorted(set(options))
    lowered = str(word).lower()
    alias = (aliases or {}).get(lowered)
    if alias in options:
        return alias
    scored = []
    for option in options:
        ratio = difflib.SequenceMatcher(None, lowered, option.lower()).ratio()
        if ratio < 0.6:
            continue
        shared = len(os.path.commonprefix([lowered, option.lower()]))
        scored.append((ratio + shared / max(len(lowered), len(option), 1), option))
    return max(scored, key=lambda pair: (pair[0], [-ord(c) for c in pair[1]]))[1] if scored else None
