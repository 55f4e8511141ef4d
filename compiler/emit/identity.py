"""Identity: normalize identifiers, then resolve records into profiles, set-based, in the engine.

The resolution of docs/reference.md §2.3, one pass per identifier type in priority order:
  held     the (profile, type, value) triples not rejected so far, kept collapsed per
           profile: after each pass merged profiles share one row per value
  link     values of this type held by two or more profiles
  2a       a linking value is rejected when the union of its profiles would hold more
           than max_per_profile values of some type
  2b       connected components through the surviving values (label propagation: a
           loop the runner repeats until no label changes); a component that would break
           a limit is not merged and every value of this type inside it is rejected
Profiles are labelled by their smallest record number; profile_id is chosen at the end.
"""

from __future__ import annotations

from sqlglot import exp

from ..dialects import portable
from ..graph import Lineage
from ..model import Contract, Definitions, Identity
from ..normalize import normalize_value
from .attributes import source_table
from .plan import Loop, Unit
from .sql import (WORK, alias, and_, asc, coalesce, codepoint, col, concat, create_table_as, insert_into, lit, row_number, table, text, union_all, work)

_NULL_TEXT = exp.Cast(this=exp.Null(), to=exp.DataType.build("TEXT"))


def record_key(contract: Contract, qualifier: str | None = None) -> exp.Expression:
    """Primary key values cast to text, joined by `|` (a NULL part counts as empty)."""
    parts = [coalesce(text(col(k, qualifier)), lit("")) for k in contract.primary_key]
    joined = [parts[0]]
    for part in parts[1:]:
        joined += [lit("|"), part]
    return concat(*joined) if len(joined) > 1 else joined[0]


def identity_unit(defs: Definitions, lineage: Lineage, identity: Identity) -> Unit:
    steps: list = []
    steps += _records(defs, identity)
    # rows that share a record key are one record (docs/reference.md §2.3: a record is its source and key), so
    # rid is a dense rank and a record may hold the values of all its rows
    steps += create_table_as(WORK, "id_values", union_all(
        exp.select(col("rid"), alias(lit(t), "id_type"), alias(col(_column(t)), "id_value"), copy=False).distinct(copy=False)
        .from_(work("id_records"), copy=False).where(exp.Not(this=exp.Is(this=col(_column(t)), expression=exp.Null())), copy=False)
        for t in identity.types))
    steps += create_table_as(WORK, "id_profile", exp.select(col("rid"), alias(col("rid"), "pid"), copy=False).distinct(copy=False)
                             .from_(work("id_records"), copy=False))
    steps += create_table_as(WORK, "id_held", exp.select(alias(col("rid"), "pid"), col("id_type"), col("id_value"), copy=False)
                             .from_(work("id_values"), copy=False))
    steps += create_table_as(WORK, "id_rejected", exp.select(
        alias(_NULL_TEXT.copy(), "id_type"), alias(_NULL_TEXT.copy(), "id_value"),
        alias(_NULL_TEXT.copy(), "reason"), copy=False).where(exp.false(), copy=False))
    for id_type in identity.types:
        steps += _pass(identity, id_type)
    steps += _finish(defs, identity)
    return Unit("identity", "identity", identity.name, steps)


def _column(id_type: str) -> str:
    return f"id__{id_type}"


# ---- records and normalized identifiers ------------------------------------------------

def _records(defs: Definitions, identity: Identity) -> list[exp.Expression]:
    staging = defs.project.schemas.staging
    per_source = []
    for source, mapping in identity.sources.items():
        contract = defs.contracts[source]
        values = [alias(_prepare(identity, t, col(mapping[t])) if t in mapping else _NULL_TEXT.copy(), _column(t))
                  for t in identity.types]
        per_source.append(exp.select(alias(lit(source), "source"), alias(record_key(contract), "record_key"), *values, copy=False)
                          .from_(table(staging, source), copy=False))
    finished = [alias(_finish_value(identity, t, col(_column(t))), _column(t)) for t in identity.types]
    # an ordered window (Spark needs one) that also makes rid reproducible
    rid = exp.Window(this=exp.Anonymous(this="DENSE_RANK"), order=exp.Order(expressions=[
        asc(codepoint(col("source"))), asc(codepoint(col("record_key")))]))
    query = (exp.select(alias(rid, "rid"), col("source"), col("record_key"), *finished, copy=False)
             .from_(union_all(per_source).subquery("prepared", copy=False), copy=False))
    return create_table_as(WORK, "id_records", query)


