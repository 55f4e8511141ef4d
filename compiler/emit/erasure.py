"""Erasure: the records of erased profiles, and every row carrying one of their values, are
removed before anything downstream reads them; identity is resolved again without them.

The unit runs right after the identity's (docs/reference.md §2.13, docs/privacy.md §4):

  er_requests  every request of the erasure source (read from its raw relation, never
               copied): its identifier type, its value normalized like that type, its time
               and its status: `applied` (as-of eligible, a known type, a value that
               normalizes), `future` (after the as-of time) or `ignored` (the others)
  er_applied   the applied requests. When there is none, the rest is skipped (a When).
  step 1       the identity was resolved with every record (the identity unit). A profile
               any of whose records holds a requested (type, value) is erased; the erased
               pairs of a request are its own and every (type, value) the records of the
               profiles it erased hold
  step 2       each identity source's staged and rejected rows lose the records of erased
               profiles and every row whose identifier field, normalized like its type,
               holds an erased pair (typed: an email value erases emails only)
  step 3       identity is resolved again from what is left (the identity unit's statements)
Then `<identity>_erasures (id_type, value_sha256, requested_at, records_erased)`: one row per
applied request, the value only as its lowercase hex SHA-256. `records_erased` counts the
staged and rejected rows that step 2 removed because of the request (a row that two requests
erase counts for each).
"""

from __future__ import annotations

from sqlglot import exp

from ..dialects import portable
from ..graph import Lineage
from ..model import Contract, Definitions, Erasure, Identity
from .identity import identifier_column, identifier_value, identity_unit, record_key
from .plan import Loop, Unit, When
from .sql import (WORK, alias, and_, as_of_timestamp, asc, codepoint, col, create_table_as, insert_into, lit, row_number, table, text,
                  union_all, work)
from .staging import typed_value

APPLIED, FUTURE, IGNORED = "applied", "future", "ignored"
ROW = "__er_row"  # a row's number in the copy of a staged or rejected table that step 2 reads


def erasures_table(identity: Identity) -> str:
    return f"{identity.name}_erasures"


def erasure_unit(defs: Definitions, lineage: Lineage, erasure: Erasure) -> Unit:
    identity = defs.identity
    steps: list = []
    steps += create_table_as(WORK, "er_requests", _requests(defs, identity, erasure))
    steps += create_table_as(WORK, "er_applied", exp.select(col("rid"), col("t"), col("id_type"), col("id_value"),
                                                            col("requested_at"), copy=False)
                             .from_(work("er_requests"), copy=False)
                             .where(exp.EQ(this=col("status"), expression=lit(APPLIED)), copy=False))
    # what step 2 removed, per request and per contract (empty when nothing was applied)
    steps += create_table_as(WORK, "er_count", exp.select(alias(_int(exp.Null(), "BIGINT"), "rid"),
                                                          alias(_int(exp.Null(), "BIGINT"), "n"), copy=False)
                             .where(exp.false(), copy=False))
    steps += create_table_as(WORK, "er_contract", exp.select(alias(text(exp.Null()), "contract"),
                                                             alias(_int(exp.Null(), "BIGINT"), "n"), copy=False)
                             .where(exp.false(), copy=False))
    steps += create_table_as(WORK, "er_profile", exp.select(alias(_int(exp.Null(), "BIGINT"), "rid"),
                                                            alias(text(exp.Null()), "profile_id"), copy=False)
                             .where(exp.false(), copy=False))
    steps += create_table_as(WORK, "er_pair", _no_pairs())
    applied = exp.select(exp.Count(this=exp.Star()), copy=False).from_(work("er_applied"), copy=False)
    steps.append(When("erasure", applied, _erase(defs, lineage, identity)))
    counted = (exp.select(col("rid"), alias(exp.Sum(this=col("n")), "n"), copy=False).from_(work("er_count"), copy=False)
               .group_by(col("rid"), copy=False))
    steps += create_table_as(defs.project.schemas.identity, erasures_table(identity), exp.select(
        col("id_type", "a"), alias(portable("SHA256_HEX", col("id_value", "a")), "value_sha256"), col("requested_at", "a"),
        alias(_int(exp.Coalesce(this=col("n", "c"), expressions=[lit(0)]), "BIGINT"), "records_erased"), copy=False)
        .from_(work("er_applied", "a"), copy=False)
        .join(counted.subquery("c", copy=False), join_type="left",
              on=exp.EQ(this=col("rid", "c"), expression=col("rid", "a")), copy=False))
    return Unit("erasure", "erasure", erasure.name, steps)


