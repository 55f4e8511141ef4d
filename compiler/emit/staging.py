"""Staging: cast each raw text column as the contract says; quarantine rows that break a rule.

The raw relation holds every declared field as text. A scratch table keeps the text, the
typed value (`__t_<field>`: NULL when the text is not castable), the rejection reasons and
whether the row has expired (`__expired`: its `event_time` is older than the as-of time
minus the contract's `retention`); the staged table takes the rows without reasons,
`<contract>_rejected` the others, as text. An expired row goes to neither: it is kept
nowhere that cdpc writes, whatever rule it breaks (docs/reference.md §2.2, docs/privacy.md).
"""

from __future__ import annotations

from sqlglot import exp

from ..dialects import portable
from ..graph import Lineage
from ..model import Contract, ContractField, Definitions
from ..model.base import duration_seconds
from ..model.contract import parse_field_type
from .plan import Check, Unit
from .sql import (WORK, alias, and_, as_of_timestamp, cast, col, create_table_as, data_type, is_true, lit, or_, table, typed_lit, work)

_DATE_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_TIMESTAMP_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?$"
_INTEGER_RE = r"^[+-]?0*[0-9]{1,20}$"
_DECIMAL_RE = r"^[+-]?[0-9]+(\.[0-9]+)?$"
_DOUBLE_RE = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_INT_RANGE = {"integer": (-2147483648, 2147483647), "bigint": (-9223372036854775808, 9223372036854775807)}


def typed_name(field: str) -> str:
    return f"__t_{field}"


EXPIRED = "__expired"  # the checked table's column: the row is older than the contract's retention


def checked_table(contract: str) -> str:
    """The scratch table of a contract's rows with their typed values and rejection reasons."""
    return f"{contract}__checked"


def staging_unit(defs: Definitions, lineage: Lineage, contract: Contract) -> Unit:
    schema = defs.project.schemas.staging
    checked = checked_table(contract.name)
    fields = list(contract.fields.items())
    reasons = [r for name, f in fields for r in _reasons(name, f)]
    reason_texts = [exp.Case(ifs=[exp.If(this=is_true(cond), true=lit(message))]) for cond, message in reasons]
    # the typed values in a subquery: the rules read them, and PostgreSQL and BigQuery do not
    # resolve a column alias of the same SELECT list (a lateral alias)
    typed_query = (exp.select(*(col(n) for n, _ in fields),
                              *(alias(typed_value(col(n), f), typed_name(n)) for n, f in fields), copy=False)
                   .from_(table(contract.relation_schema, contract.relation_table), copy=False))
    checked_query = (
        exp.select(*(col(n) for n, _ in fields),
                   *(col(typed_name(n)) for n, _ in fields),
                   alias(portable("TEXT_ARRAY_COMPACT", *reason_texts) if reason_texts else
                              portable("TEXT_ARRAY_COMPACT", exp.Null()), "_reject_reasons"),
                   alias(_expired(contract), EXPIRED), copy=False)
        .from_(typed_query.subquery("typed", copy=False), copy=False)
    )
    # expired: NULL for the malformed rows that a run adds to the checked table (not expired)
    kept = exp.Not(this=is_true(col(EXPIRED)))
    # cast again: PostgreSQL drops a decimal's (p,s) from a CASE without ELSE (__t_*)
    staged = (exp.select(*(alias(col(typed_name(n)) if f.base_type == "string" else cast(col(typed_name(n)), f.type), n)
                           for n, f in fields), copy=False)
              .from_(work(checked), copy=False).where(and_(_no_reason(), kept), copy=False))
    rejected = (exp.select(*(col(n) for n, _ in fields), col("_reject_reasons"), copy=False)
                .from_(work(checked), copy=False).where(and_(exp.Not(this=_no_reason()), kept.copy()), copy=False))
    steps = [*create_table_as(WORK, checked, checked_query),
             *create_table_as(schema, contract.name, staged),
             *create_table_as(schema, f"{contract.name}_rejected", rejected)]
    return Unit("staging", "contract", contract.name, steps, _table_checks(schema, contract))