def _prepare(identity: Identity, id_type: str, value: exp.Expression) -> exp.Expression:
    """First half of a normalizer: trim and case-map, or keep a phone's digits."""
    raw = text(value)
    kind = identity.identifier(id_type).normalize
    if kind == "phone":
        return portable("REGEX_REPLACE_ALL", raw, lit("[^0-9]"), lit(""))
    if kind == "none":
        return raw
    trimmed = exp.Trim(this=raw, expression=lit(" "))
    return {"email": exp.Lower, "lower_trim": exp.Lower, "upper_trim": exp.Upper}.get(kind, lambda this: this)(this=trimmed) \
        if kind != "trim" else trimmed


def _finish_value(identity: Identity, id_type: str, value: exp.Expression) -> exp.Expression:
    """Second half: validity (email shape, phone length), empty and blocklisted values become NULL."""
    value = _shape(identity.identifier(id_type).normalize, value)
    blocked = blocked_values(identity, id_type)
    empty = exp.EQ(this=value.copy(), expression=lit(""))
    condition = exp.or_(empty, exp.In(this=value.copy(), expressions=[lit(b) for b in blocked]), copy=False) if blocked else empty
    return exp.Case(ifs=[exp.If(this=condition, true=_NULL_TEXT.copy())], default=value)


def _shape(kind: str, value: exp.Expression) -> exp.Expression:
    """NULL unless an email has one `@` with text on both sides; a phone's 8 to 15 digits with `+`."""
    if kind == "email":
        ats = exp.Sub(this=exp.Length(this=value.copy()),
                      expression=exp.Length(this=exp.Replace(this=value.copy(), expression=lit("@"), replacement=lit(""))))
        shaped = and_(exp.EQ(this=ats, expression=lit(1)),
                      exp.Not(this=exp.Like(this=value.copy(), expression=lit("@%"))),
                      exp.Not(this=exp.Like(this=value.copy(), expression=lit("%@"))))
        return exp.Case(ifs=[exp.If(this=shaped, true=value.copy())])
    if kind == "phone":
        length = exp.Length(this=value.copy())
        return exp.Case(ifs=[
            exp.If(this=exp.EQ(this=length, expression=lit(10)), true=concat(lit("+1"), value.copy())),
            exp.If(this=exp.Between(this=length.copy(), low=lit(8), high=lit(15)), true=concat(lit("+"), value.copy())),
        ])
    return value


def blocked_values(identity: Identity, id_type: str) -> list[str]:
    """The type's blocklist, normalized, sorted, without entries that normalize to nothing."""
    kind = identity.identifier(id_type).normalize
    return sorted({n for v in identity.blocklist.get(id_type, []) if (n := normalize_value(kind, str(v)))})


def normalized(identity: Identity, id_type: str, value: exp.Expression) -> exp.Expression:
    """A raw value normalized like identifiers of `id_type` (NULL when it is none), blocklist aside."""
    shaped = _shape(identity.identifier(id_type).normalize, _prepare(identity, id_type, value))
    return exp.Case(ifs=[exp.If(this=exp.EQ(this=shaped.copy(), expression=lit("")), true=_NULL_TEXT.copy())],
                    default=shaped)


def is_blocked(identity: Identity, id_type: str, value: exp.Expression) -> exp.Expression | None:
    """True when a raw value normalizes to a blocklisted value of `id_type`; None: the type has no blocklist."""
    blocked = blocked_values(identity, id_type)
    if not blocked:
        return None
    shaped = _shape(identity.identifier(id_type).normalize, _prepare(identity, id_type, value))
    return exp.In(this=shaped, expressions=[lit(b) for b in blocked])


# ---- one resolution pass ---------------------------------------------------------------

