"""Image pairs a user supplies: a folder of NAME_original.png / NAME_modified.png, or `vz-spy data` output."""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from vz_env.config import SIZE_MISMATCH_POLICIES
from vz_env.data.base import ImagePair

MANIFEST_NAME = "manifest.jsonl"
ROLES = ("original", "modified")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
_PAIR_FILE = re.compile(r"^(?P<name>.+)_(?P<role>original|modified)(?P<suffix>\.[^.]+)$")


@dataclass(frozen=True)
class PairFiles:
    """The two files of one pair, and its manifest line when the folder was written by `vz-spy data`."""

    name: str
    original: Path
    modified: Path
    record: dict[str, Any] | None = None


@dataclass
class PairListing:
    """The pairs found in a folder, plus names of image files that have no partner."""

    pairs: list[PairFiles] = field(default_factory=list)
    unpaired: list[str] = field(default_factory=list)


def pair_file_names(name: str, suffix: str = ".png") -> dict[str, str]:
    """The file names of pair NAME: {"original": "NAME_original.png", "modified": "NAME_modified.png"}."""
    return {role: f"{name}_{role}{suffix}" for role in ROLES}


def list_pairs(directory: str | Path) -> PairListing:
    """The pairs of a folder: from its manifest.jsonl when present, otherwise by file name."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ValueError(f"{directory} is not a folder")
    manifest = directory / MANIFEST_NAME
    if manifest.is_file():
        return _pairs_from_manifest(directory, manifest)
    found: dict[str, dict[str, Path]] = {}
    for path in sorted(directory.iterdir()):
        match = _PAIR_FILE.match(path.name)
        if match and match["suffix"].lower() in IMAGE_SUFFIXES and path.is_file():
            found.setdefault(match["name"], {}).setdefault(match["role"], path)
    listing = PairListing()
    for name, files in sorted(found.items()):
        if len(files) == 2:
            listing.pairs.append(PairFiles(name, files["original"], files["modified"]))
        else:
            listing.unpaired.extend(path.name for path in files.values())
    return listing


def read_image(path: str | Path) -> np.ndarray:
    """Decode an image file to uint8 HxWx3 RGB; OSError (naming the file) when it cannot be read."""
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise OSError(f"cannot read {Path(path).name}: {err}") from None


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a uint8 HxWx3 image to (width, height), leaving it untouched when it already fits."""
    if (image.shape[1], image.shape[0]) == tuple(size):
        return image
    return np.asarray(Image.fromarray(image).resize(tuple(size), Image.Resampling.BILINEAR))


class FolderSource:
    """Image pairs a user made, served in order (`seed % len`), skipping files that cannot be read.

    A pair found unreadable only when its pixels are decoded stays in the list, marked broken, and its
    seeds move on to the next readable pair; every other seed keeps its pair, whatever was met before.
    """

    name = "folder"

    def __init__(self, folder: str | Path, size_mismatch: str = "resize") -> None:
        if size_mismatch not in SIZE_MISMATCH_POLICIES:
            raise ValueError(f"size_mismatch must be one of {SIZE_MISMATCH_POLICIES}, got {size_mismatch!r}")
        self.folder = Path(folder)
        self.size_mismatch = size_mismatch
        self.skipped: list[tuple[str, str]] = []
        listing = list_pairs(self.folder)
        for name in listing.unpaired:
            self._skip(name, "no partner file")
        self.pairs = [files for files in listing.pairs if self._usable(files)]
        self.broken: set[int] = set()
        if not self.pairs:
            raise ValueError(
                f"no usable image pairs in {self.folder} (expected NAME_original.png and NAME_modified.png; "
                f"{len(self.skipped)} skipped)"
            )

    def __len__(self) -> int:
        return len(self.pairs) - len(self.broken)

    def __repr__(self) -> str:
        return f"FolderSource({str(self.folder)!r}, size_mismatch={self.size_mismatch!r})"

    def pair(self, seed: int, size: tuple[int, int]) -> ImagePair:
        """Pair number `seed % n` of the n listed, resized to `size`; a broken one gives way to the next."""
        start = seed % len(self.pairs)
        for step in range(len(self.pairs)):
            index = (start + step) % len(self.pairs)
            if index in self.broken:
                continue
            files = self.pairs[index]
            try:
                original, modified = read_image(files.original), read_image(files.modified)
            except OSError as err:
                self._skip(files.name, str(err))
                self.broken.add(index)
                continue
            return _make_pair(files, original, modified, seed, size)
        raise ValueError(f"no readable image pairs left in {self.folder} ({len(self.skipped)} skipped)")

    def _usable(self, files: PairFiles) -> bool:
        """Read both headers now, so unreadable files and (under "report") size mismatches skip early."""
        sizes = []
        for path in (files.original, files.modified):
            try:
                with Image.open(path) as img:
                    sizes.append(img.size)
            except (OSError, ValueError, Image.DecompressionBombError) as err:
                self._skip(files.name, f"cannot read {path.name}: {err}")
                return False
        if sizes[0] != sizes[1] and self.size_mismatch == "report":
            self._skip(files.name, f"sizes differ: original {sizes[0]}, modified {sizes[1]}")
            return False
        return True

    def _skip(self, name: str, reason: str) -> None:
        self.skipped.append((name, reason))
        warnings.warn(f"{self.folder}: skipping {name}: {reason}", stacklevel=3)


def _make_pair(
    files: PairFiles, original: np.ndarray, modified: np.ndarray, seed: int, size: tuple[int, int]
) -> ImagePair:
    """Resize both images to `size` and carry over what the manifest says (changes, scene records)."""
    record = files.record or {}
    source_size = (original.shape[1], original.shape[0])
    changes = tuple(_scale_boxes(change, source_size, size) for change in record.get("changes", ()))
    meta = dict(record.get("meta", {}))
    meta.update(
        kind="folder",
        seed=seed,
        name=files.name,
        files={"original": str(files.original), "modified": str(files.modified)},
    )
    return ImagePair(resize_image(original, size), resize_image(modified, size), changes, meta)


def _scale_boxes(change: dict[str, Any], source: tuple[int, int], target: tuple[int, int]) -> dict[str, Any]:
    """A change record whose pixel boxes ("box", "from_box") follow the image from `source` to `target`."""
    sx, sy = target[0] / source[0], target[1] / source[1]
    scaled = dict(change)
    for key in ("box", "from_box"):
        if key in change and (sx, sy) != (1, 1):
            x0, y0, x1, y1 = change[key]
            scaled[key] = [round(x0 * sx), round(y0 * sy), round(x1 * sx), round(y1 * sy)]
    return scaled


def _pairs_from_manifest(directory: Path, manifest: Path) -> PairListing:
    listing = PairListing()
    for number, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            files = record["files"]
            pair = PairFiles(
                record["name"], directory / files["original"], directory / files["modified"], record
            )
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{manifest} line {number} is not a pair record: {err}") from None
        listing.pairs.append(pair)
    return listing
