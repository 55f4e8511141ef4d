"""What `cdpc compile` writes, as relative path -> text: the SQL of every target (render.py),
the sync manifests and manifest.json (emit/manifests.py). Byte-for-byte reproducible.

Writing it is generated.py's job; skipping a compile whose inputs did not change is
compile_cache.py's.
"""

from __future__ import annotations

from .emit.columns import columns_by_definition
from .emit.manifests import manifest, sync_manifest, to_json
from .fingerprint import fingerprints_of
from .project import LoadedProject
from .render import SqlFile, sql_outputs


def compile_outputs(project: LoadedProject, targets: list[str] | None = None) -> dict[str, str]:
    """Relative path under generated/ -> file text, for every file of a compile."""
    targets = compile_targets(project, targets)
    return finish_outputs(project, targets, sql_outputs(project, targets))


def compile_targets(project: LoadedProject, targets: list[str] | None = None) -> list[str]:
    """The targets asked for (else the project's), in order, each once."""
    return list(dict.fromkeys(targets or project.definitions.project.targets))


def prepare_finish(project: LoadedProject) -> None:
    """Compute ahead what `finish_outputs` needs besides the SQL (it is kept on the project)."""
    fingerprints_of(project)
    project.lineage.all_upstream  # noqa: B018 - a cached property
    project.lineage.pii_attributes  # noqa: B018 - a cached property


def finish_outputs(project: LoadedProject, targets: list[str], sql: list[SqlFile]) -> dict[str, str]:
    """The SQL files plus the sync manifests and manifest.json, in path order."""
    defs = project.definitions
    outputs: dict[str, str] = {}
    produced: dict[tuple[str, str], list[str]] = {}
    for path, kind, name, text in sql:
        outputs[path] = text
        produced.setdefault((kind, name), []).append(path)
    for destination in defs.destinations.values():
        path = f"syncs/{destination.name}.json"
        outputs[path] = to_json(sync_manifest(defs, destination, project.lineage.pii_attributes))
        produced.setdefault(("destination", destination.name), []).append(path)
    outputs["manifest.json"] = to_json(manifest(defs, targets, fingerprints_of(project),
                                                project.lineage.all_upstream, produced,
                                                columns_by_definition(defs, project.lineage)))
    return dict(sorted(outputs.items()))
