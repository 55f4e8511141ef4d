"""kind: segment — an audience: a condition over attributes, includes and excludes."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from .base import Name, Strict, Versioned


class ExpectedSize(Strict):
    min: Optional[int] = Field(default=None, ge=0)
    max: Optional[int] = Field(default=None, ge=0)


class Segment(Versioned):
    kind: Literal["segment"]
    where: Optional[str] = None
    include: list[Name] = []
    exclude: list[Name] = []
    purposes: list[Name] = []
    expected_size: Optional[ExpectedSize] = None
