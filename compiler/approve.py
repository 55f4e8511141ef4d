"""`cdpc approve`: record an approval of a definition's current data hash in approvals.yaml.

The approver is `--by`, else `git config user.email` (the identity the approval's
commit will carry: `cdpc check --base` counts an approval only from its approver's
own commit). `--kind project` approves the head's governance policy (its policy hash).

The file is edited as text, never re-dumped, so its comments, blank lines, quoting and
layout stay as they were: a new entry is one more line in the style of the entries
already there (flow `- {…}` lines by default), `approvals: []` becomes a block list,
and a second approver of the same hash and version is appended to that entry's
`approved_by`. The edit is verified by loading the new text before it is written
(atomically, through a temporary file and a rename).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import yaml

from .diagnostics import Diagnostic, DiagnosticError, Location
from .fingerprint import fingerprints
from .graph import node_id
from .load import Document, load_yaml_text
from .model import KIND_ORDER
from .model.approvals import APPROVABLE, Approvals
from .project import LoadedProject

DEFAULT_PATH = "definitions/governance/approvals.yaml"
NEW_FILE_HEADER = """\
# Governance council sign-offs, one entry per approved version and data hash.
# Written by `cdpc approve NAME --by EMAIL`; checked by `cdpc check`.
"""


class ApproveError(Exception):
    """A usage problem (unknown name, ambiguous name): the CLI turns it into exit 2."""


@dataclass
class Approved:
    path: str  # relative to the project root
    kind: str
    name: str
    version: str
    data_hash: str
    approver: str
    action: str  # created (the file) | added (an entry) | appended (to approved_by) | unchanged


def resolve_target(project: LoadedProject, name: str, kind: Optional[str]) -> str:
    """The kind of the definition NAME: --kind, else segment, else the one kind that has NAME."""
    defs = project.definitions
    if kind is not None:
        if name not in defs.by_kind(kind):
            raise ApproveError(_unknown(name, kind, list(defs.by_kind(kind))))
        return kind
    if name in defs.segments:
        return "segment"
    found = [k for k in KIND_ORDER if k in APPROVABLE and name in defs.by_kind(k)]
    if len(found) == 1:
        return found[0]
    if found:
        raise ApproveError(f"`{name}` is a {' and a '.join(found)}: pass --kind")
    raise ApproveError(_unknown(name, "segment", list(defs.segments)))


def _unknown(name: str, kind: str, names: list[str]) -> str:
    from .diagnostics import did_you_mean
    hint = did_you_mean(name, names)
    return f"no {kind} named `{name}`" + (f"; {hint}" if hint else "")


def check_approver(project: LoadedProject, person: str, approvers: Optional[list[str]] = None,
                   origin: str = "") -> str:
    """The approver as spelled in governance.approvers (compared case-insensitively), or CDP605.
    `approvers`: another list to check against (the base's, with `cdpc approve --base`)."""
    governance = project.definitions.project.governance
    if approvers is not None:
        listed = {a.casefold(): a for a in approvers}
        if person.casefold() in listed:
            return listed[person.casefold()]
        raise DiagnosticError([Diagnostic(
            "CDP605", f"`{person}` is not in governance.approvers on {origin} ({', '.join(approvers) or 'nobody'})",
            project.definitions.project.loc("governance", "approvers"),
            "`cdpc check --base` counts approvals only from the base's approvers")])
    listed = {a.casefold(): a for a in governance.approvers}
    if person.casefold() in listed:
        return listed[person.casefold()]
    where = project.definitions.project.loc("governance", "approvers")
    if not governance.approvers:
        message = f"`{person}` cannot approve: governance.approvers is empty, so nobody approves (and nothing needs approval)"
    else:
        message = f"`{person}` is not in governance.approvers ({', '.join(governance.approvers)})"
    raise DiagnosticError([Diagnostic("CDP605", message, where,
                                      "only listed approvers can approve; add people to governance.approvers "
                                      "in project.yaml through a reviewed pull request")])


def git_email(root: Path) -> Optional[str]:
    """`git config user.email` as git resolves it in `root` (None when unset or outside git's
    reach); raises DiagnosticError CDP901 when git is not installed."""
    try:
        result = subprocess.run(["git", "-C", str(root), "config", "user.email"], capture_output=True)
    except FileNotFoundError:
        raise DiagnosticError([Diagnostic(
            "CDP901", "no --by was given and git is not installed, so the approver cannot be read from "
            "`git config user.email`", Location(), "pass --by EMAIL")]) from None
    email = result.stdout.decode("utf-8", "replace").strip()
    return email if result.returncode == 0 and email else None


def default_approver(root: Path) -> str:
    email = git_email(root)
    if email is None:
        raise DiagnosticError([Diagnostic(
            "CDP901", "no --by was given and `git config user.email` is not set", Location(),
            "pass --by EMAIL, or set your identity: git config --global user.email you@example.com")])
    return email


def approve(project: LoadedProject, name: str, by: str, kind: Optional[str] = None,
            today: Optional[dt.date] = None, approvers: Optional[list[str]] = None, origin: str = "") -> Approved:
    kind = resolve_target(project, name, kind)
    approver = check_approver(project, by, approvers, origin)
    defs = project.definitions
    if kind == "project":  # a change of the governance policy: its hash, no version
        from .check.policy import head_policy
        data_hash, version = head_policy(project.root, defs.project).hash, ""
    else:
        data_hash = fingerprints(defs, project.lineage)[node_id(kind, name)].data_hash
        version = getattr(defs.by_kind(kind)[name], "version", None) or ""
    entry = {kind: name, **({"version": version} if version else {}), "hash": data_hash, "approved_by": [approver],
             "approved_at": (today or dt.date.today()).isoformat()}
    result = Approved("", kind, name, version, data_hash, approver, "added")

    approvals = defs.approvals
    if approvals is None or approvals._doc is None:
        rel = DEFAULT_PATH
        path = project.root / rel
        if path.exists():
            text = _read(path)
            new_text = _append_document(text, entry)
        else:
            text, new_text = None, NEW_FILE_HEADER + "kind: approvals\napprovals:\n  - " + _flow(entry) + "\n"
            result.action = "created"
    else:
        doc = approvals._doc
        rel = doc.file
        path = project.root / rel
        text = _read(path)
        same = [(i, a) for i, a in enumerate(approvals.approvals)
                if a.target == (kind, name) and a.hash == data_hash and (a.version or "") == version]
        if any(p.casefold() == approver.casefold() for _, a in same for p in a.approved_by):
            result.path, result.action = rel, "unchanged"
            return result
        if same:
            new_text = _append_approver(text, doc, same[-1][0], approver)
            result.action = "appended"
        else:
            new_text = _append_entry(text, doc, entry)
    _verify(rel, text, new_text, kind, name, data_hash, version, approver)
    _write(path, new_text, crlf=text is not None and "\r\n" in text)
    result.path = rel
    return result


# --------------------------------------------------------------------------- formatting


def _scalar(value: str) -> str:
    """Plain when YAML reads it back as the same text, else double-quoted."""
    if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.@+-]*", value):
        try:
            if yaml.safe_load(value) == value:
                return value
        except yaml.YAMLError:
            pass
    return json.dumps(value, ensure_ascii=False)


