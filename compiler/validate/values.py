"""Does a YAML value fit a contract field type (docs/reference.md §2.2)? Used for `min`, `max`, `accepted_values`, `default`.

YAML gives numbers, booleans and (unquoted) dates their own Python types; a quoted value
is text and fits when it is one of the *castable* text forms of docs/reference.md §2.2 for the type.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

_INTEGER = re.compile(r"^[+-]?\d+$")
_DECIMAL = re.compile(r"^[+-]?\d+(\.\d+)?$")
_DOUBLE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?$")

NUMERIC = ("integer", "bigint", "double", "decimal")
ORDERED = NUMERIC + ("date", "timestamp")


def fits(value: Any, base_type: str) -> bool:
    if isinstance(value, str):
        return _text_fits(value, base_type)
    if base_type == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):  # bool is an int in Python; never a number here
        return False
    if base_type in ("integer", "bigint"):
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if base_type in ("double", "decimal"):
        return isinstance(value, (int, float))
    if base_type == "date":
        return isinstance(value, dt.date) and not isinstance(value, dt.datetime)
    if base_type == "timestamp":
        return isinstance(value, dt.date)
    return False  # a string field takes text only: an unquoted `yes` or `1` is not text


def _text_fits(text: str, base_type: str) -> bool:
    if base_type == "string":
        return True
    if base_type == "boolean":
        return text.lower() in ("true", "false")
    if base_type in ("integer", "bigint"):
        return bool(_INTEGER.match(text))
    if base_type == "decimal":
        return bool(_DECIMAL.match(text))
    if base_type == "double":
        return bool(_DOUBLE.match(text))
    if base_type == "date":
        return bool(_DATE.match(text)) and _parses(text, dt.date.fromisoformat)
    if base_type == "timestamp":
        return bool(_TIMESTAMP.match(text)) and _parses(text, dt.datetime.fromisoformat)
    return False


def comparable(value: Any) -> Any:
    """A key to order two values that both fit the same type (min <= max)."""
    if isinstance(value, str):
        for parse in (float, dt.datetime.fromisoformat):
            try:
                return _as_datetime(parse(value))
            except ValueError:
                continue
        return value
    return _as_datetime(value)


def _as_datetime(value: Any) -> Any:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day)
    return value


def _parses(text: str, parse) -> bool:
    try:
        parse(text)
        return True
    except ValueError:
        return False


def describe(value: Any) -> str:
    """How the value reads back to the user, naming the YAML type when it surprises."""
    if isinstance(value, bool):
        return f"{str(value).lower()} (a YAML boolean)"
    if isinstance(value, (int, float)):
        return f"{value} (a YAML number)"
    if isinstance(value, dt.date):
        return f"{value.isoformat()} (a YAML date)"
    return repr(value)
