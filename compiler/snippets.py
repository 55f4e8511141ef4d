"""SQL snippets inside YAML (`where`, `aggregate`, `expression`): parsed once with sqlglot.

A snippet must be one expression: no statement, no subquery, no `;`, no unknown
(anonymous) function. `current_date`, `current_timestamp` and `now()` are kept as
sqlglot nodes here; the emitters replace them by the run's as-of time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, TokenError, UnsupportedError


class SnippetError(Exception):
    def __init__(self, code: str, message: str, hint: str = "", offset: int = 0):
        super().__init__(message)
        self.code, self.message, self.hint, self.offset = code, message, hint, offset


@dataclass(frozen=True)
class Snippet:
    text: str
    expr: exp.Expression

    @property
    def columns(self) -> tuple[str, ...]:
        """Names the snippet reads, in order of first appearance (`*` names none)."""
        seen: dict[str, None] = {}
        for column in self.expr.find_all(exp.Column):
            if column.name and not isinstance(column.this, exp.Star):
                seen.setdefault(column.name, None)
        return tuple(seen)

    @property
    def is_aggregate(self) -> bool:
        return contains_aggregate(self.expr)


_STATEMENTS = (exp.Select, exp.Union, exp.Insert, exp.Update, exp.Delete, exp.Create, exp.Drop,
               exp.Subquery, exp.Command, exp.Alter, exp.Merge, exp.Use, exp.Set, exp.Transaction)
AS_OF_NODES = (exp.CurrentDate, exp.CurrentTimestamp, exp.CurrentDatetime, exp.CurrentTime)


def contains_aggregate(node: exp.Expression) -> bool:
    return any(isinstance(n, exp.AggFunc) for n in node.walk())


@lru_cache(maxsize=8192)
def parse_snippet(text: str, dialect: str) -> Snippet:
    if not isinstance(text, str) or not text.strip():
        raise SnippetError("CDP301", "empty SQL snippet", "write a SQL expression, e.g. `status = 'paid'`")
    jinja = _JINJA.search(_outside_strings(text))
    if jinja:
        raise _jinja_error(text, jinja.start())
    if ";" in _outside_strings(text):
        raise SnippetError("CDP302", "a snippet is one expression: `;` is not allowed",
                           "remove the `;` and anything after it", text.index(";"))
    try:
        parsed = sqlglot.parse(text, read=dialect, error_level=ErrorLevel.RAISE)
    except (ParseError, TokenError) as exc:
        raise _parse_error(exc) from None
    except Exception as exc:  # sqlglot trips on some garbage (`?[|`, `?[0[`): still "does not parse"
        raise SnippetError("CDP301", f"SQL snippet does not parse ({type(exc).__name__}: {exc})",
                           "check parentheses, quotes (text uses 'single quotes') and operators") from None
    if len(parsed) != 1 or parsed[0] is None:
        raise SnippetError("CDP302", "a snippet is one expression", "remove everything after the expression")
    expr = parsed[0]
    for node in expr.walk():
        if isinstance(node, _STATEMENTS) or isinstance(node, exp.Query):
            raise SnippetError("CDP302", "a snippet is one expression: statements and subqueries are not allowed",
                               "refer to attributes or fields by name instead of selecting them")
    expr = _normalize_as_of(expr)
    for node in expr.walk():
        if isinstance(node, exp.Anonymous):
            raise SnippetError("CDP304", f"unknown function `{node.name}`",
                               "use a function that sqlglot knows and every target can run (see docs/language.md)")
    return Snippet(text, expr)


def check_targets(snippet: Snippet, targets: list[str]) -> str | None:
    """Name the first target that cannot emit the snippet, or None."""
    for target in targets:
        try:
            snippet.expr.sql(dialect=target, unsupported_level=ErrorLevel.RAISE)
        except UnsupportedError as exc:
            return f"{target}: {exc}"
        except Exception as exc:  # a generator that trips on the tree still means "cannot emit"
            return f"{target}: {type(exc).__name__}: {exc}"
    return None


def _normalize_as_of(expr: exp.Expression) -> exp.Expression:
    """`now()` may parse as an unknown function and bare `current_date` as a column: make both as-of nodes."""
    def fix(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column) and not node.table and node.name.lower() in ("current_date", "current_timestamp"):
            return exp.CurrentDate() if node.name.lower() == "current_date" else exp.CurrentTimestamp()
        if isinstance(node, exp.Anonymous) and node.name.lower() == "now" and not node.expressions:
            return exp.CurrentTimestamp()
        return node
    return expr.transform(fix, copy=False)  # the tree was just parsed: nobody else holds it


_JINJA = re.compile(r"\{\{|\{%|\{#")
_JINJA_CALL = re.compile(r"\{[{%#]-?\s*(\w+)\s*(?:\(\s*['\"]?([\w.]*)['\"]?)?")


def _jinja_error(text: str, offset: int) -> SnippetError:
    """A template (dbt habits) in a snippet: say what to write instead."""
    tag = _JINJA_CALL.match(text, offset)
    call, argument = (tag.group(1), tag.group(2) or "") if tag else ("", "")
    close = {"{{": "}}", "{%": "%}", "{#": "#}"}[text[offset:offset + 2]]
    end = text.find(close, offset)
    shown = text[offset:end + 2] if end >= 0 else text[offset:offset + 2] + " ..."
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    if call in ("ref", "source"):
        hint = (f"name the field itself (a snippet reads the fields of its source contract{f', not `{argument}`' if argument else ''}); "
                "to read another contract, make it the attribute's `source`")
    elif call in ("var", "env_var") and "as_of" in argument.lower() or call in ("run_started_at",):
        hint = "write `current_date` or `current_timestamp`: they mean the run's as-of time, set with `cdpc run --as-of`"
    elif call in ("var", "env_var"):
        hint = "write the value itself; `current_date`/`current_timestamp` are the run's as-of time (`cdpc run --as-of`)"
    elif text.startswith(("{%", "{%-"), offset):
        hint = "write the logic in SQL: `case when ... then ... end`, or one attribute per variant"
    else:
        hint = "write the SQL itself: fields or attributes by name, `current_date` for the as-of date"
    return SnippetError("CDP313", f"`{shown}` is a Jinja template: snippets are plain SQL, cdpc renders no templates",
                        hint, offset)


def _parse_error(exc: Exception) -> SnippetError:
    errors = getattr(exc, "errors", None) or [{}]
    first = errors[0]
    desc = first.get("description") or str(exc).splitlines()[0]
    col = first.get("col") or 0
    highlight = first.get("highlight")
    near = f" near `{highlight}`" if highlight else ""
    # sqlglot's `col` is where the offending token ends; point at where it starts
    start = col - len(highlight) if highlight else col - 1
    return SnippetError("CDP301", f"SQL snippet does not parse: {desc}{near}",
                        "check parentheses, quotes (text uses 'single quotes') and operators", max(start, 0))


def _outside_strings(text: str) -> str:
    """The text with quoted literals blanked, so `';'` inside a string is not a statement end."""
    out, quote = [], None
    for ch in text:
        if quote:
            out.append(" ")
            if ch == quote:
                quote = None
        elif ch in ("'", '"'):
            quote = ch
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)
