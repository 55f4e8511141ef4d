"""Which definition tests cover which definitions: the one place the site asks.

`covering_tests(project)` is the hook for definition tests (`kind: test`): it returns,
per key, the tests whose expected rows cover it. Keys are node ids for segments and
attributes (`segment:vip_retention`, `attribute:spend_365d`) and `sync:<destination>.<segment>`
for a destination's sync (its audience table `sync__<destination>__<segment>`). Every
page section that shows tests (a definition's "Tests that cover it", the coverage table)
reads this mapping and nothing else; a key that is absent means no test covers it, and
the site says so. What a test covers is compiler/coverage.py's rule, the one `cdpc check`
counts with.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..coverage import tests_covering
from ..graph import node_id
from ..model import Definitions


@dataclass(frozen=True)
class TestRef:
    """One definition test, as the site names it: a link to its file and line, and its description."""

    __test__ = False  # not a pytest class, whatever imports it

    name: str
    file: str  # relative to the project root
    line: int
    description: str = ""


def covering_tests(project) -> dict[str, list[TestRef]]:
    """key -> the tests that cover it, each list sorted by test name (see the module's docstring)."""
    defs = project.definitions
    found: dict[str, list[TestRef]] = {}
    for (kind, name), tests in tests_covering(defs).items():
        key = sync_key(*name.split(".", 1)) if kind == "sync" else node_id(kind, name)
        found[key] = [_ref(defs.tests[test], project.root) for test in sorted(tests)]
    return found


def _ref(test, root) -> TestRef:
    where = test.loc()  # the loader names files relative to the project root
    file = Path(where.file)
    if file.is_absolute():
        file = file.relative_to(Path(root).resolve())
    return TestRef(test.name, file.as_posix(), where.line, test.description or "")


def sync_key(destination: str, segment: str) -> str:
    return f"sync:{destination}.{segment}"


def coverable(defs: Definitions) -> list[tuple[str, str]]:
    """What tests should cover, in order: (key, label) for every segment, attribute and sync."""
    found = [(node_id("segment", name), name) for name in defs.segments]
    found += [(node_id("attribute", name), name) for name in defs.attributes]
    for destination in defs.destinations.values():
        found += [(sync_key(destination.name, sync.segment), f"{destination.name} ← {sync.segment}")
                  for sync in destination.syncs]
    return found
