"""The generated pages are what `python -m compiler.docgen` writes today.

docs/kinds/ is read from the models (every key, type, default and allowed values) and
docs/tables.md from a real DuckDB run of the reference project: when either differs, the
code changed and the pages were not regenerated.
"""

from __future__ import annotations

import re

from compiler import docgen
from compiler.model import KINDS
from compiler.schema import kind_schema
from helpers import ROOT


def _committed(path: str) -> str:
    file = ROOT / path
    return file.read_text(encoding="utf-8") if file.is_file() else ""


def test_kind_pages_are_up_to_date():
    pages = docgen.rendered(ROOT, tables=False)
    stale = [path for path, text in pages.items() if _committed(path) != text]
    extra = sorted({f"{docgen.KINDS_DIR}/{p.name}" for p in (ROOT / docgen.KINDS_DIR).glob("*.md")} - set(pages))
    assert stale == [] and extra == [], f"stale {stale}, not generated {extra}: run `python -m compiler.docgen`"


def test_tables_page_lists_what_a_duckdb_run_leaves():
    assert _committed(docgen.TABLES_PAGE) == docgen.tables_page(ROOT), \
        "docs/tables.md differs from a run of the reference project: run `python -m compiler.docgen`"


def test_every_key_of_every_kind_has_a_note():
    assert docgen.missing_notes() == [], "add a line per key to compiler/docgen.py NOTES"
    known = {f"{kind}.{key}" for kind in KINDS for key in kind_schema(kind)["properties"]}
    known |= {f"{name}.{key}" for kind in KINDS for name, node in kind_schema(kind).get("$defs", {}).items()
              for key in node.get("properties", {})}
    orphans = [n for n in docgen.NOTES if "." in n and n not in known]
    assert orphans == [], "NOTES for keys that no longer exist"


def test_every_kind_page_names_every_key_with_its_allowed_values():
    for kind in KINDS:
        page = _committed(f"{docgen.KINDS_DIR}/{kind}.md")
        schema = kind_schema(kind)
        for key, spec in schema["properties"].items():
            row = next((line for line in page.splitlines() if line.startswith(f"| `{key}` |")), None)
            assert row is not None, f"docs/kinds/{kind}.md lacks key `{key}`"
            for value in spec.get("enum", []):
                assert f"`{value}`" in row, (kind, key, value)


def test_pages_are_linked_from_readme_and_reference():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    reference = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    for page in ("docs/kinds/README.md", "docs/tables.md", "docs/coming-from-dbt.md"):
        assert f"({page})" in readme, f"README.md does not link {page}"
        assert re.search(r"\]\(" + re.escape(page.removeprefix("docs/")) + r"[)#]", reference), \
            f"docs/reference.md does not link {page}"
