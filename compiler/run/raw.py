"""Where a run reads its sources, and the run's private schema that holds what it loads.

`--sources files` (the default): `DIR/<schema>.<table>.{csv,parquet}` per contract, read
by cdpc itself (rawcsv.py) and loaded, every declared column as text, into a schema
private to the run. `--sources warehouse`: the contract's `relation` where it already is,
read through a view in the private schema that casts every declared column to text.

Either way the compiled staging SQL reads `<schema>.<table>` (generated/ does not depend on
where a run's data comes from); the run renders its staging units again with that relation
replaced by the private copy. The private schema is named `cdpc_run_<pid>_<random>`, is
dropped once staging has read it (and when the run ends, failed or not), and a next run
drops any that a killed run left.
Where the engine has a catalog for private schemas (`scratch_catalog`: DuckDB's in-memory
database) it is there: no copy of the raw data is written to the database file, and a
killed run's copy goes with its process. A run never creates, changes or drops the raw
relations themselves.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterator, Optional

from sqlglot import exp

from ..diagnostics import WARNING, Diagnostic, DiagnosticError, Location
from ..dialects import DIALECTS, render
from ..emit.plan import RenderedUnit, Unit, mapped_step, render_unit
from ..emit.sql import WORK, col
from ..emit.staging import checked_table
from ..model import Contract, Definitions
from ..process import private_temp_folder
RAW_PREFIX = "cdpc-raw-"  # + pid + "-" + random: a run's clean copies of the raw files

from .rawcsv import CleanCsv, HeaderError, Malformed, clean_csv, read_header

SOURCES = ("files", "warehouse")
PRIVATE_PREFIX = "cdpc_run_"
# Only names of exactly this form are dropped as a killed run's leftovers: a user's own
# `cdpc_run_reports` schema is never touched.
_PRIVATE = re.compile(r"^cdpc_run_[0-9]+_[0-9a-f]{8}$")
REASON = "_reject_reason"
READS_RAW = ("staging", "erasure")  # the layers whose units read raw relations (the erasure: its requests)


@dataclass(frozen=True)
class RawFile:
    contract: str
    schema: str
    table: str
    path: Path
    format: str  # csv | parquet
    columns: tuple[str, ...]  # the contract's fields, in contract order


@dataclass(frozen=True)
class WarehouseRelation:
    contract: str
    schema: str
    table: str
    columns: tuple[tuple[str, str], ...]  # (the contract's field, the relation's column), contract order


@dataclass
class RunSources:
    """What a run reads, and the private schema it loads it into."""

    schema: str
    catalog: Optional[str] = None  # the engine's scratch_catalog, where the schema is
    files: list[RawFile] = field(default_factory=list)
    relations: list[WarehouseRelation] = field(default_factory=list)
    clean: dict[str, CleanCsv] = field(default_factory=dict)  # private table -> its clean CSV
    quarantine: dict[str, str] = field(default_factory=dict)  # contract -> private table of malformed rows
    findings: list[Diagnostic] = field(default_factory=list)
    scratch: Optional[Path] = None  # local folder of the clean CSV files

    @property
    def reads(self) -> dict[str, tuple[str, str]]:
        """(schema, table) of every contract's relation -> its private name in this run's schema."""
        named = [(r.contract, r.schema, r.table) for r in self.files] + [(r.contract, r.schema, r.table) for r in self.relations]
        return {(schema, name): contract for contract, schema, name in named}


def private_schema_name() -> str:
    return f"{PRIVATE_PREFIX}{os.getpid()}_{secrets.token_hex(4)}"


# ---- finding the sources (nothing is written yet) --------------------------------------------


def find_sources(engine, defs: Definitions, mode: str, data_dir: Path) -> RunSources:
    """Every contract's source, checked; DiagnosticError with every problem at once."""
    sources = RunSources(private_schema_name(), engine.scratch_catalog)
    if mode == "files":
        if not data_dir.is_dir():
            raise DiagnosticError([Diagnostic("CDP903", f"the raw data directory {_shown(data_dir)} does not exist",
                                              Location(), "pass --data DIR, the folder that holds <schema>.<table>.csv "
                                              "files, or read the relations in place with --sources warehouse")])
        sources.files, problems = find_raw_files(defs, data_dir)
    else:
        sources.relations, problems = find_relations(engine, defs)
    if problems:
        raise DiagnosticError(problems)
    if sources.files:
        _clean_files(sources)
    return sources


