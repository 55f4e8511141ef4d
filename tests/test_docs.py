"""Every code and every command is documented, and the docs quote what the code says.

- docs/errors.md has a `## CDPxxx` section for every code of compiler/diagnostics.py, and
  none for a code that does not exist; every code used in the package is in CODES.
- docs/commands/<command>.md quotes the command's exact current `--help` in a fenced
  block; every command of the click group must have such a page.
- docs/governance.md lists every rule of the check's rule tables.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.check.compat import RULE_TABLES
from compiler.check.versions import FALLBACK, VERSION_RULES
from compiler.cli import cli
from compiler.diagnostics import CODES

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
# Every command of the group must have a page; a page for a command that does not exist fails too.
DOCUMENTED = tuple(sorted(cli.commands))


def help_text(command: str) -> str:
    result = CliRunner().invoke(cli, [command, "--help"], prog_name="cdpc", terminal_width=88)
    assert result.exit_code == 0, result.output
    return result.output


def fenced_blocks(text: str) -> list[str]:
    return [block for block in re.findall(r"^```[a-z]*\n(.*?)^```", text, flags=re.S | re.M)]


def test_every_code_has_a_section_in_errors_md():
    sections = re.findall(r"^## (CDP\d{3})\s*$", (DOCS / "errors.md").read_text(encoding="utf-8"), flags=re.M)
    assert sorted(set(CODES) - set(sections)) == [], "codes without a `## CDPxxx` section in docs/errors.md"
    assert sorted(set(sections) - set(CODES)) == [], "docs/errors.md documents codes that do not exist"
    assert len(sections) == len(set(sections)), "a code is documented twice"


def test_every_code_used_in_the_package_is_known():
    used = set()
    for path in (ROOT / "compiler").rglob("*.py"):
        used |= set(re.findall(r"\bCDP\d{3}\b", path.read_text(encoding="utf-8")))  # strings, comments, docs alike
    assert sorted(used - set(CODES)) == []


@pytest.mark.parametrize("command", DOCUMENTED)
def test_command_has_a_page(command):
    assert (DOCS / "commands" / f"{command}.md").is_file(), f"docs/commands/{command}.md is missing"


@pytest.mark.parametrize("page", sorted(p.stem for p in (DOCS / "commands").glob("*.md")))
def test_command_page_quotes_the_current_help(page):
    assert page in cli.commands, f"docs/commands/{page}.md documents no command"
    expected = help_text(page)
    blocks = fenced_blocks((DOCS / "commands" / f"{page}.md").read_text(encoding="utf-8"))
    assert expected in blocks, f"docs/commands/{page}.md must quote `cdpc {page} --help` exactly:\n{expected}"


def test_governance_md_lists_every_rule():
    text = (DOCS / "governance.md").read_text(encoding="utf-8")
    rules = [r for table in RULE_TABLES for r in table] + [r for t in VERSION_RULES.values() for r in t] + [FALLBACK]
    missing = [r.name for r in rules if f"| `{r.name}` |" not in text]
    assert missing == [], "rules missing from the tables of docs/governance.md"
    for rule in rules:  # the row says what the code does
        row = next(line for line in text.splitlines() if line.startswith(f"| `{rule.name}` |"))
        assert f"| {rule.level.upper()} |" in row and rule.summary in row, row


def test_governance_md_lists_every_approval_rule():
    from compiler.check.approvals import APPROVAL_RULES
    text = (DOCS / "governance.md").read_text(encoding="utf-8")
    for code, rule in APPROVAL_RULES.items():
        assert f"| {code} | {rule} |" in text, f"docs/governance.md: the approval rules table lacks {code}"
        assert code in CODES
    codes = set(re.findall(r"\bCDP6\d\d\b", (ROOT / "compiler" / "check" / "provenance.py").read_text()))
    assert codes <= set(APPROVAL_RULES), "a refusal code of provenance.py is not in the rules table"
