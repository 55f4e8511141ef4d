"""Render every target and write generated/ atomically and byte-for-byte reproducibly.

generated/manifest.json          every definition: kind, name, version, hashes, upstream, files
generated/<target>/NNN_<layer>__<name>.sql   one file per definition and layer, in run order
generated/syncs/<destination>.json           what a delivery job needs to push an audience
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import NamedTuple, Sequence

from . import __version__
from .background import shared_map
from .dialects import DIALECTS
from .emit import build_plan, plan_builders
from .emit.plan import RenderedUnit, Unit, render_unit
from .emit.syncs import sends_phone_digits, sent_field, sync_table
from .fingerprint import fingerprints_of
from .gcpause import gc_paused
from .graph import node_id
from .project import LoadedProject

GENERATED = "generated"
UNITS_PER_WORKER = 1000  # unit renders; below this a forked child costs more than it saves
CHUNK = 10  # units per work item (each rendered for every target): small enough to balance


def plan_of(project: LoadedProject) -> list[Unit]:
    """The emitted units of a valid project (built once and kept on the project)."""
    cached = getattr(project, "_plan", None)
    if cached is None:
        with gc_paused():
            cached = build_plan(project.definitions, project.lineage)
        project._plan = cached
    return cached


def render_target(project: LoadedProject, target: str) -> list[RenderedUnit]:
    """Every unit for one target, in run order (what `cdpc run` executes)."""
    units = plan_of(project)
    with gc_paused():
        return [render_unit(unit, DIALECTS[target]) for unit in units]


def sql_file_names(units: Sequence[RenderedUnit | Unit | _Texts]) -> list[str]:
    width = max(3, len(str(len(units))))
    return [f"{index:0{width}d}_{unit.layer}__{unit.name}.sql" for index, unit in enumerate(units)]


def compile_outputs(project: LoadedProject, targets: list[str] | None = None) -> dict[str, str]:
    """Relative path under generated/ -> file text, for every file of a compile."""
    targets = compile_targets(project, targets)
    return finish_outputs(project, targets, sql_outputs(project, targets))


def compile_targets(project: LoadedProject, targets: list[str] | None = None) -> list[str]:
    return targets or list(dict.fromkeys(project.definitions.project.targets))


def sql_outputs(project: LoadedProject, targets: list[str]) -> list[tuple[str, str, str, str]]:
    """The SQL files: (path, kind, name, text), the bulk of a compile (`cdpc check` runs it in
    a child while it prepares what `finish_outputs` needs: fingerprints and lineage)."""
    with gc_paused():
        return [file for files in _render_targets(project, targets).values() for file in files]


def prepare_finish(project: LoadedProject) -> None:
    """Compute ahead what `finish_outputs` needs besides the SQL (it is kept on the project)."""
    fingerprints_of(project)
    project.lineage.all_upstream  # noqa: B018 - a cached property
    project.lineage.pii_attributes  # noqa: B018 - a cached property


def finish_outputs(project: LoadedProject, targets: list[str], sql: list[tuple[str, str, str, str]]) -> dict[str, str]:
    """The SQL files plus the sync manifests and manifest.json, in path order."""
    defs = project.definitions
    outputs: dict[str, str] = {}
    produced: dict[tuple[str, str], list[str]] = {}
    for path, kind, name, text in sql:
        outputs[path] = text
        produced.setdefault((kind, name), []).append(path)
    for destination in defs.destinations.values():
        path = f"syncs/{destination.name}.json"
        outputs[path] = _json(sync_manifest(project, destination))
        produced.setdefault(("destination", destination.name), []).append(path)
    outputs["manifest.json"] = _json(manifest(project, targets, produced))
    return dict(sorted(outputs.items()))


def _render_targets(project: LoadedProject, targets: list[str]) -> dict[str, list[tuple[str, str, str, str]]]:
    """(path, kind, name, text) per target. On several cores the caller and forked children
    take chunks of units from a shared queue and build and render each for every target
    (no whole plan is built first); the result is the same as rendering in turn."""
    builders = plan_builders(project.definitions, project.lineage)
    chunks = range(0, len(builders), CHUNK)
    workers = max(1, min(os.cpu_count() or 1, len(builders) * len(targets) // UNITS_PER_WORKER))

    def render(index: int, in_child: bool) -> list[_Texts]:
        rendered = []
        for build in builders[chunks[index]:chunks[index] + CHUNK]:
            unit = build()
            # a child's garbage dies with it: no need to free its trees one by one
            texts = [render_unit(unit, DIALECTS[target], release=not in_child).text() for target in targets]
            rendered.append(_Texts(unit.layer, unit.kind, unit.name, texts))
        return rendered

    units = [unit for chunk in shared_map(render, len(chunks), workers) for unit in chunk]
    return {target: [(f"{target}/{file}", unit.kind, unit.name, unit.texts[i])
                     for file, unit in zip(sql_file_names(units), units)]
            for i, target in enumerate(targets)}


class _Texts(NamedTuple):
    """One unit's SQL text per target, as a worker sends it back."""
    layer: str
    kind: str
    name: str
    texts: list[str]


