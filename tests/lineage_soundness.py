"""What the emitted SQL really reads, traced with sqlglot, against the lineage graph.

Used by tests/test_lineage_soundness.py, whose docstring says what "reads" means and which
extras are allowed. This module is the data-flow model behind it.

Every table a unit writes gets a `TableDeps`: per output column, the staged contract
columns its values are computed from, and `rows`: the staged columns that decide which
rows it holds (WHERE, an inner JOIN's ON, GROUP BY, HAVING, QUALIFY, ORDER BY, DISTINCT,
and the rows of every table it reads). A LEFT JOIN keeps every row of its left side, so
the joined side's rows and ON reach only the values read from that side. A dependency is
(contract, field, how): `how` is "read", or "profile" when it reaches the reader only as
the profile key (see `_as_seen_by`). The staged tables `<staging>.<contract>` are the
leaves; units are walked in run order, so a scratch table (cdpc_work.*) is known, with
its dependencies, when a later statement reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, build_scope

from compiler.dialects import DIALECTS
from compiler.emit.plan import RenderedLoop, RenderedWhen, Unit, render_unit
from compiler.emit.sql import RUN_CONTEXT, WORK
from compiler.graph import node_id

Dep = tuple[str, str, str]  # (contract, field, how)
READ, PROFILE = "read", "profile"
LOOP_ROUNDS = 3  # enough for a body whose tables feed each other in a chain of two


@dataclass
class TableDeps:
    columns: dict[str, frozenset[Dep]]
    rows: frozenset[Dep]
    writer: str  # the unit that wrote it, `kind:name`

    def all(self) -> frozenset[Dep]:
        return self.rows.union(*self.columns.values())

    def merge(self, other: "TableDeps") -> "TableDeps":
        """Rows from both (an INSERT, a UNION, another loop round), column by position."""
        columns = {n: d | o for (n, d), o in zip(self.columns.items(), other.columns.values())}
        return TableDeps(columns, self.rows | other.rows, self.writer)


@dataclass
class Written:
    unit: Unit
    table: str
    deps: TableDeps


# --------------------------------------------------------------------------- one query


@dataclass
class _Source:
    columns: dict[str, frozenset[Dep]]
    extra: frozenset[Dep] = frozenset()  # a LEFT JOINed source's rows and ON: reach its values only


class _QueryDeps:
    """Column and row dependencies of one qualified query, scope by scope."""

    def __init__(self, tables: dict[str, TableDeps], reader: str, identity: Optional[str]):
        self.tables, self.reader, self.identity = tables, reader, identity

    def of(self, scope: Scope) -> TableDeps:
        if isinstance(scope.expression, exp.SetOperation):
            left, right = (self.of(s) for s in scope.set_operation_scopes)
            merged = left.merge(right)
            if scope.expression.args.get("distinct"):
                merged = TableDeps(merged.columns, merged.all(), merged.writer)
            return merged
        return self._select(scope)

    def _select(self, scope: Scope) -> TableDeps:
        select = scope.expression
        sources, rows = self._sources(scope)
        items = [*scope.columns, *scope.subquery_scopes]
        homes = [_home(select, i.expression if isinstance(i, Scope) else i) for i in items]
        for join in select.args.get("joins") or []:  # in order: an ON may read an earlier LEFT JOIN
            if join.side == "LEFT":
                on = [self._deps(i, sources) for i, home in zip(items, homes) if home is join]
                sources[join.this.alias_or_name].extra |= frozenset().union(*on)
        projected: dict[int, set[Dep]] = {id(p): set() for p in select.selects}
        for item, home in zip(items, homes):
            if home.arg_key != "joins" or home.side != "LEFT":
                projected.get(id(home), rows).update(self._deps(item, sources))
        columns = {p.alias_or_name.lower(): frozenset(projected[id(p)]) for p in select.selects}
        if select.args.get("distinct"):
            rows |= set().union(*columns.values())
        return TableDeps(columns, frozenset(rows), self.reader)

    def _sources(self, scope: Scope) -> tuple[dict[str, _Source], set[Dep]]:
        left = {j.this.alias_or_name for j in scope.expression.args.get("joins") or [] if j.side == "LEFT"}
        sources: dict[str, _Source] = {}
        rows: set[Dep] = set()
        for name, (_, source) in scope.selected_sources.items():
            deps = self.of(source) if isinstance(source, Scope) else self._table(source)
            sources[name] = _Source(dict(deps.columns), deps.rows if name in left else frozenset())
            if name not in left:
                rows |= deps.rows
        return sources, rows

    def _deps(self, item: Union[exp.Column, Scope], sources: dict[str, _Source]) -> frozenset[Dep]:
        if isinstance(item, Scope):  # a scalar or IN subquery: all it reads decides the value
            return self.of(item).all()
        if not item.table:
            assert _lambda_parameter(item), f"a column qualify left without a table: {item.sql()}"
            return frozenset()
        source = sources[item.table]
        return source.columns[item.name.lower()] | source.extra

    def _table(self, table: exp.Table) -> TableDeps:
        key = f"{table.db}.{table.name}".lower()
        if key == f"{WORK}.{RUN_CONTEXT}":  # the as-of time, written by the runner
            return TableDeps({"as_of": frozenset()}, frozenset(), "run")
        return _as_seen_by(self.tables[key], self.reader, self.identity)


def _lambda_parameter(column: exp.Column) -> bool:
    """`x` in `x -> x IS NOT NULL`: a name bound by the lambda, no table's column."""
    lam = column.find_ancestor(exp.Lambda)
    return lam is not None and column.name in {p.name for p in lam.expressions}


