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

    def unknown(self, kind: str, name: str) -> bool:
        """`name` is no definition of `kind`, not even one that failed to model (that one was
        reported already: a reference to it is not a second error)."""
        return not self.defs.exists(kind, name)

    @cached_property
    def identity_failed(self) -> bool:
        """An identity failed to model: its sources and identifier types are unknown, so the
        rules that read them stay silent."""
        return bool(self.defs.failed.get("identity"))

    @cached_property
    def consent_failed(self) -> bool:
        """A consent failed to model: any purpose may be one it declares."""
        return bool(self.defs.failed.get("consent"))

    def unknown_purpose(self, purpose: str) -> bool:
        return purpose not in self.defs.purposes and not self.consent_failed

    def unknown_identifier_type(self, id_type: str) -> bool:
        return id_type not in self.identifier_types and not self.identity_failed

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
        """CDP201 unless `name` is a contract (or one that failed to model)."""
        if self.unknown("contract", name):
            yield error("CDP201", f"unknown contract `{name}`", location,
                        did_you_mean(name, self.defs.contracts) or "declare it under definitions/contracts/")

    def identity_source(self, name: str, location: Location) -> Iterator[Diagnostic]:
        """CDP201/CDP208 unless `name` is a contract that the identity reads."""
        if name not in self.defs.contracts:
            yield from self.known_contract(name, location)
        elif name not in self.identity_sources and not self.identity_failed:
            yield error("CDP208", f"contract `{name}` is not an identity source, so its rows belong to no profile",
                        location, f"add `{name}` to the identity's `sources`")

    @staticmethod
    def contract_field(contract: Contract, field: str, location: Location, role: str = "field") -> Iterator[Diagnostic]:
        """CDP202 unless `field` is a field of `contract`."""
        if field not in contract.fields:
            yield error("CDP202", f"{role} `{field}` is not a field of contract `{contract.name}`",
                        location, did_you_mean(field, contract.fields) or f"declare it under the contract's `fields`")


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
