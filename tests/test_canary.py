"""The canary run: the reference project on its sample data with a canary planted in every
PHI and PII field (tests/canary.py), on DuckDB, PostgreSQL and Spark.

No sync table holds a PHI canary in any form (clear, lower/upper case, md5, sha256), no
ads sync table holds a PII canary in clear (also lowercased or as digits only), and the
canaries did reach staging, the email and SMS syncs (where clear PII is allowed) and,
hashed, the ads syncs: the test looks where the values are.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from compiler.project import require_valid
from compiler.run.engines.duckdb import DuckDBEngine
from compiler.run.runner import run_project

from canary import PHI_FIELDS, norm_email, norm_phone, read_syncs, staged_fields, sync_leaks, sync_tables
from helpers import AS_OF, ROOT

AS_OF_DT = dt.datetime.fromisoformat(AS_OF)


@pytest.fixture(scope="module")
def reference():
    return require_valid(ROOT)


def _engine(request, name):
    if name == "duckdb":
        engine = DuckDBEngine()
        request.addfinalizer(engine.close)
        return engine
    return request.getfixturevalue({"postgres": "pg_engine", "spark": "spark_engine"}[name])


def test_a_canary_is_planted_in_every_phi_and_pii_field(reference, canary_data):
    canaries = canary_data.canaries
    declared = {(c.name, f): spec for c in reference.definitions.contracts.values()
                for f, spec in c.fields.items() if (spec.phi or spec.pii)
                and c.name not in reference.definitions.erasure_sources}  # the requests: read, never copied
    text_like = {key for key, spec in declared.items() if spec.type in ("string", "date")}
    assert set(canaries.planted) == text_like
    # no text fits in a boolean: the differential runs of test_adversarial vary it instead
    assert {key for key in declared if key not in text_like} == {("crm_contacts", "has_injury_flag")}
    assert canaries.fields("phi") == {f for f in PHI_FIELDS if f in text_like}
    assert all(len(values) >= 10 for values in canaries.planted.values()), \
        {key: len(v) for key, v in canaries.planted.items()}


@pytest.mark.parametrize("engine_name", ["duckdb", "postgres", "spark"])
def test_no_phi_in_any_sync_and_no_clear_pii_on_ads(engine_name, reference, canary_data, request):
    engine = _engine(request, engine_name)
    canaries = canary_data.canaries
    defs = reference.definitions
    canaries.index_hashes([f"record:{s}:" for s in defs.identity.sources] + [f"{i.type}:" for i in defs.identity.identifiers])
    result = run_project(reference, engine, canary_data.data, AS_OF_DT)
    assert not [f for f in result.findings if f.is_error], [f.render() for f in result.findings]

    # the canaries are there to be found: staged exactly as planted, every field
    reached = staged_fields(engine, defs, canaries)
    assert all(reached.values()), {key: n for key, n in reached.items() if not n}

    syncs = read_syncs(engine, defs)
    leaks, sizes = sync_leaks(engine, defs, canaries, syncs)
    assert set(sizes) == {table for _, table, _ in sync_tables(defs)}
    assert all(sizes.values()), sizes
    assert not leaks, "\n".join(str(leak) for leak in leaks[:20])

    # the same scan finds the PII that may be there in clear (email and SMS channels)...
    clear = {}
    for channel, columns, rows in syncs.values():
        for hit in canaries.scan_rows(columns, rows):
            clear.setdefault(channel, set()).add((hit.kind, hit.how, hit.column))
    assert ("pii", "clear", "email") in clear["email"] and ("pii", "digits", "phone") in clear["sms"]
    assert "ads" not in clear and all(kind == "pii" for found in clear.values() for kind, _, _ in found)

    # ... and the ads identifiers are the canaries, hashed as Meta expects
    emails = {hashlib.sha256(norm_email(v).encode()).hexdigest() for (_, f), vs in canaries.planted.items()
              if f == "email" for v in vs if norm_email(v)}
    phones = {hashlib.sha256(norm_phone(v)[1:].encode()).hexdigest() for (_, f), vs in canaries.planted.items()
              if f == "phone" for v in vs if norm_phone(v)}
    for table, (channel, columns, rows) in syncs.items():
        if channel != "ads":
            continue
        sent = {c: {row[columns.index(c)] for row in rows} - {None} for c in ("email", "phone")}
        assert sent["email"] and sent["email"] <= emails, table
        assert sent["phone"] and sent["phone"] <= phones, table
