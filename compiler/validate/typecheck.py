"""Snippet types: every snippet is typed against the declared types of the fields or
attributes it reads, before any SQL runs (CDP310-CDP312).

sqlglot's type annotation (`sqlglot.optimizer.annotate_types`) gives each node of the
snippet a type, from a schema built of the contract's fields (an aggregate attribute's
`aggregate` and `where`) or of the attributes' declared types (an `expression`, a segment's
`where`). It only infers; this module then refuses, node by node, what an engine would
refuse or what means nothing:

- CDP310: operands that do not go together: text compared with a number (`name > 3`),
  arithmetic on text, `sum` of text, a date function of a number, a `coalesce` of text and
  a number;
- CDP311: a value that cannot become the attribute's declared type (text into `integer`,
  a number into `boolean`); numbers widen and narrow freely, and anything becomes text;
- CDP312: a condition that is not true/false: a `where`, an `and`/`or`/`not` operand, a
  `case when`, a `filter (where ...)`, `count_if`/`bool_or`/`bool_and`.

Conservative on purpose: a value whose type sqlglot cannot tell (NULL, an attribute whose
type is itself an error) passes, and a quoted text literal is taken as any type (engines
read `'2026-01-01'` as a date where a date is expected). The allow-list
(compiler/allowlist.py) bounds the node types; those it allows and this module does not
name are only typed, never refused. One snippet, at most one type error: the innermost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Mapping, Optional

from sqlglot import exp
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.schema import MappingSchema
from sqlglot.tokens import Tokenizer

from .. import allowlist
from ..snippets import SnippetError, parse_snippet
from ..model import parse_field_type

TEXT, NUMBER, BOOLEAN, TIME = "text", "number", "boolean", "time"
WORDS = {TEXT: "text", NUMBER: "a number", BOOLEAN: "true/false", TIME: "a date or timestamp"}
_SQL_TYPES = {"string": "VARCHAR", "integer": "INT", "bigint": "BIGINT", "double": "DOUBLE", "boolean": "BOOLEAN",
              "date": "DATE", "timestamp": "TIMESTAMP"}
_TABLE = "_cdpc_snippet"

COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.NullSafeNEQ)
ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod)
# node type -> (the argument keys it reads, the category they must have)
ARGUMENTS: dict[type, tuple[tuple[str, ...], str]] = {
    exp.Abs: (("this",), NUMBER), exp.Round: (("this",), NUMBER), exp.Floor: (("this",), NUMBER),
    exp.Ceil: (("this",), NUMBER), exp.Sum: (("this",), NUMBER), exp.Avg: (("this",), NUMBER),
    exp.Median: (("this",), NUMBER),
    exp.Lower: (("this",), TEXT), exp.Upper: (("this",), TEXT), exp.Length: (("this",), TEXT),
    exp.Trim: (("this",), TEXT), exp.Substring: (("this",), TEXT), exp.Left: (("this",), TEXT),
    exp.Right: (("this",), TEXT), exp.Replace: (("this",), TEXT), exp.StrPosition: (("this", "substr"), TEXT),
    exp.RegexpLike: (("this",), TEXT), exp.Like: (("this",), TEXT), exp.ILike: (("this",), TEXT),
    exp.DateDiff: (("this", "expression"), TIME), exp.DateAdd: (("this",), TIME),
    exp.TimestampTrunc: (("this",), TIME), exp.Extract: (("expression",), TIME), exp.Year: (("this",), TIME),
    exp.Month: (("this",), TIME), exp.Day: (("this",), TIME),
}
FUNCTION_WORDS = {NUMBER: "a number", TEXT: "text", TIME: "a date or timestamp"}


@dataclass(frozen=True)
class TypeProblem:
    code: str
    message: str
    hint: str
    node: exp.Expression  # of the caller's tree (for its offset)


def sql_type(declared: str) -> Optional[str]:
    """The sqlglot type of a contract type (`decimal(10,2)` -> `DECIMAL(10, 2)`), None when unknown."""
    parsed = parse_field_type(declared) if isinstance(declared, str) else None
    if parsed is None:
        return None
    return f"DECIMAL({parsed[1]}, {parsed[2]})" if parsed[0] == "decimal" else _SQL_TYPES[parsed[0]]


def category_of_type(declared: str) -> Optional[str]:
    parsed = parse_field_type(declared) if isinstance(declared, str) else None
    if parsed is None:
        return None
    return {"string": TEXT, "boolean": BOOLEAN, "date": TIME, "timestamp": TIME}.get(parsed[0], NUMBER)


_TYPED_SHAPES: dict[tuple, bool] = {}  # shape -> has no type error (most snippets share a few shapes)


def check_types(expr: exp.Expression, declared: Mapping[str, str], dialect: str, text: str,
                result: Optional[str] = None, condition: bool = False, result_name: str = "") -> Optional[TypeProblem]:
    """The first type error of the snippet `expr`, whose bare names have the `declared` contract
    types; `result` is the declared type its value must fit, `condition` that it must be
    true/false. Names without a known type pass."""
    key = (_typed_shape(expr, declared), category_of_type(result) if result else None, condition, dialect)
    if _TYPED_SHAPES.get(key):
        return None
    problem = _check(expr, declared, dialect, text, result, condition, result_name)
    _TYPED_SHAPES[key] = problem is None
    return problem


def _typed_shape(expr: exp.Expression, declared: Mapping[str, str]) -> tuple:
    """The tree with names replaced by their declared types and literals by their kind:
    two snippets of one typed shape type alike (`sum(amount)` and `sum(price)`, both numbers)."""
    position: dict[int, int] = {}
    out = []
    for index, node in enumerate(expr.walk()):
        position[id(node)] = index
        if isinstance(node, exp.Column):
            payload: tuple = (sql_type(declared.get(node.name, "")),)
        elif isinstance(node, exp.Identifier):
            payload = ()
        elif isinstance(node, exp.Literal):
            payload = (node.is_string,)
        else:
            payload = tuple(sorted((k, repr(v)) for k, v in node.args.items()
                                   if v is not None and not isinstance(v, (exp.Expression, list))))
        out.append((type(node).__name__, position.get(id(node.parent), -1), node.arg_key, payload))
    return tuple(out)


def _check(expr: exp.Expression, declared: Mapping[str, str], dialect: str, text: str,
           result: Optional[str], condition: bool, result_name: str) -> Optional[TypeProblem]:
    copy = expr.copy()
    original = dict(zip(map(id, copy.walk()), expr.walk()))
    columns = {}
    for column in copy.find_all(exp.Column):
        if column.name in declared and sql_type(declared[column.name]):
            columns[column.name] = sql_type(declared[column.name])
            column.set("table", exp.to_identifier(_TABLE))
    schema = MappingSchema({_TABLE: columns} if columns else {}, dialect=dialect, normalize=False)
    select = exp.select(copy, copy=False).from_(_TABLE, copy=False)
    try:
        annotate_types(select, schema=schema, dialect=dialect)
    except Exception:  # a shape sqlglot cannot type is not the author's mistake: nothing to say
        return None
    typer = _Typer(declared, text, dialect, original, _time_differences(copy))
    for node in _post_order(copy):
        problem = typer.node(node)
        if problem is not None:
            return problem
    return typer.root(copy, result, condition, result_name)


def _time_differences(root: exp.Expression) -> set[int]:
    """`date - date` is a number of days on DuckDB and PostgreSQL and an interval elsewhere;
    sqlglot calls it a date. Such a difference, and what takes its type from it (`max(...)`,
    `(...) + 1`), are of unknown type here (ids of the nodes)."""
    unknown: set[int] = set()
    for node in root.find_all(exp.Sub):
        if not all(_is_time(side) for side in (node.this, node.expression)):
            continue
        wrong = node.type
        while node is not None and node.type == wrong:
            unknown.add(id(node))
            node = node.parent
    return unknown


def _is_time(node: exp.Expression) -> bool:
    return node.type is not None and node.type.this in exp.DataType.TEMPORAL_TYPES


def _post_order(root: exp.Expression) -> Iterator[exp.Expression]:
    """Children before their parent, left to right (without recursion: snippets can nest deep)."""
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            yield node
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(list(node.iter_expressions())))


class _Typer:
    def __init__(self, declared: Mapping[str, str], text: str, dialect: str, original: dict[int, exp.Expression],
                 unknown: set[int]):
        self.declared, self.text, self.dialect, self.original, self.unknown = declared, text, dialect, original, unknown

    # ---- what a node is

    def category(self, node: Optional[exp.Expression]) -> Optional[str]:
        if node is None:
            return None
        while isinstance(node, exp.Paren):
            node = node.this
        if id(node) in self.unknown:
            return None
        kind = node.type.this if node.type is not None else None
        if kind is None or kind in (exp.DataType.Type.UNKNOWN, exp.DataType.Type.NULL):
            return None
        if kind in exp.DataType.TEXT_TYPES:
            return TEXT
        if kind == exp.DataType.Type.BOOLEAN:
            return BOOLEAN
        if kind in exp.DataType.TEMPORAL_TYPES:
            return TIME
        if kind in exp.DataType.NUMERIC_TYPES:
            return NUMBER
        return None

    @staticmethod
    def flexible(node: exp.Expression) -> bool:
        """A quoted literal or NULL: engines read it as the type the other side needs."""
        node = node.unnest() if isinstance(node, exp.Paren) else node
        return isinstance(node, exp.Null) or (isinstance(node, exp.Literal) and node.is_string)

    def shown(self, node: exp.Expression) -> str:
        node = self.original.get(id(node), node)
        shown = written(node, self.text, self.dialect)
        return shown if len(shown) <= 60 else shown[:57] + "..."

    def what(self, node: exp.Expression) -> str:
        """`amount` (decimal(10,2)) for a name, else the category in words."""
        inner = node.unnest() if isinstance(node, exp.Paren) else node
        if isinstance(inner, exp.Column) and inner.name in self.declared:
            return f"`{inner.name}` ({self.declared[inner.name]})"
        return f"`{self.shown(node)}` ({WORDS[self.category(node)]})"

    def error(self, code: str, message: str, hint: str, node: exp.Expression) -> TypeProblem:
        return TypeProblem(code, message, hint, self.original.get(id(node), node))

    # ---- the rules

    def node(self, node: exp.Expression) -> Optional[TypeProblem]:
        if isinstance(node, COMPARISONS):
            return self.pair(node, node.this, node.expression)
        if isinstance(node, exp.In):
            return next((p for p in (self.pair(node, node.this, e) for e in node.expressions) if p), None)
        if isinstance(node, exp.Between):
            return self.pair(node, node.this, node.args.get("low")) or self.pair(node, node.this, node.args.get("high"))
        if isinstance(node, ARITHMETIC) or isinstance(node, exp.Neg):
            return self.arithmetic(node)
        if isinstance(node, (exp.And, exp.Or)):
            return self.condition(node.this, node) or self.condition(node.expression, node)
        if isinstance(node, exp.Not):
            return self.condition(node.this, node)
        if isinstance(node, exp.If):  # `case when c then ...` and `if(c, a, b)`
            return self.condition(node.this, node.parent if isinstance(node.parent, exp.Case) else node) or (self.branches(node, [node.args.get("true"), node.args.get("false")])
                                                       if not isinstance(node.parent, exp.Case) else None)
        if isinstance(node, exp.Case):
            return self.branches(node, [i.args.get("true") for i in node.args.get("ifs", [])] + [node.args.get("default")])
        if isinstance(node, exp.Where) and isinstance(node.parent, exp.Filter):
            return self.condition(node.this, node.parent)
        if isinstance(node, (exp.CountIf, exp.LogicalOr, exp.LogicalAnd)):
            return self.condition(node.this, node)
        if isinstance(node, (exp.Coalesce, exp.Greatest, exp.Least)):
            return self.branches(node, [node.this, *node.expressions])
        if isinstance(node, exp.Nullif):
            return self.branches(node, [node.this, node.expression])
        if type(node) in ARGUMENTS:
            return self.arguments(node)
        return None

    def pair(self, node: exp.Expression, left, right) -> Optional[TypeProblem]:
        a, b = self.category(left), self.category(right)
        if a is None or b is None or a == b or self.flexible(left) or self.flexible(right):
            return None
        return self.error("CDP310", f"`{self.shown(node)}` compares {self.what(left)} with {self.what(right)}",
                          _mismatch_hint(a, b), node)

    def arithmetic(self, node: exp.Expression) -> Optional[TypeProblem]:
        for operand in (node.this, node.args.get("expression")):
            kind = self.category(operand)
            if kind in (TEXT, BOOLEAN) and not self.flexible(operand):
                return self.error("CDP310", f"`{self.shown(node)}` does arithmetic on {self.what(operand)}",
                                  "arithmetic takes numbers, dates and intervals; for text use `||` or concat(...), "
                                  "or cast a numeric text: cast(x as integer)", node)
        return None

    def condition(self, operand: Optional[exp.Expression], node: exp.Expression) -> Optional[TypeProblem]:
        kind = self.category(operand)
        if operand is None or kind in (None, BOOLEAN):
            return None
        needs = "" if node is operand else f", but `{self.shown(node)}` needs a condition there"
        return self.error("CDP312", f"{self.what(operand)} is not true/false{needs}",
                          f"compare it, e.g. `{self.shown(operand)} {_example(kind)}`", operand)

    def branches(self, node: exp.Expression, values: list) -> Optional[TypeProblem]:
        typed = [(v, self.category(v)) for v in values if v is not None and not self.flexible(v)]
        typed = [(v, k) for v, k in typed if k is not None]
        for value, kind in typed[1:]:
            if kind != typed[0][1]:
                return self.error("CDP310", f"`{self.shown(node)}` mixes {self.what(typed[0][0])} with {self.what(value)}",
                                  "give every branch the same type: cast one, e.g. cast(x as string)", node)
        return None

    def arguments(self, node: exp.Expression) -> Optional[TypeProblem]:
        keys, needed = ARGUMENTS[type(node)]
        for key in keys:
            argument = node.args.get(key)
            kind = self.category(argument)
            if argument is None or kind in (None, needed) or self.flexible(argument):
                continue
            name = self.original.get(id(node), node)
            label = allowlist._written_name(name, self.text) or type(node).__name__.lower()
            return self.error("CDP310", f"`{self.shown(node)}`: {label} takes {FUNCTION_WORDS[needed]}, "
                              f"not {self.what(argument)}", _argument_hint(needed, kind), node)
        return None

    def root(self, node: exp.Expression, result: Optional[str], condition: bool, result_name: str) -> Optional[TypeProblem]:
        kind = self.category(node)
        if kind is None or self.flexible(node):
            return None
        if condition:
            return self.condition(node, node) if kind != BOOLEAN else None
        wanted = category_of_type(result) if result else None
        if wanted is None or wanted == TEXT or wanted == kind:
            return None
        return self.error("CDP311", f"{self.what(node)} cannot become {result_name} type `{result}`",
                          f"declare {_DECLARE[kind]}, or compute {WORDS[wanted]}"
                          + (f", e.g. `{self.shown(node)} {_example(kind)}`" if wanted == BOOLEAN else
                             f", e.g. `cast({self.shown(node)} as {result})`" if kind == TEXT else ""), node)


def written(node: exp.Expression, text: str, dialect: str) -> str:
    """The text of `node` as the author wrote it: the shortest run of tokens from where it
    starts that parses to the same tree; else as sqlglot prints it."""
    printed = node.sql(dialect=dialect, normalize_functions="lower")
    start = allowlist.offset_of(node, text)
    try:
        tokens = Tokenizer(dialect=dialect).tokenize(text) if text else []
    except Exception:
        return printed
    for token in tokens:
        if token.end < start:
            continue
        fragment = text[start:token.end + 1]
        if fragment.count("(") != fragment.count(")"):  # sqlglot forgives a missing `)`
            continue
        try:
            if parse_snippet(fragment, dialect).expr == node:
                return fragment
        except SnippetError:
            continue
    return printed


_DECLARE = {TEXT: "`type: string`", NUMBER: "`type: double` (or another numeric type)", BOOLEAN: "`type: boolean`",
            TIME: "`type: timestamp` (or `date`)"}


def _mismatch_hint(a: str, b: str) -> str:
    if TEXT in (a, b):
        return "compare values of one type: declare the field or attribute with the type of its values, or cast one side, e.g. cast(x as integer)"
    return "compare values of one type, e.g. a date with a date (`date '2026-01-31'`) or a number with a number"


def _argument_hint(needed: str, got: str) -> str:
    if needed == NUMBER and got == BOOLEAN:
        return "count the rows where it holds: count_if(x), or bool_or(x) for any"
    if needed == NUMBER:
        return "aggregate a numeric field, or cast a numeric text: sum(cast(x as integer)); max/min/count take any type"
    if needed == TIME:
        return "pass a date or timestamp field, or cast: cast(x as date)"
    return "pass text, or cast: cast(x as string)"


def _example(kind: Optional[str]) -> str:
    return {NUMBER: "> 0", TEXT: "= 'x'", TIME: "> current_date - interval 30 day"}.get(kind, "is not null")
