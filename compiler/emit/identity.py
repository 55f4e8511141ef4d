"""Identity: normalize identifiers, then resolve records into profiles, set-based, in the engine.

The resolution of docs/reference.md §2.3 runs on a compact graph with integer keys:
  rows     every staged row of a source: its record (source and record key) and its
           normalized identifiers, one column per type
  nodes    records with the same identifiers are one node: such records end in one profile
           (they link through their first value, and no limit can stop a merge that adds no
           value), or, when every value they hold is rejected, each on its own. A record
           whose rows disagree (a duplicated key) holds the values of all its rows and is
           a node of its own.
  values   every identifier value once, numbered by (type priority, value in code-point
           order): the smallest number a profile holds names it
Then one pass per identifier type in priority order, on integers:
  held     the (profile, value) pairs not rejected so far, kept collapsed per profile:
           after each pass merged profiles share one row per value
  link     values of this type held by two or more profiles (none: the rest of the pass
           would change nothing and is skipped, a `When`)
  2a       a linking value is rejected when the union of its profiles would hold more
           than max_per_profile values of some type
  2b       connected components through the surviving values (label propagation: a
           loop the runner repeats until no label changes); a component that would break
           a limit is not merged and every value of this type inside it is rejected
Profiles are labelled by their smallest node number; profile_id is chosen at the end, once
per profile, and every record takes its node's.
"""

from __future__ import annotations

from sqlglot import exp

from ..dialects import portable
from ..graph import Lineage
from ..model import Contract, Definitions, Identity
from ..normalize import normalize_value
from .attributes import source_table
from .plan import Loop, Unit, When
from .sql import (WORK, alias, and_, asc, coalesce, codepoint, col, concat, create_table_as, insert_into, lit, row_number, table, text, union_all, work)

_NULL_TEXT = exp.Cast(this=exp.Null(), to=exp.DataType.build("TEXT"))
_NULL_INT = exp.Cast(this=exp.Null(), to=exp.DataType.build("INT"))
_NULL_BIGINT = exp.Cast(this=exp.Null(), to=exp.DataType.build("BIGINT"))
_NONE = ""  # a node key's part for "no value": no identifier normalizes to the empty text


def record_key(contract: Contract, qualifier: str | None = None) -> exp.Expression:
    """Primary key values cast to text, joined by `|` (a NULL part counts as empty)."""
    parts = [coalesce(text(col(k, qualifier)), lit("")) for k in contract.primary_key]
    joined = [parts[0]]
    for part in parts[1:]:
        joined += [lit("|"), part]
    return concat(*joined) if len(joined) > 1 else joined[0]


def identity_unit(defs: Definitions, lineage: Lineage, identity: Identity) -> Unit:
    steps: list = []
    steps += _rows(defs, identity)
    steps += _nodes(identity)
    steps += create_table_as(WORK, "id_profile", exp.select(col("nid"), alias(col("nid"), "pid"), copy=False)
                             .from_(work("id_nodes"), copy=False))
    steps += create_table_as(WORK, "id_held", exp.select(alias(col("nid"), "pid"), col("t"), col("vid"), copy=False)
                             .from_(work("id_node_values"), copy=False))
    steps += create_table_as(WORK, "id_rejected", exp.select(
        alias(_NULL_INT.copy(), "t"), alias(_NULL_BIGINT.copy(), "vid"), alias(_NULL_TEXT.copy(), "reason"), copy=False)
        .where(exp.false(), copy=False))
    for rank, id_type in enumerate(identity.types, 1):
        steps += _pass(identity, rank, id_type)
    steps += _finish(defs, identity)
    return Unit("identity", "identity", identity.name, steps)


def _column(id_type: str) -> str:
    return f"id__{id_type}"


def identifier_column(id_type: str) -> str:
    """id_rows' column of a type's normalized values (emit/erasure.py reads it)."""
    return _column(id_type)


def identifier_value(identity: Identity, id_type: str, value: exp.Expression) -> exp.Expression:
    """A raw value normalized exactly as id_rows holds it: NULL when it is no value of the type
    (a bad shape, empty, blocklisted)."""
    return _finish_value(identity, id_type, _prepare(identity, id_type, value))