def _home(select: exp.Select, node: exp.Expression) -> exp.Expression:
    """The clause of `select` a node sits in: a projection, a join, a WHERE ..."""
    while node.parent is not select:
        node = node.parent
    return node


def _as_seen_by(table: TableDeps, reader: str, identity: Optional[str]) -> TableDeps:
    """A table of the identity read by another definition: its `profile_id` and its rows
    reach the reader as the profile key (the `profile` edge), not as data it reads."""
    if table.writer != identity or reader == identity:
        return table
    key = lambda deps: frozenset((c, f, PROFILE) for c, f, _ in deps)  # noqa: E731
    columns = {n: key(d) if n == "profile_id" else d for n, d in table.columns.items()}
    return TableDeps(columns, key(table.rows), table.writer)


# --------------------------------------------------------------------------- a whole plan


class Tracer:
    """Walks the units of a plan in run order for one target, keeping every table's deps."""

    def __init__(self, defs, target: str):
        self.defs, self.target = defs, target
        self.identity = node_id("identity", defs.identity.name) if defs.identity else None
        staging = defs.project.schemas.staging
        # the leaves: a staged column depends on itself
        self.tables = {f"{staging}.{c.name}".lower(): TableDeps({f: frozenset({(c.name, f, READ)}) for f in c.fields},
                                                               frozenset(), node_id("contract", c.name))
                       for c in defs.contracts.values()}
        # the rejected rows are leaves too (the erasure rewrites them), their reasons read every field
        for c in defs.contracts.values():
            every = frozenset((c.name, f, READ) for f in c.fields)
            self.tables[f"{staging}.{c.name}_rejected".lower()] = TableDeps(
                {**{f: frozenset({(c.name, f, READ)}) for f in c.fields}, "_reject_reasons": every},
                frozenset(), node_id("contract", c.name))
        # the erasure reads its request log where it is, never staged: its raw relation is a leaf too
        for name in getattr(defs, "erasure_sources", ()):
            c = defs.contracts[name]
            self.tables[c.relation.lower()] = TableDeps({f: frozenset({(c.name, f, READ)}) for f in c.fields},
                                                        frozenset(), node_id("contract", c.name))
        self.written: list[Written] = []

    def run(self, units: list[Unit]) -> list[Written]:
        for unit in units:
            if unit.layer not in ("setup", "staging", "cleanup"):  # staging reads raw relations
                self.unit(unit, render_unit(unit, DIALECTS[self.target]).steps)
        return self.written

    def unit(self, unit: Unit, steps: list) -> None:
        reader = node_id(unit.kind, unit.name)
        for step in steps:
            if isinstance(step, RenderedWhen):  # may run or not: trace it as if it runs
                self.unit(unit, step.steps)
            elif isinstance(step, RenderedLoop):
                self._loop(unit, reader, step)
            else:
                self._statement(unit, reader, step)

    def _loop(self, unit: Unit, reader: str, loop: RenderedLoop) -> None:
        """The body runs any number of times and `until` decides how many: the tables the
        body writes hold the union of every round, and depend on what `until` reads."""
        control: frozenset[Dep] = frozenset()
        for _ in range(LOOP_ROUNDS):
            for sql in loop.body:
                self._statement(unit, reader, sql, control, accumulate=True)
            control |= self.query(sqlglot.parse_one(loop.until, read=self.target), reader).all()

    def _statement(self, unit: Unit, reader: str, sql: str, control: frozenset = frozenset(),
                   accumulate: bool = False) -> None:
        tree = sqlglot.parse_one(sql, read=self.target)
        creates = isinstance(tree, exp.Create) and tree.args.get("kind") == "TABLE" and tree.expression
        if not (creates or isinstance(tree, exp.Insert)):
            return  # DROP, CREATE SCHEMA: no data
        key = f"{tree.this.db}.{tree.this.name}".lower()
        deps = self.query(tree.expression, reader)
        deps = TableDeps(deps.columns, deps.rows | control, reader)
        if (isinstance(tree, exp.Insert) or accumulate) and key in self.tables:
            deps = self.tables[key].merge(deps)
        self.written.append(Written(unit, key, deps))
        if unit.layer == "erasure" and key in self.tables and not tree.this.name.lower().startswith("er_"):
            # an erasure only removes rows (like retention's expiry): the staged and rejected rows
            # and identity's tables it makes again keep what they hold; what it read to choose
            # the rows is checked above against its own lineage
            return
        self.tables[key] = deps

    def query(self, query: exp.Expression, reader: str) -> TableDeps:
        qualified = qualify(query, schema=self._schema(query), dialect=self.target,
                            quote_identifiers=False, validate_qualify_columns=True)
        return _QueryDeps(self.tables, reader, self.identity).of(build_scope(qualified))

    def _schema(self, query: exp.Expression) -> dict:
        """The columns of the tables `query` names (all tables would cost more than the query)."""
        schema: dict = {WORK: {RUN_CONTEXT: {"as_of": "TIMESTAMP"}}}
        for table in query.find_all(exp.Table):
            key = f"{table.db}.{table.name}".lower()
            if key in self.tables:
                db, _, name = key.partition(".")
                schema.setdefault(db, {})[name] = {c: "TEXT" for c in self.tables[key].columns}
        return schema


