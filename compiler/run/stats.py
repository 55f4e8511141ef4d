"""Row counts for the run summary, read back from the tables a run leaves."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from sqlglot import exp

from ..emit.sql import WORK
from ..emit.staging import EXPIRED, checked_table
from ..emit.syncs import sync_table
from ..model import Definitions
from .engines import Engine, scalar


@dataclass
class RunStats:
    staged: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    expired: dict[str, int] = field(default_factory=dict)  # raw rows older than the contract's retention
    records: int = 0
    profiles: int = 0
    multi_record_profiles: int = 0
    conflicts: int = 0
    segments: dict[str, int] = field(default_factory=dict)
    syncs: dict[str, int] = field(default_factory=dict)
    syncs_without_identifier: dict[str, int] = field(default_factory=dict)


def _published(schema: str, name: str) -> exp.Table:
    return exp.table_(name, db=schema)


def collect_stats(engine: Engine, defs: Definitions, where: Callable[[str, str], exp.Table] = _published) -> RunStats:
    """`where(schema, table)`: where an output table is now (in a run's private schema), and
    where the scratch schema's tables are (the checked tables, which still hold the expired
    rows: read before the scratch is dropped)."""
    s = defs.project.schemas
    count = lambda schema, name, cond=None: _count(engine, where(schema, name), cond)  # noqa: E731
    stats = RunStats()
    for name in defs.contracts:
        stats.staged[name] = count(s.staging, name)
        stats.rejected[name] = count(s.staging, f"{name}_rejected")
        stats.expired[name] = expired_rows(engine, defs.contracts[name], where(WORK, checked_table(name)))
    identity = defs.identity
    if identity is None:
        return stats
    stats.records = count(s.identity, f"{identity.name}_map")
    stats.profiles = count(s.profiles, f"{defs.project.entity}_profiles")
    stats.multi_record_profiles = _multi_record(engine, where(s.identity, f"{identity.name}_map"))
    stats.conflicts = count(s.identity, f"{identity.name}_conflicts")
    for name in defs.segments:
        stats.segments[name] = count(s.audiences, name)
    for destination in defs.destinations.values():
        for sync in destination.syncs:
            table = sync_table(destination.name, sync.segment)
            stats.syncs[table] = count(s.audiences, table)
            if destination.identifiers:
                none = exp.and_(*(exp.column(t).is_(exp.null()) for t in destination.identifiers))
                stats.syncs_without_identifier[table] = count(s.audiences, table, none)
    return stats


def expired_rows(engine: Engine, contract, table: exp.Table) -> int:
    """Raw rows of a contract that its retention expired (0 without a retention): counted in the
    checked scratch table `table`, the only place they are seen (neither staged nor rejected)."""
    if contract.retention is None:
        return 0
    return _count(engine, table, exp.column(EXPIRED))


def _count(engine: Engine, table: exp.Table, where: exp.Expression | None = None) -> int:
    query = exp.select(exp.Count(this=exp.Star())).from_(table)
    if where is not None:
        query = query.where(where)
    return int(scalar(engine, query.sql(dialect=engine.dialect)) or 0)


def _multi_record(engine: Engine, table: exp.Table) -> int:
    per_profile = (exp.select(exp.column("profile_id")).from_(table)
                   .group_by(exp.column("profile_id")).having(exp.Count(this=exp.Star()) > 1))
    query = exp.select(exp.Count(this=exp.Star())).from_(per_profile.subquery("m"))
    return int(scalar(engine, query.sql(dialect=engine.dialect)) or 0)
