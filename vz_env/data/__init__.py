"""Image-pair sources for the spy game, looked up by kind name, folder or object."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from vz_env.data.base import ImagePair, ImageSource

SOURCE_KINDS: dict[str, str] = {
    "clevr": "vz_env.data.scenes:SceneSource",
    "clevr-mini": "vz_env.data.scenes:miniature_world",
    "charts": "vz_env.data.charts:ChartSource",
}


def resolve_source(images: Any, size_mismatch: str = "resize") -> ImageSource:
    """Turn the env's `images=` value (a kind name, a folder of pairs, or a source object) into a source.

    `size_mismatch` tells a folder source what to do with pairs whose images differ in size.
    """
    if isinstance(images, ImageSource):
        return images
    if isinstance(images, (str, Path)):
        key = str(images)
        if key in SOURCE_KINDS:
            module, _, cls = SOURCE_KINDS[key].partition(":")
            return getattr(importlib.import_module(module), cls)()
        if Path(key).is_dir():
            from vz_env.data.folder import FolderSource

            return FolderSource(Path(key), size_mismatch)
        raise ValueError(
            f"images={key!r} is neither a kind ({', '.join(SOURCE_KINDS)}) nor an existing folder of pairs"
        )
    raise ValueError(
        f"images must be a kind name, a folder path or an ImageSource, got {type(images).__name__}"
    )


__all__ = ["ImagePair", "ImageSource", "SOURCE_KINDS", "resolve_source"]