def _key(id_type: str) -> str:
    return f"k__{id_type}"


# ---- rows, nodes and values --------------------------------------------------------------

def _rows(defs: Definitions, identity: Identity) -> list[exp.Expression]:
    """id_rows: one row per staged row, its record, `dup` (1: its record key has other rows
    in the source) and its normalized identifiers (NULL: none)."""
    staging = defs.project.schemas.staging
    per_source = []
    for source, mapping in identity.sources.items():
        contract = defs.contracts[source]
        values = [alias(_prepare(identity, t, col(mapping[t], "s")) if t in mapping else _NULL_TEXT.copy(), _column(t))
                  for t in identity.types]
        shared = (exp.select(alias(record_key(contract), "k"), copy=False).from_(table(staging, source), copy=False)
                  .group_by(record_key(contract), copy=False)
                  .having(exp.GT(this=exp.Count(this=exp.Star()), expression=lit(1)), copy=False))
        dup = exp.Case(ifs=[exp.If(this=_is_null(col("k", "d")), true=lit(0))], default=lit(1))
        per_source.append(exp.select(alias(lit(source), "source"), alias(record_key(contract, "s"), "record_key"),
                                     alias(dup, "dup"), *values, copy=False)
                          .from_(table(staging, source, "s"), copy=False)
                          .join(shared.subquery("d", copy=False), join_type="left",
                                on=exp.EQ(this=col("k", "d"), expression=record_key(contract, "s")), copy=False))
    # each half of the normalizer at its own level, so that no value's expression is written twice
    record = [col("source"), col("record_key"), col("dup")]
    shaped = [alias(_shape(identity.identifier(t).normalize, col(_column(t))), _column(t)) for t in identity.types]
    kept = [alias(_unless_blank_or_blocked(identity, t, col(_column(t))), _column(t)) for t in identity.types]
    query = (exp.select(*(c.copy() for c in record), *kept, copy=False).from_(
        exp.select(*record, *shaped, copy=False).from_(union_all(per_source).subquery("prepared", copy=False), copy=False)
        .subquery("shaped", copy=False), copy=False))
    return create_table_as(WORK, "id_rows", query)


def record_identifiers(defs: Definitions, identity: Identity) -> exp.Select:
    """Every staged row's normalized identifiers (a column per type of `identity.types`, in
    that order; NULL: none, or blocklisted) beside its record's profile_id: id_rows joined
    with the map. `cdpc test` reads it to find the profile an identifier value names."""
    on = and_(exp.EQ(this=col("source", "m"), expression=col("source", "r")),
              exp.EQ(this=col("record_key", "m"), expression=col("record_key", "r")))
    return (exp.select(col("profile_id", "m"), *[col(_column(t), "r") for t in identity.types], copy=False)
            .from_(work("id_rows", "r"), copy=False)
            .join(table(defs.project.schemas.identity, f"{identity.name}_map", "m"), on=on, copy=False))


