"""Loaded documents -> typed definitions; pydantic's errors become located Diagnostics."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import ValidationError

from ..diagnostics import Diagnostic, Location, closest, did_you_mean
from ..load import Document
from . import KINDS, Definitions, kinds
from .base import DURATION_RE, NAME_RE, SEMVER_RE
from .contract import FIELD_TYPES, field_type_hint

# Our own validators raise ValueError("cdpc_<what>"); these say it in words.
_CUSTOM = {
    "cdpc_name": ("CDP104", "invalid name {value!r}: use lowercase letters, digits and `_`, starting with a letter (at most 63)", "for example `spend_365d`"),
    "cdpc_semver": ("CDP105", "invalid version {value!r}", "use MAJOR.MINOR.PATCH, quoted if YAML reads it as a number: \"1.0.0\""),
    "cdpc_duration": ("CDP107", "invalid duration {value!r}", "an integer and a unit s, m, h or d, e.g. `24h` or `730d`"),
    "cdpc_field_type": ("CDP108", "unknown field type {value!r}", "one of string, integer, bigint, double, decimal(p,s), boolean, date, timestamp"),
    "cdpc_relation": ("CDP103", "relation {value!r} must be `schema.table`", "for example `raw.bookings`"),
    "cdpc_attribute_form": ("CDP103", "an attribute needs exactly one of `aggregate`, `expression` or `pick`", "keep one form per attribute; split it in two otherwise"),
    "cdpc_attribute_source": ("CDP102", "an `aggregate` attribute needs a `source` contract", "add `source: <contract>`"),
    "cdpc_attribute_extra": ("CDP103", "`source`, `where` and `default` belong to `aggregate` attributes only", "remove them or use `aggregate`"),
    "cdpc_signers_required": ("CDP102", "`require_signed: true` needs `allowed_signers`: the file of the keys that may sign approvals", "add `allowed_signers: governance/allowed_signers` (git's allowed-signers format, path relative to the project)"),
    "cdpc_approval_version": ("CDP102", "an approval of a versioned definition needs its `version`", "run `cdpc approve` instead of writing entries by hand"),
    "cdpc_expectation_empty": ("CDP102", "an expectation needs `rows`, `contains` or `lacks`", "`rows: [...]` for exactly these rows, `contains: [...]` for at least these, `lacks: [...]` for none of these"),
    "cdpc_expectation_mixed": ("CDP103", "`rows` says the table holds exactly these rows: it does not go with `contains` or `lacks`", "keep `rows`, or write `contains` and `lacks`"),
    "cdpc_expect_empty": ("CDP102", "`expect` names no table", "expect rows of at least one table: staged, rejected, map, conflicts, profiles, consent, segments or syncs"),
    "cdpc_approval_target": ("CDP103", "an approval names exactly one definition, e.g. `segment: <name>`", "write one entry per approved definition"),
}


def build_definitions(documents: list[Document]) -> tuple[Definitions | None, list[Diagnostic]]:
    diagnostics: list[Diagnostic] = []
    parsed: dict[str, list] = {kind: [] for kind in KINDS}
    failed: dict[str, set[str]] = {}
    for doc in documents:
        model = _build_one(doc, diagnostics)
        if model is not None:
            parsed[model.kind].append(model)
        elif _kind_of(doc) is not None:  # reported; still known by name to the rules
            failed.setdefault(_kind_of(doc), set()).add(_name_of(doc))
    projects = parsed["project"]
    if not projects:
        if not any(isinstance(d.data, dict) and d.data.get("kind") == "project" for d in documents):
            diagnostics.append(Diagnostic("CDP007", "no `kind: project` definition found under definitions/",
                                          Location("definitions/project.yaml"),
                                          "create definitions/project.yaml with `kind: project` and `name:`"))
        return None, diagnostics
    for extra in projects[1:]:
        diagnostics.append(Diagnostic("CDP008", f"second project definition `{extra.name}` (the first is in {projects[0].file})",
                                      extra.loc(), "a project has exactly one `kind: project` document"))
    defs = Definitions(project=projects[0], failed=failed)
    for kind in (k.name for k in kinds() if k.definition and not k.single):
        target = defs.by_kind(kind)
        for model in sorted(parsed[kind], key=lambda m: (m.name, m.file)):
            if model.name in target:
                first = target[model.name]
                diagnostics.append(Diagnostic("CDP106", f"{kind} `{model.name}` is defined twice (first at {first.loc('name')})",
                                              model.loc("name"), "rename one of them; names are unique within a kind"))
                continue
            target[model.name] = model
    if parsed["approvals"]:
        defs.approvals = parsed["approvals"][0]
    return defs, diagnostics


def _kind_of(doc: Document) -> str | None:
    kind = doc.data.get("kind") if isinstance(doc.data, dict) else None
    return kind if isinstance(kind, str) and kind in KINDS else None


def _name_of(doc: Document) -> str:
    """The name a document that failed to model declares, or "" when it has no valid one
    (then it may be any definition of its kind)."""
    name = doc.data.get("name")
    return name if isinstance(name, str) and NAME_RE.match(name) else ""


def _build_one(doc: Document, diagnostics: list[Diagnostic]) -> Any:
    data = doc.data
    if not isinstance(data, dict) or "kind" not in data:
        diagnostics.append(Diagnostic("CDP005", "a definition must be a mapping with a `kind:` key", doc.loc(),
                                      "start the document with e.g. `kind: contract`"))
        return None
    kind = data["kind"]
    if not isinstance(kind, str) or kind not in KINDS:
        diagnostics.append(Diagnostic("CDP006", f"unknown kind `{kind}`", doc.loc("kind"),
                                      did_you_mean(str(kind), KINDS) or "expected one of: " + ", ".join(f"`{k}`" for k in KINDS)))
        return None
    try:
        model = KINDS[kind].model_validate(data)
    except ValidationError as exc:
        diagnostics.extend(_from_validation_error(doc, exc, KINDS[kind]))
        return None
    model._doc = doc
    return model


def _from_validation_error(doc: Document, exc: ValidationError, model_cls: type) -> list[Diagnostic]:
    out = []
    for err in exc.errors(include_url=False):
        path = _document_path(doc, err["loc"])
        out.append(_one_error(doc, path, err, model_cls))
    return out


def _document_path(doc: Document, loc: tuple) -> tuple:
    """Pydantic's loc can hold union branch names (`str`, `dict[str,str]`): keep real keys only."""
    path: tuple = ()
    for part in loc:
        if path + (part,) in doc.positions or path + (part,) in doc.key_positions:
            path += (part,)
        elif isinstance(part, str) and part in ("__root__",):
            continue
    return path if path or not loc else path + (loc[-1],) if len(loc) == 1 else path


