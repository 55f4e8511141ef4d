"""Every column of every table a run leaves, with its type and classification.

The tables are laid out here as the emitters write them (docs/reference.md §4); each column's
classification comes from compiler/classification.py, given the lineage nodes the column is
computed from. manifest.json lists them per definition; the access views (emit/access.py)
show the `viewed` ones: the profiles, consent and audience tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ..classification import column_classification, grant_fields, identifier_fields
from ..graph import Lineage, field_id, node_id
from ..model import Definitions
from .syncs import sent_field, sync_table

TEXT = "string"


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # a contract field type (`string`, `boolean`, `decimal(12,2)`, ...), as the column holds it
    classification: str
    definitions: tuple[str, ...]  # node ids of the definitions that compute it


@dataclass(frozen=True)
class OutputTable:
    schema: str
    name: str
    columns: tuple[Column, ...]
    viewed: bool = False  # shown through each access definition's views

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


def output_tables(defs: Definitions, lineage: Lineage) -> list[OutputTable]:
    """Every table a run leaves, in the order of docs/reference.md §4."""
    return list(_tables(defs, lineage))


def viewed_tables(defs: Definitions, lineage: Lineage) -> list[OutputTable]:
    """The tables an access definition shows: profiles, consent, every segment and sync."""
    return [table for table in output_tables(defs, lineage) if table.viewed]


def columns_by_definition(defs: Definitions, lineage: Lineage) -> dict[str, dict[str, dict[str, str]]]:
    """node id -> {schema.table -> {column -> classification}}: what each definition computes."""
    found: dict[str, dict[str, dict[str, str]]] = {}
    for table in output_tables(defs, lineage):
        for column in table.columns:
            for definition in column.definitions:
                found.setdefault(definition, {}).setdefault(table.qualified, {})[column.name] = column.classification
    return found


def _tables(defs: Definitions, lineage: Lineage):
    schemas = defs.project.schemas
    classify = _Classifier(defs, lineage)
    for contract in defs.contracts.values():
        me = node_id("contract", contract.name)
        fields = [Column(name, spec.type, spec.effective_classification, (me,)) for name, spec in contract.fields.items()]
        yield OutputTable(schemas.staging, contract.name, tuple(fields))
        rules = [field_id(contract.name, name) for name, spec in contract.fields.items() if _has_row_rule(spec)]
        reasons = Column("_reject_reasons", "string[]", classify(rules), (me,))  # which rules each row broke
        yield OutputTable(schemas.staging, f"{contract.name}_rejected",
                          tuple(Column(c.name, TEXT, c.classification, (me,)) for c in fields) + (reasons,))
    identity = defs.identity
    if identity is None:
        return
    me = node_id("identity", identity.name)
    profile_id = classify([me])
    keys = [field_id(source, key) for source in sorted(identity.sources) if source in defs.contracts
            for key in defs.contracts[source].primary_key]
    yield OutputTable(schemas.identity, f"{identity.name}_map", (
        Column("source", TEXT, classify([]), (me,)), Column("record_key", TEXT, classify(keys), (me,)),
        Column("profile_id", TEXT, profile_id, (me,))))
    values = [f for id_type in identity.types for f in identifier_fields(defs, id_type)]
    yield OutputTable(schemas.identity, f"{identity.name}_conflicts", (
        Column("id_type", TEXT, classify([]), (me,)), Column("id_value", TEXT, classify(values), (me,)),
        Column("reason", TEXT, classify([]), (me,))))
    entity = defs.project.entity
    attributes = [Column(name, defs.attributes[name].type, classify([node_id("attribute", name)]),
                         (node_id("attribute", name),)) for name in sorted(defs.attributes)]
    yield OutputTable(schemas.profiles, f"{entity}_profiles", (Column("profile_id", TEXT, profile_id, (me,)),
                                                               *attributes), viewed=True)
    consents = tuple(node_id("consent", name) for name in sorted(defs.consents))
    yield OutputTable(schemas.profiles, f"{entity}_consent", (
        Column("profile_id", TEXT, profile_id, (me,)), Column("purpose", TEXT, classify([]), consents),
        Column("granted", "boolean", classify(consents), consents)), viewed=True)
    for name, segment in defs.segments.items():
        segment_node = node_id("segment", name)
        yield OutputTable(schemas.audiences, name, (Column("profile_id", TEXT, classify([me, segment_node]),
                                                           (segment_node,)),), viewed=True)
    for destination in defs.destinations.values():
        owner = (node_id("destination", destination.name),)
        for sync in destination.syncs:
            # every column of an audience says its row is a member: at least the membership's classification
            members = [node_id("segment", sync.segment), *grant_fields(defs, sync.purpose)]
            columns = [Column("profile_id", TEXT, classify([me, *members]), owner)]
            columns += [Column(t, TEXT, classify([*identifier_fields(defs, t), *members]), owner)
                        for t in destination.identifiers]
            for field in destination.fields:
                _, hashed = sent_field(defs, lineage.pii_attributes, destination, field)
                kind = TEXT if hashed else defs.attributes[field].type
                columns.append(Column(field, kind, classify([node_id("attribute", field), *members]), owner))
            yield OutputTable(schemas.audiences, sync_table(destination.name, sync.segment), tuple(columns), viewed=True)


class _Classifier:
    """column_classification, remembered per set of nodes (a sync asks for the same ones often)."""

    def __init__(self, defs: Definitions, lineage: Lineage):
        self.defs, self.lineage = defs, lineage
        self.known = lru_cache(maxsize=None)(self._classify)

    def __call__(self, reads) -> str:
        return self.known(tuple(sorted(set(reads))))

    def _classify(self, reads: tuple[str, ...]) -> str:
        return column_classification(self.defs, self.lineage, reads)


def _has_row_rule(spec) -> bool:
    """A rule that can reject a row on this field's value (docs/reference.md §2.2)."""
    return bool(spec.required or spec.base_type != "string" or spec.accepted_values is not None
                or spec.min is not None or spec.max is not None or spec.pattern is not None)
