"""`cdpc erasure-report`: where each erasure request's value still is.

It re-reads the erasure source (the raw file under --data, or the relation in the warehouse
with --sources warehouse) and, for every request that applies at the as-of time (by default
the latest published run's), counts:

  - in every table and view cdpc owns (the meta schema's `owned` registry), the rows holding
    the request's normalized value in any column, as it is or, for an email or a phone, once
    normalized like its type (in another case, in another format): all must be 0;
  - in every raw relation cdpc reads (the erasure source aside), the rows that still hold
    it: cdpc does not delete from sources it does not own; their owners purge them.

No clear value is printed: a request is shown by its type and the SHA-256 of its value.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from sqlglot import exp

from ..diagnostics import Diagnostic, DiagnosticError, Location
from ..dialects import DIALECTS, render
from ..emit.identity import blocked_values, normalized
from ..emit.sql import lit, text
from ..model import Contract, Definitions, Erasure, Identity
from ..normalize import normalize_value
from .engines import Engine, EngineError
from .owned import read_owned
from .raw import find_raw_files
from .runlog import read_runs


SHAPED = ("email", "phone")  # normalizers that recognize their type's shape: safe to apply to any column


@dataclass
class Request:
    id_type: str
    value: str  # normalized; never printed
    requested_at: dt.datetime
    tables: dict[str, int] = field(default_factory=dict)  # schema.table cdpc owns -> rows holding the value
    raw: dict[str, int] = field(default_factory=dict)  # raw relation -> rows holding it (only those that do)

    @property
    def value_sha256(self) -> str:
        return hashlib.sha256(self.value.encode("utf-8")).hexdigest()

    @property
    def found(self) -> int:
        return sum(self.tables.values())


@dataclass
class Report:
    erasure: str
    as_of: dt.datetime
    requests: list[Request]
    future: int = 0
    ignored: int = 0

    @property
    def clean(self) -> bool:
        return all(r.found == 0 for r in self.requests)


def erasure_report(defs: Definitions, engine: Engine, as_of: Optional[dt.datetime], sources: str,
                   data_dir: Path) -> Report:
    erasure = next(iter(defs.erasures.values()), None)
    if erasure is None or defs.identity is None:
        raise DiagnosticError([Diagnostic("CDP912", "this project has no erasure definition: there is nothing to report",
                                          Location(), "define one (kind: erasure, see docs/privacy.md §4)")])
    if as_of is None:
        as_of = _last_as_of(engine, defs.project.schemas.meta)
    identity, contract = defs.identity, defs.contracts[erasure.source]
    rows = _read_rows(engine, defs, contract, sources, data_dir)
    report = Report(erasure.name, as_of, [])
    for row in rows:  # the statuses of emit/erasure.py: future first, then applied or ignored
        at = _timestamp(row.get(erasure.time_field), contract.fields[erasure.time_field].base_type)
        request = _request(identity, erasure, row, at)
        if at is not None and at > as_of:
            report.future += 1
        elif request is None:
            report.ignored += 1
        else:
            report.requests.append(request)
    report.requests.sort(key=lambda r: (identity.types.index(r.id_type), r.value, r.requested_at))
    if not report.requests:
        return report
    for owned in read_owned(engine, defs.project.schemas.meta):
        counts = _count_in(engine, identity, owned.schema, owned.table, report.requests)
        for request, n in zip(report.requests, counts):
            request.tables[owned.qualified] = n
    for other in sorted(defs.contracts.values(), key=lambda c: c.name):
        if other.name == contract.name:
            continue
        found = _raw_counts(engine, defs, identity, other, sources, data_dir, report.requests)
        for request, n in zip(report.requests, found):
            if n:
                request.raw[other.relation] = n
    return report


def _last_as_of(engine: Engine, meta: str) -> dt.datetime:
    try:
        runs = [r for r in read_runs(engine, meta) if r.status in ("published", "partial") and r.as_of is not None]
    except EngineError:
        runs = []
    if not runs:
        raise DiagnosticError([Diagnostic("CDP911", f"no published run in the meta schema `{meta}`: no as-of time to "
                                          "report at", Location(), "run `cdpc run` first, or pass --as-of TIMESTAMP")])
    return runs[-1].as_of


def _request(identity: Identity, erasure: Erasure, row: dict, at: Optional[dt.datetime]) -> Optional[Request]:
    """The request as the run reads it (emit/erasure.py); None when it is ignored."""
    id_type = (row.get(erasure.type_field) or "").strip(" ")
    if id_type not in identity.types:
        return None
    kind = identity.identifier(id_type).normalize
    value = normalize_value(kind, row.get(erasure.value_field))
    if value is None or value in blocked_values(identity, id_type):
        return None
    return None if at is None else Request(id_type, value, at)


def _timestamp(value: Optional[str], base_type: str) -> Optional[dt.datetime]:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    try:
        return dt.datetime.fromisoformat(str(value).replace("T", " ")) if base_type == "timestamp" or len(str(value)) > 10 \
            else dt.datetime.fromisoformat(str(value) + " 00:00:00")
    except ValueError:
        return None


# ---- reading the raw relations ---------------------------------------------------------------

def _read_rows(engine: Engine, defs: Definitions, contract: Contract, sources: str, data_dir: Path) -> list[dict]:
    """Every row of a contract's raw relation, each field as text (NULL: None)."""
    names = list(contract.fields)
    if sources == "warehouse":
        if engine.relation_columns(contract.relation_schema, contract.relation_table) is None:
            raise DiagnosticError([Diagnostic("CDP511", f"contract `{contract.name}`: the warehouse has no relation "
                                              f"{contract.relation}", contract.loc("relation"),
                                              "create it, or read the raw files with --sources files")])
        query = exp.select(*(exp.alias_(text(exp.column(n, quoted=True)), n, quoted=True) for n in names)) \
            .from_(exp.table_(contract.relation_table, db=contract.relation_schema))
        return [dict(zip(names, (None if v is None else str(v) for v in row)))
                for row in engine.rows(render(query, DIALECTS[engine.dialect], lower_needed=True))]
    only = Definitions(defs.project, collections={"contract": {contract.name: contract}})
    files, problems = find_raw_files(only, data_dir)
    if problems:
        raise DiagnosticError(problems)
    raw = files[0]
    if raw.format == "parquet":
        import duckdb

        with duckdb.connect() as local:
            cursor = local.execute(f"SELECT * FROM read_parquet('{str(raw.path).replace(chr(39), chr(39) * 2)}')")
            columns = [d[0] for d in cursor.description]
            return [{c: (None if v is None else str(v)) for c, v in zip(columns, row) if c in names}
                    for row in cursor.fetchall()]
    with raw.path.open(encoding="utf-8", newline="") as handle:
        return [{n: (row.get(n) if row.get(n) != "" else None) for n in names} for row in csv.DictReader(handle)]