def _nodes(identity: Identity) -> list[exp.Expression]:
    """id_nodes (nid, k_source, k_key, k__<type>..., records), id_values (vid, t, id_type,
    id_value) and id_node_values (nid, t, vid, records). A node's key is its values ('' for none) or,
    for a record with other rows, its source and record key. `t` is the type's priority, 1
    the highest."""
    columns = [col(_column(t)) for t in identity.types]
    by_values = (exp.select(*(c.copy() for c in columns), alias(exp.Count(this=exp.Star()), "n"), copy=False)
                 .from_(work("id_rows"), copy=False).where(exp.EQ(this=col("dup"), expression=lit(0)), copy=False)
                 .group_by(*(c.copy() for c in columns), copy=False))
    plain = exp.select(alias(lit(_NONE), "k_source"), alias(lit(_NONE), "k_key"),
                       *(alias(coalesce(col(_column(t), "g"), lit(_NONE)), _key(t)) for t in identity.types),
                       alias(col("n", "g"), "records"), copy=False).from_(by_values.subquery("g", copy=False), copy=False)
    by_record = (exp.select(alias(col("source"), "k_source"), alias(col("record_key"), "k_key"),
                            *(alias(lit(_NONE), _key(t)) for t in identity.types), alias(lit(1), "records"), copy=False)
                 .from_(work("id_rows"), copy=False).where(exp.EQ(this=col("dup"), expression=lit(1)), copy=False)
                 .group_by(col("source"), col("record_key"), copy=False))
    names = ["k_source", "k_key", *(_key(t) for t in identity.types)]
    nid = row_number([], [asc(codepoint(col(name))) for name in names])
    steps = create_table_as(WORK, "id_nodes", exp.select(alias(nid, "nid"), *(col(n) for n in names), col("records"), copy=False)
                            .from_(union_all([plain, by_record]).subquery("g", copy=False), copy=False))
    from_nodes = [exp.select(alias(lit(rank), "t"), alias(col(_key(t)), "id_value"), copy=False)
                  .from_(work("id_nodes"), copy=False).where(exp.NEQ(this=col(_key(t)), expression=lit(_NONE)), copy=False)
                  for rank, t in enumerate(identity.types, 1)]
    from_dups = [exp.select(alias(lit(rank), "t"), alias(col(_column(t)), "id_value"), copy=False)
                 .from_(work("id_rows"), copy=False)
                 .where(and_(exp.EQ(this=col("dup"), expression=lit(1)), exp.Not(this=_is_null(col(_column(t))))), copy=False)
                 for rank, t in enumerate(identity.types, 1)]
    distinct = exp.select(col("t"), col("id_value"), copy=False).distinct(copy=False) \
        .from_(union_all(from_nodes + from_dups).subquery("u", copy=False), copy=False)
    vid = row_number([], [asc(col("t")), asc(codepoint(col("id_value")))])
    steps += create_table_as(WORK, "id_values", exp.select(alias(vid, "vid"), col("t"), alias(_by_rank(identity, col("t")), "id_type"),
                                                           col("id_value"), copy=False)
                             .from_(distinct.subquery("d", copy=False), copy=False))
    def value_of(rank: int, value: exp.Expression) -> tuple[exp.Table, exp.Expression]:
        return work("id_values", "v"), and_(exp.EQ(this=col("t", "v"), expression=lit(rank)),
                                            exp.EQ(this=col("id_value", "v"), expression=value))
    per_node = []
    for rank, t in enumerate(identity.types, 1):
        values, on = value_of(rank, col(_key(t), "n"))
        per_node.append(exp.select(col("nid", "n"), col("t", "v"), col("vid", "v"), col("records", "n"), copy=False)
                        .from_(work("id_nodes", "n"), copy=False).join(values, on=on, copy=False))
    for rank, t in enumerate(identity.types, 1):
        values, on = value_of(rank, col(_column(t), "r"))
        per_node.append(exp.select(col("nid", "n"), col("t", "v"), col("vid", "v"), col("records", "n"), copy=False).distinct(copy=False)
                        .from_(work("id_rows", "r"), copy=False)
                        .join(work("id_nodes", "n"), on=and_(exp.EQ(this=col("k_source", "n"), expression=col("source", "r")),
                                                             exp.EQ(this=col("k_key", "n"), expression=col("record_key", "r"))), copy=False)
                        .join(values, on=on, copy=False)
                        .where(exp.EQ(this=col("dup", "r"), expression=lit(1)), copy=False))
    steps += create_table_as(WORK, "id_node_values", union_all(per_node))
    return steps


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
    return _unless_blank_or_blocked(identity, id_type, _shape(identity.identifier(id_type).normalize, value))


def _unless_blank_or_blocked(identity: Identity, id_type: str, value: exp.Expression) -> exp.Expression:
    """A shaped value, NULL when it is empty or on the type's blocklist."""
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

def _by_rank(identity: Identity, column: exp.Expression, template: str = "{t}", limited: bool = False) -> exp.Expression:
    """CASE over a type's priority: its name (or `template` filled in), for every type or
    only the limited ones."""
    chosen = [(rank, i) for rank, i in enumerate(identity.identifiers, 1) if not limited or i.max_per_profile is not None]
    if not chosen:
        return _NULL_TEXT.copy()
    return exp.Case(this=column, ifs=[exp.If(this=lit(rank), true=lit(template.format(t=i.type, n=i.max_per_profile)))
                                      for rank, i in chosen])


