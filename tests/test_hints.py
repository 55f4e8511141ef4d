"""Every error cdpc reports says what to do about it: each Diagnostic of severity error built
in compiler/ passes a hint that cannot be empty (checked on the source, so a code that only a
rare input produces is covered too)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "compiler"
# constructor -> (position of its hint argument, of its severity argument or None)
BUILDERS = {"Diagnostic": (3, 4), "error": (3, None), "SnippetError": (2, None), "Reason": (2, None)}
MAYBE_EMPTY = {"did_you_mean"}  # helpers that return "" when they have nothing to say


def _name(func: ast.expr) -> str:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _never_empty(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and node.value.strip() != ""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.Constant) and str(v.value).strip() for v in node.values)
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
        return _never_empty(node.values[-1])
    if isinstance(node, ast.IfExp):
        return _never_empty(node.body) and _never_empty(node.orelse)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _never_empty(node.left) or _never_empty(node.right)
    if isinstance(node, ast.Call):
        return _name(node.func) not in MAYBE_EMPTY
    return isinstance(node, (ast.Name, ast.Attribute, ast.Subscript))  # a hint computed elsewhere


def _is_warning(call: ast.Call, position) -> bool:
    severity = next((k.value for k in call.keywords if k.arg == "severity"), None)
    if severity is None and position is not None and len(call.args) > position:
        severity = call.args[position]
    return severity is not None and _name(severity) in ("WARNING",) or (
        isinstance(severity, ast.Constant) and severity.value == "warning")


def _error_constructions():
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _name(node.func) in BUILDERS:
                hint_at, severity_at = BUILDERS[_name(node.func)]
                if _name(node.func) == "error" and not (node.args and isinstance(node.args[0], ast.Constant)):
                    continue  # not validate's error(code, ...)
                if not _is_warning(node, severity_at):
                    yield f"{path.relative_to(PACKAGE.parent)}:{node.lineno}", node, hint_at


def _hint_of(call: ast.Call, position: int):
    keyword = next((k.value for k in call.keywords if k.arg == "hint"), None)
    return keyword if keyword is not None else call.args[position] if len(call.args) > position else None


def test_the_scan_finds_the_constructors():
    assert len(list(_error_constructions())) > 100


@pytest.mark.parametrize("where,call,position", list(_error_constructions()), ids=lambda v: v if isinstance(v, str) else "")
def test_every_error_has_a_hint(where, call, position):
    hint = _hint_of(call, position)
    assert hint is not None and _never_empty(hint), f"{where}: an error without a hint (or one that can be empty)"
