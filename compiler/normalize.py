"""The identifier normalizers of docs/reference.md §2.3 in Python, for compile-time values (blocklist entries).

The same rules are emitted as SQL by emit/identity.py; tests hold both to one behaviour.
"""

from __future__ import annotations

import re

_NOT_DIGIT = re.compile(r"[^0-9]")


def normalize_value(kind: str, value: str | None) -> str | None:
    if value is None:
        return None
    result = _NORMALIZERS[kind](value)
    return result or None


def _trim(value: str) -> str:
    return value.strip(" ")  # spaces only (docs/reference.md §2.3); tabs and newlines stay


def _email(value: str) -> str | None:
    text = _trim(value).lower()
    if text.count("@") != 1 or text.startswith("@") or text.endswith("@"):
        return None
    return text


def _phone(value: str) -> str | None:
    digits = _NOT_DIGIT.sub("", value)
    if len(digits) == 10:
        digits = "1" + digits
    return "+" + digits if 8 <= len(digits) <= 15 else None


_NORMALIZERS = {
    "email": _email,
    "phone": _phone,
    "upper_trim": lambda v: _trim(v).upper(),
    "lower_trim": lambda v: _trim(v).lower(),
    "trim": _trim,
    "none": lambda v: v,
}
