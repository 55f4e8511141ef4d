"""The `cdpc` command line: parse options, call a stage, print, choose the exit code.

Exit codes (docs/reference.md §3): 0 ok; 1 the definitions or data failed a check; 2 usage error or
bad environment. Adding a command is one decorated function: take `@project_option`,
call a stage, print, and `return` the exit code; `CdpcGroup` turns a stage's
DiagnosticError or an unexpected exception into the right code, never a traceback.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Optional

import click

from . import schema as schemas
from .diagnostics import DiagnosticError, did_you_mean
from .dialects import engine_names, target_names
from .gcpause import survivors_frozen
from .graph import Lineage
from .model.approvals import APPROVABLE
from .output import exit_code, show_diagnostics, summary
from . import compile_cache
from .compile import compile_outputs
from .generated import write_generated
from .project import LoadedProject, load_project
from .timeutil import parse_as_of

LINEAGE_FORMATS = ("text", "json", "mermaid", "dot")
TARGETS = target_names()  # the target registry, compiler/dialects.py
ENGINES = engine_names()
# A fixed help width keeps `--help` identical on every terminal, so docs/commands/ can quote it.
CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "terminal_width": 88, "max_content_width": 88}


class CdpcGroup(click.Group):
    """Maps what a command returns or raises to the exit codes of docs/reference.md §3."""

    def invoke(self, ctx: click.Context):
        try:
            code = super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except DiagnosticError as exc:
            show_diagnostics(exc.diagnostics, err=True)
            ctx.exit(exit_code(exc.diagnostics) or 2)
        except OSError as exc:  # unreadable file, full disk, permission denied: the environment
            click.echo(f"cdpc: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), err=True)
            ctx.exit(2)
        except Exception as exc:  # a bug in cdpc: say so plainly instead of a traceback
            click.echo(f"cdpc: internal error: {type(exc).__name__}: {exc}\n"
                       "  This is a bug in cdpc, not in your definitions; please report it with the command you ran.",
                       err=True)
            ctx.exit(2)
        ctx.exit(code or 0)


project_option = click.option(
    "--project", "project_dir", default=".", show_default=True, metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path), help="Project root (the folder that holds definitions/).")


@click.group(cls=CdpcGroup, context_settings=CONTEXT_SETTINGS)
# package_name makes click read the version only when --version is given (importlib.metadata is slow to import).
@click.version_option(package_name="cdpc", prog_name="cdpc", message="%(prog)s %(version)s")
def cli() -> None:
    """cdpc: customer data platform definitions as code, compiled to SQL."""


@cli.command()
@project_option
def validate(project_dir: Path) -> int:
    """Parse and check every definition; print all errors at once, sorted.

    Each problem is printed as `path:line:col: CODE message` with a hint below it
    (see docs/errors.md), then a one-line count. Exit 0 when there is no error
    (warnings allowed), 1 when there is one, 2 when the project cannot be read.
    """
    project = load_project(project_dir)
    show_diagnostics(project.diagnostics)
    click.echo(summary(project.diagnostics, _count(project)))
    return exit_code(project.diagnostics)


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), metavar="DIR")
@click.option("--name", metavar="NAME", help="The project's name.  [default: DIR's name, in lower case]")
def init(directory: Path, name: Optional[str]) -> int:
    """Create a new project in DIR: definitions, sample data, a test, CI.

    The starter project has one contract, an identity, two attributes, a segment,
    consent, a destination and a test, sample data in data/, a README with the next
    commands, commit hooks and a GitHub workflow that runs `cdpc check`; schemas/
    and generated/ are written too. It validates, compiles, runs on its sample data and
    passes `cdpc test` and `cdpc check` as created. DIR must be new or empty (else
    exit 2). See docs/commands/init.md.
    """
    from .init import InitError, init_project

    try:
        created = init_project(directory, name)
    except InitError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"created project `{created.name}` in {directory}: {len(created.files)} files")
    click.echo("next:")
    click.echo(f"  cd {directory}")
    for command in ("cdpc run --as-of 2026-11-20", "cdpc test", "cdpc check"):
        click.echo(f"  {command}")
    return 0


@cli.command()
@click.option("--check", is_flag=True, help="Write nothing; exit 1 when schemas/ is not up to date.")
@project_option
def schema(check: bool, project_dir: Path) -> int:
    """Write the JSON Schema of every kind into schemas/.

    One `<kind>.schema.json` per kind, and `cdpc.schema.json`, which picks the kind's
    schema from a document's `kind:` (point editors and check-jsonschema at it).
    Files are only rewritten when their content changes.
    """
    if not project_dir.is_dir():
        raise click.BadParameter(f"{project_dir} is not a directory", param_hint="--project")
    if check:
        outdated = schemas.stale(project_dir)
        for path in outdated:
            click.echo(f"{path}: out of date")
        click.echo(f"{len(outdated)} schema files out of date; run `cdpc schema`" if outdated else "schemas/ is up to date")
        return 1 if outdated else 0
    written = schemas.write(project_dir)
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(f"{len(written)} schema files written" if written else "schemas/ is up to date")
    return 0


@cli.command()
@click.argument("name", required=False)
@click.option("--upstream", "direction", flag_value="upstream", help="Only what NAME reads, transitively.")
@click.option("--downstream", "direction", flag_value="downstream", help="Only what reads NAME, transitively.")
@click.option("--format", "fmt", type=click.Choice(LINEAGE_FORMATS), default="text", show_default=True,
              help="Output format.")
@project_option
def lineage(name: Optional[str], direction: Optional[str], fmt: str, project_dir: Path) -> int:
    """Print the lineage graph, or the part of it around NAME.

    NAME is a definition name (`spend_365d`), `kind:name` (`segment:vip_retention`)
    or a contract field (`bookings.email`). Without --upstream or --downstream, both
    sides are shown. Edges point from what is read to what reads it.
    """
    if direction and not name:
        raise click.UsageError(f"--{direction} needs a NAME")
    project = _require_valid(project_dir)
    graph = project.lineage
    if name:
        node = _resolve(graph, name)
        graph = graph.around(node, upstream=direction != "downstream", downstream=direction != "upstream")
    click.echo(getattr(graph, f"to_{fmt}")(), nl=False)
    return 0


@cli.command("compile")
@click.option("--target", "targets", multiple=True, type=click.Choice(TARGETS), metavar="TARGET",
              help="Emit only this target (repeatable). Default: the project's `targets`.")
@project_option
def compile_(targets: tuple[str, ...], project_dir: Path) -> int:
    """Write generated/: SQL per target, sync manifests and manifest.json.

    The whole output is built in memory first; then each changed file is written
    beside generated/ and moved into it, so a failed compile leaves generated/ as it
    was. The same definitions always give byte-identical files: no timestamps, no
    absolute paths, stable order. When nothing that could change the output changed
    since the last compile, nothing is compiled (see docs/commands/compile.md).
    """
    wanted = list(targets) or None
    key = compile_cache.inputs_key(project_dir, wanted)  # before reading: an edit during the compile is a new key
    hit = compile_cache.lookup(project_dir, key)
    if hit is not None:
        show_diagnostics(hit.warnings, err=True)  # what the compile that wrote generated/ warned about
        outputs, changed = hit.outputs, False
    else:
        project = _require_valid(project_dir)
        outputs = compile_outputs(project, wanted)
        compile_cache.forget(project.root)
        changed = write_generated(project.root, outputs)
        compile_cache.remember(project.root, key, outputs, project.diagnostics)
    sql_files = sum(1 for path in outputs if path.endswith(".sql"))
    state = "written" if changed else "unchanged"
    click.echo(f"generated/ {state}: {sql_files} SQL files, {len(outputs) - sql_files} manifests")
    return 0


@cli.command()
@click.option("--sources", type=click.Choice(("files", "warehouse")), default="files", show_default=True,
              help="Read raw files from --data, or every contract's relation where it is in the database.")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Raw files DIR/<schema>.<table>.{csv,parquet}.  [default: <project>/data]")
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="DuckDB database file (default: in memory).")
@click.option("--as-of", "as_of", metavar="TIMESTAMP",
              help="What current_date and now() mean, e.g. 2026-11-20 or '2026-11-20 08:00:00' (UTC). Default: now.")
@click.option("--engine", type=click.Choice(ENGINES), default="duckdb", show_default=True, help="Where to run.")
@click.option("--dsn", metavar="DSN", help="PostgreSQL connection string (default: the PG* variables).")
@click.option("--master", metavar="URL", help="Spark master (default: local mode).")
@click.option("--warehouse", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Spark warehouse directory.  [default: ./spark-warehouse]")
@click.option("--wait", type=click.FloatRange(min=0), default=0, show_default=True, metavar="SECONDS",
              help="When another run holds the warehouse, wait this long for it, then exit 2.")
@project_option
def run(sources: str, data_dir: Optional[Path], db: Optional[Path], as_of: Optional[str], engine: str,
        dsn: Optional[str], master: Optional[str], warehouse: Optional[Path], wait: float, project_dir: Path) -> int:
    """Compile and execute the pipeline, then print a summary.

    Loads the raw data into a schema of its own (or reads the relations in place),
    stages it (malformed rows and rows that break a contract go to
    <contract>_rejected), resolves identity, computes attributes, consent,
    segments and syncs, and checks primary keys, freshness and expected sizes.
    Everything is built in schemas private to the run and published at the
    end, at once: a run that fails or is killed leaves the previous outputs as
    they were. cdpc replaces and drops only tables it made (listed in the meta
    schema's `owned`); a relation of anyone else in the way is exit 2. One run
    at a time per warehouse: see --wait. Exit 1 when a check fails; every
    table is published first.
    """
    from .run import execute  # the engines load only when a run needs them

    project = _require_valid(project_dir)
    if engine not in project.definitions.project.targets:
        # validate proved names, functions and limits for the targets only (CDP218, CDP304)
        raise click.UsageError(f"engine `{engine}` is not in project.targets "
                               f"({', '.join(project.definitions.project.targets)}): validate has not checked the "
                               f"project for it; add `{engine}` to `targets` in project.yaml")
    moment = parse_as_of(as_of)
    result = execute(project, engine, data_dir or project.root / "data", moment,
                     db=db, dsn=dsn, master=master, warehouse=warehouse, sources=sources, wait=wait)
    return 1 if result.failed else 0


@cli.command("test")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@project_option
def test_(names: tuple[str, ...], project_dir: Path) -> int:
    """Run the definition tests (`kind: test`), each on a DuckDB database of its own.

    Each test's rows are loaded as the raw data of a run at the test's as-of time;
    the project's compiled DuckDB SQL runs on them in memory, and the rows of every
    table the test expects are compared with what the run left. Every failure is
    printed at the test's file:line:col with the expected and actual rows side by
    side, then one line per test and the total. NAME runs only that test
    (repeatable; default: every test). Exit 0 when every test passes, 1 when one
    fails or a definition does not validate, 2 when NAME is no test. See
    docs/commands/test.md.
    """
    from .run.deftest import run_tests, summary_line
    from .run.testrows import failure_lines

    project = _require_valid(project_dir)
    defined = project.definitions.tests
    unknown = [n for n in names if n not in defined]
    if unknown:
        hint = did_you_mean(unknown[0], defined)
        raise click.BadParameter(f"no test named `{unknown[0]}`" + (f"; {hint}" if hint else ""), param_hint="NAME")
    if "duckdb" not in project.definitions.project.targets:
        raise click.UsageError("tests run on DuckDB, and `duckdb` is not in project.targets, so validate has not "
                               "checked the project for it; add `duckdb` to `targets` in project.yaml")
    tests = [defined[n] for n in (dict.fromkeys(names) if names else sorted(defined))]
    if not tests:
        click.echo("no tests: add a `kind: test` definition (see docs/commands/test.md)")
        return 0
    began = time.perf_counter()
    results = run_tests(project, tests)
    for test, result in zip(tests, results):
        for failure in result.failures:
            for line in failure_lines(test.name, failure):
                click.echo(line)
    for test, result in zip(tests, results):
        click.echo(summary_line(result, test))
    failed = sum(1 for r in results if not r.passed)
    click.echo(f"{len(results)} test{'s' if len(results) != 1 else ''}: {len(results) - failed} passed, "
               f"{failed} failed ({time.perf_counter() - began:.2f} s)")
    return 1 if failed else 0


@cli.command()
@click.option("--base", "base_ref", metavar="GIT_REF",
              help="Compare with this commit, branch or tag (read from git objects, no checkout).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE.md",
              help="Write the reviewer's Markdown report here.")
@click.option("--format", "fmt", type=click.Choice(("text", "json", "github")), default="text", show_default=True,
              help="How to print findings: text, json, or GitHub workflow annotations.")
@click.option("--data", "data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), metavar="DIR",
              help="Raw data to run base and head on, for the report's audience impact (needs --base and --report).")
@click.option("--as-of", "as_of", metavar="TIMESTAMP", help="The as-of time of those runs (default: now).")
@project_option
def check(base_ref: Optional[str], report_path: Optional[Path], fmt: str, data_dir: Optional[Path],
          as_of: Optional[str], project_dir: Path) -> int:
    """What CI runs on a pull request: validate, generated/, tests, versions, approvals.

    Checks that the definitions validate and that generated/ is what `cdpc compile`
    writes; runs the definition tests (`cdpc test`) and prints their coverage of
    segments, attributes and syncs, and which contracts, segments and destinations
    name an owner. With --base, also compares with that git ref: contract
    compatibility and version bumps per kind, and approvals for every changed data
    hash of a kind in governance.require_approval. Without --base nothing counts as
    changed; approvals that no longer match their definition are warnings. Every
    finding is printed at once, sorted. Exit 0 when there is no error, 1 when there is
    one, 2 when the base cannot be read (e.g. the ref does not exist). See
    docs/governance.md.
    """
    from .check import run_check
    from .check.formats import github_annotations, summary_lines, to_json
    from .check.gitbase import repo_prefix
    from .check.report import render_report

    if data_dir is not None and not (base_ref and report_path):
        raise click.UsageError("--data needs --base and --report: the audience impact goes into the report")
    moment = parse_as_of(as_of) if as_of else None
    result = run_check(project_dir, base_ref, report=report_path is not None, data_dir=data_dir, as_of=moment)
    if report_path is not None:
        report_path.write_text(render_report(result), encoding="utf-8", newline="\n")
    if fmt == "json":
        click.echo(to_json(result), nl=False)
    elif fmt == "github":
        for line in github_annotations(result.diagnostics, repo_prefix(project_dir)):
            click.echo(line)
        for line in summary_lines(result):
            click.echo(line)
    else:
        show_diagnostics(result.diagnostics)
        for line in summary_lines(result):
            click.echo(line)
    if report_path is not None and fmt != "json":
        click.echo(f"report written to {report_path}")
    return 1 if result.errors else 0


@cli.command()
@click.argument("name")
@click.option("--by", "by", metavar="EMAIL",
              help="The approver: one of governance.approvers.  [default: git config user.email]")
@click.option("--kind", type=click.Choice(APPROVABLE),
              help="The kind of NAME (project: its governance policy).  [default: segment, else the one kind "
                   "that has NAME]")
@click.option("--base", "base_ref", metavar="GIT_REF",
              help="Check EMAIL against the approvers at this ref (the policy `cdpc check --base` applies) "
                   "instead of the working tree's.")
@project_option
def approve(name: str, by: Optional[str], kind: Optional[str], base_ref: Optional[str], project_dir: Path) -> int:
    """Record an approval of NAME's current data hash and version.

    Appends {NAME, version, hash, approved_by, approved_at} to
    definitions/governance/approvals.yaml (created when missing), editing the text so
    its comments and layout stay. When the same hash and version is already approved
    by someone else, EMAIL is added to that entry's approved_by. EMAIL must be in
    governance.approvers (CDP605, exit 1). approved_at is today's date. Then commit
    the file as EMAIL (signed when the policy requires it): `cdpc check --base` counts
    an approval only from its approver's own commit. See docs/governance.md.
    """
    from .approve import ApproveError, approve as record, default_approver, git_email

    project = _require_valid(project_dir)
    if by is None:
        by = default_approver(project_dir)
    approvers = None
    if base_ref is not None:
        from .check.gitbase import read_base
        base = read_base(project_dir, base_ref)
        defs = base.project.definitions if base.project is not None else None
        approvers = list(defs.project.governance.approvers) if defs is not None else None
    try:
        done = record(project, name, by, kind, approvers=approvers, origin=f"{base_ref}")
    except ApproveError as exc:
        raise click.BadParameter(str(exc), param_hint="NAME") from None
    try:
        identity = git_email(project_dir)
    except DiagnosticError:
        identity = None  # no git: nothing to compare with
    if identity is not None and identity.casefold() != done.approver.casefold():
        click.echo(f"note: commit {done.path} as {done.approver}: `cdpc check --base` counts an approval only from "
                   f"its approver's own commit, and git config user.email here is {identity}", err=True)
    label = f"{done.kind} `{done.name}` " + (f"{done.version} " if done.version else "policy ") + f"({done.data_hash})"
    if done.action == "unchanged":
        click.echo(f"{label} is already approved by {done.approver} in {done.path}")
    else:
        verb = {"created": "created", "added": "updated", "appended": "updated"}[done.action]
        click.echo(f"approved {label} by {done.approver}: {done.path} {verb}")
    return 0


def _require_valid(project_dir: Path) -> LoadedProject:
    """Load the project; a command that needs a sound project stops here, listing every error."""
    project = load_project(project_dir)
    if not project.ok:
        raise DiagnosticError(project.diagnostics)
    show_diagnostics(project.diagnostics, err=True)  # warnings only
    return project


def _resolve(graph: Lineage, name: str) -> str:
    found = graph.find(name)
    if len(found) == 1:
        return found[0]
    if not found:
        hint = did_you_mean(name, [graph.graph.nodes[n]["name"] for n in graph.nodes()])
        raise click.BadParameter(f"no definition or field named `{name}`" + (f"; {hint}" if hint else ""),
                                 param_hint="NAME")
    raise click.BadParameter(f"`{name}` is ambiguous: " + ", ".join(found) + "; write one of these", param_hint="NAME")


def _count(project: LoadedProject) -> int:
    defs = project.definitions
    return sum(1 for _ in defs.all()) + len(defs.tests) if defs else 0


def main(argv: Optional[list[str]] = None) -> None:
    """Console-script entry point (`cdpc`): one command, then the process ends."""
    with survivors_frozen():
        cli.main(args=argv, prog_name="cdpc")


if __name__ == "__main__":  # python -m compiler.cli
    sys.exit(main())
