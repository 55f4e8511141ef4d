"""Read every YAML document below definitions/, keeping file:line:col for every key and value.

The output is plain Python data plus a map from the path of each node (a tuple of keys
and list indexes) to its Location, so later stages can point at the exact spot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

from .diagnostics import Diagnostic, Location, WARNING
from .gcpause import gc_paused

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
    # Text scalars that do not start where their value does, by (line, col) of the value:
    # 1 for a one-line quoted scalar (the quote), None when the text spans lines (block or
    # folded), where no column inside it can be given. Plain one-line scalars: absent (0).
    text_shifts: dict[tuple[int, int], Optional[int]] = field(default_factory=dict)

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

    def text_loc(self, path: Path_, offset: int) -> Location:
        """Location of character `offset` of the text scalar at `path` (the value's start when
        the text spans lines)."""
        loc = self.loc(*path)
        shift = self.text_shifts.get((loc.line, loc.col), 0)
        if shift is None or path not in self.positions:
            return loc
        return Location(loc.file, loc.line, loc.col + shift + offset)


def definition_files(definitions_dir: Path) -> list[Path]:
    files = [p for p in definitions_dir.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()]
    return sorted(files, key=lambda p: p.relative_to(definitions_dir).as_posix())


def load_definitions(project_dir: Path) -> tuple[list[Document], list[Diagnostic]]:
    definitions_dir = project_dir / "definitions"
    documents: list[Document] = []
    diagnostics: list[Diagnostic] = []
    with gc_paused():  # once for all files: re-enabling per file costs more than it saves
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
    too_deep = _flow_too_deep(rel, text)
    if too_deep is not None:
        return [], [too_deep]
    diagnostics: list[Diagnostic] = []
    builder = _EventBuilder(rel, diagnostics)
    try:
        with gc_paused():
            for event in yaml.parse(text, Loader=_Loader):
                builder.feed(event)
    except yaml.YAMLError as exc:
        return [], [_syntax_diagnostic(rel, text, exc)]
    documents = builder.documents
    if not documents and not diagnostics:
        diagnostics.append(Diagnostic("CDP003", "file holds no YAML documents", Location(rel, 1, 1),
                                      "add a definition or delete the file", severity=WARNING))
    return documents, diagnostics


MAX_DEPTH = 64  # definitions nest a handful of levels; deeper input is an accident or an attack


def _flow_too_deep(rel: str, text: str) -> Optional[Diagnostic]:
    """cdpc's nesting limit, checked before the parser's: libyaml scans a flow collection ahead
    of the events (a `[` may start a key) and newer PyYAML versions refuse deep nesting there
    with their own message, so the builder's check alone would depend on the PyYAML version."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return None  # the common case: cannot be too deep
    depth, quote, line, col = 0, "", 1, 0
    for ch in text:
        col += 1
        if ch == "\n":
            line, col = line + 1, 0
            quote = "" if quote == "#" else quote
        elif quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"#":
            quote = ch
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return Diagnostic("CDP001", f"invalid YAML: nesting deeper than {MAX_DEPTH} levels",
                                  Location(rel, line, col), "definitions nest a few levels; flatten this value")
        elif ch in "]}":
            depth = max(depth - 1, 0)
    return None
