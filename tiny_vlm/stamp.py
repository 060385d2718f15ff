"""A model folder trusted only when its stamp vouches for every file.

The stamp (`vz-spy-stamp.json`, written last) records the builder's version and the size and SHA-256 of
every file. A folder without a stamp (an interrupted copy), with another version, or with a missing or
changed file is not trusted. Builds happen in a temporary sibling folder that is renamed into place only
when complete, so an interrupted build never leaves a half-written model.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vz_env.atomic import atomic_folder

STAMP = "vz-spy-stamp.json"


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def _files(folder: Path) -> dict[str, dict[str, Any]]:
    return {
        str(p.relative_to(folder)): {"size": p.stat().st_size, "sha256": _digest(p)}
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != STAMP
    }


def write_stamp(folder: Path, version: str, extra: dict[str, Any] | None = None) -> None:
    """Record the version and every file's size and digest in the folder (the last file a build writes)."""
    stamp = {"version": version, "files": _files(folder), **(extra or {})}
    (folder / STAMP).write_text(json.dumps(stamp, indent=1) + "\n")


def read_stamp(folder: Path) -> dict[str, Any] | None:
    """The folder's stamp, or None when it has none or an unreadable one."""
    try:
        stamp = json.loads((folder / STAMP).read_text())
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) else None


def stamp_problem(folder: Path, version: str) -> str | None:
    """Why the folder cannot be trusted as a build of `version` (None when it can)."""
    if not folder.is_dir():
        return "not built yet"
    stamp = read_stamp(folder)
    if stamp is None:
        return "no build stamp (an interrupted or foreign copy)"
    if stamp.get("version") != version:
        return f"built by builder version {stamp.get('version')!r}, this is {version!r}"
    files = stamp.get("files")
    if not isinstance(files, dict) or not files:
        return "its stamp lists no files"
    for name, expected in files.items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        if path.stat().st_size != expected.get("size") or _digest(path) != expected.get("sha256"):
            return f"{name} is corrupt (size or checksum differs from its stamp)"
    return None


def build_atomically(out: Path, build: Callable[[Path], None]) -> Path:
    """Run build(tmp) in a fresh temporary sibling of `out`, then rename it to `out` (replacing an old one).

    An exception or interruption removes the temporary folder and leaves `out` as it was.
    """
    with atomic_folder(out, replace=True) as tmp:
        build(tmp)
    return out
