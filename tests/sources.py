"""Tiny deterministic image sources for tests that should not depend on the scene renderer."""

from __future__ import annotations

import numpy as np

from vz_env.data.base import ImagePair


class NoiseSource:
    """Random-noise pairs whose modified image differs in one square; scene records name the square."""

    name = "noise"

    def pair(self, seed: int, size: tuple[int, int]) -> ImagePair:
        rng = np.random.default_rng(seed)
        width, height = size
        original = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
        modified = original.copy()
        modified[: height // 4, : width // 4] = 0
        return ImagePair(
            original,
            modified,
            changes=({"op": "blackout", "box": [0, 0, width // 4, height // 4]},),
            meta={
                "kind": "noise",
                "seed": seed,
                "original_scene": {"objects": [{"id": 0, "color": "noise"}]},
                "modified_scene": {"objects": [{"id": 0, "color": "black"}]},
            },
        )
