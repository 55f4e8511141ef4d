"""kind: contract — a source table's promise: its relation, key, fields and row rules."""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal, Optional, Union

from pydantic import Field as PydField, field_validator

from .base import Duration, Strict, Versioned

FIELD_TYPE_RE = re.compile(r"^(string|integer|bigint|double|boolean|date|timestamp|decimal\((\d+),\s*(\d+)\))$")
RELATION_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$")
Scalar = Union[bool, int, float, str, dt.datetime, dt.date]
Classification = Literal["public", "internal", "confidential", "restricted"]


def parse_field_type(text: str) -> tuple[str, int, int] | None:
    """('decimal', 10, 2) / ('string', 0, 0); None when not a type of docs/reference.md §2.2."""
    match = FIELD_TYPE_RE.match(text.strip())
    if not match:
        return None
    if match.group(2) is not None:
        return "decimal", int(match.group(2)), int(match.group(3))
    return match.group(1), 0, 0


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
