"""Output paths checked before any long work: a file where a folder goes, under a file, not writable."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from vz_spy.cli import CliError


def output_folder(flag: str, path: str | os.PathLike[str], free: bool = False) -> Path:
    """`path` as a folder this command can create or write into; with `free`, it must also be new or empty."""
    folder = Path(path).expanduser()
    with _unusable_as_one_line(flag, path):
        if folder.exists() and not folder.is_dir():
            raise CliError(f"{flag} {path}: exists and is not a folder")
        if free and folder.is_dir() and any(folder.iterdir()):
            raise CliError(f"{flag} {path}: already exists and is not an empty folder")
        _check_writable(flag, path, folder if folder.is_dir() else folder.parent)
    return folder


def output_file(flag: str, path: str | os.PathLike[str]) -> Path:
    """`path` as a file this command can write (replacing an older one)."""
    file = Path(path).expanduser()
    with _unusable_as_one_line(flag, path):
        if file.is_dir():
            raise CliError(f"{flag} {path}: is a folder, not a file")
        _check_writable(flag, path, file.parent)
    return file


@contextmanager
def _unusable_as_one_line(flag: str, shown: str | os.PathLike[str]) -> Iterator[None]:
    """A path the system refuses to look up (a name too long, a link loop): one line, not a traceback."""
    try:
        yield
    except OSError as err:
        raise CliError(f"{flag} {shown}: cannot use this path ({err.strerror or err})") from None


def _check_writable(flag: str, shown: str | os.PathLike[str], folder: Path) -> None:
    """The nearest existing folder at or above `folder` must be a folder that accepts a new file."""
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise CliError(f"{flag} {shown}: {existing} is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".vz-spy-probe.", dir=existing)
    except OSError as err:
        raise CliError(f"{flag} {shown}: cannot write in {existing} ({err.strerror})") from None
    os.close(fd)
    os.unlink(probe)
