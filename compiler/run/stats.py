"""Row counts for the run summary, read back from the tables a run leaves."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Callable

from sqlglot import exp

from ..emit.erasure import APPLIED, FUTURE, IGNORED
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
    erased: dict[str, int] = field(default_factory=dict)  # staged and rejected rows an erasure removed, per contract
    requests: dict[str, int] = field(default_factory=dict)  # erasure requests: applied, future, ignored
    erasure: Erased = field(default_factory=lambda: Erased())


@dataclass(frozen=True)
class Erased:
    """Whom the erasure removed: the profile ids (as the first resolution named them) and the
    SHA-256 of every erased value, for the activation state to find them in published
    audiences (compiler/run/activation.py). Read before the scratch schema is dropped."""

    profile_ids: frozenset[str] = frozenset()
    value_hashes: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.profile_ids or self.value_hashes)


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
        if name in defs.erasure_sources:  # read, never staged
            continue
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
    if defs.erasures:
        _erasure_stats(engine, stats, where)
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


def _erasure_stats(engine: Engine, stats: RunStats, where: Callable[[str, str], exp.Table]) -> None:
    """What the erasure unit left in the scratch schema (emit/erasure.py)."""
    sql = lambda tree: tree.sql(dialect=engine.dialect)  # noqa: E731
    requests = exp.select("status", exp.Count(this=exp.Star())).from_(where(WORK, "er_requests")).group_by("status")
    stats.requests = {status: 0 for status in (APPLIED, FUTURE, IGNORED)}
    stats.requests.update({str(status): int(n) for status, n in engine.rows(sql(requests))})
    erased = exp.select("contract", exp.Sum(this=exp.column("n"))).from_(where(WORK, "er_contract")).group_by("contract")
    stats.erased = {str(contract): int(n) for contract, n in engine.rows(sql(erased))}
    profiles = exp.select("profile_id").distinct().from_(where(WORK, "er_profile"))
    pairs = exp.select("t", "id_value").distinct().from_(where(WORK, "er_pair"))
    hashes = set()
    for _, value in engine.rows(sql(pairs)):
        hashes.add(hashlib.sha256(str(value).encode("utf-8")).hexdigest())
        if str(value).startswith("+"):  # a phone as some platforms hash it: digits only
            hashes.add(hashlib.sha256(str(value)[1:].encode("utf-8")).hexdigest())
    stats.erasure = Erased(frozenset(str(p) for (p,) in engine.rows(sql(profiles))), frozenset(hashes))


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
