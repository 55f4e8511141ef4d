"""Segments: members are profiles where `where` is true (NULL is false), in any `include`, in no `exclude`."""

from __future__ import annotations

from sqlglot import exp

from ..graph import Lineage
from ..model import Definitions, Segment
from ..snippets import parse_snippet
from .plan import Check, Unit
from .sql import and_, bind_snippet, col, create_table_as, is_true, table, union_all


def segment_unit(defs: Definitions, lineage: Lineage, segment: Segment) -> Unit:
    schemas = defs.project.schemas
    conditions = []
    if segment.where:
        conditions.append(is_true(bind_snippet(parse_snippet(segment.where, defs.project.expression_dialect).expr)))
    if segment.include:
        conditions.append(exp.In(this=col("profile_id"), query=_members(schemas.audiences, segment.include).subquery(copy=False)))
    if segment.exclude:
        conditions.append(exp.Not(this=exp.In(this=col("profile_id"), query=_members(schemas.audiences, segment.exclude).subquery(copy=False))))
    query = exp.select(col("profile_id"), copy=False).from_(table(schemas.profiles, f"{defs.project.entity}_profiles"), copy=False)
    if conditions:
        query = query.where(and_(*conditions), copy=False)
    checks = []
    size = segment.expected_size
    if size and (size.min is not None or size.max is not None):
        checks.append(Check("CDP507", "error", f"segment {segment.name}: size outside expected_size",
                            exp.select(exp.Count(this=exp.Star()), copy=False).from_(table(schemas.audiences, segment.name), copy=False),
                            minimum=size.min, maximum=size.max))
    return Unit("segments", "segment", segment.name, create_table_as(schemas.audiences, segment.name, query), checks)


def _members(schema: str, segments: list[str]) -> exp.Query:
    return union_all(exp.select(col("profile_id"), copy=False).from_(table(schema, name), copy=False) for name in segments)