def find_raw_files(defs: Definitions, data_dir: Path) -> tuple[list[RawFile], list[Diagnostic]]:
    files, diagnostics = [], []
    for contract in defs.contracts.values():
        found, diags = _find_one(contract, data_dir)
        diagnostics += diags
        if found:
            files.append(found)
    return files, diagnostics


def _find_one(contract: Contract, data_dir: Path) -> tuple[RawFile | None, list[Diagnostic]]:
    where = contract.loc("relation")
    # `/` joins the name literally: a folder named `d*` or `data[1]` is never a pattern
    candidates = [data_dir / f"{contract.relation}.{ext}" for ext in ("csv", "parquet")]
    existing = [p for p in candidates if p.is_file()]
    if not existing:
        return None, [Diagnostic("CDP501", f"no raw data for contract `{contract.name}`: expected {_shown(candidates[0])} or .parquet",
                                 where, f"put the export at {_shown(candidates[0])}, or pass --data DIR")]
    path = existing[0]
    try:
        header = read_header(path) if path.suffix == ".csv" else _parquet_columns(path)
    except HeaderError as exc:
        code = "CDP510" if "twice" in str(exc) else "CDP503"
        return None, [Diagnostic(code, f"{exc}", Location(_shown(path), exc.line, exc.col),
                                 "CSV must be UTF-8 with one header row naming each column once")]
    except (OSError, RuntimeError) as exc:
        return None, [Diagnostic("CDP503", f"cannot read {_shown(path)}: {exc}", Location(_shown(path)),
                                 "CSV must be UTF-8 with a header row; Parquet must be a valid file")]
    missing = [f for f in contract.fields if f not in header]
    if missing:
        return None, [Diagnostic("CDP502", f"{_shown(path)} has no column {', '.join(f'`{m}`' for m in missing)} "
                                 f"declared by contract `{contract.name}`",
                                 contract.loc("fields", missing[0]),
                                 f"the file's columns are: {', '.join(header) or '(none)'}")]
    return RawFile(contract.name, contract.relation_schema, contract.relation_table, path,
                   path.suffix.lstrip("."), tuple(contract.fields)), []


def find_relations(engine, defs: Definitions) -> tuple[list[WarehouseRelation], list[Diagnostic]]:
    found, diagnostics = [], []
    for contract in defs.contracts.values():
        columns = engine.relation_columns(contract.relation_schema, contract.relation_table)
        if columns is None:
            diagnostics.append(Diagnostic("CDP511", f"contract `{contract.name}`: the warehouse has no relation "
                                          f"{contract.relation}", contract.loc("relation"),
                                          "create it (a table or a view), fix `relation`, or run with --sources files"))
            continue
        by_name = {c.lower(): c for c in columns}  # SQL names: case does not matter
        missing = [f for f in contract.fields if f.lower() not in by_name]
        if missing:
            diagnostics.append(Diagnostic("CDP502", f"{contract.relation} has no column {', '.join(f'`{m}`' for m in missing)} "
                                          f"declared by contract `{contract.name}`", contract.loc("fields", missing[0]),
                                          f"the relation's columns are: {', '.join(columns) or '(none)'}"))
            continue
        found.append(WarehouseRelation(contract.name, contract.relation_schema, contract.relation_table,
                                       tuple((f, by_name[f.lower()]) for f in contract.fields)))
    return found, diagnostics


# ---- loading into the private schema ----------------------------------------------------------


def load_sources(engine, sources: RunSources) -> None:
    """Drop what killed runs left in the warehouse, create this run's private schema and fill it."""
    for schema in engine.schemas():
        if _PRIVATE.match(schema) and schema != sources.schema:
            engine.drop_schema(schema)
    engine.execute(exp.Create(this=_private_table(sources), kind="SCHEMA").sql(dialect=engine.dialect))
    for relation in sources.relations:
        engine.execute(_text_view(engine, sources, relation))
    for raw in sources.files:
        _engine_load(engine, sources, raw.contract, raw)
        if raw.contract in sources.quarantine:
            _engine_load(engine, sources, sources.quarantine[raw.contract], raw)


def _private_table(sources: RunSources, name: Optional[str] = None) -> exp.Table:
    """A table of the run's private raw schema (without a name: the schema itself)."""
    return exp.Table(this=exp.to_identifier(name) if name else None, db=exp.to_identifier(sources.schema),
                     catalog=exp.to_identifier(sources.catalog) if sources.catalog else None)


