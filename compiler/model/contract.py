"""kind: contract — a source table's promise: its relation, key, fields and row rules."""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal, Optional, Union, get_args

from pydantic import Field as PydField, field_validator

from ..diagnostics import closest
from .base import Duration, Strict, Versioned

FIELD_TYPE_RE = re.compile(r"^(string|integer|bigint|double|boolean|date|timestamp|decimal\((\d+),\s*(\d+)\))$")
RELATION_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$")
FIELD_TYPES = ("string", "integer", "bigint", "double", "decimal(p,s)", "boolean", "date", "timestamp")
# What other languages call them: `type: varchar` hints `string`.
TYPE_ALIASES = {
    "text": "string", "varchar": "string", "char": "string", "str": "string",
    "int": "integer", "int4": "integer", "int32": "integer", "smallint": "integer",
    "long": "bigint", "int8": "bigint", "int64": "bigint",
    "float": "double", "float8": "double", "float64": "double", "real": "double", "number": "double",
    "numeric": "decimal(p,s)", "money": "decimal(p,s)", "decimal": "decimal(p,s)",
    "bool": "boolean", "datetime": "timestamp", "timestamptz": "timestamp", "time": "timestamp",
}
Scalar = Union[bool, int, float, str, dt.datetime, dt.date]
Classification = Literal["public", "internal", "confidential", "restricted"]
CLASSIFICATIONS = get_args(Classification)  # lowest to highest: a column takes the highest it reaches


def parse_field_type(text: str) -> tuple[str, int, int] | None:
    """('decimal', 10, 2) / ('string', 0, 0); None when not a type of docs/reference.md §2.2."""
    if not isinstance(text, str):
        return None
    match = FIELD_TYPE_RE.match(text.strip())
    if not match:
        return None
    if match.group(2) is not None:
        return "decimal", int(match.group(2)), int(match.group(3))
    return match.group(1), 0, 0


def field_type_hint(value: object) -> str:
    """What to write instead of an unknown type: the closest type, else the list."""
    text = str(value).strip().lower()
    if text.startswith("decimal("):
        return "decimal(p,s) takes a precision 1 <= p <= 38 and a scale s <= p, e.g. decimal(12,2)"
    best = closest(text, FIELD_TYPES, TYPE_ALIASES)
    listed = "one of " + ", ".join(FIELD_TYPES)
    return f"did you mean `{best}`?" if best else listed


class ContractField(Strict):
    type: str
    required: bool = False
    unique: bool = False
    accepted_values: Optional[list[Scalar]] = None
    min: Optional[Scalar] = None
    max: Optional[Scalar] = None
    pattern: Optional[str] = None
    pii: bool = False
    phi: bool = False
    classification: Optional[Classification] = None
    description: Optional[str] = None

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        parsed = parse_field_type(value)
        if parsed is None:
            raise ValueError("cdpc_field_type")
        if parsed[0] == "decimal" and not (1 <= parsed[1] <= 38 and parsed[2] <= parsed[1]):
            raise ValueError("cdpc_field_type")
        return value

    @property
    def base_type(self) -> str:
        return parse_field_type(self.type)[0]

    @property
    def effective_classification(self) -> str:
        if self.phi:
            return "restricted"
        return self.classification or "internal"


class Freshness(Strict):
    warn_after: Optional[Duration] = None
    error_after: Optional[Duration] = None


class Contract(Versioned):
    kind: Literal["contract"]
    relation: str
    primary_key: list[str] = []
    event_time: Optional[str] = None
    freshness: Optional[Freshness] = None
    retention: Optional[Duration] = None
    fields: dict[str, ContractField] = PydField(min_length=1)

    @field_validator("relation")
    @classmethod
    def _relation(cls, value: str) -> str:
        if not RELATION_RE.match(value):
            raise ValueError("cdpc_relation")
        return value

    @property
    def relation_schema(self) -> str:
        return self.relation.split(".")[0]

    @property
    def relation_table(self) -> str:
        return self.relation.split(".")[1]
