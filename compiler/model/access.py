"""kind: access — a database role, and how it sees each classification: clear, hashed or hidden.

For each access definition, cdpc writes views of the profiles, consent and audience tables
into the schema `<profiles>__<access name>` and grants the role the use of those views only
(docs/reference.md §2.9, docs/privacy.md). A column is shown as `see` says for its
classification (compiler/classification.py): `clear` as it is, `hashed` as the lowercase
hex SHA-256 of its text, `hidden` as NULL. Every level must be written: what a role sees
is never a default.
"""

from __future__ import annotations

from typing import Literal

from .base import Name, Strict, Versioned
from .contract import CLASSIFICATIONS

Visibility = Literal["clear", "hashed", "hidden"]
VISIBILITIES = ("clear", "hashed", "hidden")  # from most to least shown


class See(Strict):
    """What the role sees of a column of each classification."""

    public: Visibility
    internal: Visibility
    confidential: Visibility
    restricted: Visibility


class Access(Versioned):
    kind: Literal["access"]
    role: Name  # a database role: a plain lowercase name reads the same unquoted on every target
    see: See

    def shows(self, classification: str) -> str:
        """`clear`, `hashed` or `hidden`: how a column of `classification` is shown to the role."""
        return getattr(self.see, classification)


assert tuple(See.model_fields) == CLASSIFICATIONS  # one key per classification, in order
