"""Names that become columns and tables: they must be writable on every target and unique.

`cdpc run` leaves one table per contract, identity, segment and sync (docs/reference.md §4) and keeps
scratch tables in `cdpc_work`; two definitions must never write the same table on any
target in `targets`. Each target's rules for names (length limit, truncation, case
folding) are data in `compiler/dialects.py`; this module only applies them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator, Optional

from ..dialects import DIALECTS, Dialect
from ..diagnostics import Diagnostic, Location
from ..emit.attributes import attr_table, source_table
from ..emit.access import access_schema
from ..emit.changes import changes_table, diff_table, held_table, history_table
from ..emit.consent import consent_table
from ..emit.sql import PRIVATE_PREFIX, WORK
from ..emit.staging import checked_table
from ..emit.syncs import ident_table, sync_table
from ..model import Contract
from ..model.project import OUTPUT_ROLES
from .context import Context, error

FIELD_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RESERVED_COLUMNS = ("profile_id", "_reject_reasons")
# A snippet reads these words, bare, as the run's as-of time (or as an engine's clock):
# an attribute so named could never be referenced, and would be silently replaced.
AS_OF_KEYWORDS = frozenset("""
    current_date current_time current_timestamp current_datetime localtime localtimestamp now today
    sysdate systimestamp getdate transaction_timestamp statement_timestamp clock_timestamp
""".split())


# Bare words that some engine reads as a value, not as a column, when the generated SQL names
# a column so (PostgreSQL reads an unquoted `user` as CURRENT_USER): a field or attribute so
# named would read the session's role, or a literal, instead of its own values.
VALUE_KEYWORDS = frozenset("""
    user current_user current_role session_user system_user current_catalog current_schema
    true false null unknown
