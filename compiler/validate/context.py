"""What every rule reads: the definitions plus a few lookups computed once per run."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Iterable, Iterator, Optional

from ..diagnostics import ERROR, WARNING, Diagnostic, Location, did_you_mean
from ..graph import Lineage, build_lineage
from ..model import Contract, Definition, Definitions, parse_field_type
from ..snippets import Snippet, SnippetError, parse_snippet


@dataclass
class Context:
    defs: Definitions
    graph: Optional[Lineage] = None  # the project's lineage, when the caller built it already

    @property
    def dialect(self) -> str:
        return self.defs.project.expression_dialect

    @cached_property
    def identity_sources(self) -> frozenset[str]:
        identity = self.defs.identity
        return frozenset(identity.sources) if identity else frozenset()

    @cached_property
    def identifier_types(self) -> list[str]:
        identity = self.defs.identity
        return identity.types if identity else []

    @cached_property
    def lineage(self) -> Lineage:
        return self.graph if self.graph is not None else build_lineage(self.defs)

    def parse(self, text: str) -> Snippet | SnippetError:
        """A parsed snippet, or the error it raised (parse_snippet caches by text)."""
        try:
            return parse_snippet(text, self.dialect)
        except SnippetError as exc:
            return exc

    def attribute_base_type(self, name: str) -> Optional[str]:
        attribute = self.defs.attributes.get(name)
        parsed = parse_field_type(attribute.type) if attribute else None
        return parsed[0] if parsed else None

    def known_contract(self, name: str, location: Location) -> Iterator[Diagnostic]:
        """CDP201 unless `name` is a contract."""
        if name not in self.defs.contracts:
            yield error("CDP201", f"unknown contract `{name}`", location,
                        did_you_mean(name, self.defs.contracts) or "declare it under definitions/contracts/")

    def identity_source(self, name: str, location: Location) -> Iterator[Diagnostic]:
        """CDP201/CDP208 unless `name` is a contract that the identity reads."""
        if name not in self.defs.contracts:
            yield from self.known_contract(name, location)
        elif name not in self.identity_sources:
            yield error("CDP208", f"contract `{name}` is not an identity source, so its rows belong to no profile",
                        location, f"add `{name}` to the identity's `sources`")

    @staticmethod
    def contract_field(contract: Contract, field: str, location: Location, role: str = "field") -> Iterator[Diagnostic]:
        """CDP202 unless `field` is a field of `contract`."""
        if field not in contract.fields:
            yield error("CDP202", f"{role} `{field}` is not a field of contract `{contract.name}`",
                        location, did_you_mean(field, contract.fields))


def error(code: str, message: str, location: Location, hint: str = "") -> Diagnostic:
    return Diagnostic(code, message, location, hint, ERROR)


def warning(code: str, message: str, location: Location, hint: str = "") -> Diagnostic:
    return Diagnostic(code, message, location, hint, WARNING)


def has_key(definition: Definition, *path: Any) -> bool:
    """True when the YAML spells out `path` (a default is not written)."""
    return definition.doc is not None and tuple(path) in definition.doc.positions


def duplicates(items: Iterable[Any]) -> list[tuple[int, Any]]:
    """(index, item) of every repeat after the first occurrence."""
    seen: set = set()
    out = []
    for index, item in enumerate(items):
        key = item if isinstance(item, (str, int, float, bool)) else repr(item)
        if key in seen:
            out.append((index, item))
        seen.add(key)
    return out
