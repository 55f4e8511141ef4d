"""check: what CI runs on a pull request (`cdpc check`), and the approvals it asks for (`cdpc approve`).

gitbase    read the base's definitions straight from git objects
changes    per definition: added, removed, changed (logic, upstream only, documentation only)
rules      the shape of a rule table and the engine that applies one
compat     contract compatibility: the breaking-change table (docs/reference.md §4.1)
versions   version-bump tables for the other kinds, and the bump check
approvals  approval rules over definitions/governance/approvals.yaml
freshness  generated/ vs an in-memory compile
sqldiff    generated SQL diff per target, for the report
impact     downstream reach through lineage; audience impact on data
checker    runs all of the above: run_check(root, base_ref) -> CheckResult
formats    text / json / GitHub annotations
report     the reviewer's Markdown report
approve    `cdpc approve`: record an approval by editing approvals.yaml as text
"""

from .checker import CheckResult, run_check

__all__ = ["CheckResult", "run_check"]
