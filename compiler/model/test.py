"""kind: test — input rows, an as-of time and the rows expected in the output tables.

A test names the rows of some contracts (inline, by field name; a contract it does not
name has no rows), the as-of time of the run, and per output table the rows it expects
there. `cdpc test` runs it on DuckDB in memory (docs/reference.md §6). Rows name a
profile by one of its identifier values (`profile: {email: anna@example.com}`), never by
its `profile_id`, which is a hash.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Iterator, Literal, Optional, Union

from pydantic import BeforeValidator, Field, WithJsonSchema, model_validator

from .base import Definition, Name, SemVer, Strict
from .contract import Scalar

Value = Optional[Scalar]
# An expected cell: a value, a list of texts (`_reject_reasons`) or, under `profile`, one identifier.
Cell = Union[Scalar, list[Scalar], dict[str, Scalar], None]
# Rows are mappings of column to value; their JSON Schema says only that (validate checks the rest).
InputRow = Annotated[dict[str, Value], WithJsonSchema({"type": "object", "description": "field -> value"})]
ExpectedRow = Annotated[dict[str, Cell], WithJsonSchema({"type": "object", "description": "column -> value"})]

PROFILE = "profile"  # the key of an expected row that names a profile by an identifier value
FORMS = ("rows", "contains", "lacks")


class Expectation(Strict):
    """Rows expected in one table. `rows`: exactly these rows (as a multiset, on the columns they
    list); `contains`: at least these; `lacks`: none of these. `contains` and `lacks` combine."""

    rows: Optional[list[ExpectedRow]] = None
    contains: Optional[list[ExpectedRow]] = None
    lacks: Optional[list[ExpectedRow]] = None

    @model_validator(mode="after")
    def _one_form(self) -> "Expectation":
        if self.rows is None and self.contains is None and self.lacks is None:
            raise ValueError("cdpc_expectation_empty")
        if self.rows is not None and (self.contains is not None or self.lacks is not None):
            raise ValueError("cdpc_expectation_mixed")
        return self

    def forms(self) -> Iterator[tuple[str, list[ExpectedRow]]]:
        """(form, rows) for each form written, in the order rows, contains, lacks."""
        for form in FORMS:
            rows = getattr(self, form)
            if rows is not None:
                yield form, rows


def _bare_list(value: Any) -> Any:
    return {"rows": value} if isinstance(value, list) else value


def _list_or_mapping(schema: dict[str, Any]) -> None:
    reference = schema.pop("$ref")
    schema["anyOf"] = [{"type": "array", "items": {"type": "object"}}, {"$ref": reference}]


# A bare list is `rows:`: the table holds exactly these rows.
Expected = Annotated[Expectation, BeforeValidator(_bare_list), Field(json_schema_extra=_list_or_mapping)]


class Expect(Strict):
    """The output tables a test expects rows in (docs/reference.md §4 names them)."""

    staged: dict[Name, Expected] = {}  # contract -> its staged rows
    rejected: dict[Name, Expected] = {}  # contract -> its rejected rows
    map: Optional[Expected] = None
    conflicts: Optional[Expected] = None
    profiles: Optional[Expected] = None
    consent: Optional[Expected] = None
    segments: dict[Name, Expected] = {}  # segment -> its members
    syncs: dict[Name, dict[Name, Expected]] = {}  # destination -> segment -> the sync's audience

    @model_validator(mode="after")
    def _something(self) -> "Expect":
        if not any(True for _ in self.tables()):
            raise ValueError("cdpc_expect_empty")
        return self

    def tables(self) -> Iterator[tuple[tuple, Expectation]]:
        """(path under `expect`, expectation) for every table, in the order above; a bare list
        is read as `rows:`."""
        for key in ("staged", "rejected"):
            for name, expected in getattr(self, key).items():
                yield (key, name), expected
        for key in ("map", "conflicts", "profiles", "consent"):
            expected = getattr(self, key)
            if expected is not None:
                yield (key,), expected
        for name, expected in self.segments.items():
            yield ("segments", name), expected
        for destination, syncs in self.syncs.items():
            for segment, expected in syncs.items():
                yield ("syncs", destination, segment), expected


class Test(Definition):
    kind: Literal["test"]
    as_of: Union[dt.datetime, dt.date, str]  # what current_date and now() mean in the test's run
    given: dict[Name, list[InputRow]] = {}  # contract -> its raw rows; contracts not named have none
    expect: Expect
    version: Optional[SemVer] = None  # accepted, documentation only: nothing reads a test, so nothing can break

    def rows_path(self, path: tuple, form: str) -> tuple:
        """Where the rows of one form are written: `expect.<path>.<form>`, or `expect.<path>`
        itself for a bare list (read as `rows:`)."""
        full = ("expect", *path)
        return (*full, form) if self.doc is not None and (*full, form) in self.doc.positions else full
