"""kind: consent — declared purposes, where grants come from, and suppression."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Name, Strict, Versioned

Channel = Literal["email", "sms", "ads", "push", "webhook", "warehouse"]


class Purpose(Strict):
    channels: list[Channel] = Field(min_length=1)


class Consent(Versioned):
    kind: Literal["consent"]
    source: str
    purpose_field: str
    granted_field: str
    time_field: str
    purposes: dict[Name, Purpose] = Field(min_length=1)
    suppress_when: list[str] = []
