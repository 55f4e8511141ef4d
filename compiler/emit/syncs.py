"""Syncs: per destination and sync, the audience table `sync__<destination>__<segment>`.

Audience: segment members granted the sync's purpose, one row each. Per identifier type
the profile's most frequent normalized value (counted over its records, conflicts
removed, ties to the smallest); hashed as the destination's platform expects. A field is
hashed as it is when PII-derived, except on channel ads a pick of an identifier field: that
is normalized like the identifier type first, so the platform can match it.
"""

from __future__ import annotations

from sqlglot import exp

from ..dialects import portable
from ..graph import Lineage
from ..model import Definitions, Destination
from .attributes import attr_table
from .identity import normalized
from .plan import Unit
from .sql import (WORK, alias, and_, asc, codepoint, col, create_table_as, desc, lit, row_number, table, text, work)


def sync_table(destination: str, segment: str) -> str:
    return f"sync__{destination}__{segment}"


def ident_table(destination: str, id_type: str) -> str:
    return f"ident__{destination}__{id_type}"


def sent_field(defs: Definitions, pii_attributes: frozenset[str] | set[str], destination: Destination,
               field: str) -> tuple[str | None, bool]:
    """How a field is sent: (the identifier type it is normalized like before hashing, or None; hashed?).

    Hashed: with `hash: sha256`, every PII-derived field, and on channel ads also every pick of
    an identifier field. Normalized first: on channel ads, a hashed pick of an identifier field."""
    attribute = defs.attributes.get(field)
    id_type = attribute.picked_identifier(defs.identity) if attribute and destination.channel == "ads" else None
    hashed = destination.hash == "sha256" and (field in pii_attributes or id_type is not None)
    return (id_type if hashed else None), hashed


def drops_phone_plus(destination: Destination, normalizer: str) -> bool:
    """Meta wants a phone number hashed as its digits only, without the leading `+`."""
    return destination.hash == "sha256" and normalizer == "phone" and destination.platform == "meta_custom_audiences"


def sync_unit(defs: Definitions, lineage: Lineage, destination: Destination) -> Unit:
    identity = defs.identity
    schemas = defs.project.schemas
    steps: list = []
    for id_type in destination.identifiers:
        steps += create_table_as(WORK, ident_table(destination.name, id_type), _chosen_identifier(defs, id_type))
    for sync in destination.syncs:
        name = sync_table(destination.name, sync.segment)
        query = (exp.select(col("profile_id", "s"), copy=False)
                 .from_(table(schemas.audiences, sync.segment, "s"), copy=False)
                 .join(table(schemas.profiles, f"{defs.project.entity}_consent", "c"), on=and_(
                     exp.EQ(this=col("profile_id", "c"), expression=col("profile_id", "s")),
                     exp.EQ(this=col("purpose", "c"), expression=lit(sync.purpose)),
                     exp.EQ(this=col("granted", "c"), expression=exp.true())), copy=False))
        for id_type in destination.identifiers:
            ref = f"i_{id_type}"
            value = _hashed_identifier(destination, identity.identifier(id_type).normalize, col("id_value", ref))
            query = (query.select(alias(value, id_type), copy=False)
                     .join(work(ident_table(destination.name, id_type), ref), join_type="left",
                           on=exp.EQ(this=col("profile_id", ref), expression=col("profile_id", "s")), copy=False))
        for field in destination.fields:
            ref = f"f_{field}"
            value = col("value", ref)
            id_type, hashed = sent_field(defs, lineage.pii_attributes, destination, field)
            if id_type is not None:
                value = _hashed_identifier(destination, identity.identifier(id_type).normalize,
                                           normalized(identity, id_type, value))
            elif hashed:
                value = portable("SHA256_HEX", text(value))
            query = (query.select(alias(value, field), copy=False)
                     .join(work(attr_table(field), ref), join_type="left",
                           on=exp.EQ(this=col("profile_id", ref), expression=col("profile_id", "s")), copy=False))
        steps += create_table_as(schemas.audiences, name, query)
    return Unit("syncs", "destination", destination.name, steps)


def _chosen_identifier(defs: Definitions, id_type: str) -> exp.Select:
    """Per profile, its value of `id_type` held by most of its records (ties: the smallest).
    The identity counts them (id_profile_values: held values only, so no conflict is among them)."""
    counted = (exp.select(col("profile_id"), col("id_value"),
                          alias(row_number([col("profile_id")], [desc(col("records")), asc(codepoint(col("id_value")))]), "rn"), copy=False)
               .from_(work("id_profile_values"), copy=False)
               .where(exp.EQ(this=col("id_type"), expression=lit(id_type)), copy=False))
    return (exp.select(col("profile_id"), col("id_value"), copy=False).from_(counted.subquery("c", copy=False), copy=False)
            .where(exp.EQ(this=col("rn"), expression=lit(1)), copy=False))


def _hashed_identifier(destination: Destination, normalizer: str, value: exp.Expression) -> exp.Expression:
    """generic: the normalized value; Meta: phone as digits only; Google: phone with `+`."""
    if destination.hash != "sha256":
        return value
    if drops_phone_plus(destination, normalizer):
        value = exp.Replace(this=value, expression=lit("+"), replacement=lit(""))
    return portable("SHA256_HEX", value)