def _one_error(doc: Document, path: tuple, err: dict, model_cls: type) -> Diagnostic:
    kind, where = err["type"], ".".join(str(p) for p in err["loc"] if not _is_branch(p))
    value = err.get("input")
    message = str(err.get("msg", ""))
    if kind == "extra_forbidden":
        key = err["loc"][-1]
        allowed = _allowed_keys(model_cls, err["loc"][:-1])
        close = closest(str(key), allowed)
        return Diagnostic("CDP101", f"unknown key `{key}`" + (f" in `{where.rsplit('.', 1)[0]}`" if "." in where else ""),
                          doc.key_loc(*path), f"did you mean `{close}`?" if close else
                          "remove it" + ("; the keys here: " + ", ".join(f"`{k}`" for k in allowed) if allowed else ""))
    if kind == "missing":
        key = err["loc"][-1]
        mapping = path[:-1] if path and path[-1] == key else path
        expected = _expected(model_cls, err["loc"])
        # point at the mapping that lacks the key: its own key when it has one (`pick:`), else its start
        where_ = doc.key_positions.get(mapping) or doc.loc(*mapping)
        return Diagnostic("CDP102", f"missing required key `{key}`" + (f" in `{where.rsplit('.', 1)[0]}`" if "." in where else ""),
                          where_, f"add `{key}:`" + (f" ({expected})" if expected else ""))
    if err["loc"][-1:] == ("version",) and not isinstance(value, str):
        message = "cdpc_semver"
    for tag, (code, text, hint) in _CUSTOM.items():
        if tag in message:
            hint = field_type_hint(value) if tag == "cdpc_field_type" else hint
            return Diagnostic(code, text.format(value=value), doc.loc(*path), hint)
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        return Diagnostic("CDP103", f"`{where}`: {value!r} is not allowed", doc.loc(*path),
                          did_you_mean(str(value), [e.strip(" '") for e in expected.replace(" or ", ",").split(",")]) or f"expected {expected}")
    return Diagnostic("CDP103", f"`{where}`: {message.lower()} (got {_short(value)})", doc.loc(*path), _type_hint(kind))


