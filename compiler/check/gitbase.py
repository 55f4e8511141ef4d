"""Read the base of a pull request straight from git objects: no checkout, no work tree.

`git rev-parse` resolves the ref, `git ls-tree -r` lists the YAML files below the
project's definitions/ at that commit, and one `git cat-file --batch` process streams
their blobs; the texts go through the same loader as files on disk
(`load_text_file`), so the base is read exactly as the head is.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Optional

from ..diagnostics import Diagnostic, DiagnosticError, Location
from ..gcpause import gc_paused
from ..load import Document, load_text_file
from ..project import LoadedProject, project_from_documents

YAML_SUFFIXES = (".yaml", ".yml")


@dataclass
class GitBase:
    ref: str  # as the user wrote it: origin/main, HEAD~1
    commit: str  # the full object name it resolved to
    project: Optional[LoadedProject]  # None when the base has no definitions/ at all
    prefix: str = ""  # where the project sits inside the repository

    @property
    def short(self) -> str:
        return self.commit[:12]


def _fail(message: str, hint: str) -> DiagnosticError:
    return DiagnosticError([Diagnostic("CDP902", message, Location(), hint)])


def _git(root: Path, *args: str, input: Optional[bytes] = None, check: bool = True) -> subprocess.CompletedProcess:
    try:
        result = subprocess.run(["git", "-C", str(root), *args], input=input, capture_output=True)
    except FileNotFoundError:
        raise _fail("git is not installed or not on PATH", "install git; `cdpc check --base` reads the base from git") from None
    if check and result.returncode != 0:
        detail = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise _fail(f"git {args[0]} failed: {detail[0] if detail else 'exit ' + str(result.returncode)}",
                    "check that --project is inside a git repository")
    return result


def resolve(root: Path, ref: str) -> tuple[str, str]:
    """(commit, prefix of the project inside the repository) or CDP902 (exit 2)."""
    inside = _git(root, "rev-parse", "--is-inside-work-tree", check=False)
    if inside.returncode != 0:
        raise _fail(f"{root} is not inside a git repository, so --base {ref} cannot be read",
                    "run cdpc check in a clone of the repository, or leave out --base")
    if ref.startswith("-"):
        raise _fail(f"base ref `{ref}` does not exist", "pass a branch, tag or commit, e.g. --base origin/main")
    found = _git(root, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}", check=False)
    if found.returncode != 0:
        raise _fail(f"base ref `{ref}` does not exist in this repository",
                    "fetch it first (`git fetch origin <branch>`; in GitHub Actions check out with fetch-depth: 0) "
                    "or pass an existing branch, tag or commit")
    prefix = _git(root, "rev-parse", "--show-prefix").stdout.decode().strip()
    return found.stdout.decode().strip(), prefix


def read_base(root: Path, ref: str, resolved: Optional[tuple[str, str]] = None) -> GitBase:
    """Load the project's definitions as they are at `ref` (validated, with lineage when sound)."""
    commit, prefix = resolved or resolve(root, ref)
    files = list_definition_files(root, commit, prefix)
    if files is None:
        return GitBase(ref, commit, None, prefix)
    blobs = read_blobs(root, [oid for _, oid in files])
    documents: list[Document] = []
    diagnostics: list[Diagnostic] = []
    with gc_paused():  # as load_definitions does for the working tree: once for all files
        for rel, oid in files:
            docs, diags = load_text_file(rel, blobs[oid])
            documents += docs
            diagnostics += diags
    return GitBase(ref, commit, project_from_documents(root, documents, diagnostics), prefix)


def list_definition_files(root: Path, commit: str, prefix: str) -> Optional[list[tuple[str, str]]]:
    """[(path relative to the project, blob id)] of the YAML below definitions/, in load order."""
    base = f"{prefix}definitions"
    out = _git(root, "ls-tree", "-r", "-z", "--full-tree", commit, "--", base).stdout
    entries = []
    for record in out.split(b"\0"):
        if not record:
            continue
        meta, _, path = record.partition(b"\t")
        mode, kind, oid = meta.decode().split()
        name = path.decode("utf-8", "surrogateescape")
        if kind != "blob" or mode == "120000" or not name.startswith(base + "/") or not name.endswith(YAML_SUFFIXES):
            continue
        entries.append((name[len(prefix):], oid))
    if not entries:
        exists = _git(root, "cat-file", "-e", f"{commit}:{base}", check=False)
        if exists.returncode != 0:
            return None
    # the order of compiler.load.definition_files: by path relative to definitions/
    return sorted(entries, key=lambda e: PurePosixPath(e[0]).relative_to("definitions").as_posix())


def read_blobs(root: Path, oids: list[str]) -> dict[str, bytes]:
    """Every blob in one `git cat-file --batch` round trip."""
    unique = list(dict.fromkeys(oids))
    if not unique:
        return {}
    out = _git(root, "cat-file", "--batch", input=("\n".join(unique) + "\n").encode()).stdout
    blobs: dict[str, bytes] = {}
    pos = 0
    for oid in unique:
        end = out.index(b"\n", pos)
        header = out[pos:end].decode().split()
        if len(header) != 3:
            raise _fail(f"git cat-file could not read object {oid}", "the repository may be incomplete; re-fetch it")
        size = int(header[2])
        blobs[oid] = out[end + 1:end + 1 + size]
        pos = end + 1 + size + 1  # content, then a newline
    return blobs


def read_file(root: Path, commit: str, path: str) -> Optional[bytes]:
    """One file at `commit` (path relative to the repository root), or None when absent."""
    result = _git(root, "cat-file", "blob", f"{commit}:{path}", check=False)
    return result.stdout if result.returncode == 0 else None


def repo_prefix(root: Path) -> str:
    """Where the project sits inside its git repository (`''` at the top, or outside git)."""
    try:
        result = subprocess.run(["git", "-C", str(root), "rev-parse", "--show-prefix"], capture_output=True)
    except FileNotFoundError:
        return ""
    return result.stdout.decode().strip() if result.returncode == 0 else ""
