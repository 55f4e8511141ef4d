"""Shared pieces of every kind: names, versions, durations and the documentation keys."""

from __future__ import annotations

import re
from typing import Annotated, Any, Callable, Optional

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr
from pydantic_core import PydanticCustomError

from ..diagnostics import Location
from ..load import Document

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
SEMVER_RE = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
DURATION_RE = re.compile(r"^(\d+)([smhd])$")
DURATION_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DOC_KEYS = ("description", "owner", "tags")


def _check_name(value: str) -> str:
    if not NAME_RE.match(value):
        raise ValueError("cdpc_name")
    return value


def _check_semver(value: str) -> str:
    if not SEMVER_RE.match(value):
        raise ValueError("cdpc_semver")
    return value


def _check_duration(value: str) -> str:
    if not DURATION_RE.match(value):
        raise ValueError("cdpc_duration")
    return value


# The patterns are for the JSON Schemas only (editors, check-jsonschema): validation
# itself stays in the AfterValidators, which give our own codes and messages.
Name = Annotated[str, AfterValidator(_check_name), Field(json_schema_extra={"pattern": NAME_RE.pattern})]
SemVer = Annotated[str, AfterValidator(_check_semver), Field(json_schema_extra={"pattern": SEMVER_RE.pattern})]
Duration = Annotated[str, AfterValidator(_check_duration), Field(json_schema_extra={"pattern": DURATION_RE.pattern})]


def one_of(names: Callable[[], tuple[str, ...]]) -> Any:
    """A text that must be one of `names()`, a registry read when a document is validated and
    when a schema is written (so an entry added later is known to both). It behaves as a
    Literal of those names: the same error (`literal_error`) and the same JSON Schema enum."""
    def check(value: Any) -> Any:
        allowed = names()
        if not isinstance(value, str) or value not in allowed:
            expected = ", ".join(repr(n) for n in allowed[:-1]) + " or " if len(allowed) > 1 else ""
            raise PydanticCustomError("literal_error", "Input should be {expected}",
                                      {"expected": expected + repr(allowed[-1])})
        return value

    def schema(json_schema: dict[str, Any]) -> None:
        json_schema["enum"] = list(names())

    return Annotated[str, BeforeValidator(check), Field(json_schema_extra=schema)]


def duration_seconds(value: str) -> int:
    number, unit = DURATION_RE.match(value).groups()
    return int(number) * DURATION_SECONDS[unit]


def semver_tuple(value: str) -> tuple[int, int, int]:
    major, minor, patch = value.split(".")
    return int(major), int(minor), int(patch)


class Strict(BaseModel):
    """Every model forbids unknown keys: a typo is an error with a hint, never ignored."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


class Definition(Strict):
    kind: str
    name: Name
    description: Optional[str] = None
    owner: Optional[str] = None
    tags: list[str] = []

    _doc: Optional[Document] = PrivateAttr(default=None)

    @property
    def doc(self) -> Document:
        return self._doc

    def loc(self, *path: Any) -> Location:
        return self._doc.loc(*path) if self._doc else Location()

    def key_loc(self, *path: Any) -> Location:
        """Where the key at `path` is written (for errors about a mapping's key)."""
        return self._doc.key_loc(*path) if self._doc else Location()

    def text_loc(self, path: tuple, offset: int) -> Location:
        """Where character `offset` of the text at `path` is written (for snippet errors)."""
        return self._doc.text_loc(tuple(path), offset) if self._doc else Location()

    @property
    def file(self) -> str:
        return self._doc.file if self._doc else ""


class Versioned(Definition):
    version: SemVer