""".split())


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


def as_of_names(ctx: Context) -> Iterator[Diagnostic]:
    for attribute in ctx.defs.attributes.values():
        name = attribute.name
        if name.lower() in AS_OF_KEYWORDS:
            yield error("CDP220", f"attribute `{name}` is named like an as-of keyword: a snippet reads a bare `{name}` "
                        "as the run's as-of time, never as this attribute", attribute.loc("name"), f"rename it, e.g. `{name}_value`")


def keyword_names(ctx: Context) -> Iterator[Diagnostic]:
    for contract in ctx.defs.contracts.values():
        for name in contract.fields:
            if name.lower() in VALUE_KEYWORDS | AS_OF_KEYWORDS:
                yield _keyword_name(f"field `{name}`", name, contract.key_loc("fields", name))
    for attribute in ctx.defs.attributes.values():
        if attribute.name.lower() in VALUE_KEYWORDS:
            yield _keyword_name(f"attribute `{attribute.name}`", attribute.name, attribute.loc("name"))


def _keyword_name(what: str, name: str, location) -> Diagnostic:
    reads = "the run's as-of time" if name.lower() in AS_OF_KEYWORDS else "a keyword value (the session's role, a literal)"
    return error("CDP221", f"{what} is named like a SQL keyword: engines read a bare `{name}` as {reads}, "
                 "not as this column", location, f"rename it, e.g. `{name}_name` or `{name}_value`")


def output_schemas(ctx: Context) -> Iterator[Diagnostic]:
    """CDP219: a run drops `cdpc_work` and the raw relations it loaded; an output schema there would share their fate."""
    project, targets, scratch = ctx.defs.project, targets_of(ctx), scratch_schemas(ctx)
    for role in OUTPUT_ROLES:
        schema = getattr(project.schemas, role)
        taken = next((v for name, v in scratch.items() if any(same_name(schema, name, t) for t in targets)), None)
        if taken is None and schema.lower().startswith(PRIVATE_PREFIX):
            taken = (f"named like the schemas private to a run (`{PRIVATE_PREFIX}…`), which every run removes", None)
        if taken is None:
            continue
        what, contract = taken
        written = "schemas" in project.model_fields_set and role in project.schemas.model_fields_set
        where = project.loc("schemas", role) if written or contract is None else contract.loc("relation")
        yield error("CDP219", f"output schema `{schema}` (schemas.{role}) is {what}", where,
                    f"give schemas.{role} another name in project.yaml")


def meta_schema(ctx: Context) -> Iterator[Diagnostic]:
    """CDP515: the meta schema records what cdpc owns; shared with outputs or scratch, its
    `owned` table would meet output tables, or be dropped with the scratch."""
    project, targets = ctx.defs.project, targets_of(ctx)
    meta = project.schemas.meta
    taken = {getattr(project.schemas, role): (f"the output schema schemas.{role}", role) for role in OUTPUT_ROLES}
    taken.update({name: (what, None) for name, (what, _) in scratch_schemas(ctx).items()})
    what, role = next((v for name, v in taken.items() if any(same_name(meta, name, t) for t in targets)), (None, None))
    if what is None and meta.lower().startswith(PRIVATE_PREFIX):
        what = f"named like the schemas private to a run (`{PRIVATE_PREFIX}…`), which every run removes"
    if what is None:
        return
    written = "schemas" in project.model_fields_set and "meta" in project.schemas.model_fields_set
    # the default meta schema: blame the output schema that took its name
    where = project.loc("schemas", "meta" if written or role is None else role)
    yield error("CDP515", f"meta schema `{meta}` (schemas.meta) is {what}", where,
                "give schemas.meta a schema of its own in project.yaml (default `cdpc_meta`)"
                + ("" if written or role is None else f", or schemas.{role} another name"))


def scratch_schemas(ctx: Context) -> dict[str, tuple[str, Optional[Contract]]]:
    """Schema -> (what it is, the contract to blame when the output schema was not written)."""
    schemas: dict[str, tuple[str, Optional[Contract]]] = {
        WORK: (f"cdpc's scratch schema `{WORK}`, dropped at the end of every run", None)}
    for contract in ctx.defs.contracts.values():
        schemas.setdefault(contract.relation_schema, (f"`{contract.relation_schema}`, the schema of the raw relation of "
                                                      f"contract `{contract.name}`, read by every run and never written", contract))
    return schemas


def same_name(a: str, b: str, target: Dialect) -> bool:
    return target.names.physical(a) == target.names.physical(b)


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    what: str  # "staging table of contract `bookings`"
    location: Location
    scratch: bool = False  # in cdpc_work: only a clash matters, its name is nobody's to look up
    derived: bool = False  # made beside another table of the same definition (a sync's changes and history)

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}".lower()

    def on(self, target: Dialect) -> tuple[str, str, str]:
        """What the target calls it."""
        return target.name, target.names.physical(self.schema), target.names.physical(self.name)


CLASH_HINT = "rename one of the two, or give them different schemas in project.yaml"


def tables(ctx: Context) -> Iterator[Diagnostic]:
    """CDP218: no two tables meet on any target, and no output name is one a target would cut or refuse."""
    targets = targets_of(ctx)
    claimed: dict[tuple[str, str, str], Table] = {}
    blamed: set[Location] = set()  # one error per mistake: a long sync name is not blamed again for its history
    for table in _tables(ctx):
        if table.derived and table.location in blamed:
            continue
        clash = _clash(table, targets, claimed)
        if clash is not None:
            blamed.add(table.location)
            yield clash
            continue
        if not table.scratch:
            for found in _too_long(table, targets):
                blamed.add(table.location)
                yield found
        for target in targets:
            claimed[table.on(target)] = table


def targets_of(ctx: Context) -> list[Dialect]:
    return [DIALECTS[name] for name in dict.fromkeys(ctx.defs.project.targets)]


def _clash(table: Table, targets: list[Dialect], claimed: dict[tuple[str, str, str], Table]) -> Optional[Diagnostic]:
    for target in targets:
        first = claimed.get(table.on(target))
        if first is None:
            continue
        if first.qualified == table.qualified:
            return error("CDP218", f"{table.what} would be {table.qualified}, already {first.what}", table.location, CLASH_HINT)
        _, schema, name = table.on(target)
        return error("CDP218", f"{table.what} `{table.schema}.{table.name}` would be {schema}.{name} on {target.name}, "
                     f"already {first.what} `{first.schema}.{first.name}`: {_why(target, table, first)}",
                     table.location, CLASH_HINT)
    return None


def _why(target: Dialect, *tables: Table) -> str:
    names = target.names
    if names.truncates and any(names.too_long(part) for t in tables for part in (t.schema, t.name)):
        return f"{target.name} {names.limit_text()} of a name"
    return f"{target.name} does not tell names apart by case"


def _too_long(table: Table, targets: list[Dialect]) -> Iterator[Diagnostic]:
    for target in targets:
        part = next((p for p in (table.schema, table.name) if target.names.too_long(p)), None)
        if part is not None:
            # even without a clash: truncation silently changes what the table is called
            effect = "would silently rename the table" if target.names.truncates else "would refuse to create it"
            yield error("CDP218", f"{table.what}: `{part}` is {len(part.encode('utf-8'))} bytes long; {target.name} "
                        f"{target.names.limit_text()}", table.location, f"use shorter names: {target.name} {effect}")
            return


def _tables(ctx: Context) -> Iterator[Table]:
    """Every table a run reads or writes, inputs first so that outputs are blamed for a clash, scratch last."""
    yield from _raw_tables(ctx)
    yield from _output_tables(ctx)
    yield from _scratch_tables(ctx)


def _raw_tables(ctx: Context) -> Iterator[Table]:
    for contract in ctx.defs.contracts.values():
        yield Table(contract.relation_schema, contract.relation_table, f"the raw relation of contract `{contract.name}`",
                    contract.loc("relation"))


def _output_tables(ctx: Context) -> Iterator[Table]:
    defs = ctx.defs
    schemas = defs.project.schemas
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
                where, which = destination.loc("syncs", index, "segment"), f"sync `{destination.name}` -> `{sync.segment}`"
                yield Table(schemas.audiences, sync_table(destination.name, sync.segment), f"the table of {which}", where)
                # its activation state (reference.md §5)
                yield Table(schemas.audiences, changes_table(destination.name, sync.segment), f"the changes of {which}",
                            where, derived=True)
                yield Table(schemas.audiences, history_table(destination.name, sync.segment), f"the history of {which}",
                            where, derived=True)
                yield Table(schemas.meta, held_table(destination.name, sync.segment), f"the held audience of {which}",
                            where, derived=True)
    yield from _access_views(ctx)


def _access_views(ctx: Context) -> Iterator[Table]:
    """An access definition's views: one per profiles, consent, segment and sync table, named like it."""
    defs = ctx.defs
    if defs.identity is None:
        return  # no views (CDP224)
    entity = defs.project.entity
    viewed = [f"{entity}_profiles", f"{entity}_consent", *defs.segments]
    viewed += list(dict.fromkeys(sync_table(d.name, s.segment) for d in defs.destinations.values() for s in d.syncs))
    targets = targets_of(ctx)
    for access in defs.accesses.values():
        schema = access_schema(defs, access)
        if any(t.names.too_long(schema) for t in targets):
            continue  # one error for the schema, not one per view (validate/access.py)
        for name in viewed:
            yield Table(schema, name, f"the view of `{name}` for access `{access.name}`", access.loc("name"))


