"""Where an approval came from: the commits between the base and HEAD (docs/governance.md, "When an approval counts").

An approval (one person on one approvals.yaml entry) that the base already holds was
merged through an earlier reviewed change and counts. One added in the change counts
only when some commit in `base..HEAD` that added it

1. is authored by that approver (author email, case-insensitively): CDP611 otherwise;
2. under the base's `require_signed: true`, carries an SSH signature that git verifies
   (`%G?` = G) against the base's allowed-signers file, written to a temporary file,
   for a principal that is that approver: CDP612 (unsigned, bad, uncheckable) or
   CDP613 (a key the file does not list, or listed for someone else) otherwise;

and the approver authored no commit in the change that touches a file holding the
approved definition, anything upstream of it, or project.yaml (four eyes: CDP614). An
approval in the working tree that no commit added does not count (CDP615).

Git is asked twice at most, and only when an added approval is to be judged: one
`git log` for the commits that touched the approvals files (with their signatures) and
one for the files each author touched; the files themselves come through one
`git cat-file --batch`.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Optional

from ..load import load_yaml_text
from ..model.approvals import APPROVABLE
from .gitbase import _fail, _git
from .policy import Policy

Key = tuple[str, str, str, str, str]  # kind, name, version, hash, approver (casefolded)

CODE_AUTHOR, CODE_SIGNATURE, CODE_SIGNER, CODE_FOUR_EYES, CODE_UNCOMMITTED = (
    "CDP611", "CDP612", "CDP613", "CDP614", "CDP615")


@dataclass(frozen=True)
class Commit:
    sha: str
    author: str  # email
    signature: str  # git's %G?: G good, B bad, U unknown key, N none, E cannot check, X Y R expired/revoked
    signer: str  # %GS: the principal the allowed-signers file gives the key
    key: str  # %GK

    @property
    def short(self) -> str:
        return self.sha[:12]


@dataclass(frozen=True)
class Refusal:
    code: str
    why: str
    hint: str


def approval_key(kind: str, name: str, version: Optional[str], hash_: str, person: str) -> Key:
    return (kind, name, version or "", hash_, person.casefold())


def entries_in(rel: str, text: str) -> set[Key]:
    """Every (target, version, hash, approver) of the approvals documents in one file's text."""
    return entries_of(load_yaml_text(rel, text)[0])


def entries_of(docs) -> set[Key]:
    """Every (target, version, hash, approver) of the approvals documents among `docs`;
    leniently: entries that do not parse are skipped (validate reports them at the head)."""
    found: set[Key] = set()
    for doc in docs:
        data = doc.data
        if not isinstance(data, dict) or data.get("kind") != "approvals" or not isinstance(data.get("approvals"), list):
            continue
        for entry in data["approvals"]:
            if not isinstance(entry, dict):
                continue
            targets = [k for k in APPROVABLE if isinstance(entry.get(k), str)]
            people = entry.get("approved_by")
            if len(targets) != 1 or not isinstance(people, list):
                continue
            version = entry.get("version")
            for person in people:
                if isinstance(person, str):
                    found.add(approval_key(targets[0], entry[targets[0]], None if version is None else str(version),
                                           str(entry.get("hash")), person))
    return found


