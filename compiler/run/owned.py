"""What cdpc owns in a warehouse: `<meta>.owned (schema_name, table_name, definition, run_id)`.

A run creates, replaces and drops only tables listed there (and the schemas private to
it). Before it builds anything it checks that no output table's name is taken by a
relation it does not own; when it publishes, the rows of `owned` are rewritten in the
same transaction as the tables, so the list never disagrees with what is there.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from ..diagnostics import Diagnostic, DiagnosticError, Location
from ..emit.plan import Unit
from ..emit.sql import WORK
from ..model import REGISTRY
from .engines import Engine, EngineError

OWNED = "owned"


@dataclass(frozen=True, order=True)
class OwnedTable:
    schema: str
    table: str
    definition: str  # `<kind>:<name>`, e.g. `segment:vip`

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.table}"

    @property
    def view(self) -> bool:
        """A view on the outputs (an access definition's), published after the tables."""
        kind = REGISTRY.get(self.definition.partition(":")[0])
        return bool(kind and kind.views)


def outputs_of(units: list[Unit]) -> list[OwnedTable]:
    """Every table and view a run publishes, with the definition that makes it: the tables and
    views a unit's statements create outside the scratch schema (read from the plan, not kept beside it)."""
    found = []
    for unit in units:
        for step in unit.steps:
            if isinstance(step, exp.Create) and (step.args.get("kind") or "").upper() in ("TABLE", "VIEW"):
                target = step.this if isinstance(step.this, exp.Table) else step.this.this
                if target.db != WORK:
                    found.append(OwnedTable(target.db, target.name, f"{unit.kind}:{unit.name}"))
    return sorted(set(found))


def ensure_meta(engine: Engine, meta: str) -> None:
    """The meta schema and its `owned` table; both are cdpc's, made on the first run."""
    q = engine.quote
    engine.execute(f"CREATE SCHEMA IF NOT EXISTS {q(meta)}")
    engine.execute(f"CREATE TABLE IF NOT EXISTS {q(meta)}.{q(OWNED)} (schema_name VARCHAR(255), "
                   "table_name VARCHAR(255), definition VARCHAR(255), run_id BIGINT)")


def read_owned(engine: Engine, meta: str) -> list[OwnedTable]:
    q = engine.quote
    rows = engine.rows(f"SELECT schema_name, table_name, definition FROM {q(meta)}.{q(OWNED)}")
    return sorted(OwnedTable(*row) for row in rows)


def last_run_id(engine: Engine, meta: str) -> int:
    q = engine.quote
    rows = engine.rows(f"SELECT max(run_id) FROM {q(meta)}.{q(OWNED)}")
    return int(rows[0][0] or 0) if rows else 0


def check_clashes(engine: Engine, outputs: list[OwnedTable], owned: list[OwnedTable]) -> None:
    """CDP905 when an output's name is taken by a relation cdpc did not create: replacing it
    would destroy someone's data. Names compare case-insensitively (every engine here folds
    or matches unquoted names that way)."""
    mine = {(o.schema.lower(), o.table.lower()) for o in owned}
    existing = _existing(engine, {o.schema for o in outputs})
    clashes = [o for o in outputs if (o.schema.lower(), o.table.lower()) in existing
               and (o.schema.lower(), o.table.lower()) not in mine]
    if clashes:
        raise DiagnosticError([_clash(o) for o in clashes])


def _existing(engine: Engine, schemas: set[str]) -> set[tuple[str, str]]:
    try:
        return {(schema.lower(), table.lower()) for schema in schemas for table in engine.relations(schema)}
    except EngineError as exc:
        raise DiagnosticError([Diagnostic("CDP901", f"cannot list the tables of the output schemas: {exc}", Location(),
                                          "check that the run's role may read the catalog")]) from None


def _clash(output: OwnedTable) -> Diagnostic:
    return Diagnostic("CDP905", f"`{output.qualified}` exists and cdpc did not create it: the output of "
                      f"{output.definition.replace(':', ' `', 1)}` would replace it", Location(),
                      f"rename or move `{output.qualified}` (it is not cdpc's to drop), or give the definition "
                      "or the output schema (project.yaml schemas) another name")


def removed(owned: list[OwnedTable], outputs: list[OwnedTable]) -> list[OwnedTable]:
    """Tables cdpc made for a definition that no longer makes them: dropped when a run succeeds."""
    current = {(o.schema.lower(), o.table.lower()) for o in outputs}
    return [o for o in owned if (o.schema.lower(), o.table.lower()) not in current]


def owned_statements(engine: Engine, meta: str, outputs: list[OwnedTable], run_id: int) -> list[str]:
    """Rewrite `owned`: run inside the publishing transaction."""
    q = engine.quote
    target = f"{q(meta)}.{q(OWNED)}"
    values = ", ".join(f"({_literal(o.schema)}, {_literal(o.table)}, {_literal(o.definition)}, {run_id})" for o in outputs)
    if engine.dialect == "spark":  # Parquet tables have no DELETE; the overwrite is one statement
        return [f"INSERT OVERWRITE TABLE {target} VALUES {values}"]
    return [f"DELETE FROM {target}", f"INSERT INTO {target} VALUES {values}"]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
