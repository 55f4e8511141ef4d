"""Test rules: the tables, columns and values a test names exist and fit (docs/reference.md §6.1).

What only a run can tell is not checked here: an identifier value that names no profile
is a failure of the test, reported by `cdpc test`.
"""

from __future__ import annotations

from typing import Any, Iterator

from ..coverage import ANY, LIST, Table, table_of
from ..diagnostics import Diagnostic, did_you_mean
from ..model import Test
from ..model.test import PROFILE
from .context import Context, error
from .values import describe, fits

_TABLES = {"staged": "contract", "rejected": "contract", "segments": "segment"}


def as_of(ctx: Context) -> Iterator[Diagnostic]:
    for test in ctx.defs.tests.values():
        if not fits(test.as_of, "timestamp"):
            yield error("CDP103", f"`as_of` {describe(test.as_of)} is not a date or a timestamp", test.loc("as_of"),
                        "write it as `2026-11-20` or `2026-11-20 08:00:00` (UTC)")


def given(ctx: Context) -> Iterator[Diagnostic]:
    for test in ctx.defs.tests.values():
        for name, rows in test.given.items():
            contract = ctx.defs.contracts.get(name)
            if contract is None:
                yield from ctx.known_contract(name, test.key_loc("given", name))
                continue
            for index, row in enumerate(rows):
                for field, value in row.items():
                    where = ("given", name, index, field)
                    if field not in contract.fields:
                        yield from ctx.contract_field(contract, field, test.key_loc(*where))
                    elif value is not None and not fits(value, contract.fields[field].base_type):
                        yield _misfit(test, where, field, value, contract.fields[field].type)


def expected(ctx: Context) -> Iterator[Diagnostic]:
    for test in ctx.defs.tests.values():
        for path, expectation in test.expect.tables():
            table = table_of(ctx.defs, path)
            if table is None:
                yield from _no_table(ctx, test, path)
                continue
            for form, rows in expectation.forms():
                at = test.rows_path(path, form)
                for index, row in enumerate(rows):
                    yield from _row(ctx, test, table, (*at, index), row)


def _no_table(ctx: Context, test: Test, path: tuple) -> Iterator[Diagnostic]:
    key, where = path[0], test.key_loc("expect", *path)
    if key in _TABLES:
        kind = _TABLES[key]
        if ctx.unknown(kind, path[1]):
            if kind == "contract":
                yield from ctx.known_contract(path[1], where)
            else:
                yield error("CDP204", f"`expect.segments` names unknown segment `{path[1]}`", where,
                            did_you_mean(path[1], ctx.defs.segments) or "declare it under definitions/segments/")
        return
    if ctx.identity_failed:
        return
    if ctx.defs.identity is None:
        yield error("CDP230", f"`expect.{key}`: the project has no identity, so no profiles and no `{key}` table",
                    where, "declare an identity under definitions/identity/, or expect staged and rejected rows only")
        return
    destination = ctx.defs.destinations.get(path[1])
    if destination is None:
        if not ctx.defs.failed_as("destination", path[1]):
            yield error("CDP230", f"`expect.syncs` names unknown destination `{path[1]}`", where,
                        did_you_mean(path[1], ctx.defs.destinations) or "declare it under definitions/destinations/")
    else:
        synced = [s.segment for s in destination.syncs]
        yield error("CDP230", f"destination `{path[1]}` has no sync of segment `{path[2]}`", where,
                    did_you_mean(path[2], synced) or f"its syncs: {', '.join(f'`{s}`' for s in synced) or 'none'}")


def _row(ctx: Context, test: Test, table: Table, at: tuple, row: dict) -> Iterator[Diagnostic]:
    if not row:
        yield error("CDP103", "an expected row names no column, so it matches any row", test.loc(*at),
                    f"name the columns to compare, e.g. `{next(iter(table.columns))}`")
    for column, value in row.items():
        where = (*at, column)
        if column == PROFILE and table.has_profile:
            yield from _profile(ctx, test, where, value)
        elif column not in table.columns:
            allowed = [*table.columns, *([PROFILE] if table.has_profile else [])]
            yield error(table.unknown_code, f"`{column}` is not a column of {table.label}", test.key_loc(*where),
                        did_you_mean(column, allowed) or "its columns: " + ", ".join(f"`{c}`" for c in allowed))
        elif not _fits(value, table.columns[column]):
            yield _misfit(test, where, column, value, table.columns[column])
        elif column == "purpose" and table.path == ("consent",) and ctx.unknown_purpose(value):
            yield error("CDP205", f"purpose `{value}` is not declared by any consent", test.loc(*where),
                        did_you_mean(value, ctx.defs.purposes) or "declare it under a consent's `purposes`")


def _profile(ctx: Context, test: Test, where: tuple, value: Any) -> Iterator[Diagnostic]:
    if not isinstance(value, dict) or len(value) != 1:
        yield error("CDP103", "`profile` names a profile by one identifier value, e.g. `{email: anna@example.com}`",
                    test.loc(*where), "write one `<identifier type>: <value>` pair")
        return
    (id_type, id_value), = value.items()
    if ctx.unknown_identifier_type(id_type):
        yield error("CDP206", f"`profile` names unknown identifier type `{id_type}`", test.key_loc(*where, id_type),
                    did_you_mean(id_type, ctx.identifier_types) or "use a type the identity lists under `identifiers`")
    elif not isinstance(id_value, str):
        yield _misfit(test, (*where, id_type), id_type, id_value, "string")


def _fits(value: Any, base_type: str) -> bool:
    if value is None:
        return True
    if base_type == LIST:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if isinstance(value, (list, dict)):
        return False
    return base_type == ANY or fits(value, base_type)


def _misfit(test: Test, where: tuple, column: str, value: Any, column_type: str) -> Diagnostic:
    if column_type == LIST:
        return error("CDP103", f"`{column}` is a list of texts, not {describe(value)}", test.loc(*where),
                     "write the reasons as a YAML list, e.g. `[\"booked_at: not a timestamp\"]`")
    hint = ("quote it: the column holds text, and YAML reads an unquoted number, date or `yes` as something else"
            if column_type == "string" else f"give a value of type {column_type}, as the raw data would hold it")
    return error("CDP103", f"`{column}`: {describe(value)} does not fit {column_type}", test.loc(*where), hint)


RULES = (as_of, given, expected)