def _limit(identity: Identity, column: exp.Expression) -> exp.Expression:
    limited = [i for i in identity.identifiers if i.max_per_profile is not None]
    if not limited:
        return exp.Cast(this=exp.Null(), to=exp.DataType.build("INT"))
    return exp.Case(this=column, ifs=[exp.If(this=lit(i.type), true=lit(i.max_per_profile)) for i in limited])


def _rank(identity: Identity, column: exp.Expression) -> exp.Expression:
    return exp.Case(this=column, ifs=[exp.If(this=lit(t), true=lit(n)) for n, t in enumerate(identity.types, 1)])


def _reason(identity: Identity, column: exp.Expression, template: str) -> exp.Expression:
    limited = [i for i in identity.identifiers if i.max_per_profile is not None]
    if not limited:
        return _NULL_TEXT.copy()
    return exp.Case(this=column, ifs=[exp.If(this=lit(i.type), true=lit(template.format(t=i.type, n=i.max_per_profile)))
                                      for i in limited])


def _is_null(expression: exp.Expression) -> exp.Expression:
    return exp.Is(this=expression, expression=exp.Null())


def _pass(identity: Identity, id_type: str) -> list:
    t = lit(id_type)
    steps: list = []
    linking = (exp.select(col("id_value"), copy=False).from_(work("id_held"), copy=False).where(exp.EQ(this=col("id_type"), expression=t.copy()), copy=False)
               .group_by(col("id_value"), copy=False).having(exp.GT(this=exp.Count(this=exp.Star()), expression=lit(1)), copy=False))
    steps += create_table_as(WORK, "id_link", exp.select(alias(col("id_value", "h"), "v"), col("pid", "h"), copy=False)
                             .from_(work("id_held", "h"), copy=False)
                             .where(and_(exp.EQ(this=col("id_type", "h"), expression=t.copy()),
                                         exp.In(this=col("id_value", "h"), query=linking.subquery(copy=False))), copy=False))
    steps += create_table_as(WORK, "id_reject_a", _over_limit(
        identity, group=col("v", "l"), source=exp.select(copy=False).from_(work("id_link", "l"), copy=False)
        .join(work("id_held", "h"), on=exp.EQ(this=col("pid", "h"), expression=col("pid", "l")), copy=False),
        template="linking value would give a profile more than {n} {t} values (max_per_profile)"))
    steps += create_table_as(WORK, "id_edges", exp.select(col("v", "l"), col("pid", "l"), copy=False).from_(work("id_link", "l"), copy=False)
                             .join(work("id_reject_a", "r"), join_type="left", on=exp.EQ(this=col("id_value", "r"), expression=col("v", "l")), copy=False)
                             .where(_is_null(col("id_value", "r")), copy=False))
    steps += create_table_as(WORK, "id_label", exp.select(col("pid"), alias(col("pid"), "l"), copy=False).distinct(copy=False).from_(work("id_edges"), copy=False))
    steps.append(_propagate(id_type))
    steps += create_table_as(WORK, "id_bad", _over_limit(
        identity, group=col("l", "c"), source=exp.select(copy=False).from_(work("id_label", "c"), copy=False)
        .join(work("id_held", "h"), on=exp.EQ(this=col("pid", "h"), expression=col("pid", "c")), copy=False)
        .join(work("id_reject_a", "r"), join_type="left", on=and_(
            exp.EQ(this=col("id_type", "h"), expression=t.copy()),
            exp.EQ(this=col("id_value", "r"), expression=col("id_value", "h"))), copy=False)
        .where(_is_null(col("id_value", "r")), copy=False),
        template="merged profile would hold more than {n} {t} values (max_per_profile)"))
    steps.append(insert_into(WORK, "id_rejected", exp.select(alias(t.copy(), "id_type"), col("id_value"), col("reason"), copy=False)
                             .from_(work("id_reject_a"), copy=False)))
    steps.append(insert_into(WORK, "id_rejected", exp.select(alias(t.copy(), "id_type"), col("id_value", "h"), col("reason", "b"), copy=False).distinct(copy=False)
                             .from_(work("id_label", "c"), copy=False)
                             .join(work("id_bad", "b"), on=exp.EQ(this=col("l", "b"), expression=col("l", "c")), copy=False)
                             .join(work("id_held", "h"), on=and_(exp.EQ(this=col("pid", "h"), expression=col("pid", "c")),
                                                                 exp.EQ(this=col("id_type", "h"), expression=t.copy())), copy=False)
                             .join(work("id_reject_a", "r"), join_type="left", on=exp.EQ(this=col("id_value", "r"), expression=col("id_value", "h")), copy=False)
                             .where(_is_null(col("id_value", "r")), copy=False)))
    steps += _merge(t)
    return steps