def _limit(identity: Identity, column: exp.Expression) -> exp.Expression:
    limited = [(rank, i) for rank, i in enumerate(identity.identifiers, 1) if i.max_per_profile is not None]
    if not limited:
        return _NULL_INT.copy()
    return exp.Case(this=column, ifs=[exp.If(this=lit(rank), true=lit(i.max_per_profile)) for rank, i in limited])


def _is_null(expression: exp.Expression) -> exp.Expression:
    return exp.Is(this=expression, expression=exp.Null())


def _pass(identity: Identity, rank: int, id_type: str) -> list:
    """id_link, then the rest of the pass only when some value of this type links two
    profiles: without one the rest would leave id_profile, id_held and id_rejected as they
    are (held is kept distinct, and only this pass rejects values of this type), so a pass
    with nothing to link costs one count. Small data (a definition test) skips most passes."""
    return [*_link(rank), When(f"links_{id_type}", _links_found(), _resolve(identity, rank, id_type))]


def _links_found() -> exp.Select:
    """How many (value, profile) links the pass found: the rest of it runs when there is one."""
    return exp.select(exp.Count(this=exp.Star()), copy=False).from_(work("id_link"), copy=False)


def _link(rank: int) -> list:
    """id_link (v, pid): the values of type `rank` that two or more profiles hold."""
    t = lit(rank)
    linking = (exp.select(col("vid"), copy=False).from_(work("id_held"), copy=False).where(exp.EQ(this=col("t"), expression=t.copy()), copy=False)
               .group_by(col("vid"), copy=False).having(exp.GT(this=exp.Count(this=exp.Star()), expression=lit(1)), copy=False))
    return create_table_as(WORK, "id_link", exp.select(alias(col("vid", "h"), "v"), col("pid", "h"), copy=False)
                           .from_(work("id_held", "h"), copy=False)
                           .where(and_(exp.EQ(this=col("t", "h"), expression=t.copy()),
                                       exp.In(this=col("vid", "h"), query=linking.subquery(copy=False))), copy=False))


def _resolve(identity: Identity, rank: int, id_type: str) -> list:
    """The pass after id_link: limits (2a), components (2b) and the merge."""
    t = lit(rank)
    steps: list = []
    steps += create_table_as(WORK, "id_reject_a", _over_limit(
        identity, group=col("v", "l"), source=exp.select(copy=False).from_(work("id_link", "l"), copy=False)
        .join(work("id_held", "h"), on=exp.EQ(this=col("pid", "h"), expression=col("pid", "l")), copy=False),
        template="linking value would give a profile more than {n} {t} values (max_per_profile)"))
    steps += create_table_as(WORK, "id_edges", exp.select(col("v", "l"), col("pid", "l"), copy=False).from_(work("id_link", "l"), copy=False)
                             .join(work("id_reject_a", "r"), join_type="left", on=exp.EQ(this=col("vid", "r"), expression=col("v", "l")), copy=False)
                             .where(_is_null(col("vid", "r")), copy=False))
    steps += create_table_as(WORK, "id_label", exp.select(col("pid"), alias(col("pid"), "l"), copy=False).distinct(copy=False).from_(work("id_edges"), copy=False))
    steps.append(_propagate(id_type))
    # value numbers are unique across types: a type-T value rejected in 2a is found by its number alone
    steps += create_table_as(WORK, "id_bad", _over_limit(
        identity, group=col("l", "c"), source=exp.select(copy=False).from_(work("id_label", "c"), copy=False)
        .join(work("id_held", "h"), on=exp.EQ(this=col("pid", "h"), expression=col("pid", "c")), copy=False)
        .join(work("id_reject_a", "r"), join_type="left", on=exp.EQ(this=col("vid", "r"), expression=col("vid", "h")), copy=False)
        .where(_is_null(col("vid", "r")), copy=False),
        template="merged profile would hold more than {n} {t} values (max_per_profile)"))
    steps.append(insert_into(WORK, "id_rejected", exp.select(alias(t.copy(), "t"), col("vid"), col("reason"), copy=False)
                             .from_(work("id_reject_a"), copy=False)))
    steps.append(insert_into(WORK, "id_rejected", exp.select(alias(t.copy(), "t"), col("vid", "h"), col("reason", "b"), copy=False).distinct(copy=False)
                             .from_(work("id_label", "c"), copy=False)
                             .join(work("id_bad", "b"), on=exp.EQ(this=col("l", "b"), expression=col("l", "c")), copy=False)
                             .join(work("id_held", "h"), on=and_(exp.EQ(this=col("pid", "h"), expression=col("pid", "c")),
                                                                 exp.EQ(this=col("t", "h"), expression=t.copy())), copy=False)
                             .join(work("id_reject_a", "r"), join_type="left", on=exp.EQ(this=col("vid", "r"), expression=col("vid", "h")), copy=False)
                             .where(_is_null(col("vid", "r")), copy=False)))
    steps += _merge(t)
    return steps


