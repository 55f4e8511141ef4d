"""Read every YAML document below definitions/, keeping file:line:col for every key and value.

The output is plain Python data plus a map from the path of each node (a tuple of keys
and list indexes) to its Location, so later stages can point at the exact spot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .diagnostics import Diagnostic, Location, WARNING

try:  # the C loader is several times faster; fall back where libyaml is missing
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader

Path_ = tuple  # a path into a document: ("fields", "email", "type")


@dataclass
class Document:
    file: str  # path relative to the project root, with forward slashes
    index: int  # position of the document in its file (0-based)
    data: Any
    positions: dict[Path_, Location] = field(default_factory=dict)
    key_positions: dict[Path_, Location] = field(default_factory=dict)

    def loc(self, *path: Any) -> Location:
        """Location of the value at `path`, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.positions:
                return self.positions[path]
            path = path[:-1]
        return self.positions.get((), Location(self.file, 1, 1))

    def key_loc(self, *path: Any) -> Location:
        """Location of the key itself (for unknown-key errors)."""
        return self.key_positions.get(tuple(path)) or self.loc(*path)


def definition_files(definitions_dir: Path) -> list[Path]:
    files = [p for p in definitions_dir.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()]
    return sorted(files, key=lambda p: p.relative_to(definitions_dir).as_posix())


def load_definitions(project_dir: Path) -> tuple[list[Document], list[Diagnostic]]:
    definitions_dir = project_dir / "definitions"
    documents: list[Document] = []
    diagnostics: list[Diagnostic] = []
    for path in definition_files(definitions_dir):
        rel = path.relative_to(project_dir).as_posix()
        docs, diags = load_text_file(rel, path.read_bytes())
        documents.extend(docs)
        diagnostics.extend(diags)
    return documents, diagnostics


def load_text_file(rel: str, raw: bytes) -> tuple[list[Document], list[Diagnostic]]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return [], [Diagnostic("CDP002", f"byte 0x{raw[exc.start]:02x} is not valid UTF-8",
                               Location(rel, line, col), "save the file as UTF-8")]
    return load_yaml_text(rel, text)


def load_yaml_text(rel: str, text: str) -> tuple[list[Document], list[Diagnostic]]:
    diagnostics: list[Diagnostic] = []
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.YAMLError as exc:
        return [], [_syntax_diagnostic(rel, text, exc)]
    documents = []
    for index, node in enumerate(nodes):
        if node is None:
            continue
        doc = Document(rel, index, None)
        builder = _Builder(doc, diagnostics)
        try:
            doc.data = builder.build(node, ())
        except yaml.YAMLError as exc:  # a scalar that cannot be constructed, e.g. a bad date
            diagnostics.append(_syntax_diagnostic(rel, text, exc))
            continue
        documents.append(doc)
    if not documents and not diagnostics:
        diagnostics.append(Diagnostic("CDP003", "file holds no YAML documents", Location(rel, 1, 1),
                                      "add a definition or delete the file", severity=WARNING))
    return documents, diagnostics


class _Builder:
    """Turns a composed node tree into Python data, recording positions and duplicate keys."""

    def __init__(self, doc: Document, diagnostics: list[Diagnostic]):
        self.doc = doc
        self.diagnostics = diagnostics
        self.constructor = _Loader("")

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.doc.positions[path] = _loc(self.doc.file, node)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(child, path + (i,)) for i, child in enumerate(node.value)]
        return self.constructor.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict:
        result: dict = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise yaml.constructor.ConstructorError(
                    None, None, "YAML merge keys (`<<`) are not supported", key_node.start_mark)
            key = self.build(key_node, path + ("<key>",))
            if not isinstance(key, (str, int, float, bool)) or key is None:
                key = str(key)
            if key in result:
                first = self.doc.key_positions[path + (key,)]
                self.diagnostics.append(Diagnostic(
                    "CDP004", f"duplicate key `{key}` (first defined at line {first.line})",
                    _loc(self.doc.file, key_node), "remove one of the two; YAML keeps only the last"))
            self.doc.key_positions[path + (key,)] = _loc(self.doc.file, key_node)
            result[key] = self.build(value_node, path + (key,))
        self.doc.positions.pop(path + ("<key>",), None)
        return result


def _loc(file: str, node: yaml.Node) -> Location:
    return Location(file, node.start_mark.line + 1, node.start_mark.column + 1)


def _syntax_diagnostic(rel: str, text: str, exc: yaml.YAMLError) -> Diagnostic:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    message = f"{context}, {problem}" if context else problem
    hint = "check the indentation and quoting around this spot"
    current_line = text.splitlines()[line - 1] if 0 < line <= len(text.splitlines()) else ""
    if "\t" in current_line or "'\\t'" in message:
        hint = "YAML does not allow tabs for indentation: use spaces"
    elif "mapping values are not allowed" in message:
        hint = "quote values that contain `: `, or fix the indentation of this key"
    return Diagnostic("CDP001", f"invalid YAML: {message}", Location(rel, line, col), hint)