def manifest(project: LoadedProject, targets: list[str], produced: dict) -> dict:
    defs, lineage = project.definitions, project.lineage
    prints = fingerprints_of(project)
    upstream_of = lineage.all_upstream
    entries = []
    for definition in defs.all():
        node = node_id(definition.kind, definition.name)
        upstream = [n for n in upstream_of.get(node, []) if not n.startswith("field:")]
        entries.append({
            "kind": definition.kind,
            "name": definition.name,
            "version": getattr(definition, "version", None),
            "file": definition.file,
            "data_hash": prints[node].data_hash,
            "metadata_hash": prints[node].metadata_hash,
            "upstream": upstream,
            "files": sorted(produced.get((definition.kind, definition.name), [])),
        })
    return {"cdpc_version": __version__, "project": defs.project.name, "targets": targets, "definitions": entries}


def sync_manifest(project: LoadedProject, destination) -> dict:
    defs = project.definitions
    identity = defs.identity
    identifiers = [{
        "type": t,
        "normalize": identity.identifier(t).normalize,
        "hash": destination.hash,
        "sent_as": _sent_as(destination, identity.identifier(t).normalize),
    } for t in destination.identifiers]
    fields = [_sent_field(project, destination, f) for f in destination.fields]
    syncs = [{
        "segment": s.segment, "purpose": s.purpose, "cadence": s.cadence, "mode": s.mode,
        "audience_table": f"{defs.project.schemas.audiences}.{sync_table(destination.name, s.segment)}",
        "columns": ["profile_id", *destination.identifiers, *destination.fields],
    } for s in destination.syncs]
    return {"destination": destination.name, "version": destination.version, "platform": destination.platform,
            "channel": destination.channel, "identifiers": identifiers, "fields": fields, "syncs": syncs}


def _sent_field(project: LoadedProject, destination, field: str) -> dict:
    defs = project.definitions
    id_type, hashed = sent_field(defs, project.lineage, destination, field)
    normalizer = defs.identity.identifier(id_type).normalize if id_type else "none"
    sent_as = (_sent_as(destination, normalizer) if id_type else "sha256 hex of the value as text" if hashed
               else "the value")
    return {"attribute": field, "type": defs.attributes[field].type, "normalize": normalizer,
            "hash": "sha256" if hashed else "none", "sent_as": sent_as}


def _sent_as(destination, normalizer: str) -> str:
    if destination.hash != "sha256":
        return "normalized value"
    if sends_phone_digits(destination, normalizer):
        return "sha256 hex of the digits, without +"
    return "sha256 hex of the normalized value"


def _json(content: dict) -> str:
    return json.dumps(content, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def write_generated(root: Path, outputs: dict[str, str]) -> bool:
    """Replace generated/ with exactly `outputs`; False (and nothing written) when unchanged."""
    target = root / GENERATED
    if read_generated(root) == outputs:
        return False
    staging = Path(tempfile.mkdtemp(prefix=".generated-", dir=root))
    try:
        for folder in sorted({os.path.dirname(rel) for rel in outputs} - {""}):
            (staging / folder).mkdir(parents=True, exist_ok=True)
        for rel, content in outputs.items():
            _write_file(os.path.join(staging, rel), content)
        old = None
        if target.exists():
            old = root / f".generated-old-{os.getpid()}"
            target.rename(old)
        staging.rename(target)  # the swap: readers see the old tree or the new one, never a mix
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return True


def _write_file(path: str, content: str) -> None:
    with open(path, "wb") as out:  # plain open(): pathlib's per-call cost tripled a 5,000-file write
        out.write(content.encode("utf-8"))


# ---- the no-change fast path -------------------------------------------------------------
# Like make: when the definitions' bytes, the targets and cdpc itself are what they were at
# the last compile, and generated/ still holds exactly what that compile wrote, there is
# nothing to do. The state lives in .cdpc/ (ignored by git), never in generated/.

STATE_FILE = ".cdpc/compile-state.json"


def inputs_digest(root: Path, targets: list[str] | None) -> str:
    import sqlglot

    from .load import definition_files
    digest = hashlib.sha256(f"{__version__}|{sqlglot.__version__}|{sorted(targets or [])}".encode())
    for path in definition_files(root / "definitions"):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def outputs_digest(outputs: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for rel, text in sorted(outputs.items()):
        digest.update(rel.encode() + b"\0" + text.encode() + b"\0")
    return digest.hexdigest()


def unchanged_since_last_compile(root: Path, targets: list[str] | None) -> bool:
    try:
        state = json.loads((root / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (state.get("inputs") == inputs_digest(root, targets)
            and state.get("outputs") == outputs_digest(read_generated(root)))


def remember_compile(root: Path, targets: list[str] | None, outputs: dict[str, str]) -> None:
    state = {"inputs": inputs_digest(root, targets), "outputs": outputs_digest(outputs)}
    try:
        (root / ".cdpc").mkdir(exist_ok=True)
        (root / STATE_FILE).write_text(json.dumps(state) + "\n", encoding="utf-8")
    except OSError:
        pass  # only a cache: a read-only checkout compiles in full every time


def read_generated(root: Path) -> dict[str, str]:
    target = root / GENERATED
    if not target.is_dir():
        return {}
    found: dict[str, str] = {}
    for folder, _, files in os.walk(target):
        prefix = os.path.relpath(folder, target).replace(os.sep, "/")
        for name in files:
            with open(os.path.join(folder, name), encoding="utf-8") as file:  # universal newlines
                found[name if prefix == "." else f"{prefix}/{name}"] = file.read()
    return dict(sorted(found.items()))
