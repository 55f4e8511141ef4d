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


# --------------------------------------------------------------------------- the repository is self-contained
#
# The language reference is docs/reference.md. A citation of a section is written
# `<page>.md §<number>` (in Markdown: `[reference.md §2.3](reference.md#23-identity)`) and
# must name a numbered heading of that page in docs/. No file may lean on a document that
# is not in the repository, or on an issue number instead of an explanation.

SECTION = "\u00a7"
CITATION = re.compile(r"(?:([\w./-]+\.md)\s*)?" + SECTION + r"\s*(\d+(?:\.\d+)*)")
ISSUE = re.compile(r"\bissues? #?\d+", re.I)


def repository_files() -> list[Path]:
    """Every file of the repository: tracked, or new and not ignored (egg-info, venvs and caches are ignored)."""
    import subprocess
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                                cwd=ROOT, capture_output=True, check=True).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: walk the tree
        skip = {".git", "__pycache__", ".pytest_cache", ".hypothesis", ".cdpc", "spark-warehouse"}
        return sorted(p for p in ROOT.rglob("*") if p.is_file() and not skip & set(p.relative_to(ROOT).parts)
                      and not any(part.endswith(".egg-info") or part.startswith(".venv") for part in p.parts))
    return sorted(ROOT / name for name in listed if name and (ROOT / name).is_file())


def text_files() -> list[tuple[str, str]]:
    files = []
    for path in repository_files():
        try:
            files.append((str(path.relative_to(ROOT)), path.read_text(encoding="utf-8")))
        except UnicodeDecodeError:
            continue  # binary (Parquet, pictures)
    return files


def _without_fences(markdown: str) -> str:
    return re.sub(r"^```.*?^```", "", markdown, flags=re.S | re.M)


def headings(page: Path) -> list[str]:
    return [h.strip() for h in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", _without_fences(page.read_text(encoding="utf-8")),
                                         flags=re.M)]


def anchors(page: Path) -> set[str]:
    """GitHub's anchors: lowercase, punctuation dropped, spaces to hyphens, repeats numbered."""
    seen: dict[str, int] = {}
    result = set()
    for heading in headings(page):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f"{slug}-{count}")
    return result


def test_no_file_refers_to_a_document_outside_the_repository():
    offenders = []
    for name, text in text_files():
        for number, line in enumerate(text.splitlines(), 1):
            if re.search(r"\b" + "SP" + r"EC\b", line) or "/work/sh" + "ared" in line or ISSUE.search(line):
                offenders.append(f"{name}:{number}: {line.strip()}")
    assert offenders == [], ("cite the page and section of docs/ that says it (see docs/reference.md), "
                             "and explain rather than point at an issue:\n" + "\n".join(offenders))


def test_every_section_citation_resolves_to_a_heading_in_docs():
    problems = []
    for name, text in text_files():
        if name == "tests/test_docs.py":
            continue
        cited = CITATION.findall(text)
        if len(cited) != text.count(SECTION):
            problems.append(f"{name}: a {SECTION} not followed by a section number")
        for page_name, number in cited:
            if not page_name:  # `§2.3` alone: a page of docs/ citing itself
                if not (name.startswith("docs/") and name.endswith(".md")):
                    problems.append(f"{name}: {SECTION}{number} names no page (write `reference.md {SECTION}{number}`)")
                    continue
                page_name = name
            page = ROOT / page_name if page_name.startswith("docs/") else DOCS / page_name
            if not page.is_file():
                problems.append(f"{name}: {page_name} {SECTION}{number}: no such page in docs/")
            elif not any(re.match(re.escape(number) + r"\.?\s", h) for h in headings(page)):
                problems.append(f"{name}: {page_name} {SECTION}{number}: no heading `{number}` in {page_name}")
    assert problems == [], "\n".join(problems)


def test_links_between_pages_resolve():
    problems = []
    for path in [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]:
        text = _without_fences(path.read_text(encoding="utf-8"))
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue  # http(s), mailto
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            if not linked.exists():
                problems.append(f"{path.relative_to(ROOT)}: ({target}): no such file")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                problems.append(f"{path.relative_to(ROOT)}: ({target}): no such heading")
    assert problems == [], "\n".join(problems)