def _clean_files(sources: RunSources) -> None:
    """Read every raw file into its clean CSV (and its malformed rows) in a local scratch
    folder: all of it before the engine is touched, so a file that cannot be read stops the
    run before it writes anything."""
    sources.scratch = private_temp_folder(RAW_PREFIX)  # a killed run's folder goes first
    try:
        for raw in sources.files:
            clean = _clean(raw, sources.scratch / f"{raw.contract}.csv")
            sources.clean[raw.contract] = clean
            if clean.malformed:
                name = f"{raw.contract}__malformed"
                sources.clean[name] = _malformed_csv(clean.malformed, raw.columns, sources.scratch / f"{name}.csv")
                sources.quarantine[raw.contract] = name
                sources.findings.append(_quarantine_warning(raw, clean.malformed))
    except BaseException:
        shutil.rmtree(sources.scratch, ignore_errors=True)
        raise


def _clean(raw: RawFile, target: Path) -> CleanCsv:
    try:
        if raw.format == "csv":
            return clean_csv(raw.path, raw.columns, target)
        return _parquet_as_clean_csv(raw, target)
    except (OSError, RuntimeError, HeaderError) as exc:
        raise DiagnosticError([Diagnostic("CDP503", f"cannot read {_shown(raw.path)}: {exc}", Location(_shown(raw.path)),
                                          "CSV must be UTF-8 with a header row; Parquet must be a valid file")]) from None


def _engine_load(engine, sources: RunSources, name: str, raw: RawFile) -> None:
    from .engines import EngineError

    try:
        engine.load_text(sources.schema, name, sources.clean[name], sources.catalog)
    except EngineError as exc:
        raise DiagnosticError([Diagnostic("CDP503", f"cannot load {raw.path.name}: {_first_line(exc)}",
                                          Location(_shown(raw.path)),
                                          "check the file's encoding (UTF-8), quoting and header row")]) from None


def _malformed_csv(rows: list[Malformed], columns: tuple[str, ...], target: Path) -> CleanCsv:
    """The malformed records as a clean CSV: the contract's columns as far as read, and the reason."""
    from .rawcsv import _quoted

    with target.open("w", encoding="utf-8", newline="") as out:
        out.write(",".join((*columns, REASON)) + "\n")
        for row in rows:
            out.write(",".join(_quoted(v) for v in (*row.cells, f"line {row.line}: {row.reason}")) + "\n")
    return CleanCsv(target, (*columns, REASON), len(rows))


def _quarantine_warning(raw: RawFile, rows: list[Malformed]) -> Diagnostic:
    first = rows[0]
    more = f" and {len(rows) - 1} more" if len(rows) > 1 else ""
    return Diagnostic("CDP512", f"{len(rows)} malformed row{'s' if len(rows) > 1 else ''} of {raw.path.name} "
                      f"quarantined in {raw.contract}_rejected: line {first.line}: {first.reason}{more}",
                      Location(_shown(raw.path), first.line, 1), "fix the export; the other rows were staged",
                      severity=WARNING)


def _parquet_as_clean_csv(raw: RawFile, target: Path) -> CleanCsv:
    """The contract's columns of a Parquet file, as text, in the clean CSV form (via DuckDB in-process)."""
    import duckdb

    from .engines.duckdb import NO_EXTENSIONS

    columns = ", ".join(f'CAST("{c}" AS VARCHAR) AS "{c}"' for c in raw.columns)
    try:
        with duckdb.connect(config=NO_EXTENSIONS) as local, _literal(raw.path) as path:
            local.execute(f"COPY (SELECT {columns} FROM read_parquet('{_quote(path)}')) TO '{_quote(target)}' "
                          "(FORMAT csv, HEADER, FORCE_QUOTE *)")
            rows = local.execute(f"SELECT count(*) FROM read_parquet('{_quote(path)}')").fetchone()[0]
    except duckdb.Error as exc:
        raise RuntimeError(_first_line(exc)) from None
    return CleanCsv(target, raw.columns, rows)


def _text_view(engine, sources: RunSources, relation: WarehouseRelation) -> str:
    """A view in the private schema: the relation, named in the warehouse's catalog when the
    view is in another one (a DuckDB view binds names in its own catalog)."""
    text = exp.DataType.build("text")
    read = exp.table_(relation.table, db=relation.schema, catalog=engine.home_catalog if sources.catalog else None)
    select = exp.select(*(exp.alias_(exp.Cast(this=exp.column(column, quoted=True), to=text.copy()), field, quoted=True)
                          for field, column in relation.columns)).from_(read)
    view = exp.Create(this=_private_table(sources, relation.contract), kind="VIEW", expression=select)
    return view.sql(dialect=engine.dialect)