def _merge(t: exp.Expression) -> list:
    """Apply the pass: good components take their label; held values collapse onto profiles."""
    steps: list = create_table_as(WORK, "id_merge", exp.select(col("pid", "c"), col("l", "c"), copy=False).from_(work("id_label", "c"), copy=False)
                                  .join(work("id_bad", "b"), join_type="left", on=exp.EQ(this=col("l", "b"), expression=col("l", "c")), copy=False)
                                  .where(_is_null(col("l", "b")), copy=False))
    new_pid = lambda alias: coalesce(col("l", "m"), col("pid", alias))  # noqa: E731
    steps += create_table_as(WORK, "id_profile_next", exp.select(col("nid", "p"), alias(new_pid("p"), "pid"), copy=False)
                             .from_(work("id_profile", "p"), copy=False)
                             .join(work("id_merge", "m"), join_type="left", on=exp.EQ(this=col("pid", "m"), expression=col("pid", "p")), copy=False))
    steps += create_table_as(WORK, "id_profile", exp.select(col("nid"), col("pid"), copy=False).from_(work("id_profile_next"), copy=False))
    rejected_now = and_(exp.EQ(this=col("vid", "x"), expression=col("vid", "h")), exp.EQ(this=col("t", "x"), expression=t.copy()))
    steps += create_table_as(WORK, "id_held_next", exp.select(alias(new_pid("h"), "pid"), col("t", "h"), col("vid", "h"), copy=False)
                             .distinct(copy=False).from_(work("id_held", "h"), copy=False)
                             .join(work("id_merge", "m"), join_type="left", on=exp.EQ(this=col("pid", "m"), expression=col("pid", "h")), copy=False)
                             .join(work("id_rejected", "x"), join_type="left", on=rejected_now, copy=False)
                             .where(_is_null(col("vid", "x")), copy=False))
    steps += create_table_as(WORK, "id_held", exp.select(col("pid"), col("t"), col("vid"), copy=False).from_(work("id_held_next"), copy=False))
    return steps


def _over_limit(identity: Identity, group: exp.Column, source: exp.Select, template: str) -> exp.Select:
    """Groups whose held values exceed a type's limit, with the first such type's reason."""
    rank = col("t", "h")
    over = (source.select(alias(group.copy(), "grp"),
                          alias(row_number([group.copy()], [asc(rank.copy())]), "rn"),
                          alias(_by_rank(identity, rank.copy(), template, limited=True), "reason"), copy=False)
            .group_by(group.copy(), rank.copy(), copy=False)
            .having(exp.GT(this=exp.Count(this=exp.Distinct(expressions=[col("vid", "h")])),
                           expression=_limit(identity, rank.copy())), copy=False))
    name = "vid" if group.name == "v" else "l"
    return (exp.select(alias(col("grp"), name), col("reason"), copy=False).from_(over.subquery("o", copy=False), copy=False)
            .where(exp.EQ(this=col("rn"), expression=lit(1)), copy=False))