def _raw_counts(engine: Engine, defs: Definitions, identity: Identity, contract: Contract, sources: str,
                data_dir: Path, requests: list[Request]) -> list[int]:
    if sources == "warehouse":
        if engine.relation_columns(contract.relation_schema, contract.relation_table) is None:
            return [0 for _ in requests]
        return _count_in(engine, identity, contract.relation_schema, contract.relation_table, requests,
                         list(contract.fields))
    rows = _read_rows(engine, defs, contract, sources, data_dir)
    counts = []
    for request in requests:
        kind = identity.identifier(request.id_type).normalize
        counts.append(sum(1 for row in rows if any(_holds_value(kind, v, request) for v in row.values())))
    return counts


# ---- counting in the warehouse ---------------------------------------------------------------

def _count_in(engine: Engine, identity: Identity, schema: str, name: str, requests: list[Request],
              columns: Optional[list[str]] = None) -> list[int]:
    """Per request, the rows of `schema.name` with a column holding its value, as it is or
    normalized like its type."""
    columns = columns if columns is not None else engine.relation_columns(schema, name)
    if not columns:
        return [0 for _ in requests]
    sums = []
    for request in requests:
        holds = [_holds(identity, request, exp.column(c, quoted=True)) for c in columns]
        condition = exp.or_(*holds) if len(holds) > 1 else holds[0]
        sums.append(exp.Sum(this=exp.Case(ifs=[exp.If(this=condition, true=lit(1))], default=lit(0))))
    query = exp.select(*sums).from_(exp.table_(name, db=schema))
    try:
        row = engine.rows(render(query, DIALECTS[engine.dialect], lower_needed=True))[0]
    except EngineError as exc:
        raise DiagnosticError([Diagnostic("CDP911", f"cannot read {schema}.{name}: {str(exc).strip().splitlines()[0]}",
                                          Location(), "check that the role may read every table cdpc wrote")]) from None
    return [int(v or 0) for v in row]