# --------------------------------------------------------------------------- against lineage


@dataclass(frozen=True)
class Gap:
    target: str
    unit: str
    table: str
    owner: str
    dep: Dep

    def __str__(self) -> str:
        contract, name, how = self.dep
        return (f"{self.target} {self.unit} writes {self.table}: reads {contract}.{name} ({how}), "
                f"outside the lineage of {self.owner}")


class Allowed:
    """Per definition, the staged columns it may read: its lineage; and, as the profile key
    only, the identity's lineage when the identity is upstream of it (the `profile` edge)."""

    def __init__(self, lineage, defs):
        self.lineage, self.defs = lineage, defs
        self.identity = node_id("identity", defs.identity.name) if defs.identity else None
        self.known: dict[tuple[str, str], set[tuple[str, str]]] = {}

    def __call__(self, owner: str, how: str) -> set[tuple[str, str]]:
        if (owner, how) not in self.known:
            self.known[owner, how] = self._find(owner, how)
        return self.known[owner, how]

    def _find(self, owner: str, how: str) -> set[tuple[str, str]]:
        if how == READ:
            return self.lineage.fields_reaching(owner)
        if self.identity and (owner == self.identity or self.identity in self.lineage.upstream(owner)):
            return self.lineage.fields_reaching(self.identity)
        return set()


def gaps(written: list[Written], allowed: Allowed, target: str) -> list[Gap]:
    found = []
    for w in written:
        for owners, deps in _owned_parts(w, allowed.defs):
            for dep in sorted(deps):
                if not any(dep[:2] in allowed(o, dep[2]) for o in owners):
                    found.append(Gap(target, f"{w.unit.layer}__{w.unit.name}", w.table, " or ".join(owners), dep))
    return found


def _owned_parts(w: Written, defs) -> list[tuple[list[str], frozenset[Dep]]]:
    """(definitions that may own it, dependencies) for each part of a written table."""
    if w.unit.kind != "project":
        columns = w.deps.columns
        if w.unit.kind == "identity":  # relays of staged columns are charged to whoever reads them
            columns = {n: d for n, d in columns.items() if not _relay(n, d)}
        return [([node_id(w.unit.kind, w.unit.name)], w.deps.rows.union(*columns.values()))]
    identity = [node_id("identity", defs.identity.name)]
    if w.table.endswith("_consent"):  # the union of every consent's table
        return [([node_id("consent", c) for c in defs.consents] or identity, w.deps.all())]
    return [([node_id("attribute", n)] if n in defs.attributes else identity, d) for n, d in w.deps.columns.items()] \
        + [(identity, w.deps.rows)]


def _relay(name: str, deps: frozenset[Dep]) -> bool:
    """`src__<contract>` hands a staged column on, unchanged and under its own name."""
    return len(deps) == 1 and next(iter(deps))[1:] == (name, READ)
