"""A real git repository in a temporary directory, holding tests/fixtures/check_project.

    repo = CheckRepo(tmp_path)          # copied, compiled, committed as the base
    repo.edit("definitions/contracts/orders.yaml", "min: 0", "min: 1")
    repo.compile(); repo.commit("head")
    result = repo.cdpc("check", "--base", "HEAD~1")
    assert repo.findings(result.output) == ["definitions/...:12:3: CDP602"]
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Optional

from click.testing import CliRunner

from compiler.cli import cli

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "check_project"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com",
    "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
}
FINDING = re.compile(r"^(\S+:\d+:\d+: CDP\d{3})\b")


class CheckRepo:
    def __init__(self, tmp_path: Path, subdir: str = "", fixture: Path = FIXTURE):
        self.top = tmp_path / "repo"
        self.root = self.top / subdir if subdir else self.top
        shutil.copytree(fixture, self.root)
        self.git("init", "-q", "-b", "main")
        self.compile()
        self.commit("base")

    # -- git
    def git(self, *args: str, env: Optional[dict] = None) -> str:
        env = {**os.environ, **GIT_ENV, **(env or {})}
        result = subprocess.run(["git", "-C", str(self.top), *args], capture_output=True, text=True, env=env)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def commit(self, message: str, author: Optional[str] = None, key: Optional[Path] = None) -> str:
        """Commit everything; as `author` (an email) when given, signed with the SSH `key` when given.
        Returns the commit id."""
        self.git("add", "-A")
        env = {}
        if author is not None:
            name = author.partition("@")[0]
            env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": author,
                   "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": author}
        signing = ["-c", "gpg.format=ssh", "-c", f"user.signingkey={key}"] if key is not None else []
        self.git(*signing, "commit", "-q", "--allow-empty", *(["-S"] if key else []), "-m", message, env=env)
        return self.git("rev-parse", "HEAD").strip()

    def keygen(self, name: str) -> Path:
        """An ed25519 key pair without a passphrase, outside the repository; the private key's path."""
        folder = self.top.parent / "keys"
        folder.mkdir(exist_ok=True)
        path = folder / name
        result = subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(path)],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        return path

    # -- files
    def path(self, rel: str) -> Path:
        return self.root / rel

    def read(self, rel: str) -> str:
        return self.path(rel).read_text(encoding="utf-8")

    def write(self, rel: str, text: str) -> None:
        self.path(rel).parent.mkdir(parents=True, exist_ok=True)
        self.path(rel).write_text(text, encoding="utf-8")

    def edit(self, rel: str, old: str, new: str) -> None:
        text = self.read(rel)
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {rel}"
        self.write(rel, text.replace(old, new))

    def line_of(self, rel: str, needle: str) -> int:
        """1-based line of the (single) line containing `needle`."""
        lines = [n for n, line in enumerate(self.read(rel).splitlines(), start=1) if needle in line]
        assert len(lines) == 1, (needle, lines)
        return lines[0]

    # -- cdpc
    def cdpc(self, *args: str):
        return CliRunner().invoke(cli, [*args, "--project", str(self.root)], catch_exceptions=False)

    def compile(self) -> None:
        result = self.cdpc("compile")
        assert result.exit_code == 0, result.output

    @staticmethod
    def findings(output: str) -> list[str]:
        """`path:line:col: CODE` of every finding line, in printed order."""
        return [m.group(1) for line in output.splitlines() if (m := FINDING.match(line))]
