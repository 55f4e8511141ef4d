"""Attributes: one scratch table per attribute, `attr__<name> (profile_id, value)`, one row per profile.

aggregate   the source's staged rows of the profile, filtered by `where`, aggregated;
            profiles with no matching row get `default` (else NULL)
expression  a row-wise expression over other attributes (computed before it: DAG order)
pick        survivorship: one staged value chosen by the strategy, ties to the smallest; a value
            of a field mapped to an identifier type is skipped when it normalizes to a
            blocklisted value of that type (docs/reference.md §2.4)
"""

from __future__ import annotations

from sqlglot import exp

from ..graph import Lineage
from ..model import Attribute, Definitions
from ..snippets import parse_snippet
from .plan import Unit
from .sql import (WORK, alias, and_, asc, bind_snippet, cast, codepoint, col, create_table_as, data_type, desc, is_true, lit, row_number, typed_lit, union_all, work)


def attr_table(name: str) -> str:
    return f"attr__{name}"


def source_table(source: str) -> str:
    return f"src__{source}"


def attribute_unit(defs: Definitions, lineage: Lineage, attribute: Attribute) -> Unit:
    build = {"aggregate": _aggregate, "expression": _expression, "pick": _pick}[attribute.form]
    steps = create_table_as(WORK, attr_table(attribute.name), build(defs, attribute))
    return Unit("attributes", "attribute", attribute.name, steps)


def _all_profiles() -> exp.Select:
    return exp.select(col("profile_id", "p"), copy=False).from_(work("profile_ids", "p"), copy=False)


def _aggregate(defs: Definitions, attribute: Attribute) -> exp.Select:
    dialect = defs.project.expression_dialect
    value = bind_snippet(parse_snippet(attribute.aggregate, dialect).expr)
    grouped = (exp.select(col("profile_id"), alias(value, "value"), copy=False)
               .from_(work(source_table(attribute.source)), copy=False).group_by(col("profile_id"), copy=False))
    if attribute.where:
        grouped = grouped.where(is_true(bind_snippet(parse_snippet(attribute.where, dialect).expr)), copy=False)
    no_rows = exp.Is(this=col("profile_id", "g"), expression=exp.Null())
    result = exp.Case(ifs=[exp.If(this=no_rows, true=typed_lit(attribute.default, attribute.type))],
                      default=cast(col("value", "g"), attribute.type))
    return (_all_profiles().select(alias(result, "value"), copy=False)
            .join(grouped.subquery("g", copy=False), join_type="left",
                  on=exp.EQ(this=col("profile_id", "g"), expression=col("profile_id", "p")), copy=False))


def _expression(defs: Definitions, attribute: Attribute) -> exp.Select:
    snippet = parse_snippet(attribute.expression, defs.project.expression_dialect)
    inputs = _attribute_inputs(list(snippet.columns))
    value = cast(bind_snippet(snippet.expr), attribute.type)
    return exp.select(col("profile_id"), alias(value, "value"), copy=False).from_(inputs.subquery("inputs", copy=False), copy=False)


def _attribute_inputs(names: list[str]) -> exp.Select:
    """profile_id plus one column per named attribute (each attr table has every profile)."""
    query = _all_profiles()
    for name in names:
        query = (query.select(alias(col("value", name), name), copy=False)
                 .join(work(attr_table(name), name), on=exp.EQ(this=col("profile_id", name), expression=col("profile_id", "p")), copy=False))
    return query


def _not_blocked(defs: Definitions, source: str, field: str) -> list[exp.Expression]:
    """One condition per identifier type with a blocklist that the source maps `field` to."""
    from .identity import is_blocked  # identity.py reads source_table from here
    identity = defs.identity
    blocked = [is_blocked(identity, t, col(field)) for t in identity.types_of(source, field)] if identity else []
    return [exp.Not(this=is_true(condition)) for condition in blocked if condition is not None]


def _pick(defs: Definitions, attribute: Attribute) -> exp.Select:
    pick = attribute.pick
    is_text = attribute.type.strip() == "string"
    candidates = []
    for rank, source in enumerate(pick.from_, 1):
        event_time = defs.contracts[source].event_time
        seen = (exp.Cast(this=col(event_time), to=data_type("timestamp")) if event_time
                else exp.Cast(this=exp.Null(), to=data_type("timestamp")))
        field = pick.field_for(source)
        candidates.append(exp.select(col("profile_id"), alias(cast(col(field), attribute.type), "value"),
                                     alias(lit(rank), "source_rank"), alias(seen, "seen_at"), copy=False)
                          .from_(work(source_table(source)), copy=False)
                          .where(and_(exp.Not(this=exp.Is(this=col(field), expression=exp.Null())),
                                      *_not_blocked(defs, source, field)), copy=False))
    value = codepoint(col("value")) if is_text else col("value")
    if pick.strategy == "most_frequent":
        counted = (exp.select(col("profile_id"), col("value"), alias(exp.Count(this=exp.Star()), "n"), copy=False)
                   .from_(union_all(candidates).subquery("c", copy=False), copy=False).group_by(col("profile_id"), col("value"), copy=False))
        order = [desc(col("n")), asc(value)]
        ranked_from = counted.subquery("c", copy=False)
    else:
        order = {
            "source_priority": [asc(col("source_rank")), desc(col("seen_at")), asc(value)],
            "most_recent": [desc(col("seen_at")), asc(value)],
            "first_seen": [asc(col("seen_at")), asc(value)],
        }[pick.strategy]
        ranked_from = union_all(candidates).subquery("c", copy=False)
    ranked = (exp.select(col("profile_id"), col("value"), alias(row_number([col("profile_id")], order), "rn"), copy=False)
              .from_(ranked_from, copy=False))
    chosen = exp.select(col("profile_id"), col("value"), copy=False).from_(ranked.subquery("r", copy=False), copy=False).where(exp.EQ(this=col("rn"), expression=lit(1)), copy=False)
    return (_all_profiles().select(alias(col("value", "v"), "value"), copy=False)
            .join(chosen.subquery("v", copy=False), join_type="left", on=exp.EQ(this=col("profile_id", "v"), expression=col("profile_id", "p")), copy=False))
