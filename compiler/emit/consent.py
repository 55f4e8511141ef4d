"""Consent: per profile and declared purpose, granted when the latest event says so.

Latest by `time_field` (events without a time sort oldest); on a tie a denial wins;
no event means not granted; any true `suppress_when` attribute withdraws every purpose.
"""

from __future__ import annotations

from sqlglot import exp

from ..graph import Lineage
from ..model import Consent, Definitions
from .attributes import attr_table, source_table
from .plan import Unit
from .sql import (WORK, alias, and_, asc, col, create_table_as, desc, is_true, lit, or_, row_number, text, union_all, work)


def consent_table(name: str) -> str:
    return f"consent__{name}"


def consent_unit(defs: Definitions, lineage: Lineage, consent: Consent) -> Unit:
    purposes = list(consent.purposes)
    granted_now = exp.EQ(this=col(consent.granted_field), expression=exp.true())
    denial_first = exp.Case(ifs=[exp.If(this=is_true(granted_now), true=lit(1))], default=lit(0))
    events = (exp.select(col("profile_id"), alias(text(col(consent.purpose_field)), "purpose"),
                         alias(is_true(granted_now.copy()), "granted"),
                         alias(row_number([col("profile_id"), col(consent.purpose_field)],
                                               [desc(col(consent.time_field)), asc(denial_first)]), "rn"), copy=False)
              .from_(work(source_table(consent.source)), copy=False)
              .where(exp.In(this=text(col(consent.purpose_field)), expressions=[lit(p) for p in purposes]), copy=False))
    latest = (exp.select(col("profile_id"), col("purpose"), col("granted"), copy=False).from_(events.subquery("e", copy=False), copy=False)
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


def _granted(consent: Consent) -> exp.Expression:
    granted = is_true(col("granted", "l"))
    if not consent.suppress_when:
        return granted
    suppressed = or_(*(is_true(col("value", name)) for name in consent.suppress_when))
    return exp.Case(ifs=[exp.If(this=suppressed, true=exp.false())], default=granted)