class Provenance:
    """What `base..HEAD` says about the approvals of the head."""

    def __init__(self, root: Path, base_commit: str, prefix: str, policy: Policy, approval_files: list[str],
                 base_entries: set[Key]):
        self.root = Path(root)
        self.base = base_commit
        self.prefix = prefix  # the project's folder inside the repository ("" at the top)
        self.policy = policy
        self.files = sorted(set(approval_files))  # relative to the project
        self.base_entries = base_entries

    # ---------------------------------------------------------------- verdicts

    def refusal(self, key: Key, guarded: dict[str, str]) -> Optional[Refusal]:
        """None when the approval counts; else why not. `guarded`: the files (relative to the
        project) whose authors may not approve it, each with what it holds, for the message."""
        if key in self.base_entries:
            return None  # merged through an earlier reviewed change
        person = key[4]
        adders = self.adders.get(key, [])
        if not adders:
            return Refusal(CODE_UNCOMMITTED, "no commit between the base and HEAD adds it (it is not committed)",
                           "the approver commits approvals.yaml and pushes; check reads approvals from commits")
        verdicts = [self._commit_refusal(c, person) for c in adders]
        if all(v is not None for v in verdicts):
            return verdicts[-1]
        touched = self.authored.get(person, {})
        for path in sorted(guarded):
            if path in touched:
                return Refusal(CODE_FOUR_EYES, f"{person} authored commit {touched[path][:12]} of this change, which "
                               f"edits {path} ({guarded[path]}): an author does not approve their own change (four eyes)",
                               "another approver reviews and approves it; or move that edit to a pull request "
                               "of its own, by someone else")
        return None

    def _commit_refusal(self, commit: Commit, person: str) -> Optional[Refusal]:
        redo = (f"{person} runs `cdpc approve` on the branch and commits approvals.yaml as themselves"
                + (", signed (`git commit -S` with their SSH key in the allowed-signers file)"
                   if self.policy.require_signed else "") + "; remove the entry that commit added")
        if commit.author.casefold() != person:
            return Refusal(CODE_AUTHOR, f"commit {commit.short} that adds it is authored by {commit.author}, "
                           f"not by {person}", redo)
        if not self.policy.require_signed:
            return None
        if self.policy.signers is None:
            return Refusal(CODE_SIGNER, f"the base requires signed approvals but has no allowed-signers file "
                           f"`{self.policy.allowed_signers}`, so no signature can be verified",
                           "add the council's public keys to that file through a reviewed pull request first")
        status = commit.signature
        if status == "G":
            if commit.signer.casefold() == person:
                return None
            return Refusal(CODE_SIGNER, f"commit {commit.short} is signed with a key that the base's "
                           f"{self.policy.allowed_signers} lists for {commit.signer or 'someone else'}, "
                           f"not for {person}", redo)
        if status == "N":
            return Refusal(CODE_SIGNATURE, f"commit {commit.short} that adds it is not signed, and the base "
                           "requires signed approvals (require_signed: true)", redo)
        if status in ("U", "X", "Y", "R"):
            what = {"U": "a key that the base's allowed-signers file does not list",
                    "X": "an expired signature", "Y": "an expired key", "R": "a revoked key"}[status]
            return Refusal(CODE_SIGNER, f"commit {commit.short} is signed with {what}"
                           + (f" ({commit.key})" if commit.key else "")
                           + f" ({self.policy.allowed_signers} on the base)", redo)
        if status == "B":
            return Refusal(CODE_SIGNATURE, f"commit {commit.short} carries a bad signature (it does not match "
                           "the commit)", redo)
        return Refusal(CODE_SIGNATURE, f"git could not check the signature of commit {commit.short} "
                       "(is ssh-keygen installed? SSH signatures only)", "run check where ssh-keygen is on PATH; " + redo)

    # ---------------------------------------------------------------- git

    def _repo_path(self, rel: str) -> str:
        return f"{self.prefix}{rel}"

    def _require_history(self) -> None:
        shallow = _git(self.root, "rev-parse", "--is-shallow-repository").stdout.decode().strip()
        if shallow == "true":
            raise _fail("this clone is shallow: the commits between the base and HEAD that added approvals "
                        "cannot be read", "fetch the whole history (`git fetch --unshallow`; in GitHub Actions "
                        "check out with fetch-depth: 0)")

    @cached_property
    def adders(self) -> dict[Key, list[Commit]]:
        """Per approval, the commits of `base..HEAD` that added it, oldest first."""
        self._require_history()
        paths = [self._repo_path(f) for f in self.files]
        if not paths:
            return {}
        listed = _git(self.root, "log", "--format=%H", "--topo-order", "--reverse", f"{self.base}..HEAD",
                      "--", *(f":(top){p}" for p in paths)).stdout.decode().split()
        if not listed:
            return {}
        commits = self._describe(listed)
        objects = [f"{sha}:{p}" for c in commits for sha in (c[0].sha, *c[1]) for p in paths]
        blobs = _batch(self.root, objects)
        texts: dict[str, set[Key]] = {}

        def entries_at(sha: str) -> set[Key]:
            if sha not in texts:
                found: set[Key] = set()
                for path, rel in zip(paths, self.files):
                    blob = blobs.get(f"{sha}:{path}")
                    if blob is not None:
                        found |= entries_in(rel, blob.decode("utf-8", "replace"))
                texts[sha] = found
            return texts[sha]

        out: dict[Key, list[Commit]] = {}
        for commit, parents in commits:
            before = set().union(*(entries_at(p) for p in parents)) if parents else set()
            for key in entries_at(commit.sha) - before:
                out.setdefault(key, []).append(commit)
        return out

    def _describe(self, shas: list[str]) -> list[tuple[Commit, list[str]]]:
        fmt = "%x1e%H%x1f%P%x1f%ae%x1f%G?%x1f%GS%x1f%GK" if self.policy.require_signed else "%x1e%H%x1f%P%x1f%ae"
        config: list[str] = []
        temp = None
        if self.policy.require_signed and self.policy.signers is not None:
            handle, temp = tempfile.mkstemp(prefix="cdpc-allowed-signers-")
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(self.policy.signers)
            config = ["-c", "gpg.format=ssh", "-c", f"gpg.ssh.allowedSignersFile={temp}"]
        try:
            result = _git(self.root, *config, "show", "-s", f"--format={fmt}", *shas)
        finally:
            if temp:
                os.unlink(temp)
        described = {}
        for record in result.stdout.decode("utf-8", "replace").split("\x1e")[1:]:
            parts = record.rstrip("\n").split("\x1f")
            parts += [""] * (6 - len(parts))
            sha, parents, author, status, signer, key = parts[:6]
            described[sha] = (Commit(sha, author, status or "N", signer, key), parents.split())
        return [described[sha] for sha in shas if sha in described]  # oldest first, as listed

    @cached_property
    def authored(self) -> dict[str, dict[str, str]]:
        """Per author (casefolded), the files (relative to the project) their commits of the
        change touch, each with the first such commit. A merge counts for what it changes
        beyond its parents (its conflict resolutions), not for what it merges."""
        self._require_history()
        out = _git(self.root, "log", "--format=%x1e%H%x1f%ae", "--cc", "--name-only", "--no-renames",
                   f"{self.base}..HEAD", "--", f":(top){self.prefix}").stdout.decode("utf-8", "surrogateescape")
        found: dict[str, dict[str, str]] = {}
        for record in out.split("\x1e")[1:]:
            head, _, names = record.partition("\n")
            sha, _, author = head.partition("\x1f")
            touched = found.setdefault(author.strip().casefold(), {})
            for name in names.splitlines():
                name = name.strip()
                if name and name.startswith(self.prefix):
                    touched.setdefault(name[len(self.prefix):], sha)
        return found


def _batch(root: Path, objects: list[str]) -> dict[str, Optional[bytes]]:
    """`<commit>:<path>` -> its blob, or None when the path does not exist there."""
    unique = list(dict.fromkeys(objects))
    if not unique:
        return {}
    out = _git(root, "cat-file", "--batch", input=("\n".join(unique) + "\n").encode()).stdout
    blobs: dict[str, Optional[bytes]] = {}
    pos = 0
    for name in unique:
        end = out.index(b"\n", pos)
        header = out[pos:end].decode("utf-8", "replace").split()
        if header[-1] == "missing" or len(header) != 3:
            blobs[name] = None
            pos = end + 1
            continue
        size = int(header[2])
        blobs[name] = out[end + 1:end + 1 + size]
        pos = end + 1 + size + 1
    return blobs
