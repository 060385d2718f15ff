"""The default tiny VLM's weights, shipped inside the package and checked against their stamp before use.

Wherever a model is asked for without a path (`vz-spy train`, `play --model`, `eval --a tiny`, the
examples), this folder is the one: built by the project's recipe (`tiny_vlm.build`, `vz-spy tiny-model
--pretrained`), committed, and never built on a user's machine. A missing or changed file is an error
that says how to rebuild, never a silently different model.
"""

from __future__ import annotations

from pathlib import Path

from tiny_vlm.stamp import read_stamp, stamp_problem

WEIGHTS = Path(__file__).resolve().parent / "weights"
REBUILD = "rebuild it with `vz-spy tiny-model --pretrained --out DIR` and pass DIR as the model"


class ShippedModelError(ValueError):
    """The shipped weights are missing or do not match their stamp."""


def shipped_model_path(folder: Path | None = None) -> Path:
    """The shipped model's folder (or `folder`), once every file matches the digest its stamp records."""
    folder = folder if folder is not None else WEIGHTS
    stamp = read_stamp(folder)
    if stamp is None:
        problem = "missing" if not folder.is_dir() else "its stamp is missing or unreadable"
    else:
        problem = stamp_problem(folder, str(stamp.get("version")))
    if problem is not None:
        raise ShippedModelError(f"the shipped tiny VLM in {folder} is unusable ({problem}); {REBUILD}")
    return folder