def _int(value: exp.Expression, kind: str) -> exp.Expression:
    return exp.Cast(this=value, to=exp.DataType.build(kind))


def _no_pairs() -> exp.Select:
    return exp.select(alias(_int(exp.Null(), "BIGINT"), "rid"), alias(_int(exp.Null(), "INT"), "t"),
                      alias(text(exp.Null()), "id_value"), copy=False).where(exp.false(), copy=False)


# ---- the requests ---------------------------------------------------------------------------

def _requests(defs: Definitions, identity: Identity, erasure: Erasure) -> exp.Select:
    """Every request: rid, t (the type's priority), id_type, id_value (normalized), requested_at, status."""
    contract = defs.contracts[erasure.source]
    raw_type = exp.Trim(this=text(col(erasure.type_field)), expression=lit(" "))
    value = col(erasure.value_field)
    known = [(rank, t) for rank, t in enumerate(identity.types, 1)]
    rank = exp.Case(ifs=[exp.If(this=exp.EQ(this=raw_type.copy(), expression=lit(t)), true=lit(r)) for r, t in known])
    normalized = exp.Case(ifs=[exp.If(this=exp.EQ(this=raw_type.copy(), expression=lit(t)),
                                      true=identifier_value(identity, t, value.copy()))
                               for _, t in known])
    requested = typed_value(col(erasure.time_field), contract.fields[erasure.time_field])
    if contract.fields[erasure.time_field].base_type == "date":  # a date is its midnight
        requested = exp.Cast(this=requested, to=exp.DataType.build("TIMESTAMP"))
    inner = (exp.select(alias(rank, "t"), alias(normalized, "id_value"), alias(requested, "requested_at"),
                        alias(raw_type, "raw_type"), copy=False)
             .from_(table(contract.relation_schema, contract.relation_table), copy=False))
    as_of = as_of_timestamp()
    status = exp.Case(ifs=[
        exp.If(this=exp.GT(this=col("requested_at"), expression=as_of), true=lit(FUTURE)),
        exp.If(this=and_(exp.Not(this=col("requested_at").is_(exp.null())), exp.Not(this=col("t").is_(exp.null())),
                         exp.Not(this=col("id_value").is_(exp.null()))), true=lit(APPLIED)),
    ], default=lit(IGNORED))
    id_type = exp.Case(ifs=[exp.If(this=exp.Not(this=col("t").is_(exp.null())), true=col("raw_type"))])
    rid = row_number([], [asc(col("t")), asc(codepoint(col("id_value"))), asc(col("requested_at")),
                          asc(codepoint(col("raw_type")))])
    return exp.select(alias(rid, "rid"), col("t"), alias(id_type, "id_type"), col("id_value"), col("requested_at"),
                      alias(status, "status"), copy=False).from_(inner.subquery("r", copy=False), copy=False)


# ---- steps 1 to 3 ---------------------------------------------------------------------------

def _erase(defs: Definitions, lineage: Lineage, identity: Identity) -> list:
    schema = defs.project.schemas.identity
    id_map = table(schema, f"{identity.name}_map", "m")
    steps: list = []
    hits = [exp.select(col("rid", "q"), col("source", "r"), col("record_key", "r"), copy=False)
            .from_(work("id_rows", "r"), copy=False)
            .join(work("er_applied", "q"), on=and_(exp.EQ(this=col("t", "q"), expression=lit(rank)),
                                                    exp.EQ(this=col("id_value", "q"), expression=col(identifier_column(t), "r"))),
                  copy=False)
            for rank, t in enumerate(identity.types, 1)]
    steps += create_table_as(WORK, "er_hit", union_all(hits))
    steps += create_table_as(WORK, "er_profile", exp.select(col("rid", "h"), col("profile_id", "m"), copy=False).distinct(copy=False)
                             .from_(work("er_hit", "h"), copy=False)
                             .join(id_map.copy(), on=_same_record("m", "h"), copy=False))
    steps += create_table_as(WORK, "er_record", exp.select(col("rid", "p"), col("source", "m"), col("record_key", "m"),
                                                           copy=False).distinct(copy=False)
                             .from_(work("er_profile", "p"), copy=False)
                             .join(id_map.copy(), on=exp.EQ(this=col("profile_id", "m"), expression=col("profile_id", "p")),
                                   copy=False))
    held = [exp.select(col("rid", "e"), alias(lit(rank), "t"), alias(col(identifier_column(t), "r"), "id_value"), copy=False)
            .from_(work("id_rows", "r"), copy=False)
            .join(work("er_record", "e"), on=_same_record("e", "r"), copy=False)
            .where(exp.Not(this=col(identifier_column(t), "r").is_(exp.null())), copy=False)
            for rank, t in enumerate(identity.types, 1)]
    requested = exp.select(col("rid"), col("t"), col("id_value"), copy=False).from_(work("er_applied"), copy=False)
    pairs = exp.select(col("rid"), col("t"), col("id_value"), copy=False).distinct(copy=False) \
        .from_(union_all([requested, *held]).subquery("u", copy=False), copy=False)
    steps += create_table_as(WORK, "er_pair", pairs)
    for source in sorted(identity.sources):
        steps += _scrub(defs, identity, defs.contracts[source], staged=True)
        steps += _scrub(defs, identity, defs.contracts[source], staged=False)
    steps += [_again(s) for s in identity_unit(defs, lineage, identity).steps]
    return steps