# What a key takes, where its JSON Schema alone would say too little.
_KEY_FORMS = {
    "relation": "`schema.table`, e.g. `raw.orders`",
    "type": "one of " + ", ".join(FIELD_TYPES),
    "source": "the name of a contract",
    "segment": "the name of a segment",
    "purpose": "a purpose that a consent declares",
    "purpose_field": "a field of the source contract",
    "granted_field": "a boolean field of the source contract",
    "time_field": "a date or timestamp field of the source contract",
    "field": "a field name, or a map of source -> field",
    "from": "a list of identity-source contracts, highest priority first",
    # required in one kind only (a contract's fields, the identity's identifiers and sources, a consent's purposes)
    "fields": "a mapping of field name -> `{type: ...}`",
    "identifiers": "a list of `{type: <identifier type>, normalize: ...}`, highest priority first",
    "sources": "a mapping of contract -> `{<identifier type>: <field>}`",
    "purposes": "a mapping of purpose -> `{channels: [...]}`",
}
_PATTERN_FORMS = {
    NAME_RE.pattern: "a name: lowercase letters, digits and `_`",
    SEMVER_RE.pattern: 'a version MAJOR.MINOR.PATCH, e.g. "1.0.0"',
    DURATION_RE.pattern: "a duration such as `24h` or `730d`",
}


def _expected(model_cls: type, loc: tuple) -> str:
    """What the key at `loc` takes, in words: its allowed values when it has a set of them."""
    key = loc[-1]
    if _KEY_FORMS.get(key):
        return _KEY_FORMS[key]
    schema = _json_schema(model_cls)
    node: Any = schema
    for part in loc:
        node = _resolve(schema, node)
        node = next((b for b in map(lambda b: _resolve(schema, b), node.get("anyOf", [])) if b.get("type") != "null"), node)
        if isinstance(part, int) or _is_branch(part):
            node = node.get("items", node)
        elif part in node.get("properties", {}):
            node = node["properties"][part]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            return ""
    return _describe(schema, node)


def _describe(schema: dict, node: Any, depth: int = 0) -> str:
    node = _resolve(schema, node)
    if not isinstance(node, dict) or depth > 3:
        return ""
    if "enum" in node:
        return "one of " + ", ".join(f"`{v}`" for v in node["enum"])
    if "const" in node:
        return f"`{node['const']}`"
    branches = [b for b in node.get("anyOf", []) if _resolve(schema, b).get("type") != "null"]
    if branches:
        return " or ".join(d for d in (_describe(schema, b, depth + 1) for b in branches) if d)
    kind = node.get("type")
    if kind == "string":
        return _PATTERN_FORMS.get(node.get("pattern", ""), "a text")
    if kind == "array":
        items = _describe(schema, node.get("items", {}), depth + 1)
        return "a list" + (f" of: {items.removeprefix('one of ')}" if items and items != "a text" else "")
    if kind == "object":
        required = node.get("required", [])
        if node.get("properties"):
            return "a mapping" + (" with keys " + ", ".join(f"`{k}`" for k in required) if required else "")
        return "a mapping of names to values"
    return {"boolean": "true or false", "integer": "a whole number", "number": "a number"}.get(kind, "")


def _resolve(schema: dict, node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = schema.get("$defs", {}).get(node["$ref"].rsplit("/", 1)[-1], {})
    return node


@lru_cache(maxsize=None)
def _json_schema(model_cls: type) -> dict:
    return model_cls.model_json_schema(by_alias=True)


def _is_branch(part: Any) -> bool:
    return isinstance(part, str) and ("[" in part or part in ("str", "int", "float", "bool", "date", "datetime", "function-after"))


def _allowed_keys(model_cls: type, loc: tuple) -> list[str]:
    """Walk the model's fields along loc to list the keys allowed where the unknown one was."""
    from pydantic import BaseModel

    current: Any = model_cls
    for part in loc:
        if isinstance(part, int) or _is_branch(part):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        info = current.model_fields.get(part) or next((f for f in current.model_fields.values() if f.alias == part), None)
        if info is not None:  # otherwise `part` is a key of a dict-valued field: stay on its model
            current = _inner_model(info.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or n for n, f in current.model_fields.items()]
    return []


def _inner_model(annotation: Any) -> Any:
    from pydantic import BaseModel
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _type_hint(kind: str) -> str:
    if kind.startswith("bool"):
        return "use true or false"
    if kind.startswith("int"):
        return "use a whole number"
    if kind.startswith(("list", "tuple")):
        return "use a YAML list, e.g. `[a, b]`"
    if kind.startswith(("dict", "model")):
        return "use a YAML mapping of `key: value` lines"
    if kind.startswith("string"):
        return "quote the value to make it text"
    if kind in ("greater_than_equal", "greater_than", "less_than", "less_than_equal"):
        return "use a number in the range the message gives"
    if kind.startswith("too_short"):
        return "give at least one entry"
    return "see docs/reference.md for the form of this key"
