"""The snippet allow-list: every sqlglot node a SQL snippet may contain, per context (docs/guarantees.md §3).

An allow-list, not a deny-list: a node type that is not in `ALLOWED` is refused, whatever
sqlglot version adds next. The table is data; `check` walks a snippet against it and
`markdown` prints it for docs/language.md (tests/test_allowlist.py keeps the two equal).

Everything here reads only the columns it names and depends only on its arguments and the
run's as-of time (`current_date`, `current_timestamp`). Refused on purpose, with a reason
(`REFUSED`): positional and whole-row references, `*` outside `count(*)`, `COLUMNS(...)`,
table functions, subqueries, and functions of the session, the server, randomness, files,
the network or the wall clock; also order-dependent aggregates (`string_agg`, `list`,
`first`, `any_value`), whose result would depend on the input's row order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator, Optional

from sqlglot import exp

# The four places a snippet is written; what each names is checked in validate/expressions.py.
AGGREGATE = "aggregate"            # an aggregate attribute's `aggregate`
ROW_FILTER = "where"               # an aggregate attribute's or a consent source's `where` (one source row at a time)
EXPRESSION = "expression"          # an expression attribute's `expression`
SEGMENT = "segment where"          # a segment's `where`
CONTEXTS = (AGGREGATE, ROW_FILTER, EXPRESSION, SEGMENT)
ROW_WISE = frozenset({ROW_FILTER, EXPRESSION, SEGMENT})
EVERYWHERE = frozenset(CONTEXTS)
AGGREGATE_ONLY = frozenset({AGGREGATE})


@dataclass(frozen=True)
class Allowed:
    node: type
    spelling: str                       # how a definitions author writes it
    group: str                          # heading in docs/language.md
    contexts: frozenset = EVERYWHERE
    not_on: tuple[str, ...] = ()        # targets that cannot emit it faithfully

    @property
    def name(self) -> str:
        return self.node.__name__


def _entries() -> tuple[Allowed, ...]:
    def a(node, spelling, group, contexts=EVERYWHERE, not_on=()):
        return Allowed(node, spelling, group, contexts, tuple(not_on))

    syntax, logic, arithmetic = "names and values", "logic and comparison", "arithmetic"
    text, time, aggregate = "text", "date and time", "aggregates (`aggregate` only)"
    return (
        a(exp.Column, "`field_or_attribute` (a bare name the context allows)", syntax),
        a(exp.Identifier, "the name inside a column", syntax),
        a(exp.Literal, "`'text'`, `42`, `1.5`", syntax),
        a(exp.Boolean, "`true`, `false`", syntax),
        a(exp.Null, "`null`", syntax),
        a(exp.Paren, "`( ... )`", syntax),
        a(exp.Cast, "`cast(x as T)`, `x::T`, `date '2026-01-31'` (T one of the contract types)", syntax),
        a(exp.DataType, "the `T` of a cast", syntax),
        a(exp.DataTypeParam, "the `(p, s)` of `decimal(p, s)`", syntax),
        a(exp.Interval, "`interval 30 day`, `interval '30 days'`", syntax),
        a(exp.Var, "a unit: `day` in an interval, `year` in `extract`", syntax),
        a(exp.CurrentDate, "`current_date`, `today()` (the run's as-of date)", syntax),
        a(exp.CurrentTimestamp, "`current_timestamp`, `now()` (the run's as-of time)", syntax),
        a(exp.And, "`a and b`", logic),
        a(exp.Or, "`a or b`", logic),
        a(exp.Not, "`not a`", logic),
        a(exp.EQ, "`=`", logic),
        a(exp.NEQ, "`<>`, `!=`", logic),
        a(exp.GT, "`>`", logic),
        a(exp.GTE, "`>=`", logic),
        a(exp.LT, "`<`", logic),
        a(exp.LTE, "`<=`", logic),
        a(exp.NullSafeEQ, "`a is not distinct from b`", logic),
        a(exp.NullSafeNEQ, "`a is distinct from b`", logic),
        a(exp.Is, "`a is null`, `a is not null`", logic),
        a(exp.In, "`a in (1, 2, 3)` (a list of values)", logic),
        a(exp.Between, "`a between x and y`", logic),
        a(exp.Like, "`a like 'x%'`", logic),
        a(exp.ILike, "`a ilike 'x%'`", logic),
        a(exp.Case, "`case when ... then ... else ... end`", logic),
        a(exp.If, "`if(cond, a, b)`", logic),
        a(exp.Coalesce, "`coalesce(a, b, ...)`", logic),
        a(exp.Nullif, "`nullif(a, b)`", logic),
        a(exp.Greatest, "`greatest(a, b, ...)`", logic),
        a(exp.Least, "`least(a, b, ...)`", logic),
        a(exp.Add, "`+`", arithmetic),
        a(exp.Sub, "`-`", arithmetic),
        a(exp.Mul, "`*` (multiplication)", arithmetic),
        a(exp.Div, "`/`", arithmetic),
        a(exp.Mod, "`%`", arithmetic),
        a(exp.Neg, "`-a`", arithmetic),
        a(exp.Abs, "`abs(x)`", arithmetic),
        a(exp.Round, "`round(x, n)`", arithmetic),
        a(exp.Floor, "`floor(x)`", arithmetic),
        a(exp.Ceil, "`ceil(x)`", arithmetic),
        a(exp.Lower, "`lower(s)`", text),
        a(exp.Upper, "`upper(s)`", text),
        a(exp.Length, "`length(s)`", text),
        a(exp.Trim, "`trim(s)`, `ltrim(s)`, `rtrim(s)`", text),
        a(exp.Substring, "`substring(s, start, length)`", text),
        a(exp.Left, "`left(s, n)`", text),
        a(exp.Right, "`right(s, n)`", text),
        a(exp.Concat, "`concat(a, b, ...)` (NULL counts as '')", text),
        a(exp.DPipe, "`a || b` (NULL if either is NULL)", text),
        a(exp.Replace, "`replace(s, from, to)`", text),
        a(exp.StrPosition, "`position(x in s)`, `strpos(s, x)`", text),
        a(exp.RegexpLike, "`regexp_matches(s, pattern)`", text),
        a(exp.DateDiff, "`date_diff('day', a, b)`", time),
        a(exp.DateAdd, "`date_add(a, interval 1 day)`", time),
        a(exp.TimestampTrunc, "`date_trunc('month', t)`", time),
        a(exp.Extract, "`extract(year from t)`", time),
        a(exp.Year, "`year(t)`", time),
        a(exp.Month, "`month(t)`", time),
        a(exp.Day, "`day(t)`", time),
        a(exp.Count, "`count(*)`, `count(x)`, `count(distinct x)`", aggregate, AGGREGATE_ONLY),
        a(exp.CountIf, "`count_if(cond)`", aggregate, AGGREGATE_ONLY),
        a(exp.Sum, "`sum(x)`", aggregate, AGGREGATE_ONLY),
        a(exp.Avg, "`avg(x)`", aggregate, AGGREGATE_ONLY),
        a(exp.Min, "`min(x)`", aggregate, AGGREGATE_ONLY),
        a(exp.Max, "`max(x)`", aggregate, AGGREGATE_ONLY),
        a(exp.LogicalOr, "`bool_or(cond)`", aggregate, AGGREGATE_ONLY),
        a(exp.LogicalAnd, "`bool_and(cond)`", aggregate, AGGREGATE_ONLY),
        # BigQuery's PERCENTILE_CONT is an analytic (window) function only: no aggregate median there
        a(exp.Median, "`median(x)`", aggregate, AGGREGATE_ONLY, not_on=("bigquery",)),
        a(exp.Distinct, "`distinct` inside an aggregate", aggregate, AGGREGATE_ONLY),
        a(exp.Filter, "`agg(...) filter (where cond)`", aggregate, AGGREGATE_ONLY),
        a(exp.Where, "the `where` of a filter clause", aggregate, AGGREGATE_ONLY),
        a(exp.Star, "the `*` of `count(*)`", aggregate, AGGREGATE_ONLY),
    )


ENTRIES: tuple[Allowed, ...] = _entries()
ALLOWED: dict[type, Allowed] = {entry.node: entry for entry in ENTRIES}

# Cast targets: exactly the contract types (docs/reference.md §2.2), by sqlglot's type enum.
CAST_TYPES = frozenset({
    exp.DataType.Type.TEXT, exp.DataType.Type.VARCHAR, exp.DataType.Type.INT, exp.DataType.Type.BIGINT,
    exp.DataType.Type.DOUBLE, exp.DataType.Type.DECIMAL, exp.DataType.Type.BOOLEAN, exp.DataType.Type.DATE,
    exp.DataType.Type.TIMESTAMP,
})
# A `Var` is a unit keyword; anywhere else it would be a bare word passed through unchecked.
UNIT_PARENTS = (exp.Interval, exp.Extract, exp.DateDiff, exp.DateAdd, exp.TimestampTrunc)


@dataclass(frozen=True)
class Reason:
    code: str
    what: str       # completes "`<text>` is ..." / "... is not allowed"
    hint: str


_UNNAMED = Reason("CDP309", "reads columns without naming them",
                  "name each field you read: lineage (and the PHI/PII rules) follows names only")
_SESSION = Reason("CDP308", "depends on the session, the user, the database or the server",
                  "a snippet may depend only on its arguments and the as-of time")
_RANDOM = Reason("CDP308", "is random", "a run must be reproducible: the same data gives the same tables")
_CLOCK = Reason("CDP308", "reads the wall clock or a time of day",
                "use `current_date` or `current_timestamp`, which mean the run's as-of time")
_TABLE = Reason("CDP308", "is a table function: it reads files, rows or relations of its own",
                "a snippet reads only the fields or attributes its context allows")
_ORDER = Reason("CDP308", "depends on the order of the input rows",
                "use an order-independent aggregate: min, max, count, sum, bool_or ...")
_NESTED = Reason("CDP308", "builds a list, struct, map or JSON value",
                 "attributes are scalar values of a contract type; compute one value per attribute")

REFUSED: dict[type, Reason] = {
    exp.PositionalColumn: _UNNAMED, exp.Columns: _UNNAMED,
    exp.CurrentUser: _SESSION, exp.SessionUser: _SESSION, exp.CurrentDatabase: _SESSION,
    exp.CurrentSchema: _SESSION, exp.CurrentVersion: _SESSION, exp.CurrentCatalog: _SESSION,
    exp.Rand: _RANDOM, exp.Randn: _RANDOM, exp.Uuid: _RANDOM,
    exp.CurrentTime: _CLOCK, exp.Localtime: _CLOCK, exp.Localtimestamp: _CLOCK, exp.CurrentDatetime: _CLOCK,
    exp.ReadCSV: _TABLE, exp.GenerateSeries: _TABLE, exp.Explode: _TABLE, exp.Unnest: _TABLE,
    exp.GroupConcat: _ORDER, exp.ArrayAgg: _ORDER, exp.First: _ORDER, exp.Last: _ORDER,
    exp.AnyValue: _ORDER, exp.ArgMax: _ORDER, exp.ArgMin: _ORDER, exp.IgnoreNulls: _ORDER,
    exp.RespectNulls: _ORDER,
    exp.Array: _NESTED, exp.Struct: _NESTED, exp.Map: _NESTED, exp.JSONObject: _NESTED,
}
_NOT_LISTED = Reason("CDP308", "is not on the snippet allow-list",
                     "use a function from the allow-list in docs/language.md, or compute the value in another attribute")


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str
    hint: str
    offset: int  # where the offending text starts in the snippet (0 when unknown)


def check(expr: exp.Expression, context: str, targets: tuple[str, ...] = (), text: str = "") -> list[Refusal]:
    """Every node of `expr` that `context` does not allow; a refused node's children are not
    reported again (one mistake, one error). Aggregates outside `aggregate` are left to the
    aggregation rule (CDP306), which says why."""
    refusals: list[Refusal] = []
    stack = [expr]
    while stack:
        node = stack.pop()
        refusal = _refuse(node, context, targets, text)
        if refusal is _LEAVE:
            continue
        if refusal is not None:
            refusals.append(refusal)
            continue
        stack.extend(reversed(list(node.iter_expressions())))
    return refusals


_LEAVE = Refusal("", "", "", 0)  # not reported here, and its children neither


def _refuse(node: exp.Expression, context: str, targets: tuple[str, ...], text: str) -> Optional[Refusal]:
    entry = ALLOWED.get(type(node))
    if entry is None:
        return _refusal(node, _reason_for(node), text)
    if context not in entry.contexts:
        if isinstance(node, exp.AggFunc):
            return _LEAVE  # CDP306 explains it
        return _refusal(node, Reason("CDP308", "is only allowed in an attribute's `aggregate`",
                                     "aggregate in an aggregate attribute and refer to that attribute"), text)
    special = _special(node)
    if special is not None:
        return _refusal(node, special, text)
    blocked = [t for t in targets if t in entry.not_on]
    if blocked:
        return _refusal(node, Reason("CDP304", f"cannot be emitted for {blocked[0]}",
                                     "rewrite it with functions every target supports, or drop that target"), text)
    return None


def _special(node: exp.Expression) -> Optional[Reason]:
    """Allowed node types that are still refused in some shapes."""
    if isinstance(node, exp.Column) and (node.table or isinstance(node.this, exp.Star)):
        return _UNNAMED if isinstance(node.this, exp.Star) else Reason(
            "CDP303", "is a qualified name", f"write the bare name `{node.name}`: a snippet reads one relation")
    if isinstance(node, exp.Star) and not isinstance(node.parent, exp.Count):
        return Reason("CDP309", "is only allowed in count(*)", "name the fields you read")
    if isinstance(node, exp.Var) and not isinstance(node.parent, UNIT_PARENTS):
        return _NOT_LISTED
    if isinstance(node, exp.DataType) and node.this not in CAST_TYPES:
        return Reason("CDP308", "is not a contract type", "cast to string, integer, bigint, double, "
                      "decimal(p,s), boolean, date or timestamp")
    if isinstance(node, (exp.Distinct, exp.Where)) and not isinstance(node.parent, (exp.AggFunc, exp.Filter)):
        return _NOT_LISTED
    if isinstance(node, exp.In) and (node.args.get("query") or node.args.get("field") or node.args.get("unnest")):
        return Reason("CDP308", "is only allowed with a list of values", "write `x in (1, 2, 3)`")
    return None


def _reason_for(node: exp.Expression) -> Reason:
    for kind in type(node).__mro__:
        if kind in REFUSED:
            return REFUSED[kind]
    if isinstance(node, exp.UDTF):
        return _TABLE
    if isinstance(node, exp.Window):
        return Reason("CDP307", "is a window function",
                      "aggregate per profile with a plain aggregate, e.g. `max(x)` instead of `max(x) over (...)`")
    if isinstance(node, (exp.Placeholder, exp.Parameter, exp.SessionParameter)):
        return Reason("CDP303", "is a parameter", "snippets have no parameters; write the value")
    return _NOT_LISTED


def _refusal(node: exp.Expression, reason: Reason, text: str) -> Refusal:
    return Refusal(reason.code, f"`{_shown(node, text)}` {reason.what}", reason.hint, offset_of(node, text))


def _shown(node: exp.Expression, text: str) -> str:
    """The offending text as the author wrote it where it can be found (a function's name),
    else as sqlglot prints it."""
    if isinstance(node, exp.Func) and text and _CALL.match(node.sql(dialect="duckdb")):
        name = _written_name(node, text)
        if name:
            return name + "(...)"
    try:
        shown = node.sql(dialect="duckdb")
    except Exception:  # a node the generator cannot print still gets a name
        shown = type(node).__name__
    return shown if len(shown) <= 60 else shown[:57] + "..."


def _written_name(node: exp.Expression, text: str) -> str:
    offset = offset_of(node, text)
    match = _CALL.match(text, offset)
    return match.group(1) if match else ""


_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(")
_CALL_BEFORE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(\s*$")


def offset_of(node: exp.Expression, text: str = "") -> int:
    """Where `node`'s text starts in the snippet: the parser's position of its own first token,
    else where its printed form appears in the text, else the call just before its first
    child (`string_agg(` before `email`), else its first child's position, else 0."""
    if "start" in node.meta:
        return node.meta["start"]
    parts = [p.meta["start"] for p in node.iter_expressions() if "start" in p.meta] if isinstance(node, exp.Column) else []
    if parts:  # a name's own parts (`o`, `email`): `spend` is also inside `big_spender`
        return min(parts)
    lowered = text.lower()
    printed = node.sql(dialect="duckdb").lower()
    for spelling in (printed, printed.removesuffix("()")):
        found = lowered.find(spelling) if spelling else -1
        if found >= 0:
            return found
    starts = [n.meta["start"] for n in node.walk() if "start" in n.meta]
    if not starts:
        return 0
    is_call = isinstance(node, exp.Func) and _CALL.match(printed)
    call = _CALL_BEFORE.search(text[:min(starts)]) if is_call else None
    return call.start(1) if call else min(starts)


# --------------------------------------------------------------------------- docs


def markdown() -> str:
    """The allow-list as docs/language.md prints it, group by group."""
    lines: list[str] = []
    groups: dict[str, list[Allowed]] = {}
    for entry in ENTRIES:
        groups.setdefault(entry.group, []).append(entry)
    for group, entries in groups.items():
        lines += [f"**{group}**", "", "| write | sqlglot node | contexts |", "| --- | --- | --- |"]
        for entry in entries:
            contexts = "all" if entry.contexts == EVERYWHERE else ", ".join(c for c in CONTEXTS if c in entry.contexts)
            lines.append(f"| {entry.spelling} | `{entry.name}` | {contexts} |")
        lines.append("")
    lines += ["**refused, with their own reason**", "", "| sqlglot node | why |", "| --- | --- |"]
    for node, reason in sorted(REFUSED.items(), key=lambda item: item[0].__name__):
        lines.append(f"| `{node.__name__}` | {reason.code}: {reason.what} |")
    return "\n".join(lines) + "\n"


def iter_names() -> Iterator[str]:
    return (entry.name for entry in ENTRIES)