def _flow(entry: dict) -> str:
    parts = []
    for key, value in entry.items():
        if key == "hash":
            parts.append(f"hash: {json.dumps(value)}")
        elif key == "approved_by":
            parts.append(f"approved_by: [{', '.join(_scalar(v) for v in value)}]")
        elif key == "approved_at":
            parts.append(f"approved_at: {value}")
        else:
            parts.append(f"{key}: {_scalar(value)}")
    return "{" + ", ".join(parts) + "}"


def _block(entry: dict, indent: str) -> list[str]:
    """The entry as a block mapping; the first line goes after `- `."""
    lines = []
    for key, value in entry.items():
        if key == "hash":
            text = json.dumps(value)
        elif key == "approved_by":
            text = "[" + ", ".join(_scalar(v) for v in value) + "]"
        elif key == "approved_at":
            text = value
        else:
            text = _scalar(value)
        lines.append(f"{key}: {text}")
    return [lines[0]] + [indent + line for line in lines[1:]]


# --------------------------------------------------------------------------- text edits


class _Text:
    def __init__(self, text: str):
        self.text = text.replace("\r\n", "\n")
        self.lines = self.text.split("\n")
        self.starts = [0]
        for line in self.lines[:-1]:
            self.starts.append(self.starts[-1] + len(line) + 1)

    def offset(self, loc: Location) -> int:
        return self.starts[loc.line - 1] + loc.col - 1

    def line_end(self, line: int) -> int:
        """Offset of the newline ending 1-based `line` (or of the end of text)."""
        return self.starts[line - 1] + len(self.lines[line - 1])


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_filler(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _matching_bracket(text: str, start: int) -> int:
    """Offset of the `]` or `}` closing the bracket at `start`, skipping quoted text and comments."""
    depth, i, quote = 0, start, None
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\" and quote == '"':
                i += 1
            elif ch == quote:
                if quote == "'" and text[i + 1:i + 2] == "'":
                    i += 1
                else:
                    quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#" and text[i - 1] in " \t\n":
            i = text.find("\n", i)
            if i < 0:
                break
            continue
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError("unbalanced brackets")


def _block_end(t: _Text, first_line: int, dash_indent: int) -> int:
    """The last content line (1-based) of a block sequence whose dashes sit at `dash_indent`."""
    last = first_line
    for number in range(first_line + 1, len(t.lines) + 1):
        line = t.lines[number - 1]
        if _is_filler(line):
            continue
        if line.startswith(("---", "...")) or _indent(line) < dash_indent:
            break
        if _indent(line) == dash_indent and not line.lstrip(" ").startswith("- ") and line.strip() != "-":
            break
        last = number
    return last


def _insert_after_line(t: _Text, line: int, new_lines: list[str]) -> str:
    at = t.line_end(line)
    return t.text[:at] + "".join("\n" + n for n in new_lines) + t.text[at:]


def _append_entry(text: str, doc: Document, entry: dict) -> str:
    t = _Text(text)
    key_loc = doc.key_positions.get(("approvals",))
    value_loc = doc.positions.get(("approvals",))
    if key_loc is None or value_loc is None:
        return _append_key(t, doc, entry)
    start = t.offset(value_loc)
    key_indent = " " * (key_loc.col - 1)
    if t.text[start] == "[":
        end = _matching_bracket(t.text, start)
        if t.text[start + 1:end].strip():  # a non-empty flow list: one more element
            sep = "" if t.text[start + 1:end].rstrip().endswith(",") else ","
            return t.text[:end].rstrip() + f"{sep} " + _flow(entry) + t.text[end:]
        # `approvals: []` (maybe with a comment after it): the key keeps its line, the list goes below it
        line = value_loc.line
        before = t.text[:start].rstrip(" ")
        after = t.text[end + 1:t.line_end(line)]
        rest = t.text[t.line_end(line):]
        head = before + ((" " + after.lstrip(" ")) if after.strip() else "")
        return head + f"\n{key_indent}  - " + _flow(entry) + rest
    # a block list: one more item after the last one, in its style
    items = [doc.positions[("approvals", i)] for i in range(len(doc.data.get("approvals") or []))]
    dash_col = value_loc.col - 1
    last_line = _block_end(t, items[-1].line if items else value_loc.line, dash_col)
    dash = " " * dash_col
    last_item = items[-1]
    if t.text[t.offset(last_item)] == "{":
        return _insert_after_line(t, last_line, [f"{dash}- " + _flow(entry)])
    inner = " " * (last_item.col - 1)
    block = _block(entry, inner)
    return _insert_after_line(t, last_line, [dash + "- " + block[0], *block[1:]])


def _append_key(t: _Text, doc: Document, entry: dict) -> str:
    """`kind: approvals` without an `approvals:` key: add it at the end of the document."""
    root = doc.positions.get((), Location(doc.file, 1, 1))
    indent = " " * (root.col - 1)
    end = len(t.lines)
    for number in range(root.line + 1, len(t.lines) + 1):
        if t.lines[number - 1].startswith(("---", "...")):
            end = number - 1
            break
    while end > root.line and _is_filler(t.lines[end - 1]):
        end -= 1
    return _insert_after_line(t, end, [f"{indent}approvals:", f"{indent}  - " + _flow(entry)])


def _append_approver(text: str, doc: Document, index: int, approver: str) -> str:
    t = _Text(text)
    loc = doc.positions[("approvals", index, "approved_by")]
    start = t.offset(loc)
    if t.text[start] == "[":
        end = _matching_bracket(t.text, start)
        inner = t.text[start + 1:end]
        sep = ", " if inner.strip() else ""
        return t.text[:start + 1] + inner.rstrip() + sep + _scalar(approver) + t.text[end:]
    count = len(doc.data["approvals"][index]["approved_by"])
    last = doc.positions[("approvals", index, "approved_by", count - 1)]
    dash_col = loc.col - 1
    end_line = _block_end(t, last.line, dash_col)
    return _insert_after_line(t, end_line, [" " * dash_col + "- " + _scalar(approver)])


def _append_document(text: str, entry: dict) -> str:
    """approvals.yaml exists but holds no approvals document (only comments): add one."""
    body = text.replace("\r\n", "\n")
    if body and not body.endswith("\n"):
        body += "\n"
    return body + "kind: approvals\napprovals:\n  - " + _flow(entry) + "\n"


# --------------------------------------------------------------------------- verify and write


def _verify(rel: str, old: Optional[str], new: str, kind: str, name: str, data_hash: str, version: str,
            approver: str) -> None:
    """The edited text must load, keep every other document as it was, and hold the approval."""
    docs, diags = load_yaml_text(rel, new)
    problems = [d for d in diags if d.is_error]
    before = load_yaml_text(rel, old.replace("\r\n", "\n"))[0] if old else []
    others_before = [d.data for d in before if not _is_approvals(d)]
    others_after = [d.data for d in docs if not _is_approvals(d)]
    ok = not problems and others_before == others_after
    if ok:
        found = [d for d in docs if _is_approvals(d)]
        try:
            model = Approvals.model_validate(found[0].data) if found else None
        except Exception:  # noqa: BLE001 - a failed edit is reported below, whatever pydantic says
            model = None
        ok = model is not None and any(
            a.target == (kind, name) and a.hash == data_hash and (a.version or "") == version
            and approver in a.approved_by
            for a in model.approvals)
    if not ok:
        raise RuntimeError(f"editing {rel} did not give a valid approvals file; it was left as it was "
                           "(add the entry by hand, or report this with the file)")


def _is_approvals(doc: Document) -> bool:
    return isinstance(doc.data, dict) and doc.data.get("kind") == "approvals"


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


def _write(path: Path, text: str, crlf: bool = False) -> None:
    if crlf:
        text = text.replace("\n", "\r\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=".approvals-", suffix=".yaml", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        if path.exists():
            os.chmod(temp, path.stat().st_mode & 0o777)
        else:
            os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
