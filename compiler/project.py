"""The front half of the pipeline in one call: load -> model -> validate -> graph."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .diagnostics import Diagnostic, DiagnosticError, Location, has_errors, sort_diagnostics
from .gcpause import gc_paused
from .graph import Lineage, build_lineage
from .load import Document, load_definitions
from .model import Definitions
from .model.build import build_definitions
from .validate import validate


@dataclass
class LoadedProject:
    root: Path
    documents: list[Document]
    definitions: Optional[Definitions]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    lineage: Optional[Lineage] = None

    @property
    def ok(self) -> bool:
        return self.definitions is not None and not has_errors(self.diagnostics)


def load_project(root: Path) -> LoadedProject:
    """Parse and check a project; never raises on bad definitions (see `.diagnostics`)."""
    root = Path(root)
    if not (root / "definitions").is_dir():
        raise DiagnosticError([Diagnostic(
            "CDP901", f"no definitions/ folder in {root}", Location(),
            "run cdpc from the project root or pass --project DIR")])
    documents, diagnostics = load_definitions(root)
    return project_from_documents(root, documents, diagnostics)


def project_from_documents(root: Path, documents: list[Document], diagnostics: list[Diagnostic]) -> LoadedProject:
    """The rest of load_project, for documents read from elsewhere (a git base: `cdpc check`)."""
    with gc_paused():  # models, validation and the graph: long-lived objects, little garbage
        return _project(root, documents, diagnostics)


def _project(root: Path, documents: list[Document], diagnostics: list[Diagnostic]) -> LoadedProject:
    diagnostics = list(diagnostics)
    definitions, model_diags = build_definitions(documents)
    diagnostics += model_diags
    project = LoadedProject(root, documents, definitions, diagnostics)
    if definitions is not None:
        lineage = build_lineage(definitions)  # built once: validate reads it, later stages keep it
        project.diagnostics += validate(definitions, lineage)
        if not has_errors(project.diagnostics):
            project.lineage = lineage
    project.diagnostics = sort_diagnostics(project.diagnostics)
    return project


def require_valid(root: Path) -> LoadedProject:
    """load_project, raising DiagnosticError when any error was found."""
    project = load_project(root)
    if not project.ok:
        raise DiagnosticError([d for d in project.diagnostics if d.is_error])
    return project