def _merge(t: exp.Expression) -> list:
    """Apply the pass: good components take their label; held values collapse onto profiles."""
    steps: list = create_table_as(WORK, "id_merge", exp.select(col("pid", "c"), col("l", "c"), copy=False).from_(work("id_label", "c"), copy=False)
                                  .join(work("id_bad", "b"), join_type="left", on=exp.EQ(this=col("l", "b"), expression=col("l", "c")), copy=False)
                                  .where(_is_null(col("l", "b")), copy=False))
    new_pid = lambda alias: coalesce(col("l", "m"), col("pid", alias))  # noqa: E731
    steps += create_table_as(WORK, "id_profile_next", exp.select(col("rid", "p"), alias(new_pid("p"), "pid"), copy=False)
                             .from_(work("id_profile", "p"), copy=False)
                             .join(work("id_merge", "m"), join_type="left", on=exp.EQ(this=col("pid", "m"), expression=col("pid", "p")), copy=False))
    steps += create_table_as(WORK, "id_profile", exp.select(col("rid"), col("pid"), copy=False).from_(work("id_profile_next"), copy=False))
    rejected_now = and_(exp.EQ(this=col("id_type", "x"), expression=col("id_type", "h")),
                        exp.EQ(this=col("id_value", "x"), expression=col("id_value", "h")),
                        exp.EQ(this=col("id_type", "h"), expression=t.copy()))
    steps += create_table_as(WORK, "id_held_next", exp.select(alias(new_pid("h"), "pid"), col("id_type", "h"), col("id_value", "h"), copy=False)
                             .distinct(copy=False).from_(work("id_held", "h"), copy=False)
                             .join(work("id_merge", "m"), join_type="left", on=exp.EQ(this=col("pid", "m"), expression=col("pid", "h")), copy=False)
                             .join(work("id_rejected", "x"), join_type="left", on=rejected_now, copy=False)
                             .where(_is_null(col("id_type", "x")), copy=False))
    steps += create_table_as(WORK, "id_held", exp.select(col("pid"), col("id_type"), col("id_value"), copy=False).from_(work("id_held_next"), copy=False))
    return steps


def _over_limit(identity: Identity, group: exp.Column, source: exp.Select, template: str) -> exp.Select:
    """Groups whose held values exceed a type's limit, with the first such type's reason."""
    id_type = col("id_type", "h")
    over = (source.select(alias(group.copy(), "grp"),
                          alias(row_number([group.copy()], [asc(_rank(identity, id_type))]), "rn"),
                          alias(_reason(identity, id_type, template), "reason"), copy=False)
            .group_by(group.copy(), id_type.copy(), copy=False)
            .having(exp.GT(this=exp.Count(this=exp.Distinct(expressions=[col("id_value", "h")])),
                           expression=_limit(identity, id_type.copy())), copy=False))
    name = "id_value" if group.name == "v" else "l"
    return (exp.select(alias(col("grp"), name), col("reason"), copy=False).from_(over.subquery("o", copy=False), copy=False)
            .where(exp.EQ(this=col("rn"), expression=lit(1)), copy=False))


