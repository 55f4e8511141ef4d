"""The kind registry: one entry per kind, holding every fact the pipeline needs about it.

Every list of kinds derives from `REGISTRY`: parsing and the JSON Schemas (the model),
the collections of `Definitions`, the order of manifests and reports (the registry's
order: upstream first), what carries a version, what may be approved, where a kind sits
in the lineage graph, which emitter builds its units and which rules check it. Adding a
kind is one entry here plus its model, validate and emit modules (and, when it may be
approved, its key in `approvals.Approval`).

The stages above the model (graph, emit, validate) are named as `"module:function"` and
imported when first used, so the model imports none of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import import_module
from typing import Any, Callable, Optional

from .approvals import Approval, Approvals
from .attribute import Attribute
from .base import Definition, Versioned
from .consent import Consent
from .contract import Contract
from .destination import Destination
from .identity import Identity
from .project import Project
from .segment import Segment
from .test import Test
from .erasure import Erasure
from .access import Access  # last: pydantic's JSON Schema of a date union follows the order models are built


@dataclass(frozen=True)
class Kind:
    name: str  # the `kind:` of its documents
    model: type  # the pydantic model a document is parsed into
    collection: str  # its attribute of Definitions (`defs.contracts`: name -> definition)
    single: bool = False  # one document per project (project, approvals), not a collection by name
    # Lineage: "module:function(builder, definition)" adding its edges; None: not a graph node.
    lineage: Optional[str] = None
    fields_are_nodes: bool = False  # its `fields` are lineage nodes too (`field:<name>.<field>`)
    # Emit: "module:function(defs, lineage, definition) -> Unit"; None: no unit of its own.
    emit: Optional[str] = None
    needs_identity: bool = False  # its units are per profile: emitted only when the project has an identity
    after_profiles: bool = False  # its units read the profiles table: emitted after it
    validate: Optional[str] = None  # the module whose RULES check it (besides the cross-cutting ones)
    # Its units create views on the published outputs, not tables: a run publishes them after the
    # tables, and a removed definition's are dropped as views (compiler/run/access.py).
    views: bool = False
    # It says what the pipeline computes: listed in manifests, fingerprinted, compared by `cdpc check`.
    # A test only reads the others: it changes no table and no hash.
    compiled: bool = True

    @property
    def definition(self) -> bool:
        """A named definition, a collection of `Definitions` by name; when `compiled`, also
        listed in manifests, fingerprinted, a lineage and report entry."""
        return issubclass(self.model, Definition)

    @property
    def versioned(self) -> bool:
        return issubclass(self.model, Versioned)

    @property
    def approvable(self) -> bool:
        """An approvals.yaml entry can name it, so governance.require_approval can list it."""
        return self.name in Approval.model_fields

    def emitter(self) -> Callable[..., Any]:
        return resolve(self.emit)

    def edges(self) -> Callable[..., Any]:
        return resolve(self.lineage)


REGISTRY: dict[str, Kind] = {kind.name: kind for kind in (
    Kind("project", Project, "project", single=True),
    Kind("contract", Contract, "contracts", lineage="compiler.graph:contract_edges", fields_are_nodes=True,
         emit="compiler.emit.staging:staging_unit", validate="compiler.validate.contracts"),
    Kind("identity", Identity, "identities", lineage="compiler.graph:identity_edges",
         emit="compiler.emit.identity:identity_unit", validate="compiler.validate.identity"),
    # right after the identity: it resolves identity again without the erased records (emit/erasure.py)
    Kind("erasure", Erasure, "erasures", lineage="compiler.graph:erasure_edges",
         emit="compiler.emit.erasure:erasure_unit", needs_identity=True, validate="compiler.validate.erasure"),
    Kind("attribute", Attribute, "attributes", lineage="compiler.graph:attribute_edges",
         emit="compiler.emit.attributes:attribute_unit", needs_identity=True, validate="compiler.validate.attributes"),
    Kind("consent", Consent, "consents", lineage="compiler.graph:consent_edges",
         emit="compiler.emit.consent:consent_unit", needs_identity=True, validate="compiler.validate.consent"),
    Kind("segment", Segment, "segments", lineage="compiler.graph:segment_edges",
         emit="compiler.emit.segments:segment_unit", needs_identity=True, after_profiles=True,
         validate="compiler.validate.segments"),
    Kind("destination", Destination, "destinations", lineage="compiler.graph:destination_edges",
         emit="compiler.emit.syncs:sync_unit", needs_identity=True, after_profiles=True,
         validate="compiler.validate.destinations"),
    Kind("access", Access, "accesses", lineage="compiler.graph:access_edges", emit="compiler.emit.access:access_unit",
         needs_identity=True, after_profiles=True, views=True, validate="compiler.validate.access"),
    Kind("approvals", Approvals, "approvals", single=True, validate="compiler.validate.governance"),
    Kind("test", Test, "tests", validate="compiler.validate.tests", compiled=False),
)}


def kinds() -> list[Kind]:
    """Every kind, in registry order."""
    return list(REGISTRY.values())


def definition_kinds() -> tuple[str, ...]:
    """The kinds of named definitions that the pipeline computes, upstream first: the order
    of manifests and reports (tests are not among them: `Definitions.tests`)."""
    return tuple(k.name for k in REGISTRY.values() if k.definition and k.compiled)


def approvable_kinds() -> tuple[str, ...]:
    """The kinds an approval can name, in registry order."""
    return tuple(k.name for k in REGISTRY.values() if k.approvable)


@lru_cache(maxsize=None)
def resolve(path: str) -> Any:
    """`"package.module:attribute"` -> the attribute, imported on first use."""
    module, _, attribute = path.partition(":")
    return getattr(import_module(module), attribute)