def _again(step):
    """An identity step run a second time, its loops and groups named apart from the first run's."""
    if isinstance(step, Loop):
        return Loop(f"erasure_{step.name}", step.body, step.until, step.max_iterations)
    if isinstance(step, When):
        return When(f"erasure_{step.name}", step.condition, [_again(s) for s in step.steps])
    return step


def _same_record(left: str, right: str) -> exp.Expression:
    return and_(exp.EQ(this=col("source", left), expression=col("source", right)),
                exp.EQ(this=col("record_key", left), expression=col("record_key", right)))


def _scrub(defs: Definitions, identity: Identity, contract: Contract, staged: bool) -> list:
    """The staged (or rejected) table of an identity source without the rows step 2 removes;
    their number per request and per contract goes to er_count and er_contract."""
    staging = defs.project.schemas.staging
    name = contract.name if staged else f"{contract.name}_rejected"
    numbered, dropped = f"er_rows__{name}", f"er_drop__{name}"
    columns = [*contract.fields, *([] if staged else ["_reject_reasons"])]
    order = [asc(codepoint(record_key(contract)))] if staged else [asc(codepoint(text(col(f)))) for f in contract.fields]
    steps = create_table_as(WORK, numbered, exp.select(*(col(c) for c in columns), alias(row_number([], order), ROW), copy=False)
                            .from_(table(staging, name), copy=False))
    matches = []
    if staged:  # the records of erased profiles
        matches.append(exp.select(col("rid", "e"), col(ROW, "s"), copy=False).from_(work(numbered, "s"), copy=False)
                       .join(work("er_record", "e"), on=and_(exp.EQ(this=col("source", "e"), expression=lit(contract.name)),
                                                             exp.EQ(this=col("record_key", "e"), expression=record_key(contract, "s"))),
                             copy=False))
    mapping = identity.sources[contract.name]
    for rank, t in enumerate(identity.types, 1):
        if t not in mapping:
            continue
        value = identifier_value(identity, t, col(mapping[t], "s"))
        matches.append(exp.select(col("rid", "p"), col(ROW, "s"), copy=False).from_(work(numbered, "s"), copy=False)
                       .join(work("er_pair", "p"), on=and_(exp.EQ(this=col("t", "p"), expression=lit(rank)),
                                                           exp.EQ(this=col("id_value", "p"), expression=value)), copy=False))
    steps += create_table_as(WORK, dropped, exp.select(col("rid"), col(ROW), copy=False).distinct(copy=False)
                             .from_(union_all(matches).subquery("u", copy=False), copy=False))
    gone = exp.select(col(ROW), copy=False).distinct(copy=False).from_(work(dropped), copy=False)
    steps += create_table_as(staging, name, exp.select(*(col(c, "s") for c in columns), copy=False)
                             .from_(work(numbered, "s"), copy=False)
                             .join(gone.subquery("d", copy=False), join_type="left",
                                   on=exp.EQ(this=col(ROW, "d"), expression=col(ROW, "s")), copy=False)
                             .where(col(ROW, "d").is_(exp.null()), copy=False))
    steps.append(insert_into(WORK, "er_count", exp.select(col("rid"), alias(_int(exp.Count(this=exp.Star()), "BIGINT"), "n"),
                                                          copy=False).from_(work(dropped), copy=False)
                             .group_by(col("rid"), copy=False)))
    steps.append(insert_into(WORK, "er_contract", exp.select(
        alias(text(lit(contract.name)), "contract"), alias(_int(exp.Count(this=exp.Star()), "BIGINT"), "n"), copy=False)
        .from_(gone.copy().subquery("g", copy=False), copy=False)))
    return steps
