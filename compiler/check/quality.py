"""What `cdpc check` says about the project's tests and owners (docs/reference.md §6.4 and docs/reference.md §6.5).

- the definition tests run, as `cdpc test` runs them; each failure is a CDP520 error;
- test coverage: the share of segments, attributes and syncs that some test covers
  (compiler/coverage.py); below `governance.min_test_coverage` it is a CDP620 error;
- owners: every contract, segment and destination names an `owner`; one without is a
  CDP621 warning, an error under `governance.require_owner` (like every governance rule,
  a check of `cdpc check`, never of `validate`); the share that names one is printed;
- a note when a project has more than eight segments and does not mark at most eight
  of them as its primary ones (`tags: [primary]`): start with five to eight.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Optional

from ..coverage import Coverage, coverage
from ..diagnostics import ERROR, WARNING, Diagnostic, Location
from ..model import Definitions
from ..project import LoadedProject
from .policy import Policy

OWNED = ("contract", "segment", "destination")  # the kinds that must name an owner

PRIMARY_TAG = "primary"
MAX_PRIMARY = 8  # "start with five to eight segments"


@dataclass
class TestRun:
    passed: int = 0
    failed: list[str] = field(default_factory=list)  # names of the tests that failed
    seconds: float = 0.0
    skipped: str = ""  # why the tests did not run

    @property
    def total(self) -> int:
        return self.passed + len(self.failed)


@dataclass
class Owners:
    named: int
    missing: list[tuple[str, str]]  # (kind, name)

    @property
    def total(self) -> int:
        return self.named + len(self.missing)


def run_definition_tests(head: LoadedProject) -> tuple[TestRun, list[Diagnostic]]:
    """Every test of the head, on DuckDB in memory; a CDP520 error per failed expectation."""
    defs = head.definitions
    if not defs.tests:
        return TestRun(), []
    if "duckdb" not in defs.project.targets:
        return TestRun(skipped="`duckdb` is not in project.targets, and tests run on DuckDB"), []
    from ..run.deftest import run_tests  # the engines load only when there are tests to run

    began = time.perf_counter()
    tests = [defs.tests[name] for name in sorted(defs.tests)]
    results = run_tests(head, tests)
    run = TestRun(seconds=time.perf_counter() - began)
    findings = []
    for result in results:
        if result.passed:
            run.passed += 1
            continue
        run.failed.append(result.name)
        for failure in result.failures:
            findings.append(Diagnostic("CDP520", f"test `{result.name}`: {failure.title}: {failure.problem}",
                                       failure.location, f"`cdpc test {result.name}` shows the expected and actual "
                                       "rows side by side"))
    return run, findings


def coverage_findings(defs: Definitions, policy: Optional[Policy]) -> tuple[Coverage, list[Diagnostic]]:
    measured = coverage(defs)
    minimum = policy.min_test_coverage if policy is not None else defs.project.governance.min_test_coverage
    if minimum is None or measured.ratio >= minimum:
        return measured, []
    return measured, [Diagnostic(
        "CDP620", f"test coverage is {measured.percent} of segments, attributes and syncs ({len(measured.covered)} of "
        f"{measured.total}), below governance.min_test_coverage {minimum:g}", _governance_loc(defs),
        "add tests that expect rows of what is not covered (`cdpc check` lists it), or lower the minimum "
        "through the council")]


def owners(defs: Definitions) -> Owners:
    missing = [(kind, d.name) for kind in OWNED for d in defs.by_kind(kind).values() if not (d.owner or "").strip()]
    total = sum(len(defs.by_kind(kind)) for kind in OWNED)
    return Owners(total - len(missing), missing)


def owner_findings(defs: Definitions, required: bool) -> list[Diagnostic]:
    """CDP621 for each contract, segment and destination without an owner; errors when `required`."""
    severity = ERROR if required else WARNING
    return [Diagnostic("CDP621", f"{kind} `{name}` names no owner", defs.by_kind(kind)[name].loc("name"),
                       "add `owner:` with the team or person who answers for it, e.g. a team's email address",
                       severity) for kind, name in owners(defs).missing]


def segment_note(defs: Definitions) -> Optional[str]:
    segments = defs.segments
    if len(segments) <= MAX_PRIMARY:
        return None
    primary = sorted(name for name, s in segments.items() if PRIMARY_TAG in s.tags)
    if 1 <= len(primary) <= MAX_PRIMARY:
        return None
    tagged = f"{len(primary)} of them are" if primary else "none is"
    return (f"{len(segments)} segments, and {tagged} tagged `{PRIMARY_TAG}`: start with five to eight segments "
            f"the team acts on, and tag those `tags: [{PRIMARY_TAG}]` so that reviewers see which ones matter most")


def _governance_loc(defs: Definitions) -> Location:
    project = defs.project
    if project.doc is not None and ("governance", "min_test_coverage") in project.doc.positions:
        return project.loc("governance", "min_test_coverage")
    return project.loc("governance")
