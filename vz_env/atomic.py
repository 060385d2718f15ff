"""Write-then-rename output, so an interrupted run never leaves a half-written file or folder behind.

Temporaries sit beside their target as `.NAME.RANDOM.tmp` (files and folders alike), so whoever resumes
after a kill can find and delete them with `remove_temporaries`.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

TEMP_SUFFIX = ".tmp"


@contextmanager
def atomic_file(path: str | Path, fsync: bool = True) -> Iterator[BinaryIO]:
    """A binary handle on a temporary file beside `path`, renamed onto `path` when the block ends well.

    `fsync=False` skips flushing the data to disk first (much faster for many small files; the caller then
    syncs once, or accepts that a power cut may lose the newest files).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes, fsync: bool = True) -> Path:
    """Write `data` to a temporary file beside `path`, then rename it into place."""
    with atomic_file(path, fsync=fsync) as handle:
        handle.write(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str, fsync: bool = True) -> Path:
    """atomic_write_bytes for UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"), fsync=fsync)


@contextmanager
def atomic_folder(path: str | Path, replace: bool = False) -> Iterator[Path]:
    """A temporary folder beside `path` to build in; renamed onto `path` when the block ends well.

    `path` must not exist or be an empty folder (FileExistsError otherwise) unless `replace`, which deletes
    whatever is there first. On any error the temporary folder is removed and `path` is left as it was.
    """
    path = Path(path)
    if not replace:
        require_free_folder(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent))
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private; the result gets a plain folder's mode
        if replace and path.is_dir():
            shutil.rmtree(path)
        elif path.is_dir():
            path.rmdir()
        try:
            tmp.rename(path)
        except OSError as err:
            raise FileExistsError(f"{path} appeared while it was being written") from err
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def require_free_folder(path: str | Path) -> Path:
    """`path`, which must not exist or be an empty folder (FileExistsError otherwise)."""
    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise FileExistsError(f"{path} already exists and is not an empty folder")
    return path


def remove_temporaries(directory: str | Path, names: str = ".+") -> list[str]:
    """Delete the temporaries an interrupted write left in `directory` for targets matching regex `names`."""
    pattern = re.compile(rf"^\.(?:{names})\.[a-z0-9_]+{re.escape(TEMP_SUFFIX)}$")
    removed = []
    for path in Path(directory).iterdir():
        if pattern.match(path.name):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path.name)
    return sorted(removed)


__all__ = [
    "atomic_file",
    "atomic_folder",
    "atomic_write_bytes",
    "atomic_write_text",
    "remove_temporaries",
    "require_free_folder",
]
