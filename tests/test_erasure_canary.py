"""The canary proof of erasure (docs/privacy.md §4), on DuckDB, PostgreSQL and Spark.

The reference project runs on the canary sample (tests/canary.py: every identifier and PHI
field of every member carries a recognizable value). A first run publishes the audiences;
we pick a member who is in both an email sync and an ads sync, and collect every PII and PHI
value of every record of their profile. Then an erasure request names one of their emails
(in upper case, with spaces) and the project runs again: no table cdpc wrote holds any of
those values in clear, as digits, or hashed, except where a hash is the point: the ads
sync's removal row (the SHA-256 the platform needs to remove them), the removal rows' profile
id, and `customer_erasures.value_sha256` (the proof of the request)."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import shutil
from pathlib import Path

import pytest

from compiler.project import require_valid
from compiler.run.engines.duckdb import DuckDBEngine
from compiler.run.owned import read_owned
from compiler.run.runner import run_project

from canary import norm_email, norm_phone
from helpers import AS_OF, ROOT
from tables import access_views, read_table

AS_OF_DT = dt.datetime.fromisoformat(AS_OF)


def _requests(data: Path, rows: list[tuple[str, str, str, str]]) -> None:
    with (data / "raw.erasure_requests.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["request_id", "id_type", "id_value", "requested_at"])
        writer.writerows(rows)


def _rows(engine, schema: str, name: str) -> tuple[list[str], list[tuple]]:
    table = read_table(engine, schema, name)
    return [c for c, _ in table.columns], list(table.rows.elements())


def _member(engine, defs) -> tuple[str, dict[str, set[str]]]:
    """A profile in the email and the ads sync of vip_retention, and its PII and PHI values by identifier type
    (`""` for the fields that are no identifier)."""
    s = defs.project.schemas
    _, email_rows = _rows(engine, s.audiences, "sync__email_service__vip_retention")
    _, ads_rows = _rows(engine, s.audiences, "sync__meta_ads__vip_retention")
    profile = min({r[0] for r in email_rows} & {r[0] for r in ads_rows})
    _, mapped = _rows(engine, s.identity, "customer_map")
    records = {(source, key) for source, key, pid in mapped if pid == profile}
    values: dict[str, set[str]] = {}
    for source, mapping in defs.identity.sources.items():
        contract = defs.contracts[source]
        by_field = {f: t for t, f in mapping.items()}
        columns, rows = _rows(engine, s.staging, source)
        key = columns.index(contract.primary_key[0])
        for row in rows:
            if (source, str(row[key])) not in records:
                continue
            for name, value in zip(columns, row):
                spec = contract.fields[name]
                if value is not None and (spec.pii or spec.phi) and spec.base_type in ("string", "date"):
                    values.setdefault(by_field.get(name, ""), set()).add(str(value))
    return profile, values


def _forms(values: dict[str, set[str]]) -> tuple[set[str], set[str]]:
    """(clear forms, lowercase; hashed forms: sha256 of the normalized values, md5 of `type:value`)."""
    clear, hashed = set(), set()
    for id_type, found in values.items():
        for value in found:
            clear.add(value.strip().lower())
            normal = {"email": norm_email, "phone": norm_phone}.get(id_type, lambda v: v.strip().upper())(value)
            if id_type == "phone" and normal:
                clear.update({normal, normal[1:], normal[-10:]})
            if id_type and normal:
                hashed.update({hashlib.sha256(normal.encode()).hexdigest(), hashlib.sha256(normal.lstrip("+").encode()).hexdigest(),
                               hashlib.md5(f"{id_type}:{normal}".encode()).hexdigest()})
    return clear, hashed


def _leaks(engine, defs, clear: set[str], hashed: set[str]) -> tuple[list[str], int]:
    """Every cell of every table and view cdpc owns that holds a clear form, or a hashed form
    outside the places a hash is allowed; and how many allowed hashed cells were seen."""
    identity = defs.project.schemas.identity
    leaks, allowed = [], 0
    for owned in read_owned(engine, defs.project.schemas.meta):
        columns, rows = _rows(engine, owned.schema, owned.table)
        for row in rows:
            removal = owned.table.endswith("__changes") and row[columns.index("op")] == "remove"
            for column, value in zip(columns, row):
                if value is None:
                    continue
                cell = str(value).lower()
                if any(form in cell for form in clear):
                    leaks.append(f"{owned.qualified}.{column}: clear {cell[:60]!r}")
                elif cell in hashed:
                    if removal or (owned.qualified == f"{identity}.customer_erasures" and column == "value_sha256"):
                        allowed += 1
                    else:
                        leaks.append(f"{owned.qualified}.{column}: hashed {cell}")
    return leaks, allowed


@pytest.mark.parametrize("engine_name", ["duckdb", "postgres", "spark"])
def test_after_an_erasure_no_canary_of_the_member_is_in_any_table(engine_name, canary_data, tmp_path, request):
    reference = require_valid(ROOT)
    defs = reference.definitions
    data = tmp_path / "data"
    shutil.copytree(canary_data.data, data)
    _requests(data, [])
    if engine_name == "duckdb":
        db = tmp_path / "canary.duckdb"
        engines = [DuckDBEngine(db)]
        request.addfinalizer(lambda: engines[-1].close())
    else:
        engines = [request.getfixturevalue({"postgres": "pg_engine", "spark": "spark_engine"}[engine_name])]
        s = defs.project.schemas  # Spark's warehouse outlives a test: start without cdpc's outputs
        for schema in sorted({s.staging, s.identity, s.profiles, s.audiences, s.meta} | {v for v, _ in access_views(defs)}):
            engines[0].drop_schema(schema)
    first = run_project(reference, engines[0], data, AS_OF_DT)
    assert not first.failed, [f.render() for f in first.findings if f.is_error]

    profile, values = _member(engines[0], defs)
    email = sorted(values["email"])[0]
    clear, hashed = _forms(values)
    assert len(values) >= 3 and len(clear) >= 6, values  # the member has records in several sources
    before, _ = _leaks(engines[0], defs, clear, hashed)
    assert before  # the scan finds them before the erasure

    _requests(data, [("DSAR-9", "email", f"  {email.upper()} ", "2026-11-10 12:00:00")])
    if engine_name == "duckdb":
        engines[0].close()
        engines.append(DuckDBEngine(db))
    second = run_project(reference, engines[-1], data, AS_OF_DT)
    assert not second.failed, [f.render() for f in second.findings if f.is_error]
    assert second.stats.requests["applied"] == 1 and profile in second.stats.erasure.profile_ids
    leaks, allowed = _leaks(engines[-1], defs, clear, hashed)
    assert leaks == []
    assert allowed >= 3  # the request's sha256, the removal rows' profile ids and the ads removal's hashed email
