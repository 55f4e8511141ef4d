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
from .diagnostics import Diagnostic, DiagnosticError, Location, did_you_mean
from .dialects import engine_names, target_names
from .gcpause import survivors_frozen
from .process import Stopped, stop_requested, stops_cleanly
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
        except Exception as exc:
            self._fail(ctx, exc)
        ctx.exit(code or 0)

    @staticmethod
    def _fail(ctx: click.Context, exc: Exception) -> None:
        """The exit code and message for what a command raised."""
        if stop_requested():  # DuckDB turns a stop inside a statement into its own "Query interrupted"
            raise stop_requested() from None
        if isinstance(exc, DiagnosticError):
            show_diagnostics(exc.diagnostics, err=True)
            ctx.exit(exit_code(exc.diagnostics) or 2)
        if isinstance(exc, OSError):  # unreadable file, full disk, permission denied: the environment
            click.echo(f"cdpc: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), err=True)
            ctx.exit(2)
        # a bug in cdpc: say so plainly instead of a traceback
        click.echo(f"cdpc: internal error: {type(exc).__name__}: {exc}\n"
                   "  This is a bug in cdpc, not in your definitions; please report it with the command you ran.",
                   err=True)
        ctx.exit(2)


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
@click.option("--classification", is_flag=True,
              help="Show each node's classification (public, internal, confidential, restricted).")
@project_option
def lineage(name: Optional[str], direction: Optional[str], fmt: str, classification: bool, project_dir: Path) -> int:
    """Print the lineage graph, or the part of it around NAME.

    NAME is a definition name (`spend_365d`), `kind:name` (`segment:vip_retention`)
    or a contract field (`bookings.email`). Without --upstream or --downstream, both
    sides are shown. Edges point from what is read to what reads it. With
    --classification each node shows the highest classification among the fields its
    lineage reaches (a field its own, a contract its highest field's): what the
    access views hash or hide (docs/privacy.md).
    """
    if direction and not name:
        raise click.UsageError(f"--{direction} needs a NAME")
    project = _require_valid(project_dir)
    graph = project.lineage
    if classification:
        from .classification import node_classifications
        graph = graph.classified(node_classifications(project.definitions, graph))
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


# The engine options of `cdpc run`, shared by every command that reads or changes what runs left.
db_option = click.option("--db", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
                         help="DuckDB database file (default: in memory).")
engine_option = click.option("--engine", type=click.Choice(ENGINES), default="duckdb", show_default=True,
                             help="Where to run.")
dsn_option = click.option("--dsn", metavar="DSN", help="PostgreSQL connection string (default: the PG* variables).")
master_option = click.option("--master", metavar="URL", help="Spark master (default: local mode).")
warehouse_option = click.option("--warehouse", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
                                help="Spark warehouse directory.  [default: ./spark-warehouse]")
wait_option = click.option("--wait", type=click.FloatRange(min=0), default=0, show_default=True, metavar="SECONDS",
                           help="When another run holds the warehouse, wait this long for it, then exit 2.")
format_option = click.option("--format", "fmt", type=click.Choice(("text", "json")), default="text",
                             show_default=True, help="Output format.")


def engine_options(command):
    """--db, --engine, --dsn, --master, --warehouse and --wait, as `cdpc run` takes them."""
    for option in reversed((db_option, engine_option, dsn_option, master_option, warehouse_option, wait_option)):
        command = option(command)
    return command


def _memory_size(_ctx: click.Context, _param: click.Parameter, value: Optional[str]) -> Optional[int]:
    """`--memory-limit`: a size in bytes; a value that is not one is a usage error (exit 2)."""
    from .run.engines import memory_size

    if value is None:
        return None
    try:
        return memory_size(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@cli.command()
@click.option("--sources", type=click.Choice(("files", "warehouse")), default="files", show_default=True,
              help="Read raw files from --data, or every contract's relation where it is in the database.")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Raw files DIR/<schema>.<table>.{csv,parquet}.  [default: <project>/data]")
@db_option
@click.option("--as-of", "as_of", metavar="TIMESTAMP",
              help="What current_date and now() mean, e.g. 2026-11-20 or '2026-11-20 08:00:00' (UTC). Default: now.")
@engine_option
@dsn_option
@master_option
@warehouse_option
@wait_option
@click.option("--memory-limit", "memory_limit", metavar="SIZE", callback=_memory_size,
              help="DuckDB only: the most memory DuckDB takes, e.g. 4GB or 512MiB; beyond it, it spills "
                   "to a folder of the run's own.  [default: a fifth of the machine's memory]")
@project_option
def run(sources: str, data_dir: Optional[Path], db: Optional[Path], as_of: Optional[str], engine: str,
        dsn: Optional[str], master: Optional[str], warehouse: Optional[Path], wait: float,
        memory_limit: Optional[int], project_dir: Path) -> int:
    """Compile and execute the pipeline, then print a summary.

    Loads the raw data into a schema of its own (or reads the relations in place),
    stages it (malformed rows and rows that break a contract go to
    <contract>_rejected), resolves identity, computes attributes, consent,
    segments and syncs, and checks primary keys, freshness and expected sizes.
    Everything is built in schemas private to the run (on DuckDB in memory:
    only the published outputs are written to --db) and published at the end,
    at once: a run that fails or is killed leaves the previous outputs as they
    were. cdpc replaces and drops only tables it made (listed in the meta
    schema's `owned`); a relation of anyone else in the way is exit 2. One run
    at a time per warehouse: see --wait. Each sync's changes since the last
    published audience and its history are published with it; a sync whose
    segment breaks expected_size, or that would lose more than its max_remove,
    is held instead (see `cdpc release`). Exit 1 when a check fails or a sync is
    held; everything else is published first.
    """
    from .run import execute  # the engines load only when a run needs them

    if memory_limit is not None and engine != "duckdb":
        raise click.UsageError(f"--memory-limit sets DuckDB's memory limit; the {engine} engine's memory is "
                               "configured where it runs (see docs/engines.md)")
    project = _require_runnable(project_dir, engine)
    moment = parse_as_of(as_of)
    result = execute(project, engine, data_dir or project.root / "data", moment,
                     db=db, dsn=dsn, master=master, warehouse=warehouse, sources=sources, wait=wait,
                     memory_limit=memory_limit)
    return 1 if result.failed else 0


@cli.command("export")
@click.argument("destination")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Folder to write; replaced as a whole (it must be new, empty, or an earlier export).")
@engine_options
@project_option
def export_(destination: str, out_dir: Path, engine: str, db: Optional[Path], dsn: Optional[str],
            master: Optional[str], warehouse: Optional[Path], wait: float, project_dir: Path) -> int:
    """Write the latest changes of DESTINATION's syncs as the files its platform uploads.

    Reads, per sync, the changes that the latest published run made (adds, updates,
    removes) and writes them in the layout of the destination's platform: Meta custom
    audiences and Google Customer Match get <segment>.add.csv and <segment>.remove.csv
    under the header names each platform documents, values hashed as sent; generic gets
    <segment>.csv, the sync's columns after an `op` column. A sync without changes gets no
    file. manifest.json names the run, and per file the sync, its rows per op and its
    sha256. Rows are sorted: the same warehouse always gives the same bytes. DIR is written
    beside itself and moved in at once, so a failed export leaves it as it was. Nothing
    is sent anywhere. Exit 2 when there is no published run or a sync's tables are missing.
    """
    from .run import connect
    from .run.export import MANIFEST, export_lines, is_export, read_export, write_export

    project = _require_runnable(project_dir, engine)
    defs = project.definitions
    if destination not in defs.destinations:
        hint = did_you_mean(destination, defs.destinations)
        raise click.BadParameter(f"no destination named `{destination}`" + (f"; {hint}" if hint else
                                 f" (destinations: {', '.join(defs.destinations) or 'none'})"), param_hint="DESTINATION")
    if not is_export(out_dir):
        raise click.BadParameter(f"{out_dir} holds files but no {MANIFEST}: cdpc export replaces the folder as a "
                                 "whole, so it writes only to a new or empty folder or over an earlier export",
                                 param_hint="--out")
    opened = connect(engine, db=db, dsn=dsn, master=master, warehouse=warehouse, wait=wait)
    try:
        result = read_export(defs, opened, defs.destinations[destination], wait)
    finally:
        opened.close()
    write_export(result, out_dir)
    for line in export_lines(result, out_dir):
        click.echo(line)
    return 0


@cli.command()
@format_option
@engine_options
@project_option
def runs(fmt: str, db: Optional[Path], engine: str, dsn: Optional[str], master: Optional[str],
         warehouse: Optional[Path], wait: float, project_dir: Path) -> int:
    """List the runs recorded in the meta schema, oldest first.

    One line per run, release and rollback (`cdpc_meta.runs`): its run id, the
    command, the as-of time, the status (published, partial: some syncs held, or
    failed), when it started, how many syncs it published, the adds, updates and
    removes they sent (the rows of their __changes tables), and the syncs it held;
    then the syncs held now. --format json adds the definitions hash, the finish
    time and every sync. Takes the engine options of `cdpc run`. See
    docs/commands/runs.md.
    """
    from .run.history import list_runs
    from .run.stateview import runs_json, runs_text

    project = _require_runnable(project_dir, engine)
    entries = _with_engine(engine, dict(db=db, dsn=dsn, master=master, warehouse=warehouse, wait=wait),
                           lambda e: list_runs(project, e))
    click.echo(runs_json(entries) if fmt == "json" else runs_text(entries), nl=False)
    return 0


@cli.command()
@click.argument("destination")
@click.argument("segment")
@engine_options
@project_option
def release(destination: str, segment: str, db: Optional[Path], engine: str, dsn: Optional[str],
            master: Optional[str], warehouse: Optional[Path], wait: float, project_dir: Path) -> int:
    """Publish the audience a run held for the sync DESTINATION -> SEGMENT.

    A run holds a sync instead of publishing it when its segment breaks
    expected_size, or when more of its published audience would leave than the
    sync's max_remove. The held audience is kept in the meta schema; release
    publishes it as it is: the sync's audience table, the changes that get there
    (by the sync's mode) and its history, at once, as a run of its own in
    cdpc_meta.runs. Nothing else changes. Exit 2 when nothing is held (CDP923).
    See docs/commands/release.md.
    """
    from .run.republish import release as publish_held
    from .run.stateview import republished_text

    project = _require_runnable(project_dir, engine)
    done = _with_engine(engine, dict(db=db, dsn=dsn, master=master, warehouse=warehouse, wait=wait),
                        lambda e: publish_held(project, e, destination, segment, wait))
    click.echo(republished_text(done, engine), nl=False)
    return 0


@cli.command()
@click.argument("destination")
@click.argument("segment")
@click.option("--to", "to_run", type=int, required=True, metavar="RUN_ID",
              help="The run whose audience becomes current again (see `cdpc runs`).")
@engine_options
@project_option
def rollback(destination: str, segment: str, to_run: int, db: Optional[Path], engine: str, dsn: Optional[str],
             master: Optional[str], warehouse: Optional[Path], wait: float, project_dir: Path) -> int:
    """Make the audience that run RUN_ID published for DESTINATION -> SEGMENT current again.

    The audience is rebuilt from the sync's history and published with the
    changes that get there from the current one (by the sync's mode), at once, as
    a run of its own in cdpc_meta.runs; nothing else changes. Rolling forward is
    the same command with a later run id. Exit 2 when RUN_ID did not publish this
    sync (CDP922). See docs/commands/rollback.md.
    """
    from .run.republish import rollback as roll_back
    from .run.stateview import republished_text

    project = _require_runnable(project_dir, engine)
    done = _with_engine(engine, dict(db=db, dsn=dsn, master=master, warehouse=warehouse, wait=wait),
                        lambda e: roll_back(project, e, destination, segment, to_run, wait))
    click.echo(republished_text(done, engine), nl=False)
    return 0


@cli.command("diff")
@click.argument("destination")
@click.argument("segment")
@click.option("--from", "from_run", type=int, required=True, metavar="RUN",
              help="The run whose audience is compared from (see `cdpc runs`).")
@click.option("--to", "to_run", type=int, required=True, metavar="RUN", help="The run whose audience is compared to.")
@format_option
@engine_options
@project_option
def diff_(destination: str, segment: str, from_run: int, to_run: int, fmt: str, db: Optional[Path], engine: str,
          dsn: Optional[str], master: Optional[str], warehouse: Optional[Path], wait: float, project_dir: Path) -> int:
    """Print who was added to and removed from DESTINATION -> SEGMENT between two runs.

    Compares the audiences that runs --from and --to published (rebuilt from the
    sync's history): `add` for members of --to's only, `remove` for members of
    --from's only, `update` for members of both whose sent values differ; one line each with the values as sent (hashed where the
    destination hashes), then the counts. Changes nothing. See docs/commands/diff.md.
    """
    from .run.history import diff_runs
    from .run.stateview import diff_json, diff_text

    project = _require_runnable(project_dir, engine)
    found = _with_engine(engine, dict(db=db, dsn=dsn, master=master, warehouse=warehouse, wait=wait),
                         lambda e: diff_runs(project, e, destination, segment, from_run, to_run))
    click.echo(diff_json(found) if fmt == "json" else diff_text(found), nl=False)
    return 0


@cli.command("erasure-report")
@click.option("--sources", type=click.Choice(("files", "warehouse")), default="files", show_default=True,
              help="Read the erasure requests from --data, or from their relation in the database.")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Raw files DIR/<schema>.<table>.{csv,parquet}.  [default: <project>/data]")
@click.option("--as-of", "as_of", metavar="TIMESTAMP",
              help="Which requests apply (those made by then).  [default: the latest published run's as-of]")
@format_option
@engine_options
@project_option
def erasure_report_(sources: str, data_dir: Optional[Path], as_of: Optional[str], fmt: str, db: Optional[Path],
                    engine: str, dsn: Optional[str], master: Optional[str], warehouse: Optional[Path], wait: float,
                    project_dir: Path) -> int:
    """Show, per erasure request, that no table cdpc writes holds its value.

    Re-reads the erasure source and, for each request made by the as-of time,
    counts the rows holding its value (as written or normalized like its type)
    in every table and view cdpc owns (the meta schema's `owned`): all must be
    0. It then lists the raw relations cdpc reads that still hold the value:
    cdpc does not delete from sources it does not own, their owners purge them.
    A request is shown by its type and the SHA-256 of its value, never the value.
    Changes nothing. Exit 1 when a table cdpc writes holds a value. Takes the
    engine options of `cdpc run`. See docs/commands/erasure-report.md.
    """
    from .run.erasure_report import erasure_report, report_json, report_text

    project = _require_runnable(project_dir, engine)
    moment = parse_as_of(as_of) if as_of else None
    report = _with_engine(engine, dict(db=db, dsn=dsn, master=master, warehouse=warehouse, wait=wait),
                          lambda e: erasure_report(project.definitions, e, moment, sources,
                                                   data_dir or project.root / "data"))
    click.echo(report_json(report) if fmt == "json" else report_text(report), nl=False)
    return 0 if report.clean else 1


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


@cli.command()
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), metavar="DIR",
              help="The folder to write the site into; replaced whole (created when missing).")