def drop_read(engine, sources: RunSources, contracts: frozenset[str]) -> None:
    """The private copies of `contracts` go now, before the run ends (the erasure requests,
    once the erasure unit has read them: the run keeps no copy of them any longer than that)."""
    for raw in sources.files:
        if raw.contract in contracts:
            for name in (raw.contract, sources.quarantine.get(raw.contract)):
                if name:
                    engine.execute(exp.Drop(tables=[_private_table(sources, name)], kind="TABLE", exists=True)
                                   .sql(dialect=engine.dialect))
    for relation in sources.relations:
        if relation.contract in contracts:
            engine.execute(exp.Drop(tables=[_private_table(sources, relation.contract)], kind="VIEW", exists=True)
                           .sql(dialect=engine.dialect))


def drop_sources(engine, sources: RunSources) -> None:
    """The run's private schema and local scratch go, whatever happened; a failure here is not
    the run's: the next run removes the schema."""
    from .engines import EngineError

    try:
        engine.drop_schema(sources.schema, sources.catalog)
    except EngineError:
        pass
    if sources.scratch is not None:
        shutil.rmtree(sources.scratch, ignore_errors=True)


# ---- the staging SQL, reading the private copies ------------------------------------------------


def read_private(units: list[Unit], rendered: list[RenderedUnit], dialect: str, sources: RunSources,
                 work: str = WORK) -> list[RenderedUnit]:
    """The rendered units, with each staging unit reading its contract's private copy, and the
    malformed rows of a file joining the quarantine (the checked scratch table, in the run's
    scratch schema `work`, whose rows with reasons become `<contract>_rejected`)."""
    reads = sources.reads
    out = []
    for unit, done in zip(units, rendered):
        if unit.layer not in READS_RAW:
            out.append(done)
            continue
        moved = _relocated(unit, reads, sources)
        again = render_unit(moved, DIALECTS[dialect])
        if unit.name in sources.quarantine:
            again = _with_quarantine(unit, again, dialect, sources, work)
        out.append(again)
    return out


def _relocated(unit: Unit, reads: dict[tuple[str, str], str], sources: RunSources) -> Unit:
    def move(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and (node.db, node.name) in reads:
            return _private_table(sources, reads[(node.db, node.name)])
        return node

    steps = [mapped_step(step, lambda tree: tree.transform(move)) for step in unit.steps]
    return Unit(unit.layer, unit.kind, unit.name, steps, list(unit.checks))


def _with_quarantine(unit: Unit, rendered: RenderedUnit, dialect: str, sources: RunSources, work: str) -> RenderedUnit:
    """The insert of the malformed rows, right after the statement that creates the checked table."""
    checked = (work, checked_table(unit.name))
    position, create = next((i, step) for i, step in enumerate(unit.steps) if isinstance(step, exp.Create)
                            and (step.this.db, step.this.name) == checked)
    fields = [c for c in _fields_of(unit, sources)]
    query = exp.select(*(col(f) for f in fields),
                       exp.alias_(exp.Array(expressions=[col(REASON)]), "_reject_reasons")).from_(
        _private_table(sources, sources.quarantine[unit.name]))
    insert = exp.insert(query, create.this.copy(), columns=[*fields, "_reject_reasons"])
    steps = list(rendered.steps)
    steps.insert(position + 1, render(insert, DIALECTS[dialect], lower_needed=False))
    return replace(rendered, steps=steps)


def _fields_of(unit: Unit, sources: RunSources) -> tuple[str, ...]:
    return next(r.columns for r in sources.files if r.contract == unit.name)


# ---- small helpers ------------------------------------------------------------------------------


def _parquet_columns(path: Path) -> list[str]:
    import duckdb

    from .engines.duckdb import NO_EXTENSIONS
    try:  # a connection of its own: the module's default one would autoload extensions
        with duckdb.connect(config=NO_EXTENSIONS) as local, _literal(path) as literal:
            return [row[0] for row in local.sql(f"DESCRIBE SELECT * FROM read_parquet('{_quote(literal)}')").fetchall()]
    except duckdb.Error as exc:
        raise RuntimeError(str(exc).splitlines()[0]) from None


@contextmanager
def _literal(path: Path) -> Iterator[Path]:
    """A path DuckDB reads as one file: it expands `*`, `?`, `[` and `{` in a path, so a
    path holding one is read through a link of a plain name."""
    if not any(ch in str(path) for ch in "*?[{"):
        yield path
        return
    folder = Path(tempfile.mkdtemp(prefix="cdpc-link-"))
    try:
        link = folder / "raw.parquet"
        link.symlink_to(path.resolve())
        yield link
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _shown(path: Path) -> str:
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path.as_posix()
