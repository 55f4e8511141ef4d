"""What a definition test expects and what it covers (docs/reference.md §6.4).

The output tables a test can expect rows of, with their columns and types, read from the
definitions: `validate` checks a test's rows against them, `cdpc test` reads them. And
coverage: a test *covers* a definition when it expects rows of that definition's own
output table, or of its column of the profiles table:

  staged.C, rejected.C        contract C
  map, conflicts              the identity
  profiles                    each attribute whose column the expected rows name
  consent                     the consent that declares each purpose the rows name
                              (every consent when they name none)
  segments.S                  segment S
  syncs.D.S                   the sync of segment S on destination D, and destination D

Coverage is direct, like a unit test's: a segment test does not cover the attributes its
`where` reads. `cdpc check` reports the share of segments, attributes and syncs that some
test covers (`coverage`); the docs site lists per definition the tests that cover it
(`tests_covering`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .model import Definitions, Test, parse_field_type

PROFILE_ID = "profile_id"
REJECT_REASONS = "_reject_reasons"
TEXT = "string"
LIST = "list"  # a list of texts: `_reject_reasons`
ANY = "any"  # a field a hashing destination sends: hashed text, or the value when it is no personal data
# The kinds whose coverage `cdpc check` measures, in the order it lists them.
MEASURED = ("segment", "attribute", "sync")


@dataclass(frozen=True)
class Table:
    """One output table a test can expect rows of: its columns and their base types
    (`string`, `integer`, ..., or `list`); `profile` is allowed where there is a profile_id."""

    path: tuple  # the path under `expect`: ("segments", "winback_7d_inactive")
    label: str  # how a message names it: segment `winback_7d_inactive`
    columns: dict[str, str]
    unknown_code: str = "CDP231"  # the code for a column it does not have

    @property
    def has_profile(self) -> bool:
        return PROFILE_ID in self.columns


def table_of(defs: Definitions, path: tuple) -> Optional[Table]:
    """The table at `path` under a test's `expect`; None when the project has none there
    (an unknown contract, segment or sync; profiles without an identity)."""
    key = path[0]
    if key in ("staged", "rejected"):
        contract = defs.contracts.get(path[1])
        if contract is None:
            return None
        typed = {name: _base(spec.type) for name, spec in contract.fields.items()}
        if key == "staged":
            return Table(path, f"the staged table of `{path[1]}`", typed, "CDP202")
        return Table(path, f"the rejected table of `{path[1]}`", {**{n: TEXT for n in typed}, REJECT_REASONS: LIST}, "CDP202")
    identity = defs.identity
    if identity is None:
        return None
    if key == "map":
        return Table(path, f"`{identity.name}_map`", {"source": TEXT, "record_key": TEXT, PROFILE_ID: TEXT})
    if key == "conflicts":
        return Table(path, f"`{identity.name}_conflicts`", {"id_type": TEXT, "id_value": TEXT, "reason": TEXT})
    entity = defs.project.entity
    if key == "profiles":
        columns = {PROFILE_ID: TEXT, **{name: _base(a.type) for name, a in defs.attributes.items()}}
        return Table(path, f"`{entity}_profiles`", columns, "CDP203")
    if key == "consent":
        return Table(path, f"`{entity}_consent`", {PROFILE_ID: TEXT, "purpose": TEXT, "granted": "boolean"})
    if key == "segments":
        return Table(path, f"segment `{path[1]}`", {PROFILE_ID: TEXT}) if path[1] in defs.segments else None
    if key == "syncs":
        destination = defs.destinations.get(path[1])
        if destination is None or not any(s.segment == path[2] for s in destination.syncs):
            return None
        columns = {PROFILE_ID: TEXT, **{t: TEXT for t in destination.identifiers}}
        for name in destination.fields:
            attribute = defs.attributes.get(name)
            columns[name] = _base(attribute.type) if attribute is not None and destination.hash == "none" else ANY
        return Table(path, f"the sync of `{path[2]}` on `{path[1]}`", columns)
    return None


def columns_named(rows: list[dict]) -> list[str]:
    """The columns a list of expected rows names, in the order they first appear."""
    seen: dict[str, None] = {}
    for row in rows:
        for column in row:
            seen.setdefault(column, None)
    return list(seen)


def covers(test: Test, defs: Definitions) -> list[tuple[str, str]]:
    """(kind, name) of every definition `test` covers, sorted; a sync is
    ("sync", "<destination>.<segment>") and also covers ("destination", "<destination>")."""
    found: set[tuple[str, str]] = set()
    for path, expectation in test.expect.tables():
        rows = [row for _, listed in expectation.forms() for row in listed]
        key = path[0]
        if key in ("staged", "rejected"):
            found.add(("contract", path[1]))
        elif key in ("map", "conflicts") and defs.identity is not None:
            found.add(("identity", defs.identity.name))
        elif key == "profiles":
            found |= {("attribute", c) for c in columns_named(rows) if c in defs.attributes}
        elif key == "consent":
            purposes = {row.get("purpose") for row in rows if isinstance(row.get("purpose"), str)}
            found |= {("consent", c.name) for c in defs.consents.values() if not purposes or purposes & set(c.purposes)}
        elif key == "segments":
            found.add(("segment", path[1]))
        elif key == "syncs":
            found |= {("sync", f"{path[1]}.{path[2]}"), ("destination", path[1])}
    return sorted(found)


def tests_covering(defs: Definitions) -> dict[tuple[str, str], list[str]]:
    """(kind, name) of a definition (or a sync) -> the names of the tests that cover it, sorted.
    A definition no test covers is not a key."""
    result: dict[tuple[str, str], list[str]] = {}
    for name in sorted(defs.tests):
        for item in covers(defs.tests[name], defs):
            result.setdefault(item, []).append(name)
    return result


@dataclass
class Coverage:
    """Which segments, attributes and syncs some test covers."""

    covered: list[tuple[str, str]] = field(default_factory=list)
    uncovered: list[tuple[str, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.covered) + len(self.uncovered)

    @property
    def ratio(self) -> float:
        """Covered over all, 1.0 for a project with nothing to cover."""
        return len(self.covered) / self.total if self.total else 1.0

    @property
    def percent(self) -> str:
        return f"{self.ratio * 100:.0f}%"


def coverage(defs: Definitions) -> Coverage:
    """Every segment, attribute and sync, in that order and by name, covered or not."""
    covering = tests_covering(defs)
    items = [("segment", n) for n in sorted(defs.segments)] + [("attribute", n) for n in sorted(defs.attributes)]
    items += sorted(("sync", f"{d.name}.{s.segment}") for d in defs.destinations.values() for s in d.syncs)
    result = Coverage()
    for item in items:
        (result.covered if item in covering else result.uncovered).append(item)
    return result


def _base(field_type: str) -> str:
    parsed = parse_field_type(field_type)
    return parsed[0] if parsed else TEXT