@click.option("--db", type=click.Path(exists=True, dir_okay=False, path_type=Path), metavar="FILE",
              help="The DuckDB file of a `cdpc run --db FILE`: adds that run's figures.")
@project_option
def docs(out: Path, db: Optional[Path], project_dir: Path) -> int:
    """Write a static catalog site of the project: open DIR/index.html.

    One page per definition (what it means, owner, version, purposes, expected size,
    approvals and whether they still hold, tests, lineage picture, SQL per target),
    the whole project's lineage, the source map, the privacy class of every column,
    owners and test coverage, and a search box. It works opened from disk: nothing
    is fetched from the network. The same definitions give byte-identical files.
    DIR is replaced at once, and only when it is missing, empty or a site that
    cdpc docs wrote. See docs/commands/docs.md.
    """
    from .site import SiteError, build_site, write_site

    project = _require_valid(project_dir)
    files = build_site(project, db)
    try:
        changed = write_site(out, files)
    except SiteError as exc:
        raise DiagnosticError([Diagnostic("CDP901", str(exc), Location(),
                                          "pass --out a new or empty folder: cdpc docs replaces the whole folder")]) from None
    pages = sum(1 for path in files if path.endswith(".html"))
    definitions = _count(project)
    figures = f", with the figures of {db.name}" if db is not None else ""
    state = "written" if changed else "unchanged"
    click.echo(f"site {state}: {pages} pages for {definitions} definitions{figures}; open {out / 'index.html'}")
    return 0


