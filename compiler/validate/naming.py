"""Names that become columns and tables: they must be writable on every target and unique.

`cdpc run` leaves one table per contract, identity, segment and sync (SPEC §4); two
definitions must never write the same table, and PostgreSQL silently truncates
names longer than 63 characters, which would make two distinct names collide.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

from ..diagnostics import Diagnostic, Location
from .context import warning, Context, error

FIELD_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RESERVED_COLUMNS = ("profile_id", "_reject_reasons")
POSTGRES_MAX_NAME = 63


def profile_id_attribute(ctx: Context) -> Iterator[Diagnostic]:
    attribute = ctx.defs.attributes.get("profile_id")
    if attribute is not None:
        yield error("CDP214", "an attribute cannot be named `profile_id`: the profiles table already has that column",
                    attribute.loc("name"), "rename it")


def field_names(ctx: Context) -> Iterator[Diagnostic]:
    for contract in ctx.defs.contracts.values():
        seen: dict[str, str] = {}
        for name in contract.fields:
            location = contract.key_loc("fields", name)
            if not FIELD_NAME_RE.match(name):
                yield error("CDP104", f"field name `{name}` is not a plain SQL identifier", location,
                            "use letters, digits and `_`, starting with a letter or `_`: every target must name the column")
            elif name in RESERVED_COLUMNS:
                yield error("CDP214", f"field name `{name}` is reserved for a column cdpc adds", location, "rename it")
            elif name.lower() in seen:
                yield error("CDP214", f"fields `{seen[name.lower()]}` and `{name}` differ only in case; most engines "
                            "treat them as one column", location, "rename one of them")
            seen.setdefault(name.lower(), name)


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    what: str  # "staging table of contract `bookings`"
    location: Location

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}".lower()


def tables(ctx: Context) -> Iterator[Diagnostic]:
    postgres = "postgres" in ctx.defs.project.targets
    claimed: dict[str, Table] = {}
    for table in _tables(ctx):
        if table.qualified in claimed:
            first = claimed[table.qualified]
            yield error("CDP218", f"{table.what} would be {table.qualified}, already {first.what}", table.location,
                        "rename one of the two, or give them different schemas in project.yaml")
            continue
        claimed[table.qualified] = table
        if postgres and len(table.name) > POSTGRES_MAX_NAME:
            # PostgreSQL truncates consistently, so this works until two names share a prefix
            yield warning("CDP218", f"{table.what} `{table.name}` is {len(table.name)} characters; PostgreSQL keeps only "
                          f"the first {POSTGRES_MAX_NAME}", table.location, "use shorter names")


def _tables(ctx: Context) -> Iterator[Table]:
    """Every table a run reads or writes, inputs first so that outputs are blamed for a clash."""
    defs = ctx.defs
    schemas = defs.project.schemas
    for contract in defs.contracts.values():
        schema, _, name = contract.relation.partition(".")
        yield Table(schema, name, f"the raw relation of contract `{contract.name}`", contract.loc("relation"))
    for contract in defs.contracts.values():
        yield Table(schemas.staging, contract.name, f"the staging table of contract `{contract.name}`", contract.loc("name"))
        yield Table(schemas.staging, f"{contract.name}_rejected", f"the quarantine of contract `{contract.name}`",
                    contract.loc("name"))
    for identity in defs.identities.values():
        for suffix in ("map", "conflicts"):
            yield Table(schemas.identity, f"{identity.name}_{suffix}", f"the {suffix} table of identity `{identity.name}`",
                        identity.loc("name"))
    for suffix in ("profiles", "consent"):
        yield Table(schemas.profiles, f"{defs.project.entity}_{suffix}", f"the {suffix} table", defs.project.loc("entity"))
    for segment in defs.segments.values():
        yield Table(schemas.audiences, segment.name, f"the table of segment `{segment.name}`", segment.loc("name"))
    for destination in defs.destinations.values():
        for index, sync in enumerate(destination.syncs):
            if sync.segment not in {s.segment for s in destination.syncs[:index]}:  # repeats: CDP217
                yield Table(schemas.audiences, f"sync__{destination.name}__{sync.segment}",
                            f"the table of sync `{destination.name}` -> `{sync.segment}`",
                            destination.loc("syncs", index, "segment"))


RULES = (profile_id_attribute, field_names, tables)
