"""Publishing the access views: cdpc's own views on the outputs, and the grants of their roles.

An access definition's unit (emit/access.py) creates views that read the published tables,
so a run does not build them in its private schemas: it creates them while it publishes,
after the tables, in the same transaction where the engine has one (compiler/run/publish.py).
Before the tables move, every view cdpc owns is dropped: a view stands in the way of a table
whose columns changed on PostgreSQL, and a view of a removed definition must go. They are
all created again from the current definitions, so their columns and grants are never stale.

On an engine with roles (PostgreSQL) the grants run too, and every role an access definition
names must exist before anything is built (CDP910, exit 2): a run that wrote views nobody
may read, or that failed at its last statement, would help no one. On an engine without
roles (DuckDB, Spark's own catalog) the views are written and no grant runs
(docs/privacy.md says what that means).
"""

from __future__ import annotations

from ..diagnostics import WARNING, Diagnostic, DiagnosticError
from ..emit.plan import RenderedUnit
from ..model import Definitions
from .engines import Engine
from .owned import OwnedTable

LAYER = "access"


def has_roles(engine: Engine) -> bool:
    return bool(getattr(engine, "roles", False))


def check_roles(engine: Engine, defs: Definitions) -> None:
    """CDP910 (exit 2) for every access definition whose role the warehouse does not have."""
    if not has_roles(engine) or not defs.accesses:
        return
    missing = set(engine.missing_roles(sorted({a.role for a in defs.accesses.values()})))
    problems = [Diagnostic("CDP910", f"access `{access.name}`: role `{access.role}` does not exist in the {engine.dialect} "
                           "warehouse, so its views could not be granted to it; nothing was built or published",
                           access.loc("role"), f"create the role (CREATE ROLE {access.role}), or correct `role`; "
                           "cdpc never creates roles: who may log in is the warehouse administrator's decision")
                for access in defs.accesses.values() if access.role in missing]
    if problems:
        raise DiagnosticError(problems)


def unpublish_statements(engine: Engine, outputs: list[OwnedTable], removed: list[OwnedTable]) -> list[str]:
    """Drop every view cdpc owns or is about to own (a view of a removed definition included)."""
    q = engine.quote
    views = sorted({(o.schema, o.table) for o in [*outputs, *removed] if o.view})
    return [f"DROP VIEW IF EXISTS {q(schema)}.{q(view)}" for schema, view in views]


def view_statements(engine: Engine, units: list[RenderedUnit]) -> list[str]:
    """The access units' statements (schemas, views), then their grants on an engine with roles."""
    statements = [step for unit in units for step in unit.steps if isinstance(step, str)]
    if has_roles(engine):
        statements += [grant for unit in units for grant in unit.grants]
    return statements


def overreach(engine: Engine, defs: Definitions, outputs: list[OwnedTable], meta: str) -> list[Diagnostic]:
    """CDP513 (a warning) for every relation cdpc owns, `<meta>.owned` included, that an access
    role can read beside its own views: a right cdpc did not grant (given directly, through a
    role it is a member of, to PUBLIC, or because the role is a superuser). Asked of the
    warehouse after publishing, so the audit sees the rights as they are."""
    if not has_roles(engine) or not defs.accesses:
        return []
    found = []
    for access in sorted(defs.accesses.values(), key=lambda a: a.name):
        mine = {(o.schema, o.table) for o in outputs if o.definition == f"access:{access.name}"}
        others = sorted({(o.schema, o.table) for o in outputs} - mine | {(meta, "owned")})
        readable = engine.readable_by(access.role, others)
        if readable:
            shown = ", ".join(f"{s}.{t}" for s, t in readable[:5]) + (f" and {len(readable) - 5} more" if len(readable) > 5 else "")
            found.append(Diagnostic("CDP513", f"access `{access.name}`: role `{access.role}` can read {len(readable)} "
                                    f"relation(s) cdpc wrote beside its views: {shown}", access.loc("role"),
                                    f"revoke what was granted to `{access.role}` outside cdpc (directly, to a role it is "
                                    "a member of, or to PUBLIC), or give the access definition a role of its own",
                                    severity=WARNING))
    return found