def _scratch_tables(ctx: Context) -> Iterator[Table]:
    """The tables in cdpc_work named after definitions (the emitters' own naming functions)."""
    defs = ctx.defs
    for contract in defs.contracts.values():
        yield Table(WORK, checked_table(contract.name), f"the scratch table of contract `{contract.name}`",
                    contract.loc("name"), scratch=True)
    identity = defs.identity  # the one a run resolves; a second is CDP209
    for source in identity.sources if identity else ():
        yield Table(WORK, source_table(source), f"the scratch table of identity source `{source}`",
                    identity.key_loc("sources", source), scratch=True)
    for attribute in defs.attributes.values():
        yield Table(WORK, attr_table(attribute.name), f"the scratch table of attribute `{attribute.name}`",
                    attribute.loc("name"), scratch=True)
    for consent in defs.consents.values():
        yield Table(WORK, consent_table(consent.name), f"the scratch table of consent `{consent.name}`",
                    consent.loc("name"), scratch=True)
    for destination in defs.destinations.values():
        for id_type in dict.fromkeys(destination.identifiers):
            yield Table(WORK, ident_table(destination.name, id_type),
                        f"the scratch table of destination `{destination.name}`'s `{id_type}`",
                        destination.loc("name"), scratch=True)
        for index, sync in enumerate(destination.syncs):  # beside the audiences, in the run's private schema
            if sync.segment in {s.segment for s in destination.syncs[:index]}:  # repeats: CDP217
                continue
            yield Table(defs.project.schemas.audiences, diff_table(destination.name, sync.segment),
                        f"the scratch table of the changes of sync `{destination.name}` -> `{sync.segment}`",
                        destination.loc("syncs", index, "segment"), scratch=True, derived=True)


RULES = (keyword_names, profile_id_attribute, field_names, tables, output_schemas, meta_schema, as_of_names)
