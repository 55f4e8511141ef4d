"""kind: identity — identifiers in priority order, the sources that carry them, the blocklist."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from .base import Name, Strict, Versioned

Normalizer = Literal["email", "phone", "upper_trim", "lower_trim", "trim", "none"]


class Identifier(Strict):
    type: Name
    normalize: Normalizer = "none"
    max_per_profile: Optional[int] = Field(default=None, ge=1)


class Identity(Versioned):
    kind: Literal["identity"]
    identifiers: list[Identifier] = Field(min_length=1)
    sources: dict[str, dict[str, str]] = Field(min_length=1)
    blocklist: dict[str, list[str]] = {}

    @property
    def types(self) -> list[str]:
        return [i.type for i in self.identifiers]

    def identifier(self, id_type: str) -> Identifier:
        return next(i for i in self.identifiers if i.type == id_type)

    def types_of(self, source: str, field: str | None) -> list[str]:
        """The identifier types that `source`'s `field` is mapped to (usually none or one)."""
        return [t for t in self.types if self.sources.get(source, {}).get(t) == field] if field else []
