"""The site's folder on disk, replaced whole or not at all.

The new site is written into a staging folder beside DIR (`.<DIR's name>.cdpc-<pid>-…`);
a failure there (a full disk) removes it and leaves DIR as it was. Then DIR, when it
exists, is renamed aside and the staging folder renamed into its place: two renames in
one file system, so a reader finds the old site or the new one, never a mix (for the
instant between the two renames, DIR is absent). The old site is deleted last. A process
killed midway leaves a dot-folder beside DIR, which the next `cdpc docs` for that DIR
deletes once its process is gone.

DIR is only replaced when it is missing, empty, or a site that `cdpc docs` wrote (it
holds the marker file `.cdpc-docs`): `--out .` in a project can never delete the project.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

MARKER = ".cdpc-docs"
MARKER_TEXT = ("This folder is a catalog site written by `cdpc docs`. The next `cdpc docs --out` to this folder\n"
               "replaces all of it: keep nothing else here.\n")


class SiteError(Exception):
    """DIR cannot be used: a file, or a folder that holds something other than a cdpc site."""


def write_site(out: Path, files: dict[str, bytes]) -> bool:
    """Make `out` hold exactly `files`; False (nothing written) when it already does."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SiteError(f"{out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise SiteError(f"the folder {out} is not empty and was not written by `cdpc docs` (it has no {MARKER})")
    parent = out.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(parent, out.name)
    if out.is_dir() and _read(out) == files:
        return False
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.cdpc-{os.getpid()}-", dir=parent))
    try:
        os.chmod(staging, 0o777 & ~_umask())
        for rel, content in files.items():
            path = staging / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "wb") as handle:
                handle.write(content)
        if out.is_dir():
            aside = Path(tempfile.mkdtemp(prefix=f".{out.name}.cdpc-{os.getpid()}-old-", dir=parent))
            os.rmdir(aside)
            os.rename(out, aside)
            try:
                os.rename(staging, out)
            except BaseException:
                os.rename(aside, out)
                raise
            shutil.rmtree(aside, ignore_errors=True)
        else:
            os.rename(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return True


def _read(folder: Path) -> dict[str, bytes]:
    found = {}
    for path in folder.rglob("*"):
        if path.is_file():
            found[path.relative_to(folder).as_posix()] = path.read_bytes()
    return found


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _remove_leftovers(parent: Path, name: str) -> None:
    """Staging and set-aside folders of a `cdpc docs` whose process is gone."""
    prefix = f".{name}.cdpc-"
    for path in parent.glob(f"{prefix}*"):
        pid = path.name[len(prefix):].split("-", 1)[0]
        if path.is_dir() and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name != "posix":
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True