def _propagate(id_type: str) -> Loop:
    """Connected components over the (value, profile) edges of the pass, after FastSV (Zhang,
    Azad and Hu, 2020): every label points at a profile of the component (at first its own),
    and each round, with g the label's label (the grandparent) and m(p) the smallest g among
    the profiles that share a value with p (p included), p's new label is the smallest of m(p)
    and the m of every profile whose label is p. A label never grows; once no round could
    change one, each component's profiles carry its smallest profile. Hooking whole trees (not only each
    profile to its neighbours) keeps the rounds near log2 of the longest chain, where
    min-label propagation takes as many rounds as the chain is long."""
    grand = (exp.select(col("pid", "p"), alias(col("l", "g"), "g"), copy=False).from_(work("id_label_prev", "p"), copy=False)
             .join(work("id_label_prev", "g"), on=exp.EQ(this=col("pid", "g"), expression=col("l", "p")), copy=False))
    value_min = (exp.select(col("v", "e"), alias(exp.Min(this=col("g", "gp")), "m"), copy=False)
                 .from_(work("id_edges", "e"), copy=False)
                 .join(grand.subquery("gp", copy=False), on=exp.EQ(this=col("pid", "gp"), expression=col("pid", "e")), copy=False)
                 .group_by(col("v", "e"), copy=False))
    neighbours = (exp.select(col("pid", "e"), alias(exp.Min(this=col("m", "vm")), "m"), copy=False)
                  .from_(work("id_edges", "e"), copy=False)
                  .join(value_min.subquery("vm", copy=False), on=exp.EQ(this=col("v", "vm"), expression=col("v", "e")), copy=False)
                  .group_by(col("pid", "e"), copy=False))
    steps = create_table_as(WORK, "id_label_min", neighbours)
    hooked = (exp.select(alias(col("l", "p"), "pid"), alias(exp.Min(this=col("m", "n")), "m"), copy=False)
              .from_(work("id_label_prev", "p"), copy=False)
              .join(work("id_label_min", "n"), on=exp.EQ(this=col("pid", "n"), expression=col("pid", "p")), copy=False)
              .group_by(col("l", "p"), copy=False))
    least = exp.Case(ifs=[exp.If(this=exp.LT(this=col("m", "k"), expression=col("m", "n")), true=col("m", "k"))], default=col("m", "n"))
    labelled = (exp.select(col("pid", "n"), alias(least, "l"), copy=False).from_(work("id_label_min", "n"), copy=False)
                .join(hooked.subquery("k", copy=False), join_type="left", on=exp.EQ(this=col("pid", "k"), expression=col("pid", "n")), copy=False))
    # done when every value's profiles carry one label that labels itself: then each component
    # has one label (a profile of it) and a further round would change nothing. Labels only
    # point down (a label is never larger than its profile), so that is min(g) = max(l) per value
    unfinished = (exp.select(col("v", "e"), copy=False).from_(work("id_edges", "e"), copy=False)
                  .join(work("id_label", "c"), on=exp.EQ(this=col("pid", "c"), expression=col("pid", "e")), copy=False)
                  .join(work("id_label", "g"), on=exp.EQ(this=col("pid", "g"), expression=col("l", "c")), copy=False)
                  .group_by(col("v", "e"), copy=False)
                  .having(exp.LT(this=exp.Min(this=col("l", "g")), expression=exp.Max(this=col("l", "c"))), copy=False))
    changed = exp.select(exp.Count(this=exp.Star()), copy=False).from_(unfinished.subquery("u", copy=False), copy=False)
    body = [*create_table_as(WORK, "id_label_prev", exp.select(col("pid"), col("l"), copy=False).from_(work("id_label"), copy=False)),
            *steps, *create_table_as(WORK, "id_label", labelled)]
    return Loop(f"components_{id_type}", body, changed)


# ---- profile ids and outputs -------------------------------------------------------------

