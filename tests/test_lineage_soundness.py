"""Lineage is sound: every staged column the compiled SQL reads is in the lineage of the
definition whose output it reaches, on every target.

What "reads" means. The emitted SQL of every unit, rendered for a target, is parsed and
qualified with sqlglot (`qualify`, then `build_scope`) and walked in run order. A
statement that writes a table reads a staged contract column (`<staging>.<contract>.<field>`)
when the column is referenced anywhere in it (select list, WHERE, JOIN ... ON, GROUP BY,
HAVING, ORDER BY, window PARTITION BY / ORDER BY, subqueries), directly or through a
scratch table (`cdpc_work.*`) that an earlier statement wrote: a column of a scratch
table stands for the staged columns it was computed from, and its rows for the staged
columns that decided them. Only what reaches the written table counts: a column that a
subquery computes and nobody selects is not read. A LEFT JOIN keeps every row of its left
side (the emitter joins per-profile tables on `profile_id`, one row per profile), so the
joined side's rows and ON reach only the values taken from that side. A loop's tables hold
the union of its rounds and depend on what its `until` query reads. The definition a
written table belongs to is its unit's (`attribute`, `consent`, `segment`, `destination`,
`identity`); in the project's profiles unit, each attribute column belongs to that
attribute, the consent table to the consents. Staging reads raw relations, not staged
contracts, and is left out; so are checks, which report and write nothing.

The one allowed extra, which is not lineage: the profile key. `profile_id` and the rows of
the identity's tables (its map, `profile_ids`, the `src__<contract>` relays) are computed
from the identity's lineage (identifiers and record keys, i.e. each source's primary key),
and every definition computed per profile joins on them; the `profile` edge from the
identity covers that, so a definition downstream of the identity may read the identity's
lineage as the profile key (nothing more: values taken from the identity's tables other
than `profile_id`, such as a destination's identifier values, must be in its lineage).
`src__<contract>` hands each staged column on unchanged; those relayed columns are charged
to the definition that reads them, not to the identity.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from helpers import ROOT, write_files  # noqa: E402
from lineage_soundness import Allowed, Tracer, gaps  # noqa: E402
from synth_project import write_project as write_synth_project  # noqa: E402

from compiler.render import plan_of  # noqa: E402
from compiler.dialects import DIALECTS  # noqa: E402
from compiler.emit.plan import render_unit  # noqa: E402
from compiler.graph import Lineage  # noqa: E402
from compiler.project import load_project, require_valid  # noqa: E402

TARGETS = sorted(DIALECTS)
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def soundness_gaps(project, lineage: Lineage | None = None) -> list[str]:
    units = plan_of(project)
    allowed = Allowed(lineage or project.lineage, project.definitions)
    return [str(gap) for target in TARGETS
            for gap in gaps(Tracer(project.definitions, target).run(units), allowed, target)]


@pytest.fixture(scope="module")
def reference():
    return require_valid(ROOT)


def test_reference_project_reads_only_its_lineage(reference):
    assert soundness_gaps(reference) == []


def test_the_trace_sees_what_a_pick_by_time_reads(reference):
    """Not vacuous: the traced reads of primary_email hold its field and the event_time of
    each source, and the segment built on membership_status inherits updated_at."""
    written = {w.table: w.deps for w in Tracer(reference.definitions, "duckdb").run(plan_of(reference))}
    reads = {(c, f) for c, f, how in written["cdpc_work.attr__primary_email"].all() if how == "read"}
    assert {("crm_contacts", "email"), ("crm_contacts", "updated_at"), ("bookings", "booked_at")} <= reads
    segment = {(c, f) for c, f, _ in written["cdp_audiences.winback_7d_inactive"].all()}
    assert ("crm_contacts", "updated_at") in segment


# --------------------------------------------------------------------------- the test can fail


def test_a_missing_lineage_edge_is_reported(reference):
    graph = reference.lineage.graph.copy()
    graph.remove_edge("field:crm_contacts.updated_at", "attribute:membership_status")
    found = soundness_gaps(reference, Lineage(graph))
    assert any("attributes__membership_status" in g and "crm_contacts.updated_at (read)" in g for g in found)
    # and it reaches the segment built on it, on every target
    assert {g.split()[0] for g in found if "segments__winback_7d_inactive" in g} == set(TARGETS)


@pytest.mark.parametrize("before, after, read", [
    ("status = 'paid'", "status = 'paid' AND location_code <> ''", "location_code"),  # WHERE
    ("SUM(amount) AS value", "SUM(amount) + COUNT(location_code) AS value", "location_code"),  # select list
    ("GROUP BY\n    profile_id", "GROUP BY\n    profile_id, location_code", "location_code"),  # GROUP BY
    ("FROM cdpc_work.src__pos_transactions",  # an inner join's ON
     "FROM cdpc_work.src__pos_transactions JOIN cdp_staging.crm_contacts AS x ON x.contact_id = location_code",
     "location_code"),
    # an identifier field is the identity's lineage: as a value it is still a read, not the profile key
    ("SUM(amount) AS value", "SUM(amount) + COUNT(email) AS value", "email"),
], ids=["where", "select", "group_by", "join", "identity_field_as_data"])
def test_sql_reading_one_more_column_is_reported(reference, before, after, read):
    tracer = Tracer(reference.definitions, "duckdb")
    for unit in plan_of(reference):
        if unit.layer in ("setup", "staging", "cleanup"):
            continue
        steps = render_unit(unit, DIALECTS["duckdb"]).steps
        if unit.name == "spend_365d":
            assert before in steps[-1]
            steps = [*steps[:-1], steps[-1].replace(before, after)]
        tracer.unit(unit, steps)
    found = [str(g) for g in gaps(tracer.written, Allowed(reference.lineage, reference.definitions), "duckdb")]
    assert f"duckdb attributes__spend_365d writes cdpc_work.attr__spend_365d: reads pos_transactions.{read} (read), " \
           "outside the lineage of attribute:spend_365d" in found, found


# --------------------------------------------------------------------------- generated projects


def _contracts(draw) -> list[dict]:
    def contract(name, key, fields, event_time):
        return {"kind": "contract", "name": name, "version": "1.0.0", "relation": f"raw.{name}", "primary_key": key,
                **({"event_time": event_time} if draw(st.booleans()) else {}), "fields": fields}
    s, ts = {"type": "string"}, {"type": "timestamp"}
    return [
        contract("orders", ["order_id"], {"order_id": {**s, "required": True}, "email": {**s, "pii": True},
                                          "phone": {**s, "pii": True}, "amount": {"type": "decimal(10,2)"},
                                          "status": s, "note": {**s, "phi": True}, "ordered_at": ts}, "ordered_at"),
        contract("visits", ["visit_id", "club"], {"visit_id": {**s, "required": True}, "club": {**s, "required": True},
                                                  "member": s, "minutes": {"type": "integer"}, "visited_at": ts}, "visited_at"),
        contract("consents", ["consent_id"], {"consent_id": {**s, "required": True}, "email": {**s, "pii": True},
                                              "purpose": s, "granted": {"type": "boolean"}, "recorded_at": ts}, "recorded_at"),
    ]


def _identity(draw) -> dict:
    orders = draw(st.sampled_from([{"email": "email"}, {"phone": "phone"}, {"email": "email", "phone": "phone"}]))
    return {"kind": "identity", "name": "customer", "version": "1.0.0",
            "identifiers": [{"type": "member", "normalize": "upper_trim", "max_per_profile": 1},
                            {"type": "email", "normalize": "email", "max_per_profile": 2},
                            {"type": "phone", "normalize": "phone"}],
            "sources": {"orders": orders, "visits": {"member": "member"}, "consents": {"email": "email"}},
            "blocklist": draw(st.sampled_from([{}, {"email": ["test@example.com"]}, {"phone": ["+15555550100"]}]))}


AGGREGATES = [  # (source, aggregate, type, where choices)
    ("orders", "sum(amount)", "decimal(12,2)", [None, "status = 'paid'", "amount > 1 and note is null"]),
    ("orders", "count(*)", "bigint", [None, "ordered_at >= current_date - interval 30 day"]),
    ("visits", "sum(minutes)", "bigint", [None, "club = 'a'"]),
    ("visits", "count(distinct club)", "bigint", [None, "visited_at is not null"]),
]
PICKS = [("string", "email", ["orders"]), ("string", {"orders": "email", "consents": "email"}, ["consents", "orders"]),
         ("string", "club", ["visits"]), ("timestamp", "recorded_at", ["consents"])]


def _attributes(draw) -> tuple[list[dict], list[str], list[str]]:
    docs, numeric, boolean = [], [], []
    for i in range(draw(st.integers(1, 6))):
        name, form = f"a{i}", draw(st.sampled_from(["aggregate", "pick", "expression"] if numeric else ["aggregate", "pick"]))
        doc = {"kind": "attribute", "name": name, "version": "1.0.0"}
        if form == "aggregate":
            source, aggregate, type_, wheres = draw(st.sampled_from(AGGREGATES))
            where = draw(st.sampled_from(wheres))
            doc |= {"type": type_, "source": source, "aggregate": aggregate, **({"where": where} if where else {})}
            numeric.append(name)
        elif form == "pick":
            type_, field, from_ = draw(st.sampled_from(PICKS))
            strategy = draw(st.sampled_from(["source_priority", "most_recent", "most_frequent", "first_seen"]))
            doc |= {"type": type_, "pick": {"field": field, "from": from_, "strategy": strategy}}
        elif draw(st.booleans()):
            doc |= {"type": "boolean", "expression": f"{draw(st.sampled_from(numeric))} > 2"}
            boolean.append(name)
        else:
            doc |= {"type": "double", "expression": f"coalesce({draw(st.sampled_from(numeric))}, 0) * 2"}
            numeric.append(name)
        docs.append(doc)
    return docs, numeric, boolean


def _audiences(draw, attributes: list[dict], numeric: list[str], boolean: list[str]) -> list[dict]:
    consent = {"kind": "consent", "name": "marketing", "version": "1.0.0", "source": "consents",
               "purpose_field": "purpose", "granted_field": "granted", "time_field": "recorded_at",
               "purposes": {"email_marketing": {"channels": ["email"]}},
               "suppress_when": draw(st.lists(st.sampled_from(boolean), unique=True, max_size=2)) if boolean else []}
    names = [a["name"] for a in attributes]
    segments = []
    for i in range(draw(st.integers(1, 3))):
        where = f"{draw(st.sampled_from(numeric))} > 1" if numeric else f"{draw(st.sampled_from(names))} is not null"
        earlier = [s["name"] for s in segments]
        extra = {"exclude": [draw(st.sampled_from(earlier))]} if earlier and draw(st.booleans()) else {}
        segments.append({"kind": "segment", "name": f"s{i}", "version": "1.0.0", "where": where,
                         "purposes": ["email_marketing"], **extra})
    destination = {"kind": "destination", "name": "esp", "version": "1.0.0", "channel": "email", "platform": "generic",
                   "identifiers": draw(st.lists(st.sampled_from(["email", "phone", "member"]), unique=True, max_size=2)),
                   "fields": draw(st.lists(st.sampled_from(names), unique=True, max_size=2)),
                   "hash": draw(st.sampled_from(["none", "sha256"])),
                   "syncs": [{"segment": s["name"], "purpose": "email_marketing"} for s in segments[:2]]}
    return [consent, *segments, destination]


@st.composite
def projects(draw) -> list[dict]:
    attributes, numeric, boolean = _attributes(draw)
    project = {"kind": "project", "name": "gen", "entity": "customer", "targets": TARGETS}
    return [project, *_contracts(draw), _identity(draw), *attributes, *_audiences(draw, attributes, numeric, boolean)]


def _load(docs: list[dict]):
    with tempfile.TemporaryDirectory(prefix="cdpc-soundness-") as root:  # JSON is YAML
        write_files(Path(root), {f"definitions/d{i:02d}.yaml": json.dumps(doc) for i, doc in enumerate(docs)})
        return load_project(Path(root))


@settings(max_examples=15, **SETTINGS)
@given(projects())
def test_generated_projects_read_only_their_lineage(docs):
    project = _load(docs)
    assume(project.ok)  # a draw that breaks a privacy rule (a PHI field synced) is not a project
    assert soundness_gaps(project) == []


@settings(max_examples=2, **SETTINGS)
@given(st.integers(0, 2**16))
def test_synthetic_benchmark_projects_read_only_their_lineage(seed):
    with tempfile.TemporaryDirectory(prefix="cdpc-soundness-synth-") as root:
        write_synth_project(Path(root), definitions=40, targets=tuple(TARGETS), seed=seed)
        project = require_valid(Path(root))
    assert soundness_gaps(project) == []