_MERGE_TAG = "tag:yaml.org,2002:merge"
_NULL_TAG = "tag:yaml.org,2002:null"
_COLLECTION_TAGS = (None, "!", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")
_OPEN = object()  # an anchor whose collection is still being read


class _Frame:
    """An open mapping or sequence while its events stream in."""

    def __init__(self, data: Any, path: Path_, is_key: bool, anchor: Optional[str]):
        self.data, self.path, self.is_key, self.anchor = data, path, is_key, anchor
        self.key: Any = None  # a mapping's pending key, once read
        self.has_key = False

    def child_path(self) -> tuple[Path_, bool]:
        """Path of the next child, and whether that child is a mapping key."""
        if isinstance(self.data, list):
            return self.path + (len(self.data),), False
        if self.has_key:
            return self.path + (self.key,), False
        return self.path + ("<key>",), True


class _EventBuilder:
    """Builds Python data from the YAML event stream, recording every node's position.

    Working on events instead of composed nodes keeps memory flat and depth explicit:
    no recursion (nesting deeper than MAX_DEPTH is refused instead of crashing), and
    an alias shares the anchored value instead of copying it (no "billion laughs").
    """

    def __init__(self, file: str, diagnostics: list[Diagnostic]):
        self.file = file
        self.diagnostics = diagnostics
        self.documents: list[Document] = []
        self.resolver = _Loader("")
        self.index = -1
        self.doc = Document(file, 0, None)
        self.stack: list[_Frame] = []
        self.anchors: dict[str, Any] = {}
        self.empty = False
        self._tags: dict[str, str] = {}

    def feed(self, event: yaml.Event) -> None:
        handler = self._handlers.get(type(event))
        if handler is not None:  # stream start/end carry nothing
            handler(self, event)

    def _start_document(self, event: yaml.Event) -> None:
        self.index += 1
        self.doc, self.stack, self.anchors, self.empty = Document(self.file, self.index, None), [], {}, False

    def _end_document(self, event: yaml.Event) -> None:
        if not self.empty:
            self.documents.append(self.doc)

    def _open(self, event: yaml.Event) -> None:
        if len(self.stack) >= MAX_DEPTH:
            raise _problem(f"nesting deeper than {MAX_DEPTH} levels", event)
        if event.tag not in _COLLECTION_TAGS:
            raise _problem(f"unsupported tag {event.tag}", event)
        path, is_key = self.stack[-1].child_path() if self.stack else ((), False)
        if not is_key:
            self.doc.positions[path] = self._loc(event)
        if event.anchor:
            self.anchors[event.anchor] = _OPEN
        data: Any = {} if isinstance(event, yaml.MappingStartEvent) else []
        self.stack.append(_Frame(data, path, is_key, event.anchor))

    def _close(self, event: yaml.Event) -> None:
        frame = self.stack.pop()
        if frame.anchor:
            self.anchors[frame.anchor] = frame.data
        # A collection used as a mapping key (`? [a, b]`) becomes its text.
        self._attach(str(frame.data) if frame.is_key else frame.data, None)

    def _scalar(self, event: yaml.ScalarEvent) -> None:
        tag = event.tag
        if tag is None or tag == "!":
            tag = self._plain_tag(event.value) if event.implicit[0] else _STR_TAG
        if not self.stack and tag == _NULL_TAG and event.value == "":
            self.empty = True  # a `---` with nothing after it: no document
            return
        if tag == _MERGE_TAG and self.stack and self.stack[-1].child_path()[1]:
            raise _problem("YAML merge keys (`<<`) are not supported", event)
        value = event.value if tag == _STR_TAG else self._construct(tag, event)
        if event.style or event.start_mark.line != event.end_mark.line:
            one_line = event.style in ("'", '"') and event.start_mark.line == event.end_mark.line
            self.doc.text_shifts[(event.start_mark.line + 1, event.start_mark.column + 1)] = 1 if one_line else None
        if event.anchor:
            self.anchors[event.anchor] = value
        self._attach(value, self._loc(event))

    def _plain_tag(self, value: str) -> str:
        """YAML 1.1 implicit typing of an unquoted scalar; keys and types repeat, so cache them."""
        tag = self._tags.get(value)
        if tag is None:
            tag = self.resolver.resolve(yaml.ScalarNode, value, (True, False))
            if len(self._tags) < 10_000:
                self._tags[value] = tag
        return tag

    def _alias(self, event: yaml.AliasEvent) -> None:
        value = self.anchors.get(event.anchor, _MISSING)
        if value is _MISSING:
            raise _problem(f"alias `*{event.anchor}` names no anchor", event)
        if value is _OPEN:
            raise _problem(f"alias `*{event.anchor}` inside its own anchor", event)
        self._attach(value, self._loc(event))

    def _construct(self, tag: str, event: yaml.ScalarEvent) -> Any:
        constructor = self.resolver.yaml_constructors.get(tag)
        if constructor is None or tag not in _SCALAR_TAGS:
            raise _problem(f"unsupported tag {tag}", event)
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
        try:
            return constructor(self.resolver, node)
        except (ValueError, OverflowError, yaml.YAMLError) as exc:  # e.g. the "date" 2024-13-45
            self.diagnostics.append(Diagnostic(
                "CDP001", f"invalid value `{event.value}`: {getattr(exc, 'problem', None) or exc}", self._loc(event),
                "quote it to keep it as text, or fix the value"))
            return event.value

    def _attach(self, value: Any, loc: Optional[Location]) -> None:
        """Hand a finished node to its parent; `loc` is None for collections (placed at open)."""
        if not self.stack:
            self.doc.data = value
            if loc is not None:
                self.doc.positions[()] = loc
            return
        parent = self.stack[-1]
        path, is_key = parent.child_path()
        if is_key:
            self._set_key(parent, value, loc)
            return
        if isinstance(parent.data, list):
            parent.data.append(value)
        else:
            parent.data[parent.key] = value
            parent.has_key = False
        if loc is not None:
            self.doc.positions[path] = loc

    def _set_key(self, parent: _Frame, key: Any, loc: Optional[Location]) -> None:
        if not isinstance(key, (str, int, float, bool)) or key is None:
            key = str(key)
        loc = loc or self.doc.positions.get(parent.path) or Location(self.file, 1, 1)
        if key in parent.data:
            first = self.doc.key_positions[parent.path + (key,)]
            self.diagnostics.append(Diagnostic(
                "CDP004", f"duplicate key `{key}` (first defined at line {first.line})",
                loc, "remove one of the two; YAML keeps only the last"))
        self.doc.key_positions[parent.path + (key,)] = loc
        parent.key, parent.has_key = key, True

    def _loc(self, event: yaml.Event) -> Location:
        return Location(self.file, event.start_mark.line + 1, event.start_mark.column + 1)


_MISSING = object()
_STR_TAG = "tag:yaml.org,2002:str"
_EventBuilder._handlers = {
    yaml.DocumentStartEvent: _EventBuilder._start_document,
    yaml.DocumentEndEvent: _EventBuilder._end_document,
    yaml.MappingStartEvent: _EventBuilder._open,
    yaml.SequenceStartEvent: _EventBuilder._open,
    yaml.MappingEndEvent: _EventBuilder._close,
    yaml.SequenceEndEvent: _EventBuilder._close,
    yaml.ScalarEvent: _EventBuilder._scalar,
    yaml.AliasEvent: _EventBuilder._alias,
}
_SCALAR_TAGS = frozenset("tag:yaml.org,2002:" + t for t in
                         ("str", "int", "float", "bool", "null", "timestamp", "binary"))


def _problem(message: str, event: yaml.Event) -> yaml.MarkedYAMLError:
    return yaml.MarkedYAMLError(problem=message, problem_mark=event.start_mark)


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
    elif "merge keys" in message:
        hint = "write the keys out: cdpc does not read merge keys (`<<`)"
    elif "unsupported tag" in message:
        hint = "remove the tag: cdpc reads plain YAML values (text, numbers, booleans, dates, lists, mappings)"
    elif "alias" in message:
        hint = "define the anchor (`&name`) before the alias (`*name`), and not around it"
    elif "nesting deeper" in message:
        hint = "definitions nest a few levels; check for unbalanced brackets"
    elif "mapping values are not allowed" in message:
        hint = "quote values that contain `: `, or fix the indentation of this key"
    return Diagnostic("CDP001", f"invalid YAML: {message}", Location(rel, line, col), hint)
