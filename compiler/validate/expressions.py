"""SQL snippet rules: each snippet parses, names only what its context allows, aggregates
where it must and nowhere else, and can be emitted on every target.

Contexts (docs/reference.md §1.3): an aggregate attribute's `aggregate` and `where` name fields of its
source, and so does a consent source's `where`; an expression attribute names other
attributes; a segment's `where` names attributes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Mapping, Optional

from sqlglot import exp

from .. import allowlist
from ..diagnostics import Diagnostic, did_you_mean
from ..model import Definition
from ..snippets import Snippet, SnippetError, check_targets
from . import typecheck
from .context import Context, error


@dataclass(frozen=True)
class Site:
    """One snippet and what its context allows."""

    definition: Definition
    key: str  # `aggregate`, `where` or `expression`
    text: str
    names: Optional[frozenset[str]]  # None: the context is unknown (reported elsewhere)
    names_are: str  # "a field of contract `x`", for messages
    aggregate: bool  # True: must aggregate; False: must not
    context: str  # an allowlist context: what the snippet may contain
    types: Mapping[str, str] = field(default_factory=dict)  # name -> its declared type (fields or attributes)
    result: Optional[str] = None  # the attribute type its value must fit (None for a `where`)
    path: tuple = ()  # where the snippet is written, when it is not the top-level `key`

    @property
    def at(self) -> tuple:
        return self.path or (self.key,)


def snippets(ctx: Context) -> Iterator[Diagnostic]:
    targets = tuple(ctx.defs.project.targets)
    for site in _sites(ctx):
        parsed = ctx.parse(site.text)
        location = site.definition.loc(*site.at)
        if isinstance(parsed, SnippetError):
            yield error(parsed.code, f"`{site.key}`: {parsed.message}",
                        site.definition.text_loc(site.at, parsed.offset), parsed.hint)
            continue
        refusals = allowlist.check(parsed.expr, site.context, targets, site.text)
        for refusal in refusals:
            yield error(refusal.code, f"`{site.key}`: {refusal.message}",
                        site.definition.text_loc(site.at, refusal.offset), refusal.hint)
        if refusals:
            continue  # the rules below would only restate the same mistake
        found = [*_names(ctx, site, parsed), *_aggregation(site, parsed, location)]
        yield from found
        failure = _target_failure(parsed, targets)
        if failure:
            yield error("CDP304", f"`{site.key}` cannot be emitted for {failure}", location,
                        "rewrite it with functions every target supports, or drop that target")
        elif not found:
            yield from _types(ctx, site, parsed)


def _sites(ctx: Context) -> Iterator[Site]:
    attributes = frozenset(ctx.defs.attributes)
    attribute_types = {name: a.type for name, a in ctx.defs.attributes.items()}
    for attribute in ctx.defs.attributes.values():
        if attribute.form == "aggregate":
            contract = ctx.defs.contracts.get(attribute.source)
            fields = frozenset(contract.fields) if contract else None
            field_types = {name: f.type for name, f in contract.fields.items()} if contract else {}
            label = f"a field of contract `{attribute.source}`"
            yield Site(attribute, "aggregate", attribute.aggregate, fields, label, True, allowlist.AGGREGATE,
                       field_types, attribute.type)
            if attribute.where is not None:
                yield Site(attribute, "where", attribute.where, fields, label, False, allowlist.ROW_FILTER, field_types)
        elif attribute.form == "expression":
            yield Site(attribute, "expression", attribute.expression, attributes, "an attribute", False,
                       allowlist.EXPRESSION, attribute_types, attribute.type)
    for segment in ctx.defs.segments.values():
        if segment.where is not None:
            yield Site(segment, "where", segment.where, attributes, "an attribute", False, allowlist.SEGMENT,
                       attribute_types)
    for consent in ctx.defs.consents.values():
        for evidence in consent.evidence:
            if evidence.where is not None:
                contract = ctx.defs.contracts.get(evidence.source)
                yield Site(consent, "where", evidence.where, frozenset(contract.fields) if contract else None,
                           f"a field of contract `{evidence.source}`", False, allowlist.ROW_FILTER,
                           path=(*evidence.path, "where"))  # typed by consent's own CDP222 rule


def _types(ctx: Context, site: Site, snippet: Snippet) -> Iterator[Diagnostic]:
    """CDP310-CDP312: the snippet typed against the declared types of what it reads."""
    if site.names is None:
        return  # its context is unknown (reported elsewhere): so are the types
    problem = typecheck.check_types(snippet.expr, site.types, ctx.dialect, site.text, site.result,
                                    condition=site.key == "where", result_name="the attribute's")
    if problem is not None:
        prefix = f"`{site.key}`" + (" is a condition, and " if site.key == "where" and problem.code == "CDP312"
                                    and problem.node is snippet.expr else ": ")
        yield error(problem.code, prefix + problem.message,
                    site.definition.text_loc(site.at, allowlist.offset_of(problem.node, site.text)), problem.hint)


def _names(ctx: Context, site: Site, snippet: Snippet) -> Iterator[Diagnostic]:
    if site.names is None:
        return
    for name, column in _bare_names(snippet).items():
        if name in site.names or (site.names_are == "an attribute" and ctx.defs.failed_as("attribute", name)):
            continue  # an attribute that failed to model was reported already
        yield error("CDP303", f"`{site.key}`: `{name}` is not {site.names_are}",
                    site.definition.text_loc(site.at, allowlist.offset_of(column)),
                    did_you_mean(name, site.names) or _names_hint(site))


def _bare_names(snippet: Snippet) -> dict[str, exp.Column]:
    """Unqualified names and their first column, in order of appearance (the allow-list refuses qualified ones)."""
    names: dict[str, exp.Column] = {}
    for column in snippet.expr.find_all(exp.Column, bfs=False):
        if not column.table and column.name and not isinstance(column.this, exp.Star):
            names.setdefault(column.name, column)
    return names


def _names_hint(site: Site) -> str:
    if site.names_are == "an attribute":
        return "snippets here read attributes only; define one for this value first"
    if site.definition.kind == "consent":
        return "a consent source's `where` reads the fields of that source only"
    return "an aggregate reads the fields of its source contract only"


def _aggregation(site: Site, snippet: Snippet, location) -> Iterator[Diagnostic]:
    aggregates = [n for n in snippet.expr.find_all(exp.AggFunc)]
    if not site.aggregate:
        if aggregates:
            yield error("CDP306", f"`{site.key}`: aggregate `{aggregates[0].sql()}` is not allowed here", location,
                        _no_aggregate_hint(site))
        return
    if not aggregates:
        yield error("CDP305", f"`{site.key}` must aggregate the source's rows, e.g. sum(...), count(*), max(...)",
                    location, "wrap the field in an aggregate function")
        return
    for inner in aggregates:
        if inner.find_ancestor(exp.AggFunc):
            yield error("CDP306", f"`{site.key}`: aggregate `{inner.sql()}` inside another aggregate", location,
                        "aggregate once per profile")
            return
    for column in snippet.expr.find_all(exp.Column):
        # `count(*) filter (where x)` reads x per row too; a window is reported on its own
        if not column.find_ancestor(exp.AggFunc, exp.Filter, exp.Window):
            yield error("CDP305", f"`{site.key}`: `{column.sql()}` is read outside an aggregate function", location,
                        f"a profile has many rows: aggregate it, e.g. max({column.sql()})")
            return


def _no_aggregate_hint(site: Site) -> str:
    if site.definition.kind == "segment":
        return "segments compare attributes; compute the aggregate in an attribute"
    if site.definition.kind == "consent":
        return "`where` keeps or drops single rows of the source: compare the row's fields"
    if site.key == "where":
        return "`where` filters single rows; aggregate in `aggregate`"
    return "an expression combines attributes; compute the aggregate in an aggregate attribute"


_EMITS_EVERYWHERE: set[tuple] = set()  # (snippet shape, targets) that every target can emit


def _target_failure(snippet: Snippet, targets: tuple[str, ...]) -> Optional[str]:
    """Generating SQL for every target (a deep copy of the tree each) is the costly part of
    validate, so a success is remembered by snippet *shape*: `sum(amount)` and `sum(price)`
    are supported by exactly the same targets. A failure is not: its message (which may
    quote the snippet) is computed for the snippet at hand, every time."""
    key = (_shape(snippet.expr), targets)
    if key in _EMITS_EVERYWHERE:
        return None
    failure = check_targets(snippet, list(targets))
    if failure is None:
        _EMITS_EVERYWHERE.add(key)
    return failure


def _shape(expr: exp.Expression) -> tuple:
    """The tree with column names and numbers left out: node types, their place, other values."""
    position: dict[int, int] = {}
    out = []
    for index, node in enumerate(expr.walk()):
        position[id(node)] = index
        parent = position.get(id(node.parent), -1)
        out.append((type(node).__name__, parent, node.arg_key, _payload(node)))
    return tuple(out)


def _payload(node: exp.Expression) -> tuple:
    if isinstance(node, exp.Identifier):
        return ()  # a name never decides whether a target supports a construct,
    if isinstance(node, exp.Literal):
        return (node.is_string,)  # nor does a literal's value (node types and flags do)
    return tuple(sorted((k, repr(v)) for k, v in node.args.items()
                        if v is not None and not isinstance(v, (exp.Expression, list))))


RULES = (snippets,)
