"""The one small interface every image-pair source implements, so the env can play on any of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class ImagePair:
    """An original image, its modified twin (same size, uint8 HxWx3) and a record of what changed.

    `changes` lists the edits (one dict per edit, e.g. {"object": 2, "attribute": "color",
    "before": "red", "after": "blue"} or {"op": "recolor", "box": [x0, y0, x1, y1]}).
    `meta` holds the rest: "kind", "seed", and where known "original_scene" / "modified_scene"
    (the scene record of each image, for scene-reading bots) and "files".
    """

    original: np.ndarray
    modified: np.ndarray
    changes: tuple[dict[str, Any], ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("original", "modified"):
            img = getattr(self, name)
            if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
                raise ValueError(f"ImagePair.{name} must be a uint8 HxWx3 array, got {_describe(img)}")
        if self.original.shape != self.modified.shape:
            raise ValueError(
                f"ImagePair images differ in size: original {self.original.shape}, "
                f"modified {self.modified.shape}"
            )

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of both images."""
        return self.original.shape[1], self.original.shape[0]

    def scene_of(self, which: str) -> dict[str, Any] | None:
        """The scene record of "original" or "modified", or None when the source has none."""
        return self.meta.get(f"{which}_scene")


@runtime_checkable
class ImageSource(Protocol):
    """Anything that turns a seed into an ImagePair of the requested (width, height)."""

    name: str

    def pair(self, seed: int, size: tuple[int, int]) -> ImagePair: ...


def _describe(img: Any) -> str:
    if isinstance(img, np.ndarray):
        return f"array of shape {img.shape} and dtype {img.dtype}"
    return type(img).__name__