def _propagate(id_type: str) -> Loop:
    """Min-label propagation over (value, profile) edges, with one pointer jump per round."""
    value_label = (exp.select(col("v", "e"), alias(exp.Min(this=col("l", "p")), "l"), copy=False)
                   .from_(work("id_edges", "e"), copy=False)
                   .join(work("id_label_prev", "p"), on=exp.EQ(this=col("pid", "p"), expression=col("pid", "e")), copy=False)
                   .group_by(col("v", "e"), copy=False))
    hop = (exp.select(col("pid", "e"), alias(exp.Min(this=col("l", "vl")), "l"), copy=False)
           .from_(work("id_edges", "e"), copy=False)
           .join(value_label.subquery("vl", copy=False), on=exp.EQ(this=col("v", "vl"), expression=col("v", "e")), copy=False)
           .group_by(col("pid", "e"), copy=False))
    jumped = (exp.select(col("pid", "h"), alias(exp.Least(this=col("l", "h"), expressions=[col("l", "j")]), "l"), copy=False)
              .from_(hop.subquery("h", copy=False), copy=False)
              .join(work("id_label_prev", "j"), on=exp.EQ(this=col("pid", "j"), expression=col("l", "h")), copy=False))
    changed = (exp.select(exp.Count(this=exp.Star()), copy=False).from_(work("id_label", "c"), copy=False)
               .join(work("id_label_prev", "p"), on=exp.EQ(this=col("pid", "p"), expression=col("pid", "c")), copy=False)
               .where(exp.NEQ(this=col("l", "c"), expression=col("l", "p")), copy=False))
    body = [*create_table_as(WORK, "id_label_prev", exp.select(col("pid"), col("l"), copy=False).from_(work("id_label"), copy=False)),
            *create_table_as(WORK, "id_label", jumped)]
    return Loop(f"components_{id_type}", body, changed)


# ---- profile ids and outputs -------------------------------------------------------------

def _finish(defs: Definitions, identity: Identity) -> list[exp.Expression]:
    schema = defs.project.schemas.identity
    staging = defs.project.schemas.staging
    steps: list = []
    keyed = (exp.select(col("pid"), col("id_type"), col("id_value"),
                        alias(row_number([col("pid")], [asc(_rank(identity, col("id_type"))), asc(codepoint(col("id_value")))]), "rn"), copy=False)
             .from_(work("id_held"), copy=False))
    steps += create_table_as(WORK, "id_profile_key", exp.select(col("pid"), col("id_type"), col("id_value"), copy=False)
                             .from_(keyed.subquery("k", copy=False), copy=False).where(exp.EQ(this=col("rn"), expression=lit(1)), copy=False))
    profile_id = exp.func("COALESCE",
                          portable("MD5_HEX", concat(col("id_type", "k"), lit(":"), col("id_value", "k"))),
                          portable("MD5_HEX", concat(lit("record:"), col("source", "r"), lit(":"), col("record_key", "r"))))
    steps += create_table_as(WORK, "id_record_profile", exp.select(col("rid", "r"), col("source", "r"), col("record_key", "r"),
                                                                   alias(profile_id, "profile_id"), copy=False).distinct(copy=False)
                             .from_(work("id_records", "r"), copy=False)
                             .join(work("id_profile", "p"), on=exp.EQ(this=col("rid", "p"), expression=col("rid", "r")), copy=False)
                             .join(work("id_profile_key", "k"), join_type="left", on=exp.EQ(this=col("pid", "k"), expression=col("pid", "p")), copy=False))
    steps += create_table_as(schema, f"{identity.name}_map", exp.select(col("source"), col("record_key"), col("profile_id"), copy=False)
                             .from_(work("id_record_profile"), copy=False))
    steps += create_table_as(schema, f"{identity.name}_conflicts", exp.select(col("id_type"), col("id_value"), col("reason"), copy=False)
                             .from_(work("id_rejected"), copy=False))
    steps += create_table_as(WORK, "profile_ids", exp.select(col("profile_id"), copy=False).distinct(copy=False).from_(work("id_record_profile"), copy=False))
    for source in identity.sources:
        contract = defs.contracts[source]
        steps += create_table_as(WORK, source_table(source), exp.select(col("profile_id", "m"), exp.Column(this=exp.Star(), table=exp.to_identifier("t")), copy=False)
                                 .from_(table(staging, source, "t"), copy=False)
                                 .join(table(schema, f"{identity.name}_map", "m"), on=and_(
                                     exp.EQ(this=col("source", "m"), expression=lit(source)),
                                     exp.EQ(this=col("record_key", "m"), expression=record_key(contract, "t"))), copy=False))
    return steps