def _holds(identity: Identity, request: Request, column: exp.Expression) -> exp.Expression:
    """The column's text is the value, or (an email or a phone) normalizes to it: an email in
    another case, a phone in another format. Other types compare as written: a member number
    normalized is upper case, and upper-casing every column would find an email in it."""
    same = exp.EQ(this=text(column), expression=lit(request.value))
    if identity.identifier(request.id_type).normalize not in SHAPED:
        return same
    return exp.or_(same, exp.EQ(this=normalized(identity, request.id_type, column.copy()), expression=lit(request.value)))


def _holds_value(kind: str, value: Optional[str], request: Request) -> bool:
    """`_holds`, for a raw file's cell."""
    if value is None:
        return False
    return value == request.value or (kind in SHAPED and normalize_value(kind, value) == request.value)


# ---- output ------------------------------------------------------------------------------------

def report_json(report: Report) -> str:
    return json.dumps({
        "erasure": report.erasure,
        "as_of": report.as_of.strftime("%Y-%m-%d %H:%M:%S"),
        "clean": report.clean,
        "requests_future": report.future,
        "requests_ignored": report.ignored,
        "requests": [{"id_type": r.id_type, "value_sha256": r.value_sha256,
                      "requested_at": r.requested_at.strftime("%Y-%m-%d %H:%M:%S"),
                      "rows_in_cdpc_tables": r.found, "tables": dict(sorted(r.tables.items())),
                      "raw_relations": dict(sorted(r.raw.items()))} for r in report.requests],
    }, indent=2) + "\n"


def report_text(report: Report) -> str:
    lines = [f"erasure `{report.erasure}` as of {report.as_of:%Y-%m-%d %H:%M:%S}: {len(report.requests)} "
             f"request{'s' if len(report.requests) != 1 else ''} applied, {report.future} after the as-of time "
             f"(not yet applied), {report.ignored} ignored (unknown type, or a value or time that does not read)"]
    for index, request in enumerate(report.requests, 1):
        lines += ["", f"request {index}: {request.id_type} sha256 {request.value_sha256}, requested "
                  f"{request.requested_at:%Y-%m-%d %H:%M:%S}"]
        width = max((len(t) for t in request.tables), default=5)
        lines.append(f"  {'table cdpc writes':<{width}}  rows holding the value")
        for table_name, n in sorted(request.tables.items()):
            lines.append(f"  {table_name:<{width}}  {n}{'  <- NOT ERASED' if n else ''}")
        if request.raw:
            lines.append("  raw relations that still hold it (cdpc does not delete from sources it does not own; "
                         "for their owners to purge):")
            lines += [f"    {relation}  {n} row{'s' if n != 1 else ''}" for relation, n in sorted(request.raw.items())]
        else:
            lines.append("  no raw relation cdpc reads holds it")
    lines += ["", "every table cdpc writes is clean" if report.clean
              else "some tables cdpc writes still hold an erased value (exit 1): run `cdpc run` again"]
    return "\n".join(lines) + "\n"
