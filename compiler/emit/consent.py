"""Consent: per profile and declared purpose, granted when the latest evidence is a grant.

Evidence is every staged row of a profile's records in the consent's event log (for the
purpose its `purpose_field` names, when declared) and in each purpose's own `sources`
(rows that pass `where`): a grant (`granted_field` is true, or the constant `granted`)
or a denial (false, or a NULL grant), at a time (`time_field`, else the contract's
`event_time`; evidence without a time sorts oldest). The latest evidence wins; on a tie
a denial wins; no evidence means not granted; any true `suppress_when` attribute
withdraws every purpose.
"""

from __future__ import annotations

from sqlglot import exp

from ..graph import Lineage
from ..model import Consent, Definitions
from ..model.consent import Evidence
from ..snippets import parse_snippet
from .attributes import attr_table, source_table
from .plan import Unit
from .sql import (WORK, alias, and_, asc, bind_snippet, cast, col, create_table_as, desc, is_true, lit, or_,
                  row_number, text, union_all, work)


def consent_table(name: str) -> str:
    return f"consent__{name}"


def consent_unit(defs: Definitions, lineage: Lineage, consent: Consent) -> Unit:
    purposes = list(consent.purposes)
    evidence = union_all(_evidence(defs, consent, item, purposes) for item in consent.evidence)
    denial_first = exp.Case(ifs=[exp.If(this=col("granted"), true=lit(1))], default=lit(0))
    ranked = (exp.select(col("profile_id"), col("purpose"), col("granted"),
                         alias(row_number([col("profile_id"), col("purpose")],
                                          [desc(col("evidence_time")), asc(denial_first)]), "rn"), copy=False)
              .from_(evidence.subquery("e", copy=False), copy=False))
    latest = (exp.select(col("profile_id"), col("purpose"), col("granted"), copy=False)
              .from_(ranked.subquery("r", copy=False), copy=False)
              .where(exp.EQ(this=col("rn"), expression=lit(1)), copy=False))
    declared = union_all(exp.select(alias(lit(p), "purpose"), copy=False) for p in purposes)
    query = (exp.select(col("profile_id", "p"), col("purpose", "d"),
                        alias(_granted(consent), "granted"), copy=False)
             .from_(work("profile_ids", "p"), copy=False)
             .join(declared.subquery("d", copy=False), join_type="cross", copy=False)
             .join(latest.subquery("l", copy=False), join_type="left", on=and_(
                 exp.EQ(this=col("profile_id", "l"), expression=col("profile_id", "p")),
                 exp.EQ(this=col("purpose", "l"), expression=col("purpose", "d"))), copy=False))
    for name in consent.suppress_when:
        query = query.join(work(attr_table(name), name), join_type="left",
                           on=exp.EQ(this=col("profile_id", name), expression=col("profile_id", "p")), copy=False)
    return Unit("consent", "consent", consent.name, create_table_as(WORK, consent_table(consent.name), query))


def _evidence(defs: Definitions, consent: Consent, item: Evidence, purposes: list[str]) -> exp.Select:
    """(profile_id, purpose, granted, at) for each row of one source of evidence; `granted` is
    never NULL (a NULL grant is a denial) and `at` is a timestamp (a date is its midnight)."""
    contract = defs.contracts[item.source]
    time_field = item.time(defs.contracts)
    at = col(time_field)
    if contract.fields[time_field].base_type == "date":
        at = cast(at, "timestamp")
    if item.granted_field is not None:
        granted = is_true(exp.EQ(this=col(item.granted_field), expression=exp.true()))
    else:
        granted = lit(bool(item.granted))
    purpose = text(col(item.purpose_field)) if item.purpose is None else lit(item.purpose)
    rows = (exp.select(col("profile_id"), alias(purpose, "purpose"), alias(granted, "granted"), alias(at, "evidence_time"),
                       copy=False)
            .from_(work(source_table(item.source)), copy=False))
    if item.purpose is None:  # the event log: rows for a purpose that is not declared are ignored
        rows = rows.where(exp.In(this=text(col(item.purpose_field)), expressions=[lit(p) for p in purposes]),
                          copy=False)
    if item.where is not None:
        condition = bind_snippet(parse_snippet(item.where, defs.project.expression_dialect).expr)
        rows = rows.where(is_true(condition), copy=False)
    return rows


def _granted(consent: Consent) -> exp.Expression:
    granted = is_true(col("granted", "l"))
    if not consent.suppress_when:
        return granted
    suppressed = or_(*(is_true(col("value", name)) for name in consent.suppress_when))
    return exp.Case(ifs=[exp.If(this=suppressed, true=exp.false())], default=granted)
