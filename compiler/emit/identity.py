"""Identity: normalize identifiers, then resolve records into profiles, set-based, in the engine.

SPEC's resolution, one pass per identifier type in priority order:
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
from ..model import Contract, Definitions, Identity
from ..normalize import normalize_value
from .plan import Loop, Unit
from .sql import (WORK, and_, codepoint, col, concat, create_table_as, drop_table, insert_into, lit,
                  row_number, asc, table, text, union_all, work)

_NULL_TEXT = exp.Cast(this=exp.Null(), to=exp.DataType.build("TEXT"))


def record_key(contract: Contract, qualifier: str | None = None) -> exp.Expression:
    """Primary key values cast to text, joined by `|` (a NULL part counts as empty)."""
    parts = [exp.func("COALESCE", text(col(k, qualifier)), lit("")) for k in contract.primary_key]
    joined = [parts[0]]
    for part in parts[1:]:
        joined += [lit("|"), part]
    return concat(*joined) if len(joined) > 1 else joined[0]


def identity_unit(defs: Definitions, identity: Identity) -> Unit:
    steps: list = []
    steps += _records(defs, identity)
    # rows that share a record key are one record (SPEC: a record is its source and key), so
    # rid is a dense rank and a record may hold the values of all its rows
    steps += create_table_as(WORK, "id_values", union_all(
        exp.select(col("rid"), exp.alias_(lit(t), "id_type"), exp.alias_(col(_column(t)), "id_value")).distinct()
        .from_(work("id_records")).where(exp.Not(this=exp.Is(this=col(_column(t)), expression=exp.Null())))
        for t in identity.types))
    steps += create_table_as(WORK, "id_profile", exp.select(col("rid"), exp.alias_(col("rid"), "pid")).distinct()
                             .from_(work("id_records")))
    steps += create_table_as(WORK, "id_held", exp.select(exp.alias_(col("rid"), "pid"), col("id_type"), col("id_value"))
                             .from_(work("id_values")))
    steps += create_table_as(WORK, "id_rejected", exp.select(
        exp.alias_(_NULL_TEXT.copy(), "id_type"), exp.alias_(_NULL_TEXT.copy(), "id_value"),
        exp.alias_(_NULL_TEXT.copy(), "reason")).where(exp.false()))
    for id_type in identity.types:
        steps += _pass(identity, id_type)
    steps += _finish(defs, identity)
    schema = defs.project.schemas.identity
    return Unit("identity", "identity", identity.name, steps, [],
                [f"{schema}.{identity.name}_map", f"{schema}.{identity.name}_conflicts"])


def _column(id_type: str) -> str:
    return f"id__{id_type}"


# ---- records and normalized identifiers ------------------------------------------------

def _records(defs: Definitions, identity: Identity) -> list[exp.Expression]:
    staging = defs.project.schemas.staging
    per_source = []
    for source, mapping in identity.sources.items():
        contract = defs.contracts[source]
        values = [exp.alias_(_prepare(identity, t, col(mapping[t])) if t in mapping else _NULL_TEXT.copy(), _column(t))
                  for t in identity.types]
        per_source.append(exp.select(exp.alias_(lit(source), "source"), exp.alias_(record_key(contract), "record_key"), *values)
                          .from_(table(staging, source)))
    finished = [exp.alias_(_finish_value(identity, t, col(_column(t))), _column(t)) for t in identity.types]
    # an ordered window (Spark needs one) that also makes rid reproducible
    rid = exp.Window(this=exp.func("DENSE_RANK"), order=exp.Order(expressions=[
        asc(codepoint(col("source"))), asc(codepoint(col("record_key")))]))
    query = (exp.select(exp.alias_(rid, "rid"), col("source"), col("record_key"), *finished)
             .from_(union_all(per_source).subquery("prepared")))
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
    kind = identity.identifier(id_type).normalize
    if kind == "email":
        ats = exp.Sub(this=exp.Length(this=value.copy()),
                      expression=exp.Length(this=exp.Replace(this=value.copy(), expression=lit("@"), replacement=lit(""))))
        shaped = and_(exp.EQ(this=ats, expression=lit(1)),
                      exp.Not(this=exp.Like(this=value.copy(), expression=lit("@%"))),
                      exp.Not(this=exp.Like(this=value.copy(), expression=lit("%@"))))
        value = exp.Case(ifs=[exp.If(this=shaped, true=value.copy())])
    elif kind == "phone":
        length = exp.Length(this=value.copy())
        value = exp.Case(ifs=[
            exp.If(this=exp.EQ(this=length, expression=lit(10)), true=concat(lit("+1"), value.copy())),
            exp.If(this=exp.Between(this=length.copy(), low=lit(8), high=lit(15)), true=concat(lit("+"), value.copy())),
        ])
    blocked = sorted({n for v in identity.blocklist.get(id_type, []) if (n := normalize_value(kind, str(v)))})
    empty = exp.EQ(this=value.copy(), expression=lit(""))
    condition = exp.or_(empty, exp.In(this=value.copy(), expressions=[lit(b) for b in blocked])) if blocked else empty
    return exp.Case(ifs=[exp.If(this=condition, true=_NULL_TEXT.copy())], default=value)


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
    linking = (exp.select(col("id_value")).from_(work("id_held")).where(exp.EQ(this=col("id_type"), expression=t.copy()))
               .group_by(col("id_value")).having(exp.GT(this=exp.Count(this=exp.Star()), expression=lit(1))))
    steps += create_table_as(WORK, "id_link", exp.select(exp.alias_(col("id_value", "h"), "v"), col("pid", "h"))
                             .from_(work("id_held", "h"))
                             .where(and_(exp.EQ(this=col("id_type", "h"), expression=t.copy()),
                                         exp.In(this=col("id_value", "h"), query=linking.subquery()))))
    steps += create_table_as(WORK, "id_reject_a", _over_limit(
        identity, group=col("v", "l"), source=exp.select().from_(work("id_link", "l"))
        .join(work("id_held", "h"), on=exp.EQ(this=col("pid", "h"), expression=col("pid", "l"))),
        template="linking value would give a profile more than {n} {t} values (max_per_profile)"))
    steps += create_table_as(WORK, "id_edges", exp.select(col("v", "l"), col("pid", "l")).from_(work("id_link", "l"))
                             .join(work("id_reject_a", "r"), join_type="left", on=exp.EQ(this=col("id_value", "r"), expression=col("v", "l")))
                             .where(_is_null(col("id_value", "r"))))
    steps += create_table_as(WORK, "id_label", exp.select(col("pid"), exp.alias_(col("pid"), "l")).distinct().from_(work("id_edges")))
    steps.append(_propagate(id_type))
    steps += create_table_as(WORK, "id_bad", _over_limit(
        identity, group=col("l", "c"), source=exp.select().from_(work("id_label", "c"))
        .join(work("id_held", "h"), on=exp.EQ(this=col("pid", "h"), expression=col("pid", "c")))
        .join(work("id_reject_a", "r"), join_type="left", on=and_(
            exp.EQ(this=col("id_type", "h"), expression=t.copy()),
            exp.EQ(this=col("id_value", "r"), expression=col("id_value", "h"))))
        .where(_is_null(col("id_value", "r"))),
        template="merged profile would hold more than {n} {t} values (max_per_profile)"))
    steps.append(insert_into(WORK, "id_rejected", exp.select(exp.alias_(t.copy(), "id_type"), col("id_value"), col("reason"))
                             .from_(work("id_reject_a"))))
    steps.append(insert_into(WORK, "id_rejected", exp.select(exp.alias_(t.copy(), "id_type"), col("id_value", "h"), col("reason", "b")).distinct()
                             .from_(work("id_label", "c"))
                             .join(work("id_bad", "b"), on=exp.EQ(this=col("l", "b"), expression=col("l", "c")))
                             .join(work("id_held", "h"), on=and_(exp.EQ(this=col("pid", "h"), expression=col("pid", "c")),
                                                                 exp.EQ(this=col("id_type", "h"), expression=t.copy())))
                             .join(work("id_reject_a", "r"), join_type="left", on=exp.EQ(this=col("id_value", "r"), expression=col("id_value", "h")))
                             .where(_is_null(col("id_value", "r")))))
    steps += _merge(t)
    return steps


def _merge(t: exp.Expression) -> list:
    """Apply the pass: good components take their label; held values collapse onto profiles."""
    steps: list = create_table_as(WORK, "id_merge", exp.select(col("pid", "c"), col("l", "c")).from_(work("id_label", "c"))
                                  .join(work("id_bad", "b"), join_type="left", on=exp.EQ(this=col("l", "b"), expression=col("l", "c")))
                                  .where(_is_null(col("l", "b"))))
    new_pid = lambda alias: exp.func("COALESCE", col("l", "m"), col("pid", alias))  # noqa: E731
    steps += create_table_as(WORK, "id_profile_next", exp.select(col("rid", "p"), exp.alias_(new_pid("p"), "pid"))
                             .from_(work("id_profile", "p"))
                             .join(work("id_merge", "m"), join_type="left", on=exp.EQ(this=col("pid", "m"), expression=col("pid", "p"))))
    steps += create_table_as(WORK, "id_profile", exp.select(col("rid"), col("pid")).from_(work("id_profile_next")))
    rejected_now = and_(exp.EQ(this=col("id_type", "x"), expression=col("id_type", "h")),
                        exp.EQ(this=col("id_value", "x"), expression=col("id_value", "h")),
                        exp.EQ(this=col("id_type", "h"), expression=t.copy()))
    steps += create_table_as(WORK, "id_held_next", exp.select(exp.alias_(new_pid("h"), "pid"), col("id_type", "h"), col("id_value", "h"))
                             .distinct().from_(work("id_held", "h"))
                             .join(work("id_merge", "m"), join_type="left", on=exp.EQ(this=col("pid", "m"), expression=col("pid", "h")))
                             .join(work("id_rejected", "x"), join_type="left", on=rejected_now)
                             .where(_is_null(col("id_type", "x"))))
    steps += create_table_as(WORK, "id_held", exp.select(col("pid"), col("id_type"), col("id_value")).from_(work("id_held_next")))
    return steps


def _over_limit(identity: Identity, group: exp.Column, source: exp.Select, template: str) -> exp.Select:
    """Groups whose held values exceed a type's limit, with the first such type's reason."""
    id_type = col("id_type", "h")
    over = (source.select(exp.alias_(group.copy(), "grp"),
                          exp.alias_(row_number([group.copy()], [asc(_rank(identity, id_type))]), "rn"),
                          exp.alias_(_reason(identity, id_type, template), "reason"))
            .group_by(group.copy(), id_type.copy())
            .having(exp.GT(this=exp.Count(this=exp.Distinct(expressions=[col("id_value", "h")])),
                           expression=_limit(identity, id_type.copy()))))
    name = "id_value" if group.name == "v" else "l"
    return (exp.select(exp.alias_(col("grp"), name), col("reason")).from_(over.subquery("o"))
            .where(exp.EQ(this=col("rn"), expression=lit(1))))


def _propagate(id_type: str) -> Loop:
    """Min-label propagation over (value, profile) edges, with one pointer jump per round."""
    value_label = (exp.select(col("v", "e"), exp.alias_(exp.Min(this=col("l", "p")), "l"))
                   .from_(work("id_edges", "e"))
                   .join(work("id_label_prev", "p"), on=exp.EQ(this=col("pid", "p"), expression=col("pid", "e")))
                   .group_by(col("v", "e")))
    hop = (exp.select(col("pid", "e"), exp.alias_(exp.Min(this=col("l", "vl")), "l"))
           .from_(work("id_edges", "e"))
           .join(value_label.subquery("vl"), on=exp.EQ(this=col("v", "vl"), expression=col("v", "e")))
           .group_by(col("pid", "e")))
    jumped = (exp.select(col("pid", "h"), exp.alias_(exp.Least(this=col("l", "h"), expressions=[col("l", "j")]), "l"))
              .from_(hop.subquery("h"))
              .join(work("id_label_prev", "j"), on=exp.EQ(this=col("pid", "j"), expression=col("l", "h"))))
    changed = (exp.select(exp.Count(this=exp.Star())).from_(work("id_label", "c"))
               .join(work("id_label_prev", "p"), on=exp.EQ(this=col("pid", "p"), expression=col("pid", "c")))
               .where(exp.NEQ(this=col("l", "c"), expression=col("l", "p"))))
    body = [*create_table_as(WORK, "id_label_prev", exp.select(col("pid"), col("l")).from_(work("id_label"))),
            *create_table_as(WORK, "id_label", jumped)]
    return Loop(f"components_{id_type}", body, changed)


# ---- profile ids and outputs -------------------------------------------------------------

def _finish(defs: Definitions, identity: Identity) -> list[exp.Expression]:
    schema = defs.project.schemas.identity
    staging = defs.project.schemas.staging
    steps: list = []
    keyed = (exp.select(col("pid"), col("id_type"), col("id_value"),
                        exp.alias_(row_number([col("pid")], [asc(_rank(identity, col("id_type"))), asc(codepoint(col("id_value")))]), "rn"))
             .from_(work("id_held")))
    steps += create_table_as(WORK, "id_profile_key", exp.select(col("pid"), col("id_type"), col("id_value"))
                             .from_(keyed.subquery("k")).where(exp.EQ(this=col("rn"), expression=lit(1))))
    profile_id = exp.func("COALESCE",
                          portable("MD5_HEX", concat(col("id_type", "k"), lit(":"), col("id_value", "k"))),
                          portable("MD5_HEX", concat(lit("record:"), col("source", "r"), lit(":"), col("record_key", "r"))))
    steps += create_table_as(WORK, "id_record_profile", exp.select(col("rid", "r"), col("source", "r"), col("record_key", "r"),
                                                                   exp.alias_(profile_id, "profile_id")).distinct()
                             .from_(work("id_records", "r"))
                             .join(work("id_profile", "p"), on=exp.EQ(this=col("rid", "p"), expression=col("rid", "r")))
                             .join(work("id_profile_key", "k"), join_type="left", on=exp.EQ(this=col("pid", "k"), expression=col("pid", "p"))))
    steps += create_table_as(schema, f"{identity.name}_map", exp.select(col("source"), col("record_key"), col("profile_id"))
                             .from_(work("id_record_profile")))
    steps += create_table_as(schema, f"{identity.name}_conflicts", exp.select(col("id_type"), col("id_value"), col("reason"))
                             .from_(work("id_rejected")))
    steps += create_table_as(WORK, "profile_ids", exp.select(col("profile_id")).distinct().from_(work("id_record_profile")))
    for source in identity.sources:
        contract = defs.contracts[source]
        steps += create_table_as(WORK, f"src__{source}", exp.select(col("profile_id", "m"), exp.Column(this=exp.Star(), table=exp.to_identifier("t")))
                                 .from_(table(staging, source, "t"))
                                 .join(table(schema, f"{identity.name}_map", "m"), on=and_(
                                     exp.EQ(this=col("source", "m"), expression=lit(source)),
                                     exp.EQ(this=col("record_key", "m"), expression=record_key(contract, "t")))))
    return steps
