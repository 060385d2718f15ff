"""Spotting broken pairs (blank or identical images, unreadable or mismatched files) to report bad data."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vz_env.data.base import ImagePair
from vz_env.data.folder import PairFiles, list_pairs, read_image

BLANK_STD = 2.0  # an image whose pixel values spread less than this (std, in levels) shows nothing
NOISE_LEVELS = 24  # per-channel differences up to this are compression noise, not an edit
MIN_CHANGED_SHARE = 1e-4  # pairs with fewer changed channel values than this share (and 4) are identical
PROBLEMS = ("blank", "identical", "unreadable", "size-mismatch", "unpaired")


def is_blank(image: np.ndarray) -> bool:
    """True when an image is (nearly) one flat colour, like a blank spy image (looks at every 4th pixel)."""
    return float(image[::4, ::4].std()) < BLANK_STD


def is_identical(a: np.ndarray, b: np.ndarray) -> bool:
    """True when two same-sized images differ in no more values than compression noise explains."""
    changed = np.count_nonzero((np.maximum(a, b) - np.minimum(a, b)) > NOISE_LEVELS)
    return changed < max(4, MIN_CHANGED_SHARE * a.size)


def pair_problems(pair: ImagePair) -> list[str]:
    """What makes a pair useless for a game: "blank" (either image flat) and/or "identical"; [] when fine."""
    problems = []
    if is_blank(pair.original) or is_blank(pair.modified):
        problems.append("blank")
    if is_identical(pair.original, pair.modified):
        problems.append("identical")
    return problems


@dataclass(frozen=True)
class Finding:
    """One problem with one pair (or one lone file) of a folder."""

    name: str
    problem: str
    detail: str = ""


@dataclass
class CheckReport:
    """Everything `check_folder` found: how many pairs it read and each problem, by pair name."""

    directory: Path
    pairs: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Pairs (or lone files) per problem, in the order of PROBLEMS."""
        found = Counter(f.problem for f in self.findings)
        return {problem: found[problem] for problem in PROBLEMS}

    @property
    def ok(self) -> bool:
        return not self.findings


def check_folder(
    directory: str | Path, workers: int = 4, on_pair: Callable[[], None] | None = None
) -> CheckReport:
    """Read every pair of a folder (written by `vz-spy data` or plain NAME_original/NAME_modified)."""
    directory = Path(directory)
    listing = list_pairs(directory)
    report = CheckReport(directory, pairs=len(listing.pairs))
    report.findings.extend(Finding(name, "unpaired", "no partner file") for name in listing.unpaired)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for findings in pool.map(_check_pair, listing.pairs):
            report.findings.extend(findings)
            if on_pair is not None:
                on_pair()
    return report


def _check_pair(files: PairFiles) -> list[Finding]:
    try:
        original, modified = read_image(files.original), read_image(files.modified)
    except OSError as err:
        return [Finding(files.name, "unreadable", str(err))]
    if original.shape != modified.shape:
        (oh, ow), (mh, mw) = original.shape[:2], modified.shape[:2]
        return [Finding(files.name, "size-mismatch", f"original {ow}x{oh}, modified {mw}x{mh}")]
    return [Finding(files.name, problem) for problem in pair_problems(ImagePair(original, modified))]
