"""kind: attribute — an aggregate over a source, an expression over attributes, or a pick."""

from __future__ import annotations

import datetime as dt
from typing import Literal, Optional, Union

from pydantic import Field, model_validator

from .base import Strict, Versioned

Strategy = Literal["source_priority", "most_recent", "most_frequent", "first_seen"]


class Pick(Strict):
    field: Union[str, dict[str, str]]
    from_: list[str] = Field(alias="from", min_length=1)
    strategy: Strategy = "source_priority"

    def field_for(self, source: str) -> str | None:
        return self.field.get(source) if isinstance(self.field, dict) else self.field

    @property
    def orders_by_time(self) -> bool:
        """Every strategy but most_frequent ranks a source's values by its event_time."""
        return self.strategy != "most_frequent"


class Attribute(Versioned):
    kind: Literal["attribute"]
    type: str
    source: Optional[str] = None
    aggregate: Optional[str] = None
    where: Optional[str] = None
    default: Optional[Union[bool, int, float, str, dt.date, dt.datetime]] = None
    expression: Optional[str] = None
    pick: Optional[Pick] = None

    @model_validator(mode="after")
    def _exactly_one_form(self) -> "Attribute":
        forms = [f for f in ("aggregate", "expression", "pick") if getattr(self, f) is not None]
        if len(forms) != 1:
            raise ValueError("cdpc_attribute_form")
        if self.aggregate is not None and self.source is None:
            raise ValueError("cdpc_attribute_source")
        if self.aggregate is None and (self.source is not None or self.where is not None or self.default is not None):
            raise ValueError("cdpc_attribute_extra")
        return self

    def picked_identifier(self, identity) -> Optional[str]:
        """The identifier type whose values this pick returns: the one type that the identity maps
        the picked field to in every source of `from` (docs/reference.md §2.7); None when the
        attribute is no pick, or a source maps its field to no type or to another one."""
        if self.pick is None or identity is None:
            return None
        found = {tuple(identity.types_of(source, self.pick.field_for(source))) for source in self.pick.from_}
        return found.pop()[0] if len(found) == 1 and len(next(iter(found))) == 1 else None

    @property
    def form(self) -> str:
        return "aggregate" if self.aggregate is not None else "expression" if self.expression is not None else "pick"