def _expired(contract: Contract) -> exp.Expression:
    """True when the row's event_time is older than the as-of time minus `retention`; false
    without a retention, and for a NULL or uncastable event_time (such a row has no age: it
    is staged, or rejected by its own rules)."""
    if contract.retention is None or contract.event_time not in contract.fields:
        return exp.false()
    event_time = col(typed_name(contract.event_time))
    if contract.fields[contract.event_time].base_type == "date":  # a date is its midnight
        event_time = cast(event_time, "timestamp")
    limit = exp.Sub(this=as_of_timestamp(),
                    expression=exp.Interval(this=lit(str(duration_seconds(contract.retention))), unit=exp.var("SECOND")))
    return is_true(exp.LT(this=event_time, expression=limit))


def _no_reason() -> exp.Expression:
    return portable("ARRAY_IS_EMPTY", col("_reject_reasons"))


def typed_value(raw: exp.Expression, field: ContractField) -> exp.Expression:
    """The value cast to the field's type, or NULL when the text is not castable."""
    base = field.base_type
    if base == "string":
        return raw.copy()
    if base == "boolean":
        lowered = exp.Lower(this=raw.copy())
        return exp.Case(ifs=[exp.If(this=exp.In(this=lowered, expressions=[lit("true"), lit("false")]),
                                    true=exp.EQ(this=lowered.copy(), expression=lit("true")))])
    if base == "timestamp":
        value = exp.Replace(this=raw.copy(), expression=lit("T"), replacement=lit(" "))
        return _guarded(_castable(raw, field), cast(value, field.type))
    return _guarded(_castable(raw, field), cast(raw.copy(), field.type))


def _guarded(condition: exp.Expression, value: exp.Expression) -> exp.Expression:
    # CASE evaluates THEN only for rows whose condition holds, so the cast never fails
    return exp.Case(ifs=[exp.If(this=is_true(condition), true=value)])


def _castable(raw: exp.Expression, field: ContractField) -> exp.Expression:
    base = field.base_type
    if base in _INT_RANGE:
        low, high = _INT_RANGE[base]
        in_range = exp.Between(this=cast(raw.copy(), "decimal(38,0)"), low=lit(low), high=lit(high))
        return _then(_search(raw, _INTEGER_RE), in_range)
    if base == "decimal":
        _, precision, scale = parse_field_type(field.type)
        digits = precision - scale
        int_part = r"^[+-]?0*[0-9]{0,%d}(\.|$)" % digits if digits else r"^[+-]?0*(\.|$)"
        # the integer part must fit, and still fit once the fraction is rounded (99.999 -> 100.00)
        rounded = exp.Abs(this=cast(raw.copy(), f"decimal(38,{scale})"))
        fits = exp.LT(this=rounded, expression=lit(10 ** digits))
        return _then(and_(_search(raw, _DECIMAL_RE), _search(raw, int_part)), fits)
    if base == "double":
        return _search(raw, _DOUBLE_RE)
    if base == "date":
        return _then(_search(raw, _DATE_RE), portable("YMD_IS_DATE", raw.copy()))
    if base == "timestamp":
        return _then(_search(raw, _TIMESTAMP_RE), and_(portable("YMD_IS_DATE", raw.copy()), _valid_time(raw)))
    raise ValueError(base)


def _then(first: exp.Expression, second: exp.Expression) -> exp.Expression:
    """`first AND second`, with `second` evaluated only when `first` holds."""
    return exp.Case(ifs=[exp.If(this=first, true=second)], default=exp.false())


def _search(raw: exp.Expression, pattern: str) -> exp.Expression:
    return portable("REGEX_SEARCH", raw.copy(), lit(pattern))


def _part(raw: exp.Expression, start: int, length: int) -> exp.Expression:
    return cast(exp.Substring(this=raw.copy(), start=lit(start), length=lit(length)), "integer")


def _valid_time(raw: exp.Expression) -> exp.Expression:
    return and_(exp.LTE(this=_part(raw, 12, 2), expression=lit(23)),
                exp.LTE(this=_part(raw, 15, 2), expression=lit(59)),
                exp.LTE(this=_part(raw, 18, 2), expression=lit(59)))


