"""Profiles: the entity's tables, `<entity>_profiles` (one column per attribute) and `<entity>_consent`."""

from __future__ import annotations

from sqlglot import exp

from ..model import Definitions
from .attributes import attr_table
from .consent import consent_table
from .plan import Unit
from .sql import (alias, col, create_table_as, union_all, work)

_EMPTY_CONSENT = exp.select(
    alias(exp.Cast(this=exp.Null(), to=exp.DataType.build("TEXT")), "profile_id"),
    alias(exp.Cast(this=exp.Null(), to=exp.DataType.build("TEXT")), "purpose"),
    alias(exp.Cast(this=exp.Null(), to=exp.DataType.build("BOOLEAN")), "granted"),
 copy=False).where(exp.false(), copy=False)


def profiles_unit(defs: Definitions) -> Unit:
    schema, entity = defs.project.schemas.profiles, defs.project.entity
    profiles = exp.select(col("profile_id", "p"), copy=False).from_(work("profile_ids", "p"), copy=False)
    for name in sorted(defs.attributes):
        # copy=False: sqlglot's builders copy the whole tree on every call otherwise (quadratic)
        profiles = (profiles.select(alias(col("value", name), name), copy=False)
                    .join(work(attr_table(name), name), join_type="left",
                          on=exp.EQ(this=col("profile_id", name), expression=col("profile_id", "p")), copy=False))
    consents = [exp.select(col("profile_id"), col("purpose"), col("granted"), copy=False).from_(work(consent_table(c)), copy=False)
                for c in sorted(defs.consents)]
    steps = [*create_table_as(schema, f"{entity}_profiles", profiles),
             *create_table_as(schema, f"{entity}_consent", union_all(consents) if consents else _EMPTY_CONSENT.copy())]
    return Unit("profiles", "project", entity, steps)
