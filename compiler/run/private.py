"""Schemas private to a run: where `cdpc run` builds everything before it publishes.

The compiled SQL writes to the output schemas and to `cdpc_work`. A run executes the same
statements with those schema names replaced by schemas of its own,
`cdpc_run_<run id>_<n>_<output schema>` and `cdpc_run_<run id>_work`, so that until the
outputs are published (compiler/run/publish.py) the previous run's tables stay complete,
and the run never touches a table of `cdpc_work` or of an output schema that is not its
own. Where the engine keeps private schemas in a catalog of their own (`scratch_catalog`:
DuckDB's in-memory database) every name of them also carries that catalog. A private
schema is the run's: it drops it, with everything in it, at the end; one that a killed run
left in the warehouse is dropped by the next run, which holds the warehouse's lock and so
knows that no live run is using it.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, replace
from typing import Optional

from sqlglot import exp

from ..emit.plan import Unit, mapped_step
from ..emit.sql import PRIVATE_PREFIX, WORK
from ..model.project import OUTPUT_ROLES, Schemas


def new_run_id(after: int = 0) -> int:
    """Milliseconds since the epoch, and always above the last run's id (clocks step back)."""
    return max(int(time.time() * 1000), after + 1)


@dataclass(frozen=True)
class RunSchemas:
    """The run's private schema for each output schema, and for the scratch work."""

    run_id: int
    outputs: dict[str, str]  # output schema -> private schema
    work: str
    catalog: Optional[str] = None  # the engine's scratch_catalog: where the private schemas are

    @property
    def mapping(self) -> dict[str, str]:
        return {**self.outputs, WORK: self.work}

    @property
    def private(self) -> list[str]:
        return sorted(set(self.mapping.values()))

    def private_of(self, schema: str) -> str:
        return self.mapping.get(schema, schema)

    def table(self, schema: str, name: str) -> exp.Table:
        """`schema.name` as the run reads it now: from its private schema, in its catalog."""
        return moved(exp.table_(name, db=schema), self)


def run_schemas(schemas: Schemas, run_id: int, catalog: Optional[str] = None) -> RunSchemas:
    outputs = sorted({getattr(schemas, role) for role in OUTPUT_ROLES})
    # the index keeps names apart where PostgreSQL cuts them (63 bytes) and from `_work`;
    # the output schema's name is there for whoever looks at a killed run's leftovers
    return RunSchemas(run_id, {s: f"{PRIVATE_PREFIX}{run_id}_{i}_{s}"[:63] for i, s in enumerate(outputs)},
                      f"{PRIVATE_PREFIX}{run_id}_work", catalog)


_PRIVATE = re.compile(re.escape(PRIVATE_PREFIX) + r"\d{13,}_(work|\d+_\w*)")


def is_private(schema: str) -> bool:
    """A schema that some run made for itself: exactly the form `run_schemas` gives (validate
    keeps output and meta schemas off the prefix; a user's `cdpc_run_stats` is not touched)."""
    return _PRIVATE.fullmatch(schema.lower()) is not None


def relocated(units: list[Unit], schemas: RunSchemas) -> list[Unit]:
    """The units with every table of a mapped schema moved to its private schema (copies:
    the plan is kept on the project and shared with compile)."""
    return [_relocated_unit(unit, schemas) for unit in units]


def _relocated_unit(unit: Unit, schemas: RunSchemas) -> Unit:
    steps = [mapped_step(s, lambda tree: moved(tree, schemas)) for s in unit.steps]
    checks = [replace(c, query=moved(c.query, schemas)) for c in unit.checks]
    return Unit(unit.layer, unit.kind, unit.name, steps, checks)


def moved(tree: exp.Expression, schemas: RunSchemas) -> exp.Expression:
    """A copy of the statement with every table (and schema) of a mapped schema in the run's
    private one, and in the run's catalog when it has one."""
    tree = tree.copy()
    mapping = schemas.mapping
    for node in tree.find_all(exp.Table):
        db = node.args.get("db")
        if db is not None and db.name in mapping:
            node.set("db", exp.to_identifier(mapping[db.name]))
            if schemas.catalog is not None:
                node.set("catalog", exp.to_identifier(schemas.catalog))
    return tree
