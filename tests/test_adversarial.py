"""Privacy proofs against projects written to get around them (docs/reference.md §2.7,
docs/guarantees.md §1, docs/guarantees.md §2).

Every case of the adversarial corpus (tests/adversarial.py) is judged the same way,
whatever layer is meant to stop it:

  either  `cdpc validate` (in process) refuses it, every error located at a real
          line and column of the case's own files;
  or      it runs on DuckDB on the canary data (tests/canary.py) and
            - no sync table holds a PHI canary (in clear, lower/upper case, md5 or sha256),
            - no ads sync table holds a PII canary in clear (also lowercased, as digits),
            - no sync table holds what the engine's surroundings would disclose (the
              version, user, database, host files, a file's content),
            - the run loads no engine extension it had not loaded before,
            - a second run on data that differs only in PHI values and row order leaves
              the same sync tables (nothing sent depends on PHI, order or chance); when
              consent suppresses on a PHI-derived attribute (docs/guarantees.md allows it: the
              reference does), the variant keeps the reference's suppression flag, and
              a project that suppresses on PHI-derived attributes of its own is exempt
              from this check (docs/guarantees.md: absence can be telling).

A tally (how many cases each layer stopped, which leaked) is printed at the end of the
session (conftest.pytest_terminal_summary) and by test_tally.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from compiler.diagnostics import DiagnosticError
from compiler.graph import node_id
from compiler.project import load_project
from compiler.run.engines import EngineError
from compiler.run.engines.duckdb import DuckDBEngine
from compiler.run.runner import run_project

from adversarial import ATTACK, CASES, EVERYONE, NO_MEDICAL_SUPPRESSION, Case, attribute, destination, docs
from canary import TALLY, cell_text, read_syncs, sync_contents, sync_leaks, tally_lines
from helpers import AS_OF, ROOT

AS_OF_DT = dt.datetime.fromisoformat(AS_OF)
PASSWD_SIGNS = (":x:0:0:", "/usr/sbin/nologin", "/bin/bash", "/bin/false")


def make_project(case: Case, root: Path, secret_file: Path) -> Path:
    shutil.copytree(ROOT / "definitions", root / "definitions")
    case.write(root, secret_file)
    return root


def located(diagnostic, root: Path) -> str | None:
    """Why a diagnostic's location is not a real place in the case's files (None: it is)."""
    loc = diagnostic.location
    if not loc.file:
        return "no file (<project>)"
    path = root / loc.file
    if not path.is_file():
        return f"no such file {loc.file}"
    lines = path.read_text(encoding="utf-8").splitlines()
    if not 1 <= loc.line <= len(lines):
        return f"line {loc.line} outside {loc.file} ({len(lines)} lines)"
    if not 1 <= loc.col <= len(lines[loc.line - 1]) + 1:
        return f"column {loc.col} outside line {loc.line} of {loc.file}"
    return None


def duckdb_engine() -> DuckDBEngine:
    engine = DuckDBEngine()
    # a case may ask for a gigabyte per profile: make that an error, not a swapping machine;
    # and never download an extension (loading one is reported below)
    engine.execute("SET memory_limit = '500MB'")
    engine.execute("SET threads = 2")
    engine.execute("SET autoinstall_known_extensions = false")
    return engine


def loaded_extensions(engine: DuckDBEngine) -> set[str] | None:
    """The extensions the connection has loaded; None when it may no longer look (a run that
    turned file access off cannot list them: it cannot load one either)."""
    try:
        return {r[0] for r in engine.rows("SELECT extension_name FROM duckdb_extensions() WHERE loaded")}
    except EngineError as exc:
        if "file system operations are disabled" in str(exc):
            return None
        raise


def environment_sentinels(engine: DuckDBEngine) -> tuple[set[str], set[str]]:
    """(substrings, whole values) that only the engine's surroundings could have put in a table."""
    version, user, database, schema = engine.rows("SELECT version(), current_user, current_database(), current_schema()")[0]
    return {version, *PASSWD_SIGNS}, {user, database, schema}


def environment_leaks(engine, syncs: dict) -> list[str]:
    contains, equals = environment_sentinels(engine)
    found = []
    for table, (_, columns, rows) in syncs.items():
        for row in rows:
            for column, value in zip(columns, row):
                text = None if value is None else cell_text(value)
                if text is not None and (text in equals or any(s in text for s in contains)):
                    found.append(f"{table}.{column}: {text[:80]!r}")
    return found


def run_on(project, data: Path) -> tuple[DuckDBEngine, str | None]:
    engine = duckdb_engine()
    try:
        result = run_project(project, engine, data, AS_OF_DT)
    except DiagnosticError as exc:
        return engine, str(exc).splitlines()[0]
    errors = [f.render() for f in result.findings if f.is_error and f.code == "CDP509"]
    return engine, errors[0] if errors else None


