"""The generated SQL diff between base and head, per target, for the reviewer's report.

Both sides are compiled in memory by this cdpc, so the diff shows what the definitions
changed, not what a newer compiler would render differently. Files are matched by
`<layer>__<name>`, ignoring the run-order prefix (`019_`), so a definition inserted
earlier in the run order does not show every later file as renamed.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

_PREFIX = re.compile(r"^\d+_")


@dataclass
class FileDiff:
    key: str  # <layer>__<name>.sql
    status: str  # added | removed | changed
    base_path: str | None
    head_path: str | None
    plus: int = 0
    minus: int = 0
    diff: list[str] = field(default_factory=list)


@dataclass
class TargetDiff:
    target: str
    files: list[FileDiff] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def plus(self) -> int:
        return sum(f.plus for f in self.files)

    @property
    def minus(self) -> int:
        return sum(f.minus for f in self.files)


def sql_key(filename: str) -> str:
    return _PREFIX.sub("", filename)


def _sql_files(outputs: dict[str, str]) -> dict[str, dict[str, str]]:
    """target -> {key -> path}"""
    targets: dict[str, dict[str, str]] = {}
    for path in outputs:
        target, _, name = path.partition("/")
        if name and "/" not in name and name.endswith(".sql"):
            targets.setdefault(target, {})[sql_key(name)] = path
    return targets


def diff_sql(base: dict[str, str], head: dict[str, str]) -> list[TargetDiff]:
    """Per target (in the head's order, then targets only the base had), the files that differ."""
    a, b = _sql_files(base), _sql_files(head)
    result = []
    for target in list(b) + [t for t in a if t not in b]:
        old, new = a.get(target, {}), b.get(target, {})
        diff = TargetDiff(target)
        for key in sorted(old.keys() | new.keys()):
            before = base[old[key]] if key in old else None
            after = head[new[key]] if key in new else None
            if before == after:
                continue
            status = "added" if before is None else "removed" if after is None else "changed"
            lines = list(difflib.unified_diff(
                (before or "").splitlines(), (after or "").splitlines(),
                f"a/generated/{old[key]}" if key in old else "/dev/null",
                f"b/generated/{new[key]}" if key in new else "/dev/null", lineterm=""))
            plus = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
            minus = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
            diff.files.append(FileDiff(key, status, old.get(key), new.get(key), plus, minus, lines))
        result.append(diff)
    return result