def _reasons(name: str, field: ContractField) -> list[tuple[exp.Expression, str]]:
    """(condition, message) per rule, in the rule order of docs/reference.md §2.2; NULL conditions count as false."""
    raw, typed = col(name), col(typed_name(name))
    rules: list[tuple[exp.Expression, str]] = []
    if field.required:
        rules.append((exp.Is(this=raw.copy(), expression=exp.Null()), f"{name}: required value is missing"))
    if field.base_type != "string":
        rules.append((and_(exp.Not(this=exp.Is(this=raw.copy(), expression=exp.Null())),
                           exp.Is(this=typed.copy(), expression=exp.Null())),
                      f"{name}: not {_article(field.type)} {field.type}"))
    if field.accepted_values:
        allowed = [_accepted_literal(v, field) for v in field.accepted_values]
        rules.append((exp.Not(this=exp.In(this=typed.copy(), expressions=allowed)),
                      f"{name}: not in accepted_values"))
    if field.min is not None:
        rules.append((exp.LT(this=typed.copy(), expression=typed_lit(field.min, field.type)),
                      f"{name}: less than min {field.min}"))
    if field.max is not None:
        rules.append((exp.GT(this=typed.copy(), expression=typed_lit(field.max, field.type)),
                      f"{name}: greater than max {field.max}"))
    if field.pattern is not None:
        rules.append((exp.Not(this=_search(raw, field.pattern)), f"{name}: does not match pattern {field.pattern}"))
    return rules


def _accepted_literal(value, field: ContractField) -> exp.Expression:
    if field.base_type == "string":
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return lit(text)
    return typed_lit(value, field.type)


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _table_checks(schema: str, contract: Contract) -> list[Check]:
    staged = table(schema, contract.name)
    checks: list[Check] = []
    if contract.primary_key:
        checks.append(Check("CDP504", "error", f"{contract.name}: duplicate primary_key ({', '.join(contract.primary_key)}) values",
                            _duplicates(staged, contract.primary_key)))
    for name, field in contract.fields.items():
        if field.unique:
            checks.append(Check("CDP504", "error", f"{contract.name}: duplicate values of unique field {name}",
                                _duplicates(staged, [name])))
    if contract.freshness and contract.event_time:
        for code, severity, after in (("CDP505", "error", contract.freshness.error_after),
                                      ("CDP506", "warning", contract.freshness.warn_after)):
            if after:
                checks.append(Check(code, severity,
                                    f"{contract.name}: newest {contract.event_time} is older than {after} before the as-of time",
                                    _stale(staged, contract.event_time, duration_seconds(after))))
    return checks


def _duplicates(staged: exp.Table, keys: list[str]) -> exp.Expression:
    """Number of key values held by more than one staged row (NULL keys are not compared)."""
    not_null = and_(*(exp.Not(this=exp.Is(this=col(k), expression=exp.Null())) for k in keys))
    grouped = (exp.select(*(col(k) for k in keys), copy=False).from_(staged.copy(), copy=False).where(not_null, copy=False)
               .group_by(*(col(k) for k in keys), copy=False).having(exp.GT(this=exp.Count(this=exp.Star()), expression=lit(1)), copy=False))
    return exp.select(exp.Count(this=exp.Star()), copy=False).from_(grouped.subquery("dup", copy=False), copy=False)


def _stale(staged: exp.Table, event_time: str, seconds: int) -> exp.Expression:
    """1 when the newest event is older than `seconds` before the as-of time (or there is none)."""
    newest = exp.Max(this=exp.Cast(this=col(event_time), to=data_type("timestamp")))
    limit = exp.Sub(this=as_of_timestamp(), expression=exp.Interval(this=lit(str(seconds)), unit=exp.var("SECOND")))
    stale = or_(exp.Is(this=newest, expression=exp.Null()), exp.LT(this=newest.copy(), expression=limit))
    return exp.select(exp.Case(ifs=[exp.If(this=stale, true=lit(1))], default=lit(0)), copy=False).from_(staged.copy(), copy=False)