def _require_valid(project_dir: Path) -> LoadedProject:
    """Load the project; a command that needs a sound project stops here, listing every error."""
    project = load_project(project_dir)
    if not project.ok:
        raise DiagnosticError(project.diagnostics)
    show_diagnostics(project.diagnostics, err=True)  # warnings only
    return project


def _require_runnable(project_dir: Path, engine: str) -> LoadedProject:
    """A valid project that lists `engine` in its targets: validate has proved names, functions
    and limits for the targets only (CDP218, CDP304)."""
    project = _require_valid(project_dir)
    if engine not in project.definitions.project.targets:
        raise click.UsageError(f"engine `{engine}` is not in project.targets "
                               f"({', '.join(project.definitions.project.targets)}): validate has not checked the "
                               f"project for it; add `{engine}` to `targets` in project.yaml")
    return project


def _with_engine(name: str, options: dict, work):
    """work(engine) on a connected engine, closed afterwards."""
    from .run import connect

    engine = connect(name, **options)
    try:
        return work(engine)
    finally:
        engine.close()


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
    try:
        with survivors_frozen(), stops_cleanly():
            cli.main(args=argv, prog_name="cdpc")
    except Stopped as stop:  # every `finally` on the way out has run
        click.echo(f"cdpc: stopped by {stop.name}; a run publishes all or nothing, and this one's private "
                   "tables and folders are removed", err=True)
        sys.exit(128 + stop.signum)


if __name__ == "__main__":  # python -m compiler.cli
    sys.exit(main())
