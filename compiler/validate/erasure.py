"""Erasure rules: the requests come from a contract of their own, with the fields the
definition names, and the project has an identity whose values they erase."""

from __future__ import annotations

from typing import Iterator

from ..diagnostics import Diagnostic, did_you_mean
from ..graph import node_id
from .context import Context, error

_TIMES = ("date", "timestamp")


def needs_identity(ctx: Context) -> Iterator[Diagnostic]:
    if ctx.defs.identity is not None or ctx.identity_failed:
        return
    for erasure in ctx.defs.erasures.values():
        yield error("CDP228", f"erasure `{erasure.name}` erases profiles, and this project has none: it has no identity",
                    erasure.loc("name"), "define the identity (definitions/identity/), or remove the erasure definition")


def source_and_fields(ctx: Context) -> Iterator[Diagnostic]:
    """The source is a contract that holds the three fields; the time is a date or a timestamp."""
    for erasure in ctx.defs.erasures.values():
        yield from ctx.known_contract(erasure.source, erasure.loc("source"))
        contract = ctx.defs.contracts.get(erasure.source)
        if contract is None:
            continue
        for key in ("type_field", "value_field", "time_field"):
            name = getattr(erasure, key)
            if name not in contract.fields:
                yield error("CDP226", f"erasure `{erasure.name}`: contract `{contract.name}` has no field `{name}` "
                            f"({key})", erasure.loc(key),
                            did_you_mean(name, contract.fields) or f"its fields are: {', '.join(contract.fields)}")
        time = contract.fields.get(erasure.time_field)
        if time is not None and time.base_type not in _TIMES:
            yield error("CDP226", f"erasure `{erasure.name}`: time_field `{erasure.time_field}` is a {time.type}, "
                        "not a date or a timestamp", erasure.loc("time_field"),
                        f"declare `{erasure.time_field}` as a date or a timestamp in contract `{contract.name}`, "
                        "or name the field that says when the request was made")


def source_of_its_own(ctx: Context) -> Iterator[Diagnostic]:
    """The requests are read, never copied: no other definition may read their contract (it
    would be staged, and the values to erase with it)."""
    graph = ctx.lineage.graph
    for erasure in ctx.defs.erasures.values():
        contract = ctx.defs.contracts.get(erasure.source)
        if contract is None:
            continue
        nodes = [node_id("contract", contract.name), *(f"field:{contract.name}.{f}" for f in contract.fields)]
        readers = sorted({graph.nodes[d]["kind"] + " `" + graph.nodes[d]["name"] + "`"
                          for n in nodes if n in graph for d in graph.successors(n)
                          if graph.nodes[d]["kind"] not in ("field", "erasure")})  # two erasures: CDP229
        if readers:
            yield error("CDP227", f"erasure `{erasure.name}` reads contract `{contract.name}`, which "
                        f"{', '.join(readers)} also read{'s' if len(readers) == 1 else ''}",
                        erasure.loc("source"), "give the erasure requests a contract of their own: cdpc never stages "
                        "them, so no other definition can read them")


def only_one(ctx: Context) -> Iterator[Diagnostic]:
    """One request log per project: its requests are the ones `<identity>_erasures` proves."""
    for erasure in sorted(ctx.defs.erasures.values(), key=lambda e: e.name)[1:]:
        first = min(ctx.defs.erasures)
        yield error("CDP229", f"erasure `{erasure.name}`: the project has another erasure definition, `{first}`",
                    erasure.loc("name"), f"keep one erasure definition: put every request in the contract of `{first}`")


RULES = (needs_identity, source_and_fields, source_of_its_own, only_one)