def judge(case: Case, root: Path, canary_data, sizes: dict | None = None) -> tuple[str, str]:
    """(outcome, detail): see canary.OUTCOMES. `sizes` receives the rows of each sync table."""
    project = load_project(make_project(case, root, canary_data.secret_file))
    errors = [d for d in project.diagnostics if d.is_error]
    if errors:
        bad = [f"{d.render().splitlines()[0]} [{why}]" for d in errors if (why := located(d, root))]
        if bad:
            return "unlocated", "; ".join(bad)
        return "validate", "; ".join(sorted({d.code for d in errors}))
    defs = project.definitions
    canaries = canary_data.canaries
    canaries.index_hashes([f"record:{s}:" for s in defs.identity.sources]
                          + [f"{i.type}:" for i in defs.identity.identifiers])
    engine, failure = run_on(project, canary_data.data)
    before = loaded_extensions(duckdb_engine())
    syncs = read_syncs(engine, defs)
    leaks, found_sizes = sync_leaks(engine, defs, canaries, syncs)
    (sizes if sizes is not None else {}).update(found_sizes)
    problems = [str(leak) for leak in leaks]
    problems += [f"environment in a sync table: {e}" for e in environment_leaks(engine, syncs)]
    problems += [f"the run loaded extension `{e}`" for e in sorted((loaded_extensions(engine) or before) - before)]
    # docs/reference.md §2.6 lets consent suppress on PHI-derived attributes (docs/guarantees.md, "absence can
    # be telling"): beyond the reference's own medical flag, membership may then follow PHI
    invariant = not (phi_suppressions(project) - REFERENCE_SUPPRESSIONS)
    if not problems and failure is None and invariant:
        variant, failure = run_on(project, canary_data.variant if suppresses_on_phi(project) else canary_data.variant_free)
        if failure is None:
            first, second = sync_contents(syncs), sync_contents(read_syncs(variant, defs))
            for table in sorted(set(first) | set(second)):
                if first.get(table) != second.get(table):
                    problems.append(f"{table} changes when only PHI values and row order change "
                                    f"({_difference(first.get(table), second.get(table))})")
    if problems:
        return "leak", f"{len(problems)} finding(s); first: {problems[0]}"
    if failure is not None:
        return "run-failed", failure
    return "clean", ""


REFERENCE_SUPPRESSIONS = frozenset({"has_medical_flag"})  # the variant data keeps its value


def phi_suppressions(project) -> set[str]:
    """The `suppress_when` attributes derived from PHI (docs/reference.md §2.6 allows them)."""
    defs, lineage = project.definitions, project.lineage
    return {name for consent in defs.consents.values() for name in consent.suppress_when
            if any(defs.contracts[c].fields[f].phi for c, f in lineage.fields_reaching(node_id("attribute", name)))}


def suppresses_on_phi(project) -> bool:
    """Does consent suppress on an attribute derived from PHI? (docs/reference.md §2.6 allows it.)"""
    return bool(phi_suppressions(project))


def _difference(a, b) -> str:
    if a is None or b is None:
        return "left only by one run"
    if a[0] != b[0]:
        return f"columns {a[0]} vs {b[0]}"
    only_a, only_b = a[1] - b[1], b[1] - a[1]
    return f"{sum(only_a.values())} rows only in the first run, e.g. {next(iter(only_a), None)}; " \
           f"{sum(only_b.values())} only in the second"


CONTROLS = [  # the corpus's building blocks with nothing to hide: they must validate and run clean, so
    # that a case refused by validate is refused for its attack, not for a broken block
    Case("control_field_on_email", "", {ATTACK: docs(attribute(source="bookings", aggregate="max(instructor)")),
                                        **destination("email_service", add_fields=["leak"])}),
    Case("control_field_on_ads", "", {ATTACK: docs(attribute(source="bookings", aggregate="max(class_name)"), EVERYONE),
                                      # generic: Meta's file has no column for a text field (CDP409)
                                      **destination("meta_ads", add_fields=["leak"], platform="generic",
                                                    add_syncs=[("everyone_active", "ads_personalization")])}),
    Case("control_segment_on_ads", "", {ATTACK: docs(EVERYONE.replace("everyone_active", "knee_club")),
                                        **destination("meta_ads", add_syncs=[("knee_club", "ads_personalization")]),
                                        **NO_MEDICAL_SUPPRESSION}),
]


@pytest.mark.parametrize("case", CONTROLS, ids=[c.name for c in CONTROLS])
def test_building_blocks_validate_and_run_clean(case, canary_data, tmp_path):
    sizes = {}
    assert judge(case, tmp_path / "project", canary_data, sizes) == ("clean", "")
    added = {"control_segment_on_ads": "sync__meta_ads__knee_club", "control_field_on_ads": "sync__meta_ads__everyone_active",
             "control_field_on_email": "sync__email_service__winback_7d_inactive"}[case.name]
    assert sizes[added] >= 20, sizes


def test_the_corpus_is_big_and_names_are_unique():
    assert len(CASES) >= 40
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case_is_refused_or_leaks_nothing(case, canary_data, tmp_path):
    outcome, detail = judge(case, tmp_path / "project", canary_data)
    TALLY[case.name] = (outcome, detail)
    assert outcome in ("validate", "clean"), f"{case.name} ({case.attack}): {outcome}: {detail}"


def test_tally():
    """Runs last in this module: the summary the lead quotes (also at the end of the session)."""
    if len(TALLY) < len(CASES):
        pytest.skip("the corpus did not run in full in this session")
    for line in tally_lines():
        print(line)
    assert all(outcome in ("validate", "clean") for outcome, _ in TALLY.values())