def _finish(defs: Definitions, identity: Identity) -> list[exp.Expression]:
    schema = defs.project.schemas.identity
    staging = defs.project.schemas.staging
    steps: list = []
    # the smallest value number a profile holds: its highest-priority value, the smallest among ties
    best = (exp.select(col("pid"), alias(exp.Min(this=col("vid")), "vid"), copy=False).from_(work("id_held"), copy=False)
            .group_by(col("pid"), copy=False))
    steps += create_table_as(WORK, "id_profile_key", exp.select(
        col("pid", "b"), alias(portable("MD5_HEX", concat(col("id_type", "v"), lit(":"), col("id_value", "v"))), "profile_id"), copy=False)
        .from_(best.subquery("b", copy=False), copy=False)
        .join(work("id_values", "v"), on=exp.EQ(this=col("vid", "v"), expression=col("vid", "b")), copy=False))
    steps += create_table_as(WORK, "id_node_profile", exp.select(col("nid", "p"), col("profile_id", "k"), copy=False)
                             .from_(work("id_profile", "p"), copy=False)
                             .join(work("id_profile_key", "k"), join_type="left", on=exp.EQ(this=col("pid", "k"), expression=col("pid", "p")), copy=False))
    # a record whose profile holds no value is a profile of its own, named after the record
    profile_id = coalesce(col("profile_id", "np"),
                          portable("MD5_HEX", concat(lit("record:"), col("source", "r"), lit(":"), col("record_key", "r"))))

    def records(dup: int, on: exp.Expression) -> exp.Select:
        query = (exp.select(col("source", "r"), col("record_key", "r"), alias(profile_id.copy(), "profile_id"), copy=False)
                 .from_(work("id_rows", "r"), copy=False)
                 .join(work("id_nodes", "n"), on=on, copy=False)
                 .join(work("id_node_profile", "np"), on=exp.EQ(this=col("nid", "np"), expression=col("nid", "n")), copy=False)
                 .where(exp.EQ(this=col("dup", "r"), expression=lit(dup)), copy=False))
        return query.distinct(copy=False) if dup else query  # the rows of a record with others are one
    by_values = and_(exp.EQ(this=col("k_source", "n"), expression=lit(_NONE)), exp.EQ(this=col("k_key", "n"), expression=lit(_NONE)),
                     *(exp.EQ(this=col(_key(t), "n"), expression=coalesce(col(_column(t), "r"), lit(_NONE))) for t in identity.types))
    by_record = and_(exp.EQ(this=col("k_source", "n"), expression=col("source", "r")),
                     exp.EQ(this=col("k_key", "n"), expression=col("record_key", "r")))
    steps += create_table_as(schema, f"{identity.name}_map", union_all([records(0, by_values), records(1, by_record)]))
    steps += create_table_as(schema, f"{identity.name}_conflicts", exp.select(col("id_type", "v"), col("id_value", "v"), col("reason", "x"), copy=False)
                             .from_(work("id_rejected", "x"), copy=False)
                             .join(work("id_values", "v"), on=exp.EQ(this=col("vid", "v"), expression=col("vid", "x")), copy=False))
    steps += create_table_as(WORK, "profile_ids", exp.select(col("profile_id"), copy=False).distinct(copy=False)
                             .from_(table(schema, f"{identity.name}_map"), copy=False))
    # per profile, each value it holds and the number of its records that hold it (syncs send the most frequent)
    counted = (exp.select(col("pid", "p"), col("vid", "nv"), alias(exp.Sum(this=col("records", "nv")), "records"), copy=False)
               .from_(work("id_node_values", "nv"), copy=False)
               .join(work("id_profile", "p"), on=exp.EQ(this=col("nid", "p"), expression=col("nid", "nv")), copy=False)
               .join(work("id_rejected", "x"), join_type="left", on=exp.EQ(this=col("vid", "x"), expression=col("vid", "nv")), copy=False)
               .where(_is_null(col("vid", "x")), copy=False)
               .group_by(col("pid", "p"), col("vid", "nv"), copy=False))
    steps += create_table_as(WORK, "id_profile_values", exp.select(
        col("profile_id", "k"), col("id_type", "v"), col("id_value", "v"), col("records", "c"), copy=False)
        .from_(counted.subquery("c", copy=False), copy=False)
        .join(work("id_profile_key", "k"), on=exp.EQ(this=col("pid", "k"), expression=col("pid", "c")), copy=False)
        .join(work("id_values", "v"), on=exp.EQ(this=col("vid", "v"), expression=col("vid", "c")), copy=False))
    for source in identity.sources:
        contract = defs.contracts[source]
        steps += create_table_as(WORK, source_table(source), exp.select(col("profile_id", "m"), exp.Column(this=exp.Star(), table=exp.to_identifier("t")), copy=False)
                                 .from_(table(staging, source, "t"), copy=False)
                                 .join(table(schema, f"{identity.name}_map", "m"), on=and_(
                                     exp.EQ(this=col("source", "m"), expression=lit(source)),
                                     exp.EQ(this=col("record_key", "m"), expression=record_key(contract, "t"))), copy=False))
    return steps
