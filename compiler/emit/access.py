"""Access: per access definition, views of the profiles, consent and audience tables, and grants.

The views live in the schema `<profiles>__<access name>`, one per viewed table and named like
it, and show each column as the definition's `see` says for the column's classification
(emit/columns.py): `clear` as it is, `hashed` as the lowercase hex SHA-256 of its text (NULL
stays NULL), `hidden` as a NULL of the column's type. The role is granted the use of that
schema and of those views, nothing else (docs/privacy.md). A run creates the views after
it has published the tables they read (compiler/run/access.py), so that they always read
the published outputs.
"""

from __future__ import annotations

from sqlglot import exp

from ..dialects import portable
from ..graph import Lineage
from ..model import Access, Definitions
from .columns import Column, viewed_tables
from .plan import Grant, Unit
from .sql import alias, col, create_schema, data_type, table, text


def access_schema(defs: Definitions, access: Access) -> str:
    """The schema of an access definition's views."""
    return f"{defs.project.schemas.profiles}__{access.name}"


def access_unit(defs: Definitions, lineage: Lineage, access: Access) -> Unit:
    schema = access_schema(defs, access)
    steps: list[exp.Expression] = [create_schema(schema)]
    grants = [Grant(access.role, schema)]
    for viewed in viewed_tables(defs, lineage):
        query = (exp.select(*(_shown_as(column, access.shows(column.classification)) for column in viewed.columns),
                            copy=False)
                 .from_(table(viewed.schema, viewed.name), copy=False))
        steps += [drop_view(schema, viewed.name),
                  exp.Create(this=table(schema, viewed.name), kind="VIEW", expression=query)]
        grants.append(Grant(access.role, schema, viewed.name))
    return Unit("access", "access", access.name, steps, grants=grants)


def _shown_as(column: Column, visibility: str) -> exp.Expression:
    return col(column.name) if visibility == "clear" else alias(shown(column, visibility), column.name)


def shown(column: Column, visibility: str) -> exp.Expression:
    """The column as a role with `visibility` for its classification sees it."""
    if visibility == "clear":
        return col(column.name)
    if visibility == "hashed":
        return portable("SHA256_HEX", text(col(column.name)))
    return exp.Cast(this=exp.Null(), to=data_type(column.type))


def drop_view(schema: str, name: str) -> exp.Drop:
    return exp.Drop(tables=[table(schema, name)], kind="VIEW", exists=True)
