"""docs/architecture.md describes the tree as it is.

- Every module and package directly under compiler/ has a layer in the page's layer list
  (between `<!-- layers:begin -->` and `<!-- layers:end -->`), and the list names nothing
  that does not exist.
- Every import between them, module-level or inside a function, goes to a lower layer.
- Every file of compiler/ is named on the page.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "compiler"
PAGE = ROOT / "docs" / "architecture.md"


def layers() -> dict[str, int]:
    text = PAGE.read_text(encoding="utf-8")
    block = re.search(r"<!-- layers:begin -->(.*?)<!-- layers:end -->", text, flags=re.S)
    assert block, "docs/architecture.md has no layer list"
    result = {}
    for number, names in re.findall(r"^\s*(\d+)\s+(\S.*?)\s*$", block.group(1), flags=re.M):
        for name in names.split():
            assert name not in result, f"{name} is listed twice"
            result[name] = int(number)
    return result


def unit_of(path: Path) -> str:
    """The top-level unit a file belongs to: `graph.py`, `emit/`, or `__init__.py`."""
    first = path.relative_to(PACKAGE).parts[0]
    return first + "/" if (PACKAGE / first).is_dir() else first


def units() -> set[str]:
    return {unit_of(p) for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts}


def _target(module: str) -> str | None:
    """`compiler.emit.sql` -> `emit/`; `compiler.__version__` -> `__init__.py`; outside -> None."""
    parts = module.split(".")
    if parts[0] != "compiler":
        return None
    if len(parts) == 1:
        return "__init__.py"
    if (PACKAGE / parts[1]).is_dir():
        return parts[1] + "/"
    if (PACKAGE / f"{parts[1]}.py").is_file():
        return f"{parts[1]}.py"
    return "__init__.py"  # a name defined in compiler/__init__.py


def imports() -> list[tuple[str, str, str]]:
    """(from unit, to unit, file:line) for every import of a compiler module by another unit."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        rel = path.relative_to(PACKAGE)
        package = ["compiler", *rel.parent.parts]  # what a relative import is relative to
        source = unit_of(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            modules: list[str] = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[: len(package) - node.level + 1]
                    if node.module:
                        modules = [".".join([*base, node.module])]
                    else:
                        modules = [".".join([*base, alias.name]) for alias in node.names]
                else:
                    modules = [node.module or ""]
            for module in modules:
                target = _target(module)
                if target and target != source:
                    found.append((source, target, f"compiler/{rel}:{node.lineno}"))
    return found


def test_every_unit_has_a_layer_and_every_layer_entry_exists():
    listed = layers()
    assert sorted(units() - set(listed)) == [], "modules of compiler/ missing from the layer list"
    assert sorted(set(listed) - units()) == [], "the layer list names modules that do not exist"


def test_imports_go_down_the_layers():
    listed = layers()
    wrong = [f"{where}: {source} (layer {listed.get(source)}) imports {target} (layer {listed.get(target)})"
             for source, target, where in imports()
             if source in listed and target in listed and listed[target] >= listed[source]]
    assert wrong == [], "imports that run up or sideways; fix the code or the page:\n" + "\n".join(wrong)


@pytest.mark.parametrize("path", sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                                        if "__pycache__" not in p.parts and p.name != "__init__.py"))
def test_every_module_is_named_on_the_page(path):
    text = PAGE.read_text(encoding="utf-8")
    name = Path(path).name
    assert f"`{path}`" in text or f"`{name}`" in text or f"{name}" in text, f"docs/architecture.md does not name {path}"
